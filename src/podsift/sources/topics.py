"""Topics that find their own shows.

A topic (a subscriber's, or everyone's when the admin adds it) is searched in the
directories podsift speaks, every `topic_search_hours`: episodes on the topic (iTunes'
podcastEpisode search; Podcast Index's recent episodes, with a key) and shows named for it
(both directories' show search, each checked by reading its feed). A show with at least
`topic_min_matches` episodes from the last `topic_recent_days` that mention the topic is
proposed; with `topics_auto_follow` (the admin's choice) the best proposals are followed, at
most the topic's cap. A show followed for a topic that gave no digest a single insight in
`topic_drop_days` is dropped again. Nothing here is fetched but through the guarded client.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from podsift.net.client import FetchError
from podsift.sources.discover import (
    EpisodeResult,
    ShowResult,
    ask_all,
    recent_episodes_podcastindex,
    search_itunes,
    search_itunes_episodes,
    search_podcastindex,
)
from podsift.sources.feedparse import FeedParseError, parse_feed
from podsift.sources.scan import FeedURLError, normalize_feed_url
from podsift.store import (
    Digest,
    DigestItem,
    Episode,
    Feed,
    Insight,
    Subscriber,
    Topic,
    TopicShow,
    TopicShowState,
)
from podsift.words import STOP_WORDS, singular

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
SHOWS_CHECKED = 8  # shows from a directory's show search whose feeds are read, per topic
_WORD = re.compile(r"[a-z0-9]+")


class TopicError(ValueError):
    pass


@dataclass
class Candidate:
    feed_url: str
    title: str | None
    sources: set[str] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)  # titles of matching recent episodes


@dataclass
class TopicReport:
    searched: int = 0
    proposed: int = 0
    followed: int = 0
    dropped: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # topic phrase -> what failed


def _stems(text: str) -> set[str]:
    return {singular(w) for w in _WORD.findall(text.lower())}


def mentions(phrase: str, text: str) -> bool:
    """Every word of the topic (plural or not) is in the text."""
    wanted = {singular(w) for w in _WORD.findall(phrase.lower()) if w not in STOP_WORDS}
    return bool(wanted) and wanted <= _stems(text)


# --- managing topics -------------------------------------------------------------------


def add_topic(app: App, phrase: str, email: str | None = None, cap: int | None = None) -> Topic:
    """A topic for one subscriber (by address) or, without one, for everyone."""
    phrase = " ".join(phrase.split())
    if not phrase or len(phrase) > 200 or not _WORD.search(phrase.lower()):
        raise TopicError("a topic is a few words (at most 200 characters)")
    with app.session() as session:
        owner = None
        if email is not None:
            owner = session.scalar(sa.select(Subscriber.id).where(Subscriber.email == email.strip().lower()))
            if owner is None:
                raise TopicError(f"no subscriber {email}")
        same = session.scalar(
            sa.select(Topic).where(
                sa.func.lower(Topic.phrase) == phrase.lower(),
                Topic.subscriber_id.is_(None) if owner is None else Topic.subscriber_id == owner,
            )
        )
        if same is not None:
            return same
        topic = Topic(phrase=phrase, subscriber_id=owner, follow_cap=cap or app.settings.topic_follow_cap)
        session.add(topic)
        session.commit()
        return topic


def remove_topic(app: App, topic_id: int, subscriber_id: int | None = None) -> str | None:
    """Forget a topic and its proposals (shows it followed stay followed); its phrase, or
    None when there is none (or it is not this subscriber's)."""
    with app.session() as session:
        topic = session.get(Topic, topic_id)
        if topic is None or (subscriber_id is not None and topic.subscriber_id != subscriber_id):
            return None
        phrase = topic.phrase
        session.delete(topic)
        session.commit()
        return phrase


@dataclass
class TopicOverview:
    id: int
    phrase: str
    owner: str | None  # the subscriber's address; None: everyone
    cap: int
    searched_at: datetime | None
    error: str | None
    shows: list[TopicShow]


def topic_overview(app: App, subscriber_id: int | None = None) -> list[TopicOverview]:
    """Every topic (or one subscriber's) with the shows found for it, best first."""
    with app.session() as session:
        query = sa.select(Topic, Subscriber.email).outerjoin(Subscriber, Subscriber.id == Topic.subscriber_id)
        if subscriber_id is not None:
            query = query.where(Topic.subscriber_id == subscriber_id)
        out = []
        for topic, email in session.execute(query.order_by(Topic.id)):
            shows = sorted(topic.shows, key=lambda s: (s.state != TopicShowState.PROPOSED, -s.matches, s.id))
            out.append(
                TopicOverview(
                    topic.id,
                    topic.phrase,
                    email,
                    topic.follow_cap,
                    topic.searched_at,
                    topic.search_error,
                    shows,
                )
            )
        return out


def follow_proposal(app: App, show_id: int, now: datetime) -> TopicShow:
    """Follow a proposed show for its topic (it is then scanned like any other)."""

    def follow(session: sa.orm.Session, show: TopicShow) -> None:
        if show.state not in (TopicShowState.FOLLOWED, TopicShowState.ALREADY):
            _follow(app, session, show, now)

    return _decide(app, show_id, follow)


def dismiss_proposal(app: App, show_id: int, now: datetime) -> TopicShow:
    """Turn a proposal down: it is not proposed again."""

    def dismiss(session: sa.orm.Session, show: TopicShow) -> None:
        show.state, show.decided_at = TopicShowState.DISMISSED, now

    return _decide(app, show_id, dismiss)


def _decide(app: App, show_id: int, change: Callable[[sa.orm.Session, TopicShow], None]) -> TopicShow:
    with app.session() as session:
        show = session.get(TopicShow, show_id)
        if show is None:
            raise TopicError(f"no proposal {show_id}")
        change(session, show)
        session.commit()
        session.refresh(show)
        return show


def _follow(app: App, session: sa.orm.Session, show: TopicShow, now: datetime) -> None:
    existing = session.scalar(sa.select(Feed).where(Feed.url == show.feed_url))
    if existing is not None:  # followed before the topic found it: no label, never dropped
        show.state, show.feed_id, show.decided_at = TopicShowState.ALREADY, existing.id, now
        return
    try:  # in this session: on SQLite a second writer would wait for this one
        url = normalize_feed_url(show.feed_url)
    except FeedURLError as exc:
        raise TopicError(str(exc)) from exc
    feed = Feed(url=url, title=show.title, topic_id=show.topic_id)
    session.add(feed)
    session.flush()
    show.state, show.feed_id, show.decided_at = TopicShowState.FOLLOWED, feed.id, now


# --- the scheduled search -------------------------------------------------------------


def due_topics(app: App, now: datetime) -> list[int]:
    due = now - timedelta(hours=app.settings.topic_search_hours)
    with app.session() as session:
        return list(
            session.scalars(
                sa.select(Topic.id)
                .where(sa.or_(Topic.searched_at.is_(None), Topic.searched_at <= due))
                .order_by(Topic.id)
            )
        )


def search_topics(
    app: App, now: datetime, *, force: bool = False, only: Iterable[int] | None = None
) -> TopicReport:
    """Search every due topic, propose (and where allowed, follow) what it finds, and drop
    topic shows that gave nothing. One topic's failure is recorded on it; the rest go on."""
    report = TopicReport()
    ids = list(only) if only is not None else (_all_topics(app) if force else due_topics(app, now))
    for topic_id in ids:
        with app.session() as session:
            topic = session.get(Topic, topic_id)
            if topic is None:
                continue
            phrase = topic.phrase
        try:
            candidates, errors = asyncio.run(find_shows(app, phrase, now))
        except Exception as exc:  # a topic's search never stops the run
            log.exception("topic search %r failed", phrase)
            candidates, errors = {}, [f"{type(exc).__name__}: {exc}"]
        errors = [app.settings.scrub(e) for e in errors]  # stored and shown: never a secret
        if errors:
            report.errors[phrase] = "; ".join(errors)
        proposed, followed = _record(app, topic_id, candidates, errors, now)
        report.searched += 1
        report.proposed += proposed
        report.followed += followed
    report.dropped = drop_idle_topic_shows(app, now)
    return report


def _all_topics(app: App) -> list[int]:
    with app.session() as session:
        return list(session.scalars(sa.select(Topic.id).order_by(Topic.id)))


async def find_shows(app: App, phrase: str, now: datetime) -> tuple[dict[str, Candidate], list[str]]:
    """Shows with recent episodes on the topic, from every directory that answers."""
    since = (now - timedelta(days=app.settings.topic_recent_days)).timestamp()
    calls: list[Awaitable[Any]] = [search_itunes_episodes(app, phrase), search_itunes(app, phrase)]
    if app.settings.podcastindex_key and app.settings.podcastindex_secret:
        calls += [recent_episodes_podcastindex(app, phrase), search_podcastindex(app, phrase)]
    results, errors = await ask_all(calls)
    found: dict[str, Candidate] = {}
    for batch, source in zip(results[::2], ("itunes", "podcastindex"), strict=False):
        for episode in batch if isinstance(batch, list) else []:
            _add_episode(found, episode, source, phrase, since)
    named: dict[str, ShowResult] = {}
    named_by: dict[str, set[str]] = {}
    for batch in results[1::2]:
        for show in batch if isinstance(batch, list) else []:
            named.setdefault(_key(show.feed_url), show)
            named_by.setdefault(_key(show.feed_url), set()).add(show.source)
    unchecked = [s for key, s in named.items() if key not in found][:SHOWS_CHECKED]
    checks = await asyncio.gather(*(_recent_matches(app, s.feed_url, phrase, since) for s in unchecked))
    for show, titles in zip(unchecked, checks, strict=True):
        if titles:
            found[_key(show.feed_url)] = Candidate(show.feed_url, show.title, set(), titles)
    for key, show in named.items():
        if key in found:
            found[key].sources |= named_by[key]
            found[key].title = found[key].title or show.title
    return found, errors


def _key(url: str) -> str:
    try:
        return normalize_feed_url(url)
    except FeedURLError:
        return url


def _add_episode(
    found: dict[str, Candidate], episode: EpisodeResult, source: str, phrase: str, since: float
) -> None:
    if not episode.feed_url or (episode.published or 0) < since:
        return
    if not mentions(phrase, f"{episode.title} {episode.description}"):
        return
    candidate = found.setdefault(_key(episode.feed_url), Candidate(episode.feed_url, episode.show))
    candidate.sources.add(source)
    if episode.title not in candidate.evidence:
        candidate.evidence.append(episode.title)


async def _recent_matches(app: App, url: str, phrase: str, since: float) -> list[str]:
    """Titles of the feed's episodes since `since` that mention the topic ([] when the
    feed cannot be read: a show we cannot read is no proposal)."""
    try:
        async with app.http_client() as client:
            result = await client.fetch(url, max_bytes=app.settings.max_feed_bytes)
        if result.status != 200:
            return []
        parsed = parse_feed(result.body, url)
    except (FetchError, FeedParseError) as exc:
        log.info("topic search: %s not read: %s", url, exc)
        return []
    return [
        e.title or ""
        for e in parsed.episodes
        if e.published_at
        and e.published_at.timestamp() >= since
        and mentions(phrase, f"{e.title or ''} {e.description or ''}")
    ]


def _record(
    app: App, topic_id: int, candidates: dict[str, Candidate], errors: list[str], now: datetime
) -> tuple[int, int]:
    """Store what a search found; follow the best proposals when the admin allows it."""
    s = app.settings
    proposed = followed = 0
    with app.session() as session:
        topic = session.get(Topic, topic_id)
        if topic is None:
            return 0, 0
        known = {_key(show.feed_url): show for show in topic.shows}
        for key, candidate in candidates.items():
            if len(candidate.evidence) < s.topic_min_matches:
                continue
            show = known.get(key)
            if show is None:
                show = TopicShow(topic_id=topic.id, feed_url=key, found_at=now, state=TopicShowState.PROPOSED)
                session.add(show)
                known[key] = show
                proposed += 1
            if show.state == TopicShowState.PROPOSED:  # dismissed and dropped shows stay so
                show.title = candidate.title
                show.source = ",".join(sorted(candidate.sources))
                show.matches = len(candidate.evidence)
                show.evidence = candidate.evidence[:10]
        topic.searched_at = now
        topic.search_error = "; ".join(errors)[:2000] or None
        session.flush()
        if s.topics_auto_follow:
            active = sum(v.state == TopicShowState.FOLLOWED for v in known.values())
            waiting = sorted(
                (v for v in known.values() if v.state == TopicShowState.PROPOSED),
                key=lambda v: (-v.matches, v.feed_url),
            )
            for show in waiting[: max(topic.follow_cap - active, 0)]:
                try:
                    _follow(app, session, show, now)
                except TopicError as exc:
                    log.warning("topic %r: %s", topic.phrase, exc)
                    continue
                followed += show.state == TopicShowState.FOLLOWED
        session.commit()
    return proposed, followed


def drop_idle_topic_shows(app: App, now: datetime) -> int:
    """Unfollow shows followed for a topic at least `topic_drop_days` ago from which no
    digest of the last `topic_drop_days` took an insight (their episodes and insights go
    with them; the proposal stays, marked dropped, so the search does not bring it back)."""
    cutoff = now - timedelta(days=app.settings.topic_drop_days)
    dropped = 0
    with app.session() as session:
        stale = session.scalars(
            sa.select(TopicShow).where(
                TopicShow.state == TopicShowState.FOLLOWED,
                TopicShow.feed_id.is_not(None),
                TopicShow.decided_at <= cutoff,
            )
        ).all()
        for show in stale:
            used = session.scalar(
                sa.select(sa.func.count())
                .select_from(DigestItem)
                .join(Insight, Insight.id == DigestItem.insight_id)
                .join(Episode, Episode.id == Insight.episode_id)
                .join(Digest, Digest.id == DigestItem.digest_id)
                .where(Episode.feed_id == show.feed_id, Digest.created_at >= cutoff)
            )
            if used:
                continue
            feed = session.get(Feed, show.feed_id)
            if feed is not None:
                session.delete(feed)
            show.state, show.feed_id, show.decided_at = TopicShowState.DROPPED, None, now
            dropped += 1
        session.commit()
    if dropped:
        log.info("dropped %d show(s) followed for topics that gave no digest an insight", dropped)
    return dropped
