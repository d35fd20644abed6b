"""Benchmark: search over an index of many episode-hours, on SQLite and on Postgres.

    .venv/bin/python bench/search.py [--hours 10000] [--engines sqlite,postgres] [--queries 200]

Passages are real speech: speaker turns of The Changelog's public transcripts (read from the
`fetch` snapshot of thechangelog/transcripts, ../.mirror), cut into ~24 s passages, dealt out
to synthetic episodes of an hour (150 passages each) over 30 shows, with 5 insights an hour
(their text a passage's), and vectors on the newest 400,000 passages (what search keeps in
memory; synthetic, 384-d: embedding them with MiniLM would take hours here and measure nothing
new). Printed per engine:

- time to write the index (passages through the database's own full-text maintenance), and
  per episode-hour, against the speech-to-text time of an hour (the packaged Whisper base runs
  at 27x real time on 2 cores, bench/asr_quality.py: 133 s an hour); the passages' vectors are
  timed apart (scripted: MiniLM over a real hour's passages);
- index size per episode-hour (database size over hours);
- keyword search (the full-text query, passages and insights) and hybrid search
  (search_moments: keyword + the query's MiniLM vector against insights and passages, fused)
  p50 / p95
  over real two-word queries drawn from the passages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from podsift.backends.embeddings import to_blob  # noqa: E402
from podsift.core import make_app  # noqa: E402
from podsift.search import SearchFilters, parse_query, search_moments  # noqa: E402
from podsift.search.moments import _keyword  # noqa: E402
from podsift.settings import Settings  # noqa: E402
from podsift.store import Episode, Feed, Insight, Passage  # noqa: E402

MIRROR = ROOT.parent / ".mirror" / "thechangelog+transcripts" / "repo"
PASSAGES_PER_HOUR = 150
INSIGHTS_PER_HOUR = 5
STT_SECONDS_PER_HOUR = 3600 / 27  # Whisper base, batch 4, 2 cores: 27x real time (CHANGELOG)
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def speech(limit_files: int = 1500) -> list[tuple[str, str]]:
    """(speaker, ~60 words) chunks of real turns."""
    files = subprocess.run(
        ["git", "-C", str(MIRROR), "ls-tree", "-r", "--name-only", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = [f for f in files if f.endswith(".md") and "/" in f][:limit_files]
    out: list[tuple[str, str]] = []
    for name in files:
        text = subprocess.run(
            ["git", "-C", str(MIRROR), "show", f"HEAD:{name}"], capture_output=True, text=True
        ).stdout
        for m in re.finditer(r"^\*\*([^*:]{2,40}):\*\* (.+)$", text, re.M):
            words = m.group(2).split()
            for k in range(0, len(words), 60):
                chunk = words[k : k + 60]
                if len(chunk) >= 20:
                    out.append((m.group(1), " ".join(chunk)))
        if len(out) > 400_000:
            break
    return out


def build(app, hours: int, chunks: list[tuple[str, str]], seed: int = 7) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    with app.session() as session:
        feeds = [Feed(url=f"https://example.org/{n}.xml", title=f"Show {n}") for n in range(30)]
        session.add_all(feeds)
        session.flush()
        episodes = [
            {
                "feed_id": feeds[h % 30].id,
                "key": f"k{h}",
                "fallback_key": f"f{h}",
                "title": f"Episode {h}",
                "audio_url": f"https://cdn.example.org/{h}.mp3",
                "published_at": NOW - timedelta(hours=h),
                "state": "extracted",
            }
            for h in range(hours)
        ]
        session.execute(sa.insert(Episode), episodes)
        session.commit()
        episode_ids = list(session.scalars(sa.select(Episode.id).order_by(Episode.id)))
    started = time.perf_counter()
    for start in range(0, hours, 50):
        rows, insights = [], []
        for episode_id in episode_ids[start : start + 50]:
            for k in range(PASSAGES_PER_HOUR):
                speaker, text = chunks[rng.randrange(len(chunks))]
                rows.append(
                    {
                        "episode_id": episode_id,
                        "start_seconds": k * 24.0,
                        "end_seconds": k * 24.0 + 23.5,
                        "speaker": speaker,
                        "text": text,
                    }
                )
            for k in range(INSIGHTS_PER_HOUR):
                speaker, text = chunks[rng.randrange(len(chunks))]
                v = vectors.standard_normal(384).astype(np.float32)
                insights.append(
                    {
                        "episode_id": episode_id,
                        "text": f"{speaker}: {text}",
                        "quote": text,
                        "quote_hash": f"{episode_id}-{k}",
                        "speaker": speaker,
                        "start_seconds": k * 700.0,
                        "end_seconds": k * 700.0 + 20,
                        "score": 0.8,
                        "extractor": "offline",
                        "embedding": to_blob(v / np.linalg.norm(v)),
                        "embedding_model": app.embedder_name,
                        "created_at": NOW,
                    }
                )
        with app.session() as session:
            session.execute(sa.insert(Passage), rows)
            session.execute(sa.insert(Insight), insights)
            session.commit()
        done = min(start + 50, hours)
        if done % 1000 == 0:
            print(f"  {done} episode-hours written, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - started
    return {"index_seconds": round(seconds, 1), "index_seconds_per_hour": round(seconds / hours, 4)}


def vectorize_passages(app, count: int, seed: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Synthetic vectors on the newest `count` passages (what the search keeps in memory);
    seconds taken."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with app.session() as session:
        ids = list(session.scalars(sa.select(Passage.id).order_by(Passage.id.desc()).limit(count)))
    for start in range(0, len(ids), 20_000):
        batch = ids[start : start + 20_000]
        v = rng.standard_normal((len(batch), 384)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        with app.session() as session:
            session.execute(
                sa.update(Passage),
                [
                    {"id": i, "embedding": to_blob(row), "embedding_model": app.embedder_name}
                    for i, row in zip(batch, v, strict=True)
                ],
            )
            session.commit()
    return time.perf_counter() - started


def passage_vector_cost() -> dict[str, object]:
    """MiniLM over a real hour's passages (the corpus's Talk Python 552 VTT), as the run's
    search-index stage embeds them, against that hour's speech-to-text time."""
    from podsift.backends.embeddings import make_embedder
    from podsift.search.embed import passage_text
    from podsift.store.passages import passages_of
    from podsift.transcripts.parsers import parse_transcript

    path = ROOT.parent / "shared" / "corpus" / "transcripts" / "talkpython_552-astral-joins-openai.vtt"
    transcript = parse_transcript(path.read_bytes(), "text/vtt")
    passages = passages_of(transcript.to_json())
    hours = transcript.segments[-1].end / 3600
    embedder = make_embedder("local")
    embedder.embed(["warm up"])
    started = time.perf_counter()
    embedder.embed([passage_text(p["text"]) for p in passages])
    per_hour = (time.perf_counter() - started) / hours
    return {
        "passages_an_hour": round(len(passages) / hours),
        "vector_seconds_per_hour": round(per_hour, 2),
        "vector_share_of_stt": f"{per_hour / STT_SECONDS_PER_HOUR:.1%}",
    }


