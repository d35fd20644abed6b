"""Build RSS feeds for tests (our own fixtures, generated so dates stay recent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr


@dataclass
class Item:
    title: str
    published: datetime
    guid: str | None = None
    audio: str | None = None
    link: str | None = None
    transcripts: list[tuple[str, str]] = field(default_factory=list)  # (url, mime type)
    persons: list[str] = field(default_factory=list)
    description: str = ""
    chapters: str | None = None  # URL of a Podcasting 2.0 chapters JSON


def rss(title: str, items: list[Item], link: str = "https://example.org/show") -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0">',
        "<channel>",
        f"<title>{escape(title)}</title><link>{escape(link)}</link>",
        f"<description>{escape(title)} podcast</description><language>en</language>",
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.description:
            parts.append(f"<description>{escape(item.description)}</description>")
        if item.audio:
            parts.append(f'<enclosure url={quoteattr(item.audio)} length="1000" type="audio/mpeg"/>')
        parts.append("<itunes:duration>00:20:00</itunes:duration>")
        for url, mime in item.transcripts:
            parts.append(f"<podcast:transcript url={quoteattr(url)} type={quoteattr(mime)}/>")
        if item.chapters:
            parts.append(
                f'<podcast:chapters url={quoteattr(item.chapters)} type="application/json+chapters"/>'
            )
        for person in item.persons:
            parts.append(f'<podcast:person role="guest">{escape(person)}</podcast:person>')
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)
