"""The followed shows as the admin sees them: status, episodes, where transcripts came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from podsift.store import Episode, EpisodeState, Feed, FeedStatus, Transcript, utcnow

if TYPE_CHECKING:
    from podsift.core import App


@dataclass
class FeedRow:
    id: int
    title: str | None
    url: str
    status: str
    error: str | None
    last_checked: datetime | None
    next_check: datetime | None
    episodes: int
    # Transcripts by source ("publisher", "asr:<backend>").
    transcripts: dict[str, int] = field(default_factory=dict)
    failed_episodes: int = 0  # transcript, speech to text or extraction failed

    @property
    def publisher_share(self) -> str:
        total = sum(self.transcripts.values())
        return f"{100 * self.transcripts.get('publisher', 0) / total:.0f}% of {total}" if total else "–"


def feed_overview(app: App, order_by_title: bool = False) -> list[FeedRow]:
    """Every followed show with its state; by id (the CLI) or by title (the admin pages)."""
    with app.session() as session:
        episodes = dict(
            session.execute(sa.select(Episode.feed_id, sa.func.count()).group_by(Episode.feed_id)).all()
        )
        sources = session.execute(
            sa.select(Episode.feed_id, Transcript.source, sa.func.count())
            .join(Transcript, Transcript.episode_id == Episode.id)
            .group_by(Episode.feed_id, Transcript.source)
        ).all()
        failed = dict(
            session.execute(
                sa.select(Episode.feed_id, sa.func.count())
                .where(Episode.state.in_((EpisodeState.FAILED, EpisodeState.LLM_FAILED)))
                .group_by(Episode.feed_id)
            ).all()
        )
        order = (Feed.title, Feed.id) if order_by_title else (Feed.id,)
        feeds = list(session.scalars(sa.select(Feed).order_by(*order)))
    per_feed: dict[int, dict[str, int]] = {}
    for feed_id, source, count in sources:
        per_feed.setdefault(feed_id, {})[source] = count
    return [
        FeedRow(
            f.id,
            f.title,
            f.url,
            f.status,
            f.error_reason,
            f.last_checked_at,
            f.next_check_at,
            episodes.get(f.id, 0),
            per_feed.get(f.id, {}),
            failed.get(f.id, 0),
        )
        for f in feeds
    ]


def rescan_feed(app: App, feed_id: int) -> None:
    """Check this show on the next scan, ignoring what the last fetch cached."""
    with app.session() as session:
        session.execute(
            sa.update(Feed)
            .where(Feed.id == feed_id)
            .values(next_check_at=utcnow(), etag=None, last_modified=None, body_hash=None)
        )
        session.commit()


def count_feeds(app: App) -> int:
    with app.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Feed)) or 0


def followed_shows(app: App) -> list[Feed]:
    """The shows a subscriber can choose from (all but those gone for good), by title."""
    with app.session() as session:
        return list(
            session.scalars(
                sa.select(Feed).where(Feed.status != FeedStatus.GONE).order_by(Feed.title, Feed.id)
            )
        )
