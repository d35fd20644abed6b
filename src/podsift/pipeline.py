"""`run`: one pass of the daily job. Every stage takes its work by state from the
database, so a crashed or repeated run picks up where the last one stopped."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from podsift.clusters.stage import ClusterReport, cluster_insights
from podsift.core import App
from podsift.delivery.stage import DeliveryReport, deliver_due
from podsift.insights.stage import InsightReport, extract_insights
from podsift.sources.scan import ScanReport, scan_feeds
from podsift.store import utcnow
from podsift.transcripts.speech import SpeechReport, transcribe_pending
from podsift.transcripts.stage import TranscriptReport, fetch_transcripts


@dataclass
class RunReport:
    scan: ScanReport
    transcripts: TranscriptReport
    speech: SpeechReport
    insights: InsightReport
    clusters: ClusterReport
    delivery: DeliveryReport
    seconds: float


def run(app: App, now: datetime | None = None, force_scan: bool = False) -> RunReport:
    """Scan, fetch publisher transcripts, extract, cluster, deliver what is due; then transcribe
    audio and extract again. Speech to text is the slow part (minutes per episode on a
    CPU), so it runs after delivery: a digest never waits for it, and what it finds goes
    into the next digest."""
    started = time.perf_counter()
    now = now or utcnow()
    scan = scan_feeds(app, now, force=force_scan)
    transcripts = fetch_transcripts(app)
    insights = extract_insights(app, now)
    clusters = cluster_insights(app, now)
    delivery = deliver_due(app, now)
    speech = transcribe_pending(app)
    if speech.transcribed or speech.cached:
        insights.merge(extract_insights(app, now))
        later_clusters = cluster_insights(app, now)
        clusters.clustered += later_clusters.clustered
        clusters.joined += later_clusters.joined
    return RunReport(scan, transcripts, speech, insights, clusters, delivery, time.perf_counter() - started)
