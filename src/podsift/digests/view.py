"""A digest as plain data, built one way for every reader (email, chat, Atom, the web pages,
the API), and its renderings (text, HTML with inlined CSS, Markdown, JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import css_inline
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape

from podsift.clusters.signals import strip_speaker
from podsift.net.links import format_timestamp, listen_link
from podsift.ranking.select import Pick
from podsift.sources.titles import episode_title
from podsift.store import Subscriber, Topic
from podsift.store import Transcript as TranscriptRow
from podsift.subscribers.links import links_for, vote_path

if TYPE_CHECKING:
    from podsift.core import App

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("text", "html", "json", "md")
PASSAGE_SECONDS = 25.0  # transcript shown around an insight on the web page


@dataclass
class PassageLine:
    time: str
    speaker: str | None
    text: str
    hit: bool  # inside the insight's span


@dataclass
class DigestEntry:
    rank: int
    text: str
    quote: str
    speaker: str | None
    podcast: str | None
    episode: str | None
    episode_url: str | None
    audio_url: str | None
    start: float
    end: float
    link: str | None
    score: float
    why: str
    also_on: list[dict[str, str | None]] = field(default_factory=list)
    also_on_more: int = 0  # shows that told it beyond those in also_on
    # Shows that disagree on the story: [{"detail", "sides": [{speaker, show, quote, link, ...}]}].
    disputes: list[dict[str, Any]] = field(default_factory=list)
    # "found for your topic 'x'" when the show was followed for a topic.
    found_for: str | None = None
    # Signed 👍/👎 links (in emails only when a base URL is configured).
    vote_up: str | None = None
    vote_down: str | None = None
    insight_id: int = 0
    cluster_id: int | None = None
    # The transcript around the insight (web pages only).
    passage: list[PassageLine] = field(default_factory=list)
    # Terms of the text explained, for a reader who asked for jargon explained: [[term, meaning]].
    glossary: list[list[str]] = field(default_factory=list)

    @property
    def more_shows(self) -> str:
        """What follows the shows named under "also discussed on": " and 192 more shows"."""
        n = self.also_on_more
        return f" and {n} more show{'s' if n != 1 else ''}" if n else ""

    @property
    def audio(self) -> str | None:
        """A media-fragment link: the player starts at the insight's second."""
        return listen_link(self.audio_url, None, self.start)

    @property
    def quote_differs(self) -> bool:
        return quote_differs(self.quote, self.text)

    @property
    def timestamp(self) -> str:
        return format_timestamp(self.start)


def quote_differs(quote: str, text: str) -> bool:
    """Worth showing the quote beside the text (offline insights often are the quote)."""
    return _words(quote) != _words(strip_speaker(text))


@dataclass
class DigestView:
    subscriber: str
    date: str
    insights: list[DigestEntry]
    unsubscribe_url: str | None = None
    preferences_url: str | None = None
    feed_url: str | None = None
    web_url: str | None = None
    # The private podcast feed of the audio briefing (opted-in readers).
    briefing_url: str | None = None
    # New moments for the reader's saved searches: [{"query", "moments": [{speaker, show, …}]}].
    mentions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "subscriber": self.subscriber,
            "date": self.date,
            "insights": [_public(e) for e in self.insights],
            "mentions": self.mentions,
            "unsubscribe_url": self.unsubscribe_url,
            "preferences_url": self.preferences_url,
            "feed_url": self.feed_url,
            "web_url": self.web_url,
            "briefing_url": self.briefing_url,
        }


