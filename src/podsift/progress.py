"""Progress for long stages: a rich bar on a TTY, structured log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("podsift.progress")


class Progress:
    def __init__(self, description: str, total: int, bar: object | None, task: object | None):
        self.description, self.total, self.done = description, total, 0
        self._bar, self._task = bar, task
        self._last_log = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, advance=n)  # type: ignore[attr-defined]
        elif time.monotonic() - self._last_log > 5 or self.done == self.total:
            self._last_log = time.monotonic()
            log.info(
                "%s: %d/%d",
                self.description,
                self.done,
                self.total,
                extra={"stage": self.description, "done": self.done, "total": self.total},
            )


@contextmanager
def progress(description: str, total: int) -> Iterator[Progress]:
    if total > 1 and sys.stderr.isatty():
        from rich.progress import Progress as RichProgress

        with RichProgress(transient=True) as bar:
            yield Progress(description, total, bar, bar.add_task(description, total=total))
    else:
        yield Progress(description, total, None, None)
