"""A digest as plain data, and its renderings (text, HTML with inlined CSS, Markdown, JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import css_inline
from jinja2 import Environment, FileSystemLoader, select_autoescape

from podsift.digests.links import listen_link
from podsift.ranking.select import Pick

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = ("text", "html", "json", "md")


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
    # Signed 👍/👎 links (only when a base URL is configured).
    vote_up: str | None = None
    vote_down: str | None = None

    @property
    def quote_differs(self) -> bool:
        return quote_differs(self.quote, self.text)

    @property
    def timestamp(self) -> str:
        return format_timestamp(self.start)


def quote_differs(quote: str, text: str) -> bool:
    """Worth showing the quote beside the text (offline insights often are the quote)."""
    from podsift.clusters.signals import strip_speaker

    return _words(quote) != _words(strip_speaker(text))


def format_timestamp(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class DigestView:
    subscriber: str
    date: str
    insights: list[DigestEntry]
    unsubscribe_url: str | None = None
    preferences_url: str | None = None
    feed_url: str | None = None
    web_url: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "subscriber": self.subscriber,
            "date": self.date,
            "insights": [asdict(e) for e in self.insights],
            "unsubscribe_url": self.unsubscribe_url,
            "preferences_url": self.preferences_url,
            "feed_url": self.feed_url,
            "web_url": self.web_url,
        }


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def build_view(
    subscriber: str,
    date: str,
    picks: list[Pick],
    links: dict[str, str] | None = None,
    vote_link: Callable[[int, int], str] | None = None,
) -> DigestView:
    entries = []
    for rank, pick in enumerate(picks, 1):
        insight, episode = pick.insight, pick.insight.episode
        entries.append(
            DigestEntry(
                rank=rank,
                text=insight.text,
                quote=insight.quote,
                speaker=insight.speaker,
                podcast=episode.feed.title,
                episode=episode.title,
                episode_url=episode.link,
                audio_url=episode.audio_url,
                start=round(insight.start_seconds, 3),
                end=round(insight.end_seconds, 3),
                link=listen_link(episode.audio_url, episode.link, insight.start_seconds),
                score=pick.score,
                why=pick.why,
                also_on=pick.also_on,
                vote_up=vote_link(insight.id, 1) if vote_link else None,
                vote_down=vote_link(insight.id, -1) if vote_link else None,
            )
        )
    return DigestView(subscriber, date, entries, **(links or {}))


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
