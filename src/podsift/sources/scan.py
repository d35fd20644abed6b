"""The feeds stage: add feeds, poll them politely, record their episodes.

Polling: conditional GET (ETag / Last-Modified; a 304, or a body identical to the last
one, costs no parse and no episode writes), backoff with jitter on errors, 410 marks the
feed gone, and three consecutive fetches that end on the same permanent redirect move the
stored URL. Each feed is committed on its own, so a crash loses at most the feed in hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.net.client import FetchError, FetchResult
from podsift.progress import progress
from podsift.settings import Settings
from podsift.sources.feedparse import FeedParseError, ParsedEpisode, ParsedFeed, parse_feed
from podsift.sources.opml import OPMLEntry, build_opml, parse_opml
from podsift.store import Episode, EpisodeState, Feed, FeedStatus, rows_changed, utcnow

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
PERMANENT_REDIRECTS_TO_MOVE = 3
COMMIT_EVERY = 50


MAX_URL_LENGTH = 2048  # the feeds.url column


class FeedURLError(ValueError):
    pass


def normalize_feed_url(url: str) -> str:
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise FeedURLError(f"feed URL longer than {MAX_URL_LENGTH} characters: {url[:80]!r}...")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise FeedURLError(f"feed URL contains spaces or control characters: {url[:200]!r}")
    url = re.sub(r"^(itpc|pcast|feed|podcast)://", "https://", url, flags=re.I)
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError as exc:
        raise FeedURLError(f"not a valid URL: {url[:200]!r} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FeedURLError(f"not an http(s) feed URL: {url[:200]!r}")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def add_feeds(app: App, urls: list[str]) -> tuple[list[Feed], list[str]]:
    """Add feeds by URL; returns (added, problems). Existing URLs are not an error."""
    added, problems = [], []
    with app.session() as session:
        for raw in urls:
            try:
                url = normalize_feed_url(raw)
            except FeedURLError as exc:
                problems.append(str(exc))
                continue
            if session.scalar(sa.select(Feed.id).where(Feed.url == url)) is None:
                feed = Feed(url=url)
                session.add(feed)
                session.commit()
                added.append(feed)
    return added, problems


def import_opml(app: App, data: bytes) -> tuple[list[Feed], list[str]]:
    entries = parse_opml(data)
    added, problems = add_feeds(app, [e.url for e in entries])
    titles = {normalize_feed_url(e.url): e.title for e in entries if e.title and _valid(e.url)}
    with app.session() as session:
        for feed in added:
            if feed.url in titles:
                session.execute(sa.update(Feed).where(Feed.id == feed.id).values(title=titles[feed.url]))
        session.commit()
    return added, problems


def _valid(url: str) -> bool:
    try:
        normalize_feed_url(url)
    except FeedURLError:
        return False
    return True


def export_opml(app: App) -> str:
    with app.session() as session:
        feeds = session.scalars(sa.select(Feed).where(Feed.status != FeedStatus.GONE).order_by(Feed.id))
        return build_opml([OPMLEntry(f.url, f.title) for f in feeds])


def remove_feed(app: App, url_or_id: str) -> str | None:
    """Unfollow a show, with its episodes and insights; its URL, or None when there is no such show."""
    with app.session() as session:
        feed = _find_feed(session, url_or_id)
        if feed is None:
            return None
        url = feed.url
        session.delete(feed)
        session.commit()
        return url


def _find_feed(session: Session, url_or_id: str) -> Feed | None:
    if url_or_id.isdigit():
        return session.get(Feed, int(url_or_id))
    try:
        url = normalize_feed_url(url_or_id)
    except FeedURLError:
        return None
    return session.scalar(sa.select(Feed).where(Feed.url == url))


def backfill(app: App, url_or_id: str, days: int, now: datetime | None = None) -> int:
    """Queue archived episodes published in the last `days` days for processing."""
    now = now or utcnow()
    with app.session() as session:
        feed = _find_feed(session, url_or_id)
        if feed is None:
            raise FeedURLError(f"no such feed: {url_or_id}")
        result = session.execute(
            sa.update(Episode)
            .where(Episode.feed_id == feed.id, Episode.state == EpisodeState.ARCHIVED)
            .where(Episode.published_at >= now - timedelta(days=days))
            .values(state=EpisodeState.NEW)
        )
        session.commit()
        return rows_changed(result)


# --- polling -----------------------------------------------------------------------------


@dataclass
class ScanReport:
    checked: int = 0
    not_modified: int = 0
    unchanged: int = 0
    parsed: int = 0
    new_episodes: int = 0
    queued_episodes: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)


def due_feed_ids(
    session: Session, now: datetime, force: bool = False, only: Collection[int] | None = None
) -> list[int]:
    query = sa.select(Feed.id).where(Feed.status != FeedStatus.GONE).order_by(Feed.id)
    if only is not None:
        query = query.where(Feed.id.in_(only))
    if not force:
        query = query.where(sa.or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))
    return list(session.scalars(query))


def due_feeds(app: App, now: datetime) -> list[int]:
    """Feeds whose next check has come."""
    with app.session() as session:
        return due_feed_ids(session, now)


def scan_feeds(
    app: App, now: datetime | None = None, force: bool = False, only: Collection[int] | None = None
) -> ScanReport:
    """Fetch every due feed (or the due ones among `only`) and store new episodes."""
    return asyncio.run(scan_feeds_async(app, now or utcnow(), force, only))


async def scan_feeds_async(
    app: App, now: datetime, force: bool = False, only: Collection[int] | None = None
) -> ScanReport:
    report = ScanReport()
    with app.session() as session:
        ids = due_feed_ids(session, now, force, only)
        # Detached rows: fetching needs no session, and each outcome is written back with
        # one UPDATE (plus a bulk INSERT of new episodes) in its own short transaction.
        feeds = {f.id: f for f in session.scalars(sa.select(Feed).where(Feed.id.in_(ids)))}
        session.expunge_all()
    semaphore = asyncio.Semaphore(app.settings.fetch_concurrency)
    async with app.http_client() as client:

        async def fetch(feed: Feed) -> tuple[Feed, FetchResult | FetchError]:
            async with semaphore:
                try:
                    return feed, await client.fetch(
                        feed.url, headers=_conditional_headers(feed), max_bytes=app.settings.max_feed_bytes
                    )
                except FetchError as exc:  # HttpClient turns every failure into one
                    return feed, exc

        with progress("scanning feeds", len(feeds)) as bar, app.engine.connect() as conn:
            updates: list[dict[str, object]] = []

            def flush() -> None:
                if updates:
                    conn.execute(_UPDATE_FEED, updates)  # one executemany per batch
                    updates.clear()
                if conn.in_transaction():
                    conn.commit()

            for done in asyncio.as_completed([fetch(feeds[i]) for i in ids]):
                feed, outcome = await done
                if not conn.in_transaction():
                    conn.begin()
                try:
                    with conn.begin_nested():  # one feed's bad data rolls back that feed only
                        _apply_outcome(app, conn, feed, outcome, now, report)
                except Exception as exc:
                    log.exception("feed %s could not be stored", feed.url)
                    _record_failure(app, feed, f"could not store: {type(exc).__name__}: {exc}", now, report)
                updates.append({"feed_id": feed.id, **_columns(feed)})
                # Outcomes are committed in small batches: a crash loses at most the last
                # batch's bookkeeping, and those feeds are simply fetched again next run.
                if len(updates) >= COMMIT_EVERY:
                    flush()
                bar.advance()
            flush()
    return report


_FEED_COLUMNS = [c.key for c in Feed.__table__.columns if c.key != "id"]
# Built once with bind parameters, so SQLAlchemy compiles it once for the whole scan.
_UPDATE_FEED = (
    sa.update(Feed)
    .where(Feed.id == sa.bindparam("feed_id"))
    .values({key: sa.bindparam(key) for key in _FEED_COLUMNS})
)


def _columns(feed: Feed) -> dict[str, object]:
    return {key: getattr(feed, key) for key in _FEED_COLUMNS}


def _conditional_headers(feed: Feed) -> dict[str, str]:
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    return headers


def _apply_outcome(
    app: App,
    conn: sa.Connection,
    feed: Feed,
    outcome: FetchResult | FetchError,
    now: datetime,
    report: ScanReport,
) -> None:
    report.checked += 1
    feed.last_checked_at = now
    feed.scans += 1
    if isinstance(outcome, FetchError):
        _record_failure(app, feed, outcome.reason, now, report, outcome.status, outcome.retry_after)
        return
    _track_redirect(conn, feed, outcome, report)
    if outcome.not_modified:
        report.not_modified += 1
        _record_success(app, feed, now)
        return
    feed.etag = outcome.headers.get("etag")
    feed.last_modified = outcome.headers.get("last-modified")
    body_hash = hashlib.sha256(outcome.body).hexdigest()
    if body_hash == feed.body_hash:
        report.unchanged += 1
        _record_success(app, feed, now)
        return
    try:
        parsed = parse_feed(outcome.body, outcome.url)
    except FeedParseError as exc:
        _record_failure(app, feed, f"parse error: {exc}", now, report)
        return
    report.parsed += 1
    feed.body_hash = body_hash
    feed.title = parsed.title or feed.title
    feed.link = parsed.link or feed.link
    feed.description = parsed.description or feed.description
    new, queued = store_episodes(conn, feed.id, parsed, now, app.settings)
    report.new_episodes += new
    report.queued_episodes += queued
    _record_success(app, feed, now)


def _record_success(app: App, feed: Feed, now: datetime) -> None:
    feed.status = FeedStatus.ACTIVE
    feed.error_reason = None
    feed.error_count = 0
    feed.last_success_at = now
    feed.next_check_at = now + timedelta(minutes=app.settings.poll_interval_minutes)


def _record_failure(
    app: App,
    feed: Feed,
    reason: str,
    now: datetime,
    report: ScanReport,
    status: int | None = None,
    retry_after: float | None = None,
) -> None:
    feed.error_reason = reason[:1000]
    report.failed[feed.url] = reason
    if status == 410:
        feed.status = FeedStatus.GONE
        feed.next_check_at = None
        report.gone.append(feed.url)
        return
    feed.status = FeedStatus.ERROR
    feed.error_count += 1
    s = app.settings
    delay = min(s.backoff_base_minutes * 60 * 2 ** (feed.error_count - 1), s.backoff_max_hours * 3600)
    delay *= random.uniform(0.8, 1.2)  # jitter: feeds that failed together do not retry together
    feed.next_check_at = now + timedelta(seconds=max(delay, retry_after or 0))
    log.warning("feed %s failed (%d in a row): %s", feed.url, feed.error_count, reason)


def fail_feed(app: App, feed_id: int, reason: str, now: datetime) -> None:
    """Record a failure that happened outside the fetch (a worker's task that kept failing):
    the feed backs off as after a failed fetch, so it is not retried in a loop."""
    with app.session() as session:
        feed = session.get(Feed, feed_id)
        if feed is not None:
            _record_failure(app, feed, reason, now, ScanReport())
            session.commit()


def _track_redirect(conn: sa.Connection, feed: Feed, result: FetchResult, report: ScanReport) -> None:
    target = result.permanent_target
    if target is None or target == feed.url:
        feed.redirect_url, feed.redirect_count = None, 0
        return
    feed.redirect_count = feed.redirect_count + 1 if feed.redirect_url == target else 1
    feed.redirect_url = target
    if feed.redirect_count >= PERMANENT_REDIRECTS_TO_MOVE and conn.scalar(
        sa.select(Feed.id).where(Feed.url == target)
    ):
        # Already followed under its new address: keep both rows, never merge silently.
        log.warning("feed %s moved to %s, which is already followed", feed.url, target)
        return
    if feed.redirect_count >= PERMANENT_REDIRECTS_TO_MOVE:
        report.moved[feed.url] = target
        log.info("feed moved permanently: %s -> %s", feed.url, target)
        feed.url, feed.redirect_url, feed.redirect_count = target, None, 0


# --- episodes ----------------------------------------------------------------------------


# An http(s) URL whose query and fragment urlsplit + urlunsplit would cut off and change
# nothing else (lower-case scheme, no whitespace, no IPv6 brackets): the prefix is the answer.
_PLAIN_URL = re.compile(r"https?://[^\s?#\[\]]*")


def without_query(url: str) -> str:
    """`url` without its query and fragment, as stored keys have it (urlsplit's answer);
    the common case without parsing, since a first scan asks for 20,000 of them."""
    plain = _PLAIN_URL.match(url)
    if plain is not None and (plain.end() == len(url) or url[plain.end()] in "?#"):
        return plain.group()
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


def fallback_key(item: ParsedEpisode) -> str:
    """Identity for items without a stable guid: enclosure URL (query stripped) + title + date."""
    audio = without_query(item.audio_url) if item.audio_url else ""
    day = item.published_at.date().isoformat() if item.published_at else ""
    raw = "|".join((audio, (item.title or "").strip().lower(), day, "" if audio else item.link or ""))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def _episode_key(item: ParsedEpisode, fallback: str) -> str:
    if not item.guid:
        return fallback
    guid = item.guid.strip()
    return guid if len(guid) <= 400 else "sha256:" + hashlib.sha256(guid.encode()).hexdigest()


# Built once: a first scan runs them for every one of 1,000 feeds.
_KNOWN_KEYS = sa.select(Episode.key, Episode.fallback_key).where(Episode.feed_id == sa.bindparam("feed_id"))
_INSERT_EPISODES = sa.insert(Episode)


def store_episodes(
    conn: sa.Connection, feed_id: int, parsed: ParsedFeed, now: datetime, settings: Settings
) -> tuple[int, int]:
    """Insert unseen items; returns (new, queued for processing)."""
    known = conn.execute(_KNOWN_KEYS, {"feed_id": feed_id}).all()
    keys = {k for k, _ in known}
    fallbacks = {f for _, f in known}
    first_scan = not known
    window = now - timedelta(days=settings.new_feed_days)
    fresh: list[dict[str, Any]] = []
    for item in parsed.episodes:
        fb = fallback_key(item)
        key = _episode_key(item, fb)
        if key in keys or fb in fallbacks:
            continue  # seen before, possibly republished under a new guid
        keys.add(key)
        fallbacks.add(fb)
        fresh.append(
            {
                "feed_id": feed_id,
                "key": key,
                "guid": item.guid,
                "fallback_key": fb,
                "title": item.title,
                "description": item.description,
                "link": item.link,
                "audio_url": item.audio_url,
                "audio_type": item.audio_type,
                "published_at": item.published_at,
                "duration_seconds": item.duration_seconds,
                "transcripts": item.transcripts,
                "persons": item.persons,
                "chapters_url": item.chapters_url,
                "discovered_at": now,
                "updated_at": now,
                "state": EpisodeState.ARCHIVED,
            }
        )
    # Only recent episodes are processed; on a feed's first scan only the newest few, so
    # importing many shows never queues their back catalogues.
    recent = [e for e in fresh if e["published_at"] is not None and e["published_at"] >= window]
    recent.sort(key=lambda e: e["published_at"], reverse=True)
    if first_scan:
        recent = recent[: settings.new_feed_max_episodes]
        if not recent and fresh:
            # A show that has been quiet for a while still contributes its latest episode
            # to the first digest, so a new subscription is never silent.
            dated = [e for e in fresh if e["published_at"] is not None] or fresh[:1]
            recent = [max(dated, key=lambda e: e["published_at"] or now)]
    for episode in recent:
        episode["state"] = EpisodeState.NEW
    if fresh:
        conn.execute(_INSERT_EPISODES, fresh)
    return len(fresh), len(recent)
