"""The tasks: one per unit of work, each a call to one stage function.

Queues, most urgent first: `plan` (find due work), `delivery`, `feeds` (scan a feed, fetch
a publisher transcript), `insights` (extract an episode, file stories) and `asr` (speech
to text, for hosts with a GPU: `podsift worker --queues asr`). Every task carries a
queueing lock (one waiting copy of a unit at most) and a lock (one running copy at most;
the tasks of one episode run one after another). A failed task is retried with backoff;
after `worker_attempts` tries the failure is recorded on its unit (the episode fails with
the reason, the feed backs off) so that `plan` does not queue it again and again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from procrastinate import App as JobApp
from procrastinate import JobContext, PsycopgConnector, RetryDecision
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy

from podsift.briefings.stage import build_briefings
from podsift.clusters.stage import cluster_insights
from podsift.delivery.stage import deliver_due
from podsift.exports.stage import export_due
from podsift.insights.stage import extract_insights
from podsift.search.embed import embed_passages, passages_waiting
from podsift.sources.scan import fail_feed, scan_feeds
from podsift.sources.topics import search_topics
from podsift.store import EpisodeState, utcnow
from podsift.transcripts.speech import transcribe_pending
from podsift.transcripts.stage import fetch_transcripts
from podsift.workers.plan import due_work

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)

QUEUES = ("plan", "delivery", "feeds", "insights", "asr")
PRIORITY = {"plan": 40, "delivery": 30, "feeds": 20, "insights": 10, "asr": 0}
PLAN_DELAY_SECONDS = 2
# A cluster or delivery task that failed for good is not queued again for this long.
FAILED_COOLDOWN = timedelta(hours=1)

# The task registry. Its connector is a placeholder: `podsift.workers.run` swaps in one for
# the configured database (`replace_connector`) before anything is deferred or run.
jobs = JobApp(connector=PsycopgConnector())
_core: App | None = None


def use_core(app: App) -> None:
    """The podsift App every task of this process uses (made by `podsift worker`)."""
    global _core
    _core = app


def core() -> App:
    if _core is None:
        raise RuntimeError("no podsift App: start tasks with podsift.workers.run")
    return _core


class SettingsRetry(BaseRetryStrategy):
    """Retry `worker_attempts` times in all, waiting `worker_retry_seconds` * 2^n."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if _last_try(job):
            return None
        return RetryDecision(retry_in={"seconds": core().settings.worker_retry_seconds * 2**job.attempts})


RETRY = SettingsRetry()


def _last_try(job: Job) -> bool:
    # `attempts` counts the tries before this one.
    return job.attempts + 1 >= core().settings.worker_attempts


def _unit(context: JobContext, work: Callable[[], Any], give_up: Callable[[str], None]) -> Any:
    """Run one unit; on its last try, record why it failed on the unit itself."""
    try:
        return work()
    except Exception as exc:
        if _last_try(context.job):
            reason = f"worker: failed {context.job.attempts + 1} times: {type(exc).__name__}: {exc}"
            log.error("giving up %s %s: %s", context.job.task_name, context.job.task_kwargs, reason)
            give_up(core().settings.scrub(reason)[:2000])
        raise


def _episodes_failed(episode_ids: list[int]) -> Callable[[str], None]:
    def give_up(reason: str) -> None:
        for episode_id in episode_ids:
            core().mark_episode(episode_id, EpisodeState.FAILED, reason)

    return give_up


def _logged(reason: str) -> None:
    """Units without a row of their own: the failed job is the record (`plan` skips it)."""


def _then_plan() -> None:
    """Work for later stages was made: plan it now rather than at the next tick."""
    # A couple of seconds later: the tasks finishing meanwhile share one plan.
    with suppress(AlreadyEnqueued):  # a plan is already waiting; it will see this work too
        plan.configure(schedule_in={"seconds": PLAN_DELAY_SECONDS}).defer()


@jobs.task(name="scan_feeds", queue="feeds", priority=PRIORITY["feeds"], retry=RETRY, pass_context=True)
def scan_block(context: JobContext, feed_ids: list[int]) -> int:
    app = core()

    def give_up(reason: str) -> None:
        for feed_id in feed_ids:
            fail_feed(app, feed_id, reason, utcnow())

    report = _unit(context, lambda: scan_feeds(app, utcnow(), only=feed_ids), give_up)
    if report.queued_episodes:
        _then_plan()
    return int(report.queued_episodes)


@jobs.task(name="search_topics", queue="feeds", priority=PRIORITY["feeds"], retry=RETRY, pass_context=True)
def search_topic(context: JobContext, topic_id: int) -> int:
    app = core()
    report = _unit(context, lambda: search_topics(app, utcnow(), only=[topic_id]), _logged)
    if report.followed:
        _then_plan()  # the shows it followed are due for their first scan
    return int(report.proposed)


@jobs.task(
    name="fetch_transcripts", queue="feeds", priority=PRIORITY["feeds"], retry=RETRY, pass_context=True
)
def fetch_block(context: JobContext, episode_ids: list[int]) -> None:
    app = core()
    report = _unit(context, lambda: fetch_transcripts(app, only=episode_ids), _episodes_failed(episode_ids))
    if report.fetched or report.needs_asr:
        _then_plan()


