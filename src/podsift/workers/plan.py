"""What is due now, as units of work: asked of the stages, which own the queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from podsift.backends.asr.registry import asr_enabled
from podsift.briefings.stage import due_briefing_subscribers
from podsift.clusters.stage import unclustered_insights
from podsift.delivery.stage import due_subscribers
from podsift.exports.stage import due_targets
from podsift.insights.stage import due_extractions
from podsift.search.embed import passages_waiting
from podsift.sources.scan import due_feeds
from podsift.sources.topics import due_topics
from podsift.store import Subscriber
from podsift.transcripts.speech import audio_episodes
from podsift.transcripts.stage import new_episodes

if TYPE_CHECKING:
    from podsift.core import App


FETCH_BLOCK = 25  # feeds or episodes per fetching task
EXPORT_BLOCK = 10  # export targets per task (each a few requests to its service)


@dataclass(frozen=True)
class Unit:
    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)  # JSON: stored with the job
    # One waiting copy of a unit at most (`queueing_lock`), one running copy (`lock`).
    key: str = ""
    lock: str = ""

    @property
    def queueing_lock(self) -> str:
        return f"{self.task}:{self.key}"


def due_work(app: App, now: datetime, deliveries: bool = True) -> list[Unit]:
    """Every unit of work that is due, in the order of the data flow. Deliveries are
    looked for when nothing upstream is pending, or when `deliveries` asks (the periodic
    tick): with 10,000 subscribers that look is the costly part of a plan."""
    # Feeds and transcripts go in blocks: each is a few milliseconds of network wait, less
    # than a task's own cost; a block is fetched concurrently inside its task.
    units = [Unit("search_topics", {"topic_id": i}, str(i), f"topic:{i}") for i in due_topics(app, now)]
    units += _blocks("scan_feeds", "feed_ids", due_feeds(app, now), FETCH_BLOCK)
    fetching = new_episodes(app)
    extracting = [episode_id for episode_id, _ in due_extractions(app, now)]
    unclustered = unclustered_insights(app)
    units += _blocks("fetch_transcripts", "episode_ids", fetching, FETCH_BLOCK)
    units += [Unit("extract_episode", {"episode_id": i}, str(i), f"episode:{i}") for i in extracting]
    if asr_enabled(app.settings.asr):  # with speech to text off, audio-only episodes wait
        listening = audio_episodes(app)
        units += [Unit("transcribe_episode", {"episode_id": i}, str(i), f"episode:{i}") for i in listening]
    if unclustered:
        units.append(Unit("cluster_stories", {}, "all", "stories"))
    if passages_waiting(app):  # vectors for search by meaning, a budgeted batch a task
        units.append(Unit("embed_passages", {}, "all", "passages"))
    busy = bool(fetching or extracting or unclustered)
    if busy and not deliveries:
        return units
    patience = timedelta(minutes=app.settings.worker_delivery_patience_minutes)
    ready = [s.id for s in due_subscribers(app, now).due if not busy or _waited(s, now, patience)]
    units += _blocks("deliver_digests", "subscriber_ids", ready, app.settings.worker_delivery_batch)
    units += _blocks("export_notes", "target_ids", due_targets(app, now), EXPORT_BLOCK)
    briefings = due_briefing_subscribers(app, now)  # after the emails: never delays one
    units += [Unit("build_briefing", {"subscriber_id": i}, str(i), f"briefing:{i}") for i in briefings]
    return units


def _waited(sub: Subscriber, now: datetime, patience: timedelta) -> bool:
    """Whether the subscriber's send time today is `patience` past: with insights still on
    their way the digest waits for them, but not for ever (speech to text never counts)."""
    local = now.astimezone(ZoneInfo(sub.timezone))
    send_time = local.replace(hour=sub.send_hour, minute=0, second=0, microsecond=0)
    return local - send_time >= patience


def _blocks(task: str, argument: str, ids: list[int], size: int) -> list[Unit]:
    """Ids in blocks of consecutive ids: a block's key stays the same from one plan to the
    next, so its queueing lock keeps it from being queued twice, and its lock from running
    twice at once."""
    size = max(size, 1)
    blocks: dict[int, list[int]] = {}
    for unit_id in ids:
        blocks.setdefault(unit_id // size, []).append(unit_id)
    return [
        Unit(task, {argument: block_ids}, str(block), f"{task}:{block}")
        for block, block_ids in sorted(blocks.items())
    ]
