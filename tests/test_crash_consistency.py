"""`podsift run` killed with SIGKILL at points spread over every stage, then run again: every
subscriber gets exactly one digest for the day (at most the one message in flight twice), no
episode is stuck, nothing is stored twice, and the database is consistent. A sample here;
bench/crash_consistency.py runs 200 and more."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.crashworld import build_world, count_calls, kill_and_recover, spread

# `claim` (a recorded digest's deliveries, claimed again) runs only in the runs after a kill.
STAGES = {
    "scan",
    "scan-store",
    "transcript",
    "extract",
    "embed",
    "cluster",
    "select",
    "record",  # a new digest is recorded with its deliveries already claimed
    "send",
    "finish",
}


def _admin(db: str) -> str | None:
    if db == "sqlite":
        return None
    url = os.environ.get("PODSIFT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PODSIFT_TEST_POSTGRES_URL is not set")
    return url


@pytest.mark.parametrize(("db", "kills"), [("sqlite", 14), ("postgres", 11)])
def test_killed_runs_recover(tmp_path, db: str, kills: int, capsys) -> None:  # type: ignore[no-untyped-def]
    world = build_world(tmp_path, shows=10, subscribers=50, postgres_admin=_admin(db))
    try:
        counts = count_calls(world)
        assert {p for p, n in counts.items() if n} >= STAGES, counts
        outcomes = [kill_and_recover(world, *point) for point in spread(counts, kills)]
    finally:
        world.close()
    with capsys.disabled():  # the figures belong in the CI log
        print(
            f"\n{db}: {len(outcomes)} kills over {len({o.point for o in outcomes})} points, "
            f"{sum(o.subscribers for o in outcomes)} digests expected, {sum(o.delivered for o in outcomes)} delivered, "
            f"{sum(o.duplicated for o in outcomes)} duplicated, {sum(o.lost for o in outcomes)} lost, "
            f"{sum(o.stuck for o in outcomes)} stuck, {sum(o.duplicate_rows for o in outcomes)} rows twice, "
            f"integrity {'ok' if all(o.integrity == 'ok' for o in outcomes) else 'FAILED'}"
        )
    assert all(o.killed for o in outcomes)
    assert [o for o in outcomes if not o.good] == []
    assert {o.point for o in outcomes} >= STAGES  # every stage was hit


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng speaks the test audio")
def test_killed_speech_to_text_recovers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = build_world(tmp_path, shows=1, subscribers=5, asr=True)
    try:
        outcomes = [
            kill_and_recover(world, "asr", 1, "after"),
            kill_and_recover(world, "asr-store", 1, "after"),
        ]
    finally:
        world.close()
    assert all(o.killed and o.good for o in outcomes), outcomes
