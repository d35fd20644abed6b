"""Progress for long stages: a rich bar on a TTY, structured log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("podsift.progress")


class Progress:
    def __init__(
        self,
        description: str,
        total: int,
        bar: object | None,
        task: object | None,
        weights: list[float] | None = None,
    ):
        self.description, self.total, self.done = description, total, 0
        self._bar, self._task = bar, task
        self._started = self._last_log = time.monotonic()
        # Work items of unequal size (episodes of 10 or 120 minutes): the estimate of what
        # remains scales with the weight left, not the count.
        self._weight_total = sum(weights) if weights else float(total)
        self._weight_done = 0.0

    def remaining_seconds(self) -> float | None:
        if not self._weight_done:
            return None
        elapsed = time.monotonic() - self._started
        return elapsed / self._weight_done * max(self._weight_total - self._weight_done, 0.0)

    def advance(self, n: int = 1, weight: float | None = None) -> None:
        self.done += n
        self._weight_done += n if weight is None else weight
        if self._bar is not None:
            self._bar.update(self._task, advance=n)  # type: ignore[attr-defined]
        elif time.monotonic() - self._last_log > 5 or self.done == self.total:
            self._last_log = time.monotonic()
            left = self.remaining_seconds()
            log.info(
                "%s: %d/%d%s",
                self.description,
                self.done,
                self.total,
                f" (about {_duration(left)} left)" if left and self.done < self.total else "",
                extra={"stage": self.description, "done": self.done, "total": self.total, "eta_s": left},
            )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@contextmanager
def progress(description: str, total: int, weights: list[float] | None = None) -> Iterator[Progress]:
    if total > 1 and sys.stderr.isatty():
        from rich.progress import Progress as RichProgress

        with RichProgress(transient=True) as bar:  # rich shows its own time-remaining column
            yield Progress(description, total, bar, bar.add_task(description, total=total), weights)
    else:
        yield Progress(description, total, None, None, weights)
