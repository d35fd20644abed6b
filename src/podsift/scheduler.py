"""The in-process scheduler `podsift serve` runs: a plain loop on a thread.

Every `tick` it delivers what is due (each subscriber at their local send hour; `deliver_due`
is idempotent, so ticking often costs a few queries); every `poll_interval_minutes` it runs
the whole pipeline (scan, transcripts, insights, clusters, delivery). After downtime the
first tick catches up: today's digest goes out late, once; missed days are not sent in a
burst (a digest is for the local day it is made on). Several `serve` or `run` processes at
once are safe: deliveries are claimed atomically.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from podsift.core import App
from podsift.store import utcnow

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, app: App, tick_seconds: float = 60.0, clock: Callable[[], datetime] = utcnow) -> None:
        self.app, self.tick_seconds, self.clock = app, tick_seconds, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.next_pipeline: datetime | None = None
        self.ticks = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="podsift-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def tick(self) -> None:
        from podsift.delivery.stage import deliver_due
        from podsift.pipeline import run

        now = self.clock()
        if self.next_pipeline is None or now >= self.next_pipeline:
            self.next_pipeline = now + timedelta(minutes=self.app.settings.poll_interval_minutes)
            report = run(self.app, now)
            log.info(
                "pipeline: %d new episodes, %d insights, %d digests sent",
                report.scan.new_episodes,
                report.insights.insights,
                len(report.delivery.sent),
            )
        else:
            report_d = deliver_due(self.app, now)
            if report_d.sent:
                log.info("delivered %d digests", len(report_d.sent))
        self.ticks += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop must outlive any one bad tick
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)