def queries(chunks: list[tuple[str, str]], count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        words = [w for w in re.findall(r"[a-z]{5,}", chunks[rng.randrange(len(chunks))][1].lower())]
        if len(words) >= 2:
            k = rng.randrange(len(words) - 1)
            out.append(f"{words[k]} {words[k + 1]}")
    return out


def timed(fn, items: list[str]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    fn(items[0])  # warm: caches, the embedder
    took = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {"p50_ms": round(statistics.median(took), 1), "p95_ms": round(took[int(len(took) * 0.95) - 1], 1)}


def measure(
    engine: str, url: str, home: Path, hours: int, chunks: list[tuple[str, str]], count: int
) -> dict[str, object]:
    app = make_app(Settings.load(env={}, home=home, database_url=url, asr="none"))
    built = build(app, hours, chunks)
    vectors = vectorize_passages(app, min(hours * PASSAGES_PER_HOUR, 400_000))
    if engine != "sqlite":
        # What autovacuum's analyze does soon after a bulk load, done at once: without
        # statistics the planner takes a common word for a rare one (p95 397 ms, not ~80).
        with app.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE passages")
            conn.exec_driver_sql("ANALYZE insights")
            conn.commit()  # statistics gathered in a rolled-back transaction are discarded
    asked = queries(chunks, count)

    def keyword(q: str) -> None:
        query = parse_query(q)
        sqlite = engine == "sqlite"
        with app.session() as session:
            _keyword(session, query, SearchFilters(), "passage", sqlite)
            _keyword(session, query, SearchFilters(), "insight", sqlite)

    def hybrid(q: str) -> None:
        search_moments(app, q, SearchFilters(limit=10))

    result: dict[str, object] = {
        "engine": engine,
        "episode_hours": hours,
        "passages": hours * PASSAGES_PER_HOUR,
        "passage_vectors": min(hours * PASSAGES_PER_HOUR, 400_000),
        "vector_write_seconds": round(vectors, 1),
        **built,
    }
    result["index_share_of_stt"] = f"{built['index_seconds_per_hour'] / STT_SECONDS_PER_HOUR:.4%}"
    with app.engine.connect() as conn:
        if engine == "sqlite":
            size = Path(app.engine.url.database or "").stat().st_size
        else:
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() or 0
    result["bytes_per_episode_hour"] = int(size / hours)
    result["keyword"] = timed(keyword, asked)
    result["hybrid"] = timed(hybrid, asked)
    app.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps({"passage_vectors": passage_vector_cost()}), flush=True)
    chunks = speech()
    print(f"{len(chunks)} real speech chunks", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            if engine == "sqlite":
                url = f"sqlite:///{tmp}/search.db"
            else:
                admin = os.environ.get(
                    "PODSIFT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
                )
                name = f"podsift_search_bench_{os.getpid()}"
                admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
                with admin_engine.connect() as conn:
                    conn.exec_driver_sql(f"CREATE DATABASE {name}")
                url = admin.rsplit("/", 1)[0] + f"/{name}"
            try:
                results.append(measure(engine, url, Path(tmp) / engine, args.hours, chunks, args.queries))
            finally:
                if engine != "sqlite":
                    sa.create_engine(url).dispose()
                    with admin_engine.connect() as conn:
                        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
