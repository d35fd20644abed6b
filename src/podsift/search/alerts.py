"""Saved searches: a subscriber's standing questions. Each digest gets a short "New mentions"
section with the new moments that match (at most PER_SEARCH each, never a moment twice),
recorded with the digest so every format and every retry shows the same."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podsift.search.moments import Moment, SearchFilters, search_moments
from podsift.search.query import QueryError, parse_query
from podsift.store import Digest, DigestMention, SavedSearch, Subscriber

if TYPE_CHECKING:
    from podsift.core import App

PER_SEARCH = 3
MAX_SEARCHES = 20


class AlertError(ValueError):
    """A saved search that cannot be kept (bad words, too many, not yours)."""


def add_alert(app: App, subscriber_id: int, query: str) -> SavedSearch:
    try:
        cleaned = parse_query(query).text
    except QueryError as exc:
        raise AlertError(str(exc)) from exc
    with app.session() as session:
        count = session.scalar(
            sa.select(sa.func.count())
            .select_from(SavedSearch)
            .where(SavedSearch.subscriber_id == subscriber_id)
        )
        if (count or 0) >= MAX_SEARCHES:
            raise AlertError(f"at most {MAX_SEARCHES} saved searches; remove one first")
        saved = SavedSearch(subscriber_id=subscriber_id, query=cleaned)
        session.add(saved)
        try:
            session.commit()
        except IntegrityError as exc:
            raise AlertError(f"you already have the saved search {cleaned!r}") from exc
        session.refresh(saved)
        return saved


def list_alerts(app: App, subscriber_id: int) -> list[SavedSearch]:
    with app.session() as session:
        return list(
            session.scalars(
                sa.select(SavedSearch)
                .where(SavedSearch.subscriber_id == subscriber_id)
                .order_by(SavedSearch.id)
            )
        )


def remove_alert(app: App, alert_id: int, subscriber_id: int) -> bool:
    with app.session() as session:
        found = session.scalar(
            sa.select(SavedSearch).where(
                SavedSearch.id == alert_id, SavedSearch.subscriber_id == subscriber_id
            )
        )
        if found is None:
            return False
        session.delete(found)
        session.commit()
        return True


def subscribers_with_alerts(app: App, subscriber_ids: list[int]) -> set[int]:
    """Which of these subscribers have saved searches (one query a 5,000, for a round)."""
    out: set[int] = set()
    with app.session() as session:
        for start in range(0, len(subscriber_ids), 5000):
            out.update(
                session.scalars(
                    sa.select(SavedSearch.subscriber_id)
                    .where(SavedSearch.subscriber_id.in_(subscriber_ids[start : start + 5000]))
                    .distinct()
                )
            )
    return out


def new_mentions(
    app: App, sub: Subscriber, now: datetime, lookback_days: int
) -> list[tuple[int, str, list[Moment]]]:
    """(saved search id, its words, new moments) for each of the reader's saved searches:
    moments published since their last digest (or the look-back window), not mentioned before."""
    with app.session() as session:
        searches = session.execute(
            sa.select(SavedSearch.id, SavedSearch.query)
            .where(SavedSearch.subscriber_id == sub.id)
            .order_by(SavedSearch.id)
        ).all()
        if not searches:
            return []
        last = session.scalar(sa.select(sa.func.max(Digest.created_at)).where(Digest.subscriber_id == sub.id))
        sent = {
            (sid, kind, mid)
            for sid, kind, mid in session.execute(
                sa.select(DigestMention.saved_search_id, DigestMention.kind, DigestMention.moment_id).where(
                    DigestMention.saved_search_id.in_([s for s, _ in searches])
                )
            )
        }
    since = last or now - timedelta(days=lookback_days)
    out = []
    for search_id, query in searches:
        try:
            found = search_moments(app, query, SearchFilters(since=since, until=now, limit=PER_SEARCH * 4))
        except QueryError:
            continue  # saved before a rule changed: it finds nothing rather than failing the digest
        fresh = [m for m in found if (search_id, m.kind, m.id) not in sent][:PER_SEARCH]
        if fresh:
            out.append((search_id, query, fresh))
    return out


def record_mentions(
    conn: sa.Connection, digest_id: int, mentions: list[tuple[int, str, list[Moment]]]
) -> None:
    """With the digest, in its transaction."""
    rows = [
        {
            "digest_id": digest_id,
            "saved_search_id": search_id,
            "kind": m.kind,
            "moment_id": m.id,
            "rank": rank,
            "moment": {**m.to_json(), "query": query},
        }
        for search_id, query, moments in mentions
        for rank, m in enumerate(moments, 1)
    ]
    if rows:
        conn.execute(sa.insert(DigestMention), rows)


def stored_mentions(session: Session, digest_id: int) -> list[dict[str, Any]]:
    """[{"query", "moments": [moment as shown, with "plain" snippet]}] in saved-search order."""
    groups: dict[int, dict[str, Any]] = {}
    for row in session.scalars(
        sa.select(DigestMention)
        .where(DigestMention.digest_id == digest_id)
        .order_by(DigestMention.saved_search_id, DigestMention.rank)
    ):
        moment = dict(row.moment)
        moment["plain"] = plain_snippet(str(moment.get("snippet", "")))
        groups.setdefault(row.saved_search_id, {"query": moment.get("query", ""), "moments": []})[
            "moments"
        ].append(moment)
    return list(groups.values())


def plain_snippet(snippet: str) -> str:
    """A marked HTML snippet as text: the matches in «», entities decoded."""
    return html.unescape(re.sub(r"</?mark>", lambda m: "«" if m.group(0) == "<mark>" else "»", snippet))
