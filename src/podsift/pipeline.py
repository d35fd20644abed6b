"""`run`: one pass of the daily job. Every stage takes its work by state from the
database, so a crashed or repeated run picks up where the last one stopped.

One stage that fails unexpectedly never skips the stages after it: its failure is logged
and reported, and insights already extracted are still ranked and delivered."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from podsift.briefings.stage import BriefingReport, build_briefings
from podsift.clusters.stage import ClusterReport, cluster_insights
from podsift.core import App
from podsift.delivery.stage import DeliveryReport, deliver_due
from podsift.exports.stage import ExportReport, export_due
from podsift.insights.stage import InsightReport, extract_insights
from podsift.search.embed import embed_passages
from podsift.sources.scan import ScanReport, scan_feeds
from podsift.sources.topics import TopicReport, search_topics
from podsift.store import utcnow
from podsift.transcripts.speech import SpeechReport, transcribe_pending
from podsift.transcripts.stage import TranscriptReport, fetch_transcripts

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass
class RunReport:
    scan: ScanReport
    transcripts: TranscriptReport
    speech: SpeechReport
    insights: InsightReport
    clusters: ClusterReport
    delivery: DeliveryReport
    seconds: float
    # Stages that failed as a whole (stage -> reason); the others still ran.
    stage_errors: dict[str, str] = field(default_factory=dict)
    # Digests sent at the end of the run, from what speech to text found.
    late_delivery: DeliveryReport | None = None
    topics: TopicReport | None = None
    # Insights copied to notes tools (Readwise, Notion, vaults) after delivery.
    exports: ExportReport = field(default_factory=ExportReport)
    # Audio briefings of the digests just sent (opted-in subscribers).
    briefings: BriefingReport = field(default_factory=BriefingReport)


def run(app: App, now: datetime | None = None, force_scan: bool = False) -> RunReport:
    """Scan, fetch publisher transcripts, extract, cluster, deliver what is due, export to
    notes tools; then transcribe
    audio and extract again. Speech to text is the slow part (minutes per episode on a
    CPU), so it runs after delivery: a digest never waits for it. When it finds insights,
    subscribers who were due and got nothing this run get their digest at the end."""
    started = time.perf_counter()
    now = now or utcnow()
    errors: dict[str, str] = {}

    def _stage(name: str, work: Callable[[], R], empty: Callable[[], R]) -> R:
        try:
            return work()
        except Exception as exc:  # a bug or an outage in one stage must not skip the others
            log.error(
                "the %s stage failed; the run goes on without it",
                name,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            errors[name] = app.settings.scrub(f"{type(exc).__name__}: {exc}")[:500]
            return empty()

    # Topics first: a show followed for one today is scanned in this same run.
    topics = _stage("topics", lambda: search_topics(app, now), TopicReport)
    scan = _stage("scan", lambda: scan_feeds(app, now, force=force_scan), ScanReport)
    transcripts = _stage("transcripts", lambda: fetch_transcripts(app), TranscriptReport)
    insights = _stage("insights", lambda: extract_insights(app, now), InsightReport)
    clusters = _stage("stories", lambda: cluster_insights(app, now), ClusterReport)
    delivery = _stage("delivery", lambda: deliver_due(app, now), DeliveryReport)
    exports = _stage("exports", lambda: export_due(app, now), ExportReport)
    # After the emails are out: a slow or failed briefing never delays one.
    briefings = _stage("briefings", lambda: build_briefings(app, now), BriefingReport)
    # After delivery (a digest never waits for it), before speech to text (minutes).
    _stage("search index", lambda: embed_passages(app), int)
    speech = _stage("speech to text", lambda: transcribe_pending(app), SpeechReport)
    late = None
    if speech.transcribed or speech.cached:
        found = _stage("insights", lambda: extract_insights(app, now), InsightReport)
        insights.merge(found)
        later = _stage("stories", lambda: cluster_insights(app, now), ClusterReport)
        clusters.clustered += later.clustered
        clusters.joined += later.joined
        clusters.disagreements += later.disagreements
        if found.insights and delivery.empty:
            # deliver_due is idempotent: only those with no digest yet today get one now.
            late = _stage("delivery", lambda: deliver_due(app, now), DeliveryReport)
            if late.sent:
                _merge(exports, _stage("exports", lambda: export_due(app, now), ExportReport))
                more = _stage("briefings", lambda: build_briefings(app, now), BriefingReport)
                briefings.built += more.built
                briefings.failed.update(more.failed)
    return RunReport(
        scan,
        transcripts,
        speech,
        insights,
        clusters,
        delivery,
        time.perf_counter() - started,
        errors,
        late,
        topics,
        exports,
        briefings,
    )


def _merge(into: ExportReport, more: ExportReport) -> None:
    into.sent.update(more.sent)
    into.updated.update(more.updated)
    into.refused.update(more.refused)
    into.failed.update(more.failed)
    into.revoked += more.revoked
