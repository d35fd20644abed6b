"""`podsift run`, killed with SIGKILL at a chosen point of a chosen stage.

    python -m tests.killpoints POINT N before|after [--count FILE]

POINT names a unit of work (see POINTS; $KILLPOINTS_ARGS runs another command than run); the process kills itself on the Nth call, just
before the call or just after it returns. `--count FILE` kills nothing and writes how many
times each point was called (to spread kill points over a real run). Settings come from
the environment, as for `podsift run`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

# point -> (module, attribute path): every stage of the daily job, in order.
POINTS: dict[str, tuple[str, str]] = {
    "scan": ("podsift.sources.scan", "_apply_outcome"),
    "scan-store": ("podsift.sources.scan", "store_episodes"),
    "transcript": ("podsift.transcripts.stage", "_store"),
    "asr": ("podsift.transcripts.speech", "_transcribe_episode"),
    "asr-store": ("podsift.transcripts.speech", "_store"),
    "extract": ("podsift.insights.stage", "_extract_one"),
    "embed": ("podsift.clusters.stage", "embed_insights"),
    "cluster": ("podsift.clusters.stage", "refresh_clusters"),
    "select": ("podsift.ranking.select", "Selector.pick"),
    "record": ("podsift.delivery.stage", "_record_and_claim"),  # a new digest, claimed
    "claim": ("podsift.delivery.stage", "_claim"),
    "send": ("podsift.delivery.stage", "_send_email"),
    "finish": ("podsift.delivery.stage", "_finish"),
    "export-send": ("podsift.exports.stage", "_send"),  # after the service answered, before the record
}
calls: Counter[str] = Counter()


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _hook(point: str, original: Callable[..., Any], kill_at: int | None, after: bool) -> Callable[..., Any]:
    def due() -> bool:
        calls[point] += 1
        return kill_at is not None and calls[point] == kill_at

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            kill = due()
            if kill and not after:
                _die()
            result = await original(*args, **kwargs)
            if kill:
                _die()
            return result

        return async_wrapper

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kill = due()
        if kill and not after:
            _die()
        result = original(*args, **kwargs)
        if kill:
            _die()
        return result

    return wrapper


def install(kill_point: str | None, kill_at: int | None, after: bool) -> None:
    for point, (module_name, path) in POINTS.items():
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, name)
        at = kill_at if point == kill_point else None
        setattr(owner, name, _hook(point, original, at, after))


def main() -> None:
    args = sys.argv[1:]
    count_file = None
    if args and args[0] == "--count":
        count_file, point, n, after = args[1], None, None, False
    else:
        point, n, after = args[0], int(args[1]), args[2] == "after"
        if point not in POINTS:
            raise SystemExit(f"unknown point {point!r} (known: {', '.join(POINTS)})")
    install(point, n, after)
    from podsift.cli import app

    try:
        # KILLPOINTS_ARGS runs another command (a worker: "worker --once").
        command = os.environ.get("KILLPOINTS_ARGS")
        app(
            command.split() if command else ["run", "--now", os.environ["KILLPOINTS_NOW"]],
            standalone_mode=False,
        )
    finally:
        if count_file:
            with open(count_file, "w") as fh:
                json.dump(dict(calls), fh)


if __name__ == "__main__":
    main()
