"""SIGKILL `podsift run` at N points spread over every stage, then run again; check each time.

    .venv/bin/python bench/crash_consistency.py --kills 200 --db sqlite
    .venv/bin/python bench/crash_consistency.py --kills 200 --db postgres   # PODSIFT_TEST_POSTGRES_URL

A world of 10 shows (2 episodes each, publisher transcripts) and 50 subscribers on a real
SMTP server, all on loopback (tests/crashworld.py); the speech-to-text points (`--asr`
of the kills, default 15) run in a second world with an audio-only show and 5 subscribers,
because every run there pays for Whisper.
Prints one line per kill and the totals: kills, expected digests, delivered, duplicated,
lost, stuck episodes, rows stored twice, integrity problems.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.crashworld import build_world, count_calls, kill_and_recover, spread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--asr", type=int, default=15, help="kills in the speech-to-text world")
    args = parser.parse_args()
    admin = os.environ.get("PODSIFT_TEST_POSTGRES_URL") if args.db == "postgres" else None
    if args.db == "postgres" and not admin:
        raise SystemExit("set PODSIFT_TEST_POSTGRES_URL")
    started = time.monotonic()
    totals = dict.fromkeys(
        ("kills", "killed", "expected", "delivered", "duplicated", "lost", "stuck", "twice", "bad"), 0
    )
    plans = [(False, args.kills - args.asr), (True, args.asr)]
    for asr, kills in plans:
        if kills <= 0:
            continue
        folder = Path(tempfile.mkdtemp(prefix="podsift-crash-"))
        world = build_world(
            folder, shows=1 if asr else 10, subscribers=5 if asr else 50, asr=asr, postgres_admin=admin
        )
        try:
            counts = count_calls(world)
            if asr:
                counts = {p: n for p, n in counts.items() if p.startswith("asr")}
            print(f"calls per point in one run ({'speech' if asr else 'text'} world): {counts}", flush=True)
            for point in spread(counts, kills):
                o = kill_and_recover(world, *point)
                totals["kills"] += 1
                totals["killed"] += o.killed
                totals["expected"] += o.subscribers
                totals["delivered"] += o.delivered
                totals["duplicated"] += o.duplicated
                totals["lost"] += o.lost
                totals["stuck"] += o.stuck
                totals["twice"] += o.duplicate_rows
                totals["bad"] += not o.good
                print(
                    f"[{totals['kills']}/{args.kills}] {o.point} #{o.n} {o.when}: killed={o.killed} "
                    f"digests={o.digests}/{o.subscribers} dup={o.duplicated} lost={o.lost} stuck={o.stuck} "
                    f"twice={o.duplicate_rows} integrity={o.integrity}",
                    flush=True,
                )
        finally:
            world.close()
    print(
        f"{args.db}: {totals['kills']} kills ({totals['killed']} died at their point), "
        f"{totals['expected']} digests expected, {totals['delivered']} delivered, "
        f"{totals['duplicated']} duplicated, {totals['lost']} lost, {totals['stuck']} stuck, "
        f"{totals['twice']} rows stored twice, {totals['bad']} kills with a problem "
        f"({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
