"""Moments that match a search: keyword hits from the database's own full-text index
(SQLite FTS5 with bm25 and snippets; Postgres tsvector, websearch_to_tsquery, ts_headline on
the hits shown) fused with meaning hits (the query's embedding against the insights' and the
passages' vectors, search/embed.py) by reciprocal rank fusion. One interface, two implementations; filters: show, speaker, dates,
insights only. An insight and a passage of the same moment come back once, as the insight.
"""

from __future__ import annotations

import html
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.backends.embeddings import EmbeddingError, from_blob
from podsift.net.links import format_timestamp, listen_link
from podsift.search.ann import VectorIndex
from podsift.search.query import SearchQuery, parse_query
from podsift.sources.titles import episode_title
from podsift.store import Episode, Feed, Insight, Passage

if TYPE_CHECKING:
    from podsift.core import App

RRF_K = 60  # the usual constant: a hit's weight is 1 / (RRF_K + its rank)
CANDIDATES = 50  # hits each ranking contributes before fusion
# Postgres: matches ranked at most (see _keyword). 10,000 episode-hours, 200 two-word
# queries: keyword p95 113 ms with 2,000, 75-79 ms with 1,000 (bench/search.py).
RANK_POOL = 1000
MARK_OPEN, MARK_CLOSE = "\x02", "\x03"  # the databases mark with these; escaped, they become <mark>
SNIPPET_WORDS = 28
VECTOR_FLOOR = 0.25  # a meaning hit below this cosine is noise for a short query


@dataclass
class SearchFilters:
    show: str | None = None  # title, or part of it, any case
    speaker: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    insights_only: bool = False
    limit: int = 20


@dataclass
class Moment:
    kind: str  # "insight" | "passage"
    id: int
    episode_id: int
    show: str | None
    episode: str | None
    published: str | None  # YYYY-MM-DD
    speaker: str | None
    start: float
    end: float
    snippet: str  # HTML: the words around the hit, escaped, the matches in <mark>
    text: str
    audio: str | None  # the audio at the moment's second
    link: str | None  # listen link, or the episode page
    story: str | None = None  # /insight/<cluster> for an insight with a story
    score: float = 0.0
    matched_by: list[str] = field(default_factory=list)  # "words", "meaning"

    @property
    def timestamp(self) -> str:
        return format_timestamp(self.start)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "show": self.show,
            "episode": self.episode,
            "published": self.published,
            "speaker": self.speaker,
            "start": self.start,
            "end": self.end,
            "timestamp": self.timestamp,
            "snippet": self.snippet,
            "text": self.text,
            "audio": self.audio,
            "link": self.link,
            "story": self.story,
            "score": round(self.score, 5),
            "matched_by": self.matched_by,
        }


def search_moments(app: App, raw: str, filters: SearchFilters | None = None) -> list[Moment]:
    """The best moments for a query; QueryError when the words cannot be searched."""
    query = parse_query(raw)
    filters = filters or SearchFilters()
    limit = max(1, min(filters.limit, 100))
    # The query's embedding (CPU) is made while the database finds the keyword hits: the
    # two overlap (Postgres works in its own process; SQLite lets go of the GIL).
    embedding = _EMBEDDING.submit(_query_vector, app, query.text)
    with app.session() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        rankings: list[list[tuple[str, int]]] = [
            [("insight", i) for i in _keyword(session, query, filters, "insight", sqlite)]
        ]
        if not filters.insights_only:
            rankings.append([("passage", i) for i in _keyword(session, query, filters, "passage", sqlite)])
        vector = embedding.result()
        scored = [(sim, "insight", i) for sim, i in _meaning(app, session, vector, filters)]
        if not filters.insights_only:
            scored += [(sim, "passage", i) for sim, i in _meaning(app, session, vector, filters, "passage")]
        meaning = [(kind, i) for _, kind, i in sorted(scored, key=lambda t: -t[0])][:CANDIDATES]
        rankings.append(meaning)
        fused = _fuse(rankings)
        keys = [k for k, _ in sorted(fused.items(), key=lambda kv: -kv[1])]
        moments = _load(session, keys, query, sqlite)
    by_meaning = set(meaning)
    keyword = {k for ranking in rankings[:-1] for k in ranking}
    out = []
    for moment in _one_per_moment(moments):
        key = (moment.kind, moment.id)
        moment.score = fused[key]
        moment.matched_by = [
            m for m, hit in (("words", key in keyword), ("meaning", key in by_meaning)) if hit
        ]
        out.append(moment)
    return out[:limit]


