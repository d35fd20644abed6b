"""The hourly run with nothing to do: how long `podsift run` takes and how much memory.

    .venv/bin/python bench/idle_run.py [--runs 5]

Builds a day of real shows (bench/corpus_day.py's world: insights, stories, two
subscribers whose digests went out), then times whole `podsift run` processes an hour
later, when no feed is due and nothing is new, against the floor of the same process: the
interpreter importing the CLI and answering `--help`. Each figure is a whole process
(start-up included), timed with its peak RSS from wait4().
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.corpus_day import NOW, serve_corpus  # noqa: E402
from bench.feed_scan import timed  # noqa: E402

TARGET_SECONDS = 1.5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server, urls = serve_corpus()
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "PODSIFT_HOME": home,
            "PODSIFT_ALLOW_HOSTS": server.host,
            "PODSIFT_ASR": "none",
            "PODSIFT_LLM": "offline",
        }
        podsift = [sys.executable, "-m", "podsift"]
        # The day runs in processes of its own: a child forked from a parent that had
        # loaded a model would report the parent's memory as its peak.
        timed([*podsift, "feeds", "add", *urls], env)
        for email, interests in (
            ("reader0@example.com", "AI, open source, energy"),
            ("reader1@example.com", ""),
        ):
            timed([*podsift, "subscribers", "add", email, "--interests", interests, "--hour", "0"], env)
        seconds, mib, out = timed([*podsift, "run", "--now", NOW.isoformat()], env)
        print(f"the day ({seconds:.1f} s, {mib:.0f} MiB):\n{out}\n")
        later = (NOW + timedelta(minutes=20)).isoformat()
        floor = [timed([*podsift, "--help"], env) for _ in range(args.runs)]
        idle = [timed([*podsift, "run", "--now", later], env) for _ in range(args.runs)]
    server.close()
    print(idle[-1][2])
    print(f"{'process':34} {'median s':>9} {'max s':>7} {'peak MiB':>9}")
    for name, rows in (("podsift --help (start-up floor)", floor), ("podsift run, nothing to do", idle)):
        seconds = [r[0] for r in rows]
        print(
            f"{name:34} {statistics.median(seconds):9.2f} {max(seconds):7.2f} {max(r[1] for r in rows):9.0f}"
        )
    median = statistics.median(r[0] for r in idle)
    ratio = median / statistics.median(r[0] for r in floor)
    verdict = "OK" if median <= TARGET_SECONDS else "MISSED"
    print(f"idle run / start-up floor: {ratio:.2f}")
    print(f"target idle run <= {TARGET_SECONDS} s: {median:.2f} s {verdict}")


if __name__ == "__main__":
    main()
