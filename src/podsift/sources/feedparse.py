"""Feed bytes -> `ParsedFeed`.

podcastparser (a streaming SAX parser, fast and podcast-aware) reads well-formed feeds;
feedparser, slower but forgiving, takes over when the XML is broken or the encoding is
undeclared. Entity declarations are refused before either parser sees the bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import podcastparser


class FeedParseError(ValueError):
    pass


@dataclass
class ParsedEpisode:
    guid: str | None
    title: str | None
    description: str | None = None
    link: str | None = None
    audio_url: str | None = None
    audio_type: str | None = None
    published_at: datetime | None = None
    duration_seconds: int | None = None
    transcripts: list[dict[str, str | None]] = field(default_factory=list)
    persons: list[dict[str, Any]] = field(default_factory=list)
    chapters_url: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    link: str | None
    description: str | None
    episodes: list[ParsedEpisode]
    parser: str = "podcastparser"


# --- podcastparser extensions --------------------------------------------------------
# podcastparser knows only the old GitHub namespace URI and keeps one transcript URL per
# item; podsift needs the current URI and every <podcast:transcript> with its attributes.
podcastparser.Namespace.NAMESPACES.setdefault("https://podcastindex.org/namespace/1.0", "podcast")


class _AllTranscripts(podcastparser.Target):  # type: ignore[misc]
    def start(self, handler: Any, attrs: Any) -> None:
        url = attrs.get("url")
        if not url:
            return
        entry = {
            "url": urljoin(handler.base, url.strip()),
            "type": (attrs.get("type") or "").strip().lower() or None,
            "language": attrs.get("language"),
            "rel": attrs.get("rel"),
        }
        handler.episodes[-1].setdefault("transcripts", []).append(entry)


podcastparser.MAPPING["rss/channel/item/podcast:transcript"] = _AllTranscripts()

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_ROOT = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]", re.I)


def _refuse_entities(body: bytes) -> None:
    root = _ROOT.search(body)
    prolog = body[: root.start()] if root else body[:65536]
    if _ENTITY_DECL.search(prolog):
        raise FeedParseError("feed declares XML entities (entity-expansion risk); refused")


def _ts(value: float | int | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_feed(body: bytes, url: str) -> ParsedFeed:
    if not body.strip():
        raise FeedParseError("empty response body")
    _refuse_entities(body)
    try:
        return _with_podcastparser(body, url)
    except (podcastparser.FeedParseError, ValueError, KeyError, TypeError):
        # ValueError also covers SAX encoding failures (e.g. undeclared ISO-8859-1).
        return _with_feedparser(body, url)


def _with_podcastparser(body: bytes, url: str) -> ParsedFeed:
    data = podcastparser.parse(url, io.BytesIO(body))
    episodes = []
    for item in data.get("episodes", []):
        enclosure = next(iter(item.get("enclosures") or []), None)
        episodes.append(
            ParsedEpisode(
                guid=item.get("guid") or None,
                title=item.get("title") or None,
                description=item.get("description") or None,
                link=item.get("link") or None,
                audio_url=enclosure["url"] if enclosure else None,
                audio_type=enclosure.get("mime_type") if enclosure else None,
                published_at=_ts(item.get("published")),
                duration_seconds=item.get("total_time") or None,
                transcripts=item.get("transcripts", []),
                persons=[p for p in item.get("persons", []) if p.get("name")],
                chapters_url=item.get("chapters_json_url"),
            )
        )
    return ParsedFeed(data.get("title"), data.get("link"), data.get("description"), episodes)


def _feedparser_transcripts(entry: Any, base: str) -> list[dict[str, str | None]]:
    found = []
    for link in entry.get("links", []):
        if link.get("rel") == "transcript" and link.get("href"):
            found.append(
                {"url": urljoin(base, link["href"]), "type": link.get("type"), "language": None, "rel": None}
            )
    raw = entry.get("podcast_transcript")
    if isinstance(raw, dict) and raw.get("url"):
        found.append(
            {
                "url": urljoin(base, raw["url"]),
                "type": raw.get("type"),
                "language": raw.get("language"),
                "rel": raw.get("rel"),
            }
        )
    return found


def _duration(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(podcastparser.parse_time(value)) or None
    except ValueError:
        return None


def _with_feedparser(body: bytes, url: str) -> ParsedFeed:
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": url})
    if not parsed.entries and not parsed.feed.get("title"):
        reason = parsed.get("bozo_exception") or "no feed or entries found"
        raise FeedParseError(f"not a feed: {reason}")
    episodes = []
    for entry in parsed.entries:
        audio = next(
            (e for e in entry.get("enclosures", []) if e.get("href")),
            None,
        )
        # dict.get: FeedParserDict.get("updated_parsed") warns about a deprecated alias.
        published = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        episodes.append(
            ParsedEpisode(
                guid=entry.get("id") or None,
                title=entry.get("title") or None,
                description=entry.get("summary") or None,
                link=entry.get("link") or None,
                audio_url=urljoin(url, audio["href"]) if audio else None,
                audio_type=audio.get("type") if audio else None,
                published_at=datetime(*published[:6], tzinfo=UTC) if published else None,
                duration_seconds=_duration(entry.get("itunes_duration")),
                transcripts=_feedparser_transcripts(entry, url),
            )
        )
    feed = parsed.feed
    return ParsedFeed(feed.get("title"), feed.get("link"), feed.get("subtitle"), episodes, "feedparser")