def _public(entry: DigestEntry) -> dict[str, Any]:
    """An entry as the JSON format has always shown it (ids and passages are for the web)."""
    return {k: v for k, v in asdict(entry).items() if k not in ("insight_id", "cluster_id", "passage")}


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def build_view(
    subscriber: str,
    date: str,
    picks: list[Pick],
    links: dict[str, str | None] | None = None,
    vote_link: Callable[[int, int], str] | None = None,
    subscriber_id: int | None = None,
) -> DigestView:
    entries = []
    for rank, pick in enumerate(picks, 1):
        insight, episode = pick.insight, pick.insight.episode
        entries.append(
            DigestEntry(
                rank=rank,
                text=pick.text or insight.text,
                quote=insight.quote,
                speaker=insight.speaker,
                podcast=episode.feed.title,
                episode=episode_title(episode.title, episode.feed.title),
                episode_url=episode.link,
                audio_url=episode.audio_url,
                start=round(insight.start_seconds, 3),
                end=round(insight.end_seconds, 3),
                link=listen_link(episode.audio_url, episode.link, insight.start_seconds),
                score=pick.score,
                why=pick.why,
                also_on=_not_in_disputes(pick.also_on, pick.disputes),
                also_on_more=pick.also_on_more,
                disputes=pick.disputes,
                found_for=found_for(episode.feed.topic, subscriber_id),
                vote_up=vote_link(insight.id, 1) if vote_link else None,
                vote_down=vote_link(insight.id, -1) if vote_link else None,
                insight_id=insight.id,
                cluster_id=insight.cluster_id,
                glossary=pick.glossary,
            )
        )
    links = links or {}
    return DigestView(
        subscriber,
        date,
        entries,
        unsubscribe_url=links.get("unsubscribe_url"),
        preferences_url=links.get("preferences_url"),
        feed_url=links.get("feed_url"),
        web_url=links.get("web_url"),
        briefing_url=links.get("briefing_url"),
    )


def _not_in_disputes(
    also_on: list[dict[str, str | None]], disputes: list[dict[str, Any]]
) -> list[dict[str, str | None]]:
    """Other shows' tellings, less those a "shows disagree" line already names."""
    named = {side.get("show") for d in disputes for camp in d.get("sides", []) for side in camp}
    return [o for o in also_on if o.get("show") not in named]


def found_for(topic: Topic | None, subscriber_id: int | None) -> str | None:
    """The label of an insight from a show followed for a topic: the reader's own topic (or
    everyone's) says "your"."""
    if topic is None:
        return None
    whose = "your" if topic.subscriber_id in (None, subscriber_id) else "a reader's"
    return f"found for {whose} topic '{topic.phrase}'"


def digest_view(
    app: App, sub: Subscriber, day: str, picks: list[Pick], mentions: list[dict[str, Any]] | None = None
) -> DigestView:
    """The view an email, a chat message or the Atom feed shows: absolute signed links when a
    base URL is configured, none otherwise."""
    view = _digest_view(app, sub, day, picks)
    view.mentions = mentions or []
    return view


def _digest_view(app: App, sub: Subscriber, day: str, picks: list[Pick]) -> DigestView:
    links = links_for(app, sub)
    if links is None:
        return build_view(sub.email, day, picks, subscriber_id=sub.id)
    return build_view(
        sub.email,
        day,
        picks,
        {
            "unsubscribe_url": links.unsubscribe,
            "preferences_url": links.preferences,
            "feed_url": links.feed,
            "web_url": links.web,
            "briefing_url": links.briefing,
        },
        lambda insight_id, vote: links.vote(app, sub, insight_id, vote),
        sub.id,
    )


def web_view(app: App, session: sa.orm.Session, sub: Subscriber, day: str, picks: list[Pick]) -> DigestView:
    """The view the web page and the API show: the app's own vote paths, and the transcript
    around each insight."""
    view = build_view(
        sub.email, day, picks, vote_link=lambda i, vote: vote_path(app, sub, i, vote), subscriber_id=sub.id
    )
    episodes = {pick.insight.episode_id for pick in picks}
    transcripts = {
        row.episode_id: row
        for row in session.scalars(sa.select(TranscriptRow).where(TranscriptRow.episode_id.in_(episodes)))
    }
    for entry, pick in zip(view.insights, picks, strict=True):
        transcript = transcripts.get(pick.insight.episode_id)
        entry.passage = passage(transcript, pick.insight.start_seconds, pick.insight.end_seconds)
    return view


def passage(transcript: TranscriptRow | None, start: float, end: float) -> list[PassageLine]:
    if transcript is None:
        return []
    out = []
    for seg in transcript.segments:
        s, e = float(seg.get("start", 0)), float(seg.get("end", 0))
        if e >= start - PASSAGE_SECONDS and s <= end + PASSAGE_SECONDS:
            hit = e > start and s < end
            out.append(PassageLine(format_timestamp(s), seg.get("speaker"), seg.get("text", ""), hit))
    return out[:40]


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(view: DigestView, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(view.to_json(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "html":
        html = _env.get_template("digest.html").render(view=view)
        return css_inline.inline(html)
    if fmt in ("text", "md"):
        return _env.get_template(f"digest.{'txt' if fmt == 'text' else 'md'}").render(view=view)
    raise ValueError(f"unknown digest format {fmt!r} (choose from {', '.join(FORMATS)})")
