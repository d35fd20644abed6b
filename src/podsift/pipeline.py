"""`run`: one pass of the daily job. Every stage takes its work by state from the
database, so a crashed or repeated run picks up where the last one stopped."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

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
    delivery: DeliveryReport
    seconds: float


def run(app: App, now: datetime | None = None, force_scan: bool = False) -> RunReport:
    started = time.perf_counter()
    now = now or utcnow()
    scan = scan_feeds(app, now, force=force_scan)
    transcripts = fetch_transcripts(app)
    speech = transcribe_pending(app)
    insights = extract_insights(app, now)
    delivery = deliver_due(app, now)
    return RunReport(scan, transcripts, speech, insights, delivery, time.perf_counter() - started)