@jobs.task(name="transcribe_episode", queue="asr", priority=PRIORITY["asr"], retry=RETRY, pass_context=True)
def transcribe_episode(context: JobContext, episode_id: int) -> None:
    app = core()
    report = _unit(
        context, lambda: transcribe_pending(app, only=[episode_id]), _episodes_failed([episode_id])
    )
    if report.transcribed or report.cached:
        _then_plan()


@jobs.task(
    name="extract_episode", queue="insights", priority=PRIORITY["insights"], retry=RETRY, pass_context=True
)
def extract_episode(context: JobContext, episode_id: int) -> int:
    app = core()
    report = _unit(
        context, lambda: extract_insights(app, utcnow(), only=[episode_id]), _episodes_failed([episode_id])
    )
    if report.insights:
        _then_plan()
    return int(report.insights)


@jobs.task(
    name="cluster_stories", queue="insights", priority=PRIORITY["insights"], retry=RETRY, pass_context=True
)
def cluster_stories(context: JobContext) -> int:
    app = core()
    report = _unit(context, lambda: cluster_insights(app, utcnow()), _logged)
    if report.clustered:
        _then_plan()  # new stories may make someone's digest worth sending
    return int(report.clustered)


@jobs.task(
    name="deliver_digests", queue="delivery", priority=PRIORITY["delivery"], retry=RETRY, pass_context=True
)
def deliver_digests(context: JobContext, subscriber_ids: list[int]) -> int:
    app = core()
    report = _unit(context, lambda: deliver_due(app, utcnow(), only=subscriber_ids), _logged)
    return len(report.sent)


@jobs.task(
    name="export_notes", queue="delivery", priority=PRIORITY["delivery"] - 5, retry=RETRY, pass_context=True
)
def export_notes(context: JobContext, target_ids: list[int]) -> int:
    """Copy insights to notes tools (Readwise, Notion, vaults): each target on its own."""
    app = core()
    report = _unit(context, lambda: export_due(app, utcnow(), only=target_ids), _logged)
    return sum(report.sent.values()) + sum(report.updated.values())


@jobs.task(
    name="build_briefing",
    queue="delivery",
    priority=PRIORITY["delivery"] - 10,
    retry=RETRY,
    pass_context=True,
)
def build_briefing(context: JobContext, subscriber_id: int) -> int:
    """One subscriber's audio briefing of their newest digest (after it was sent)."""
    app = core()
    report = _unit(context, lambda: build_briefings(app, utcnow(), only=[subscriber_id]), _logged)
    return report.built


@jobs.task(
    name="embed_passages",
    queue="insights",
    priority=PRIORITY["insights"] - 5,
    retry=RETRY,
    pass_context=True,
)
def embed_passage_batch(context: JobContext) -> int:
    """Vectors for a budgeted batch of passages (search by meaning); plans again while more wait."""
    app = core()
    done = int(_unit(context, lambda: embed_passages(app), _logged) or 0)
    if done and passages_waiting(app):
        _then_plan()
    return done


TASKS = {
    t.name: t
    for t in (
        search_topic,
        scan_block,
        fetch_block,
        transcribe_episode,
        extract_episode,
        cluster_stories,
        deliver_digests,
        export_notes,
        build_briefing,
        embed_passage_batch,
    )
}


@jobs.task(
    name="plan", queue="plan", priority=PRIORITY["plan"], lock="plan", queueing_lock="plan", pass_context=True
)
async def plan(context: JobContext, timestamp: int | None = None) -> int:
    """Queue every due unit that is not queued or running yet; retry the tasks of workers
    that stopped sending heartbeats. Runs every minute and after tasks that made work."""
    app = core()
    manager = context.app.job_manager
    stalled = list(
        await manager.get_stalled_jobs(seconds_since_heartbeat=app.settings.worker_stalled_seconds)
    )
    for job in stalled:
        log.warning("retrying %s %s: its worker stopped", job.task_name, job.task_kwargs)
        await manager.retry_job(job)
    # A periodic tick (with its timestamp) also looks at deliveries while work is pending.
    units = await asyncio.to_thread(due_work, app, utcnow(), timestamp is not None)
    present = {
        j.queueing_lock for status in ("todo", "doing") for j in await manager.list_jobs_async(status=status)
    }
    cooling = await _recently_failed(context)
    queued = 0
    for unit in units:
        key = unit.queueing_lock
        if key in present or key in cooling:
            continue
        task = TASKS[unit.task]
        try:
            await task.configure(lock=unit.lock, queueing_lock=key).defer_async(**unit.kwargs)
            queued += 1
        except AlreadyEnqueued:
            pass
    if queued or stalled:
        log.info("planned %d task(s), retried %d stalled", queued, len(stalled))
    return queued


async def _recently_failed(context: JobContext) -> set[str]:
    """Queueing locks of unit-less tasks (stories, delivery) that failed for good lately."""
    since = utcnow() - FAILED_COOLDOWN
    out: set[str] = set()
    for name in ("cluster_stories", "deliver_digests", "export_notes"):
        for job in await context.app.job_manager.list_jobs_async(task=name, status="failed"):
            if job.queueing_lock and job.scheduled_at is not None and job.scheduled_at >= since:
                out.add(job.queueing_lock)
    return out


__all__ = ["PRIORITY", "QUEUES", "TASKS", "jobs", "plan", "use_core"]