def _fuse(rankings: list[list[tuple[str, int]]]) -> dict[tuple[str, int], float]:
    scores: dict[tuple[str, int], float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
    return scores


def _filtered(select: Any, filters: SearchFilters, speaker: Any) -> Any:
    if filters.show:
        select = select.where(sa.func.lower(Feed.title).contains(filters.show.lower(), autoescape=True))
    if filters.speaker:
        select = select.where(sa.func.lower(speaker).contains(filters.speaker.lower(), autoescape=True))
    published = sa.func.coalesce(Episode.published_at, Episode.discovered_at)
    if filters.since:
        select = select.where(published >= filters.since)
    if filters.until:
        select = select.where(published < filters.until)
    return select


def _keyword(
    session: Session, query: SearchQuery, filters: SearchFilters, kind: str, sqlite: bool
) -> list[int]:
    table = Insight if kind == "insight" else Passage
    if sqlite:
        fts = sa.table(f"{kind}s_fts", sa.column("rowid"))
        rank: sa.ColumnElement[Any] = sa.literal_column(f"bm25({kind}s_fts)")
        select = (
            sa.select(table.id)
            .select_from(fts)
            .join(table, table.id == fts.c.rowid)
            .where(sa.literal_column(f"{kind}s_fts").op("MATCH")(query.fts5()))
            .order_by(rank)
        )
    else:
        # Ranking reads every matching row's tsvector: a common word matches hundreds of
        # thousands. Rank at most the newest RANK_POOL matches: for a common word the planner
        # walks the primary key backwards and stops there; for a rare one the GIN index finds
        # the few (both need table statistics: autovacuum's analyze). Past that, the words are
        # too common to rank well anyway.
        tsquery = sa.func.websearch_to_tsquery("english", query.text)
        tsv: sa.ColumnElement[Any] = sa.literal_column(f"{kind}s.tsv")
        matches = sa.select(table.id.label("id"), tsv.label("tsv")).where(tsv.op("@@")(tsquery))
        if filters.show or filters.since or filters.until:  # only these need the episode's row
            matches = matches.join(Episode, Episode.id == table.episode_id).join(
                Feed, Feed.id == Episode.feed_id
            )
        pool = (
            _filtered(matches, filters, table.speaker).order_by(table.id.desc()).limit(RANK_POOL).subquery()
        )
        ranked = (
            sa.select(pool.c.id).order_by(sa.func.ts_rank_cd(pool.c.tsv, tsquery).desc()).limit(CANDIDATES)
        )
        return list(session.scalars(ranked))
    select = select.join(Episode, Episode.id == table.episode_id).join(Feed, Feed.id == Episode.feed_id)
    return list(session.scalars(_filtered(select, filters, table.speaker).limit(CANDIDATES)))


class _Vectors:
    """Every vector of one embedder for insights or passages, loaded once per process, topped
    up with newer rows, reloaded whole (and its index rebuilt) every RELOAD_SECONDS (passages
    are embedded newest first, so a backlog's older rows arrive later), at most MAX_ROWS (the
    newest)."""

    RELOAD_SECONDS = 900.0
    MAX_ROWS = 400_000

    def __init__(self, table: type[Insight] | type[Passage]) -> None:
        self.table = table
        self.key: tuple[str, str] | None = None
        self.index: VectorIndex | None = None
        self.loaded_at = 0.0

    def load(self, session: Session, model: str) -> VectorIndex | None:
        bind = session.get_bind()
        key = (str(bind.engine.url if isinstance(bind, sa.Connection) else bind.url), model)
        if key != self.key or time.monotonic() - self.loaded_at > self.RELOAD_SECONDS:
            self.key, self.index, self.loaded_at = key, None, time.monotonic()
        after = self.index.max_id() if self.index is not None else 0
        table = self.table
        rows = session.execute(
            sa.select(table.id, table.embedding)
            .where(table.embedding_model == model, table.embedding.is_not(None), table.id > after)
            .order_by(table.id.desc())
            .limit(self.MAX_ROWS)
        ).all()
        if rows:
            fresh = np.stack([from_blob(blob or b"") for _, blob in rows])
            fresh_ids = np.array([i for i, _ in rows], dtype=np.int64)
            if self.index is None:
                self.index = VectorIndex.build(fresh_ids, fresh)
            else:  # until the next reload: scanned exactly beside the index
                self.index.add(fresh_ids, fresh)
        return self.index


_VECTORS = {"insight": _Vectors(Insight), "passage": _Vectors(Passage)}


_EMBEDDING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="podsift-query-vector")


def _query_vector(app: App, text: str) -> np.ndarray | None:
    try:
        return app.embedder().embed([text])[0]
    except (EmbeddingError, OSError, RuntimeError):
        return None


def _meaning(
    app: App, session: Session, vector: np.ndarray | None, filters: SearchFilters, kind: str = "insight"
) -> list[tuple[float, int]]:
    """(cosine, id) of the insights (or passages) nearest the query's vector (same embedder
    only), filtered after, nearest first."""
    if vector is None:
        return []
    index = _VECTORS[kind].load(session, app.embedder_name)
    if index is None or not len(index):
        return []
    ids, sims = index.nearest(vector, CANDIDATES * 4)
    near = {int(i): float(sim) for i, sim in zip(ids, sims, strict=True) if sim >= VECTOR_FLOOR}
    if not near:
        return []
    table = Insight if kind == "insight" else Passage
    select = (
        sa.select(table.id)
        .join(Episode, Episode.id == table.episode_id)
        .join(Feed, Feed.id == Episode.feed_id)
        .where(table.id.in_(near))
    )
    allowed = set(session.scalars(_filtered(select, filters, table.speaker)))
    return [(sim, i) for i, sim in near.items() if i in allowed][:CANDIDATES]


