"""Benchmark: scan 1,000 feeds on loopback with podsift vs a naive sequential baseline.

    python bench/feed_scan.py [--feeds 1000]

Each measurement is a whole process (start-up included), timed with its peak RSS from
wait4(). Phases: first scan (episodes stored), a re-scan where half the feeds gained one
episode (the rest answer 304), and a fully unchanged re-scan (all 304). The baseline has no
conditional GET, so every one of its scans downloads and parses everything.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, stdout) of one child process."""
    # Output goes to files, not pipes: a child that fills a pipe nobody reads until
    # wait4() returns would block forever.
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out_f, stderr=err_f, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, out.strip()


def ready(cmd: list[str]) -> subprocess.Popen[str]:
    """Start a loopback server that prints "ready" once it listens."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def feed_server(feeds: int, with_transcripts: int = 0) -> tuple[subprocess.Popen[str], int]:
    """bench/feedserver.py with `feeds` feeds (the first `with_transcripts` publish one)."""
    port = free_port()
    cmd = [sys.executable, str(HERE / "feedserver.py"), str(port), str(feeds), str(with_transcripts)]
    return ready(cmd), port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    args = parser.parse_args()
    server, port = feed_server(args.feeds)
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "PODSIFT_HOME": home, "PODSIFT_ALLOW_HOSTS": f"127.0.0.1:{port}"}
            opml = Path(home) / "feeds.opml"
            outlines = "".join(f'<outline xmlUrl="{base}/feed/{i}.xml"/>' for i in range(args.feeds))
            opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
            podsift = [sys.executable, "-m", "podsift"]
            timed([*podsift, "feeds", "import", str(opml)], env)
            naive = [sys.executable, str(HERE / "naive_scan.py"), base, str(args.feeds)]
            rows = []
            b_first = timed(naive, env)
            p_first = timed([*podsift, "feeds", "scan", "--force"], env)
            rows.append(("first scan (episodes stored)", b_first, p_first))
            urllib.request.urlopen(f"{base}/_bump?every=2").read()
            b_mixed = timed(naive, env)
            p_mixed = timed([*podsift, "feeds", "scan", "--force"], env)
            rows.append(("re-scan: half 304, half +1 episode", b_mixed, p_mixed))
            b_same = timed(naive, env)
            p_same = timed([*podsift, "feeds", "scan", "--force"], env)
            rows.append(("re-scan: all unchanged (304)", b_same, p_same))
    finally:
        server.terminate()
    print(f"feeds: {args.feeds}, machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(
        f"{'phase':38} {'baseline s':>10} {'podsift s':>10} {'ratio':>7} {'feeds/s':>9} {'base MiB':>9} {'podsift MiB':>11}"
    )
    for name, (bt, bm, _), (pt, pm, _) in rows:
        print(f"{name:38} {bt:10.2f} {pt:10.2f} {pt / bt:7.3f} {args.feeds / pt:9.0f} {bm:9.0f} {pm:11.0f}")
    print("podsift output per phase:")
    for name, _, (_, _, out) in rows:
        print(f"  {name}: {out}")
    first_ratio = rows[0][2][0] / rows[0][1][0]
    same_ratio = rows[2][2][0] / rows[0][1][0]
    print(
        f"target first scan <= 0.50 x baseline: {first_ratio:.3f} {'OK' if first_ratio <= 0.5 else 'MISSED'}"
    )
    print(
        f"target unchanged re-scan <= 0.20 x baseline: {same_ratio:.3f} {'OK' if same_ratio <= 0.2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
