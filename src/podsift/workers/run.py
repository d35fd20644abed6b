"""Start a worker, or queue the due work, against the configured Postgres database."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
from procrastinate import App as JobApp
from procrastinate import PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued

from podsift.store import utcnow
from podsift.workers.tasks import QUEUES, jobs, plan, use_core

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
SOON_SECONDS = 10  # `worker --once` also waits for tasks due within this long
SCHEMA_LOCK = 0x70_6F_64_73  # "pods": one process at a time creates Procrastinate's tables


class WorkerSetupError(Exception):
    """Workers cannot run with this configuration; the message says why."""


def job_conninfo(database_url: str) -> str:
    """libpq connection string of the podsift database: the jobs live beside the data."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise WorkerSetupError(
            "workers need Postgres (PODSIFT_DATABASE_URL=postgresql+psycopg://...); "
            "with SQLite, `podsift run` does the whole job in one process"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(conninfo: str) -> None:
    """Create Procrastinate's tables once; workers starting together wait for the first."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is None or row[0] is None:
                conn.execute(jobs.schema_manager.get_schema().encode())  # no parameters: % stays %
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


@contextmanager
def job_app(app: App) -> Iterator[JobApp]:
    """The task registry connected to the podsift database, with `app` for the tasks."""
    conninfo = job_conninfo(app.settings.resolved_database_url)
    ensure_schema(conninfo)
    use_core(app)
    registry = jobs.periodic_registry
    registry.periodic_tasks.pop((plan.name, "tick"), None)
    registry.register_task(
        task=plan, cron=app.settings.worker_plan_cron, periodic_id="tick", configure_kwargs={}
    )
    with jobs.replace_connector(PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4)) as connected:
        yield connected


def check_queues(queues: Sequence[str]) -> list[str]:
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise WorkerSetupError(f"unknown queue(s) {', '.join(unknown)} (queues: {', '.join(QUEUES)})")
    return list(queues)


def run_worker(
    app: App, queues: Sequence[str] = (), concurrency: int = 1, once: bool = False, name: str | None = None
) -> None:
    """Work the queues until stopped (SIGINT/SIGTERM finish the running tasks first), or
    with `once` until nothing is left to do now."""
    chosen = check_queues(queues)
    stalled = float(app.settings.worker_stalled_seconds)
    options: dict[str, Any] = {
        "concurrency": max(concurrency, 1),
        "wait": not once,
        "name": name or f"{socket.gethostname()}:{os.getpid()}",
        "update_heartbeat_interval": max(stalled / 4, 0.5),
        "stalled_worker_timeout": stalled,
        "delete_jobs": "successful",  # failed jobs stay: they are the record of what gave up
    }
    if chosen:
        options["queues"] = chosen
    with job_app(app) as connected:

        async def work() -> None:
            async with connected.open_async():
                await _plan_now()
                await connected.run_worker_async(**options)
                # `once`: tasks scheduled a moment ahead (a plan, a quick retry) are "now" too.
                while once and await _due_soon(connected):
                    await asyncio.sleep(0.5)
                    await connected.run_worker_async(**options)

        asyncio.run(work())


async def _due_soon(connected: JobApp) -> bool:
    soon = utcnow() + timedelta(seconds=SOON_SECONDS)
    waiting = await connected.job_manager.list_jobs_async(status="todo")
    return any(job.scheduled_at is None or job.scheduled_at <= soon for job in waiting)


async def _plan_now() -> None:
    with suppress(AlreadyEnqueued):
        await plan.defer_async()