def _load(session: Session, keys: list[tuple[str, int]], query: SearchQuery, sqlite: bool) -> list[Moment]:
    found: dict[tuple[str, int], Moment] = {}
    episode = (Episode.id, Episode.title, Episode.published_at, Episode.audio_url, Episode.link, Feed.title)
    for kind, table in (("insight", Insight), ("passage", Passage)):
        ids = [i for k, i in keys if k == kind]
        if not ids:
            continue
        snippets = _snippets(session, kind, ids, query, sqlite)
        story = Insight.cluster_id if table is Insight else sa.null()
        for row in session.execute(
            sa.select(
                table.id, table.text, table.speaker, table.start_seconds, table.end_seconds, story, *episode
            )
            .join(Episode, Episode.id == table.episode_id)
            .join(Feed, Feed.id == Episode.feed_id)
            .where(table.id.in_(ids))
        ):
            found[(kind, row[0])] = _moment(kind, row, snippets.get(row[0]), query)
    return [found[k] for k in keys if k in found]


def _moment(kind: str, row: Any, snippet: str | None, query: SearchQuery) -> Moment:
    (
        moment_id,
        text,
        speaker,
        start,
        end,
        cluster_id,
        episode_id,
        title,
        published,
        audio_url,
        link,
        show,
    ) = row
    return Moment(
        kind=kind,
        id=moment_id,
        episode_id=episode_id,
        show=show,
        episode=episode_title(title, show),
        published=published.date().isoformat() if published else None,
        speaker=speaker,
        start=float(start),
        end=float(end),
        snippet=_marked(snippet) if snippet else mark_words(_around(text, query), query),
        text=text,
        audio=listen_link(audio_url, None, float(start)),
        link=listen_link(audio_url, link, float(start)),
        story=f"/insight/{cluster_id}" if cluster_id else None,
    )


def _snippets(
    session: Session, kind: str, ids: list[int], query: SearchQuery, sqlite: bool
) -> dict[int, str]:
    """The words around each hit, matches marked by the database (only for the hits shown)."""
    if sqlite:
        rows = session.execute(
            sa.text(
                f"SELECT rowid, snippet({kind}s_fts, 0, :open, :close, '…', {SNIPPET_WORDS}) FROM {kind}s_fts "
                f"WHERE {kind}s_fts MATCH :match AND rowid IN ({','.join(str(int(i)) for i in ids)})"
            ),
            {"open": MARK_OPEN, "close": MARK_CLOSE, "match": query.fts5()},
        )
    else:
        options = f"StartSel={MARK_OPEN}, StopSel={MARK_CLOSE}, MaxWords={SNIPPET_WORDS}, MinWords=12, MaxFragments=2"
        table = f"{kind}s"
        rows = session.execute(
            sa.text(
                f"SELECT id, ts_headline('english', text, websearch_to_tsquery('english', :q), :options) "
                f"FROM {table} WHERE id = ANY(:ids) AND tsv @@ websearch_to_tsquery('english', :q)"
            ),
            {"q": query.text, "options": options, "ids": ids},
        )
    return {int(i): str(s) for i, s in rows}


def _marked(snippet: str) -> str:
    return html.escape(snippet).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


def _around(text: str, query: SearchQuery) -> str:
    """About SNIPPET_WORDS words of `text` around the first searched word it has (a meaning hit
    may have none: its opening words)."""
    words = text.split()
    lowered = [w.lower() for w in words]
    wanted = {w.lower() for w in query.words()}
    first = next((k for k, w in enumerate(lowered) if re.sub(r"\W", "", w) in wanted), 0)
    start = max(0, first - SNIPPET_WORDS // 3)
    chunk = " ".join(words[start : start + SNIPPET_WORDS])
    return ("…" if start else "") + chunk + ("…" if start + SNIPPET_WORDS < len(words) else "")


def mark_words(text: str, query: SearchQuery) -> str:
    """`text` HTML-escaped with the searched words in <mark>."""
    escaped = html.escape(text)
    words = sorted({w for w in query.words() if len(w) > 1}, key=len, reverse=True)
    if not words:
        return escaped
    pattern = re.compile(r"\b(" + "|".join(re.escape(html.escape(w)) for w in words) + r")\b", re.I)
    return pattern.sub(r"<mark>\1</mark>", escaped)


def _one_per_moment(moments: list[Moment]) -> list[Moment]:
    """A passage that holds an insight already listed is left out (the insight links its story)."""
    spans = [(m.episode_id, m.start, m.end) for m in moments if m.kind == "insight"]
    out = []
    for m in moments:
        if m.kind == "passage" and any(e == m.episode_id and s < m.end and m.start < t for e, s, t in spans):
            continue
        out.append(m)
    return out
