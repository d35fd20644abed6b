"""A subscriber's briefings as a private podcast feed (RSS 2.0 with the iTunes and
Podcasting 2.0 namespaces), and the reads the web app needs: the feed's items, a file
behind the subscriber's token, the opt-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

import sqlalchemy as sa

from podsift.briefings.stage import briefings_folder
from podsift.net.links import format_timestamp
from podsift.store import Briefing, BriefingState, Subscriber

if TYPE_CHECKING:
    from podsift.core import App

MEDIA_TYPES = {".mp3": "audio/mpeg", ".json": "application/json+chapters", ".vtt": "text/vtt"}


@dataclass(frozen=True)
class ReadyBriefing:
    id: int
    subscriber_id: int
    local_date: str
    file_name: str
    duration: float
    size: int
    chapters: list[dict[str, object]]
    created_at: datetime


def ready_briefings(app: App, subscriber_id: int, limit: int | None = None) -> list[ReadyBriefing]:
    """The subscriber's briefings whose files are there, newest first."""
    limit = limit or app.settings.briefing_keep
    with app.session() as session:
        rows = session.scalars(
            sa.select(Briefing)
            .where(Briefing.subscriber_id == subscriber_id, Briefing.state == BriefingState.READY)
            .order_by(Briefing.local_date.desc(), Briefing.id.desc())
            .limit(limit)
        ).all()
        found = [
            ReadyBriefing(
                r.id,
                r.subscriber_id,
                r.local_date,
                r.file_name or "",
                r.duration_seconds,
                r.size_bytes,
                list(r.chapters or []),
                r.created_at,
            )
            for r in rows
        ]
    return [b for b in found if (briefings_folder(app, subscriber_id) / b.file_name).is_file()]


def briefing_of_day(app: App, subscriber_id: int, day: str) -> ReadyBriefing | None:
    return next((b for b in ready_briefings(app, subscriber_id) if b.local_date == day), None)


def briefing_file(app: App, subscriber_id: int, briefing_id: int, suffix: str) -> Path | None:
    """The MP3, chapters or transcript of one of this subscriber's briefings."""
    if suffix not in MEDIA_TYPES:
        return None
    for b in ready_briefings(app, subscriber_id):
        if b.id == briefing_id:
            path = briefings_folder(app, subscriber_id) / f"{Path(b.file_name).stem}{suffix}"
            return path if path.is_file() else None
    return None


def feed_path(app: App, sub: Subscriber) -> str:
    """The private feed's path (the token is the Atom feed's: revoked with it)."""
    return f"/feed/{app.tokens().make('feed', sub.id, sub.token_version)}/briefing.xml"


def media_path(app: App, sub: Subscriber, briefing_id: int, suffix: str = ".mp3") -> str:
    return f"/feed/{app.tokens().make('feed', sub.id, sub.token_version)}/briefing/{briefing_id}{suffix}"


def set_briefing(app: App, subscriber_id: int, on: bool) -> None:
    with app.session() as session:
        session.execute(sa.update(Subscriber).where(Subscriber.id == subscriber_id).values(briefing=on))
        session.commit()


def briefing_rss(briefings: list[ReadyBriefing], base: str, feed_url: str, page_url: str | None) -> str:
    """RSS 2.0 for podcast apps: `itunes:block` (a private feed stays out of directories),
    stable GUIDs, the enclosure, chapters and transcript behind the same token as the feed."""
    items = []
    for b in briefings:
        media = f"{base}/{b.id}"
        published = datetime.combine(datetime.fromisoformat(b.local_date).date(), time(6), tzinfo=UTC)
        titles = "; ".join(str(c.get("title", "")) for c in b.chapters)
        items.append(
            f"""  <item>
   <title>{escape(f"Your briefing for {b.local_date}")}</title>
   <description>{escape(titles or "Your podsift briefing")}</description>
   <guid isPermaLink="false">podsift-briefing-{b.subscriber_id}-{b.local_date}</guid>
   <pubDate>{format_datetime(published)}</pubDate>
   <enclosure url={quoteattr(media + ".mp3")} length="{b.size}" type="audio/mpeg"/>
   <itunes:duration>{format_timestamp(b.duration)}</itunes:duration>
   <itunes:episodeType>full</itunes:episodeType>
   <itunes:explicit>false</itunes:explicit>
   <podcast:chapters url={quoteattr(media + ".json")} type="application/json+chapters"/>
   <podcast:transcript url={quoteattr(media + ".vtt")} type="text/vtt" language="en"/>
  </item>"""
        )
    updated = briefings[0].created_at if briefings else datetime.now(UTC)
    link = page_url or feed_url
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:podcast="https://podcastindex.org/namespace/1.0" xmlns:atom="http://www.w3.org/2005/Atom">
 <channel>
  <title>Your podsift briefing</title>
  <link>{escape(link)}</link>
  <atom:link href={quoteattr(feed_url)} rel="self" type="application/rss+xml"/>
  <description>Your daily top insights in the speakers' own voices. Private: this feed's address is yours alone.</description>
  <language>en</language>
  <lastBuildDate>{format_datetime(updated.astimezone(UTC) if updated.tzinfo else updated.replace(tzinfo=UTC))}</lastBuildDate>
  <itunes:author>podsift</itunes:author>
  <itunes:block>Yes</itunes:block>
  <itunes:explicit>false</itunes:explicit>
  <itunes:category text="News"/>
  <podcast:locked>yes</podcast:locked>
{chr(10).join(items)}
 </channel>
</rss>
"""
