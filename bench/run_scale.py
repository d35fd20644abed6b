"""Benchmark: the whole `podsift run` over 1,000 feeds on loopback against a naive pass.

    .venv/bin/python bench/run_scale.py [--feeds 1000]

The job users run (scan, transcripts, insights, stories, delivery), not the scan alone: a
first run over 1,000 new feeds of 20 episodes each (the newest 3 of each queued; their
publisher transcripts answer 404, so they wait for speech to text, which is off here:
bench/asr.py measures it), then the next hourly run with every feed unchanged (all 304). The baseline is the naive sequential pass
(urllib + feedparser, bench/naive_scan.py) over the same feeds, in the same run. Each
figure is a whole process (start-up included), with its peak RSS from wait4().
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from bench.feed_scan import feed_server, timed  # noqa: E402

FIRST = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    args = parser.parse_args()
    server, port = feed_server(args.feeds)
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {
                **os.environ,
                "PODSIFT_HOME": home,
                "PODSIFT_ALLOW_HOSTS": f"127.0.0.1:{port}",
                "PODSIFT_LLM": "offline",
                # Speech to text has its own benchmark (bench/asr.py); here the episodes
                # whose transcripts are missing wait for it.
                "PODSIFT_ASR": "none",
            }
            opml = Path(home) / "feeds.opml"
            outlines = "".join(f'<outline xmlUrl="{base}/feed/{i}.xml"/>' for i in range(args.feeds))
            opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
            podsift = [sys.executable, "-m", "podsift"]
            timed([*podsift, "feeds", "import", str(opml)], env)
            timed([*podsift, "subscribers", "add", "reader@example.com", "--hour", "0"], env)
            naive = timed([sys.executable, str(HERE / "naive_scan.py"), base, str(args.feeds)], env)
            first = timed([*podsift, "run", "--now", FIRST.isoformat()], env)
            hourly = timed([*podsift, "run", "--now", (FIRST + timedelta(hours=1)).isoformat()], env)
    finally:
        server.terminate()
    print(f"feeds: {args.feeds}, machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    print(f"{'process':44} {'seconds':>8} {'x naive':>8} {'peak MiB':>9}")
    rows = [
        ("naive pass (urllib + feedparser)", naive),
        ("podsift run, first (all feeds new)", first),
        ("podsift run, next hour (all 304)", hourly),
    ]
    for name, (seconds, mib, _) in rows:
        print(f"{name:44} {seconds:8.2f} {seconds / naive[0]:8.3f} {mib:9.0f}")
    for name, (_, _, out) in rows[1:]:
        print(f"--- {name}:\n{out}")
    for name, (seconds, _, _), target in (("first run", first, 0.5), ("next hourly run", hourly, 0.2)):
        ratio = seconds / naive[0]
        print(f"target {name} <= {target:.2f} x naive: {ratio:.3f} {'OK' if ratio <= target else 'MISSED'}")


if __name__ == "__main__":
    main()
