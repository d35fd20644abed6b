"""Benchmark: embeddings, clustering and digest selection at the scale issue 5 asks for.

    .venv/bin/python bench/ranking.py [--history 100000] [--new 2000] [--subscribers 10000]

Each phase runs in its own process, timed with its peak RSS (wait4), against a naive
baseline in the same run (pure-Python pairwise loops, the way a first script would do it).
Naive baselines are run on a slice and scaled per item, which the output says.

  embed    real MiniLM on real sentences: batched (podsift) vs one call per insight
  cluster  100,000 history insights + a day's 2,000 new: ClusterIndex vs Python loops
  select   10,000 subscribers over a 100,000-insight window in a SQLite file, through the
           real Selector (pool load, profiles from the DB, ranking, MMR)
Vectors for cluster/select are synthetic (stories = random centroids + noise, 384-d):
embedding 100,000 insights with MiniLM would take ~8 minutes here and measure nothing new.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src"), str(HERE.parent)]
from feed_scan import timed  # noqa: E402

DIMS = 384
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOPICS = [
    "AI policy",
    "nuclear power",
    "data centers",
    "open source",
    "Python",
    "Rust",
    "space exploration",
    "rockets",
    "batteries",
    "energy storage",
    "podcasting",
    "startups",
    "venture capital",
    "semiconductors",
    "Nvidia",
    "climate",
    "electric cars",
    "privacy",
    "security",
    "databases",
    "Postgres",
    "cloud outages",
    "AI safety",
    "healthcare",
    "biotech",
    "China",
    "Europe",
    "regulation",
    "antitrust",
    "music streaming",
]


def story_vectors(n: int, stories: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centroids = rng.standard_normal((stories, DIMS)).astype(np.float32)
    story = rng.integers(0, stories, n)
    vectors = centroids[story] + 0.8 * rng.standard_normal((n, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, story


def text_for(story: int) -> str:
    return f"Story {story} says the figure is {story % 997} this year."


# -- phases (each runs in a child process) ------------------------------------------------


def phase_embed(args: argparse.Namespace) -> dict[str, float]:
    from podsift.backends.embeddings import make_embedder
    from podsift.clusters.evaluate import load_pairs

    pairs = load_pairs(HERE.parent / "tests/fixtures/pairs/same_story_pairs.jsonl")
    base = [str(p[s]) for p in pairs for s in ("a", "b")]
    texts = [f"{t} ({i})" for i, t in enumerate(base * (args.embed // len(base) + 1))][: args.embed]
    embedder = make_embedder("local")
    embedder.embed(texts[:64])  # warm-up
    started = time.perf_counter()
    embedder.embed(texts)
    batched = len(texts) / (time.perf_counter() - started)
    one_by_one = texts[:200]
    started = time.perf_counter()
    for t in one_by_one:
        embedder.embed([t])
    single = len(one_by_one) / (time.perf_counter() - started)
    return {"insights_per_s": batched, "naive_insights_per_s": single}


def phase_cluster(args: argparse.Namespace) -> dict[str, float]:
    from podsift.clusters.index import ClusterIndex

    history, h_story = story_vectors(args.history, args.history // 3, seed=1)
    new, n_story = story_vectors(args.new, args.history // 3, seed=1)  # same stories: many joins
    new = new[-args.new :]
    n_story = n_story[-args.new :]
    index = ClusterIndex(DIMS, capacity=args.history + args.new)
    started = time.perf_counter()
    index.add_many(history, h_story.tolist(), [text_for(s) for s in h_story.tolist()])
    counter = iter(range(10**9, 10**10))
    result = index.assign(new, [text_for(s) for s in n_story.tolist()], lambda: next(counter))
    seconds = time.perf_counter() - started
    joined = sum(a.joined for a in result)
    right = sum(a.joined and a.cluster_id == s for a, s in zip(result, n_story.tolist(), strict=True))
    return {"seconds": seconds, "joined": joined, "joined_right_story": right}


def phase_cluster_naive(args: argparse.Namespace) -> dict[str, float]:
    """Pairwise Python loops: every new insight against every window member, then the same
    signals on the best one. Run on `--naive-new` insights and scaled per insight."""
    from podsift.clusters.signals import SameStoryModel, pair_features, signature

    history, h_story = story_vectors(args.history, args.history // 3, seed=1)
    new, n_story = story_vectors(args.new, args.history // 3, seed=1)
    rows = [list(map(float, v)) for v in history]
    ids = h_story.tolist()
    model = SameStoryModel()
    started = time.perf_counter()
    for v, s in zip(new[-args.naive_new :], n_story[-args.naive_new :].tolist(), strict=True):
        v = list(map(float, v))
        best, best_i = -1.0, -1
        for i, row in enumerate(rows):
            dot = sum(a * b for a, b in zip(v, row, strict=True))
            if dot > best:
                best, best_i = dot, i
        f = pair_features(best, signature(text_for(s)), signature(text_for(ids[best_i])))
        _ = model.score(f) >= model.threshold
    per = (time.perf_counter() - started) / args.naive_new
    return {"seconds_per_insight": per, "seconds_scaled": per * args.new}


def build_database(path: Path, args: argparse.Namespace) -> None:
    import sqlalchemy as sa

    from podsift.backends.embeddings import to_blob
    from podsift.core import make_app
    from podsift.settings import Settings
    from podsift.store import Cluster, Digest, DigestItem, Episode, Feed, Insight, Subscriber

    app = make_app(Settings.load(env={}, home=path.parent, database_url=f"sqlite:///{path}"))
    vectors, story = story_vectors(args.history, args.history // 3, seed=2)
    rng = random.Random(3)
    feeds, per_episode = 500, 5
    with app.engine.begin() as conn:
        conn.execute(
            sa.insert(Feed),
            [
                {
                    "id": f + 1,
                    "url": f"https://f{f}.example/rss",
                    "title": f"Show {f}",
                    "status": "active",
                    "error_count": 0,
                    "redirect_count": 0,
                    "scans": 0,
                    "added_at": NOW,
                }
                for f in range(feeds)
            ],
        )
        episodes = args.history // per_episode
        conn.execute(
            sa.insert(Episode),
            [
                {
                    "id": e + 1,
                    "feed_id": e % feeds + 1,
                    "key": f"e{e}",
                    "fallback_key": f"e{e}",
                    "title": f"Episode {e}",
                    "audio_url": f"https://cdn.example/{e}.mp3",
                    "published_at": NOW - timedelta(hours=168 * e / episodes),
                    "transcripts": [],
                    "persons": [],
                    "state": "extracted",
                    "attempts": 0,
                    "discovered_at": NOW,
                    "updated_at": NOW,
                }
                for e in range(episodes)
            ],
        )
        clusters = sorted(set(story.tolist()))
        conn.execute(
            sa.insert(Cluster),
            [
                {
                    "id": c + 1,
                    "size": 1,
                    "show_count": 1 + c % 3,
                    "feed_ids": [],
                    "first_seen": NOW,
                    "last_seen": NOW,
                }
                for c in clusters
            ],
        )
        rows = []
        for i in range(args.history):
            e = i // per_episode
            rows.append(
                {
                    "id": i + 1,
                    "episode_id": e + 1,
                    "text": f"{rng.choice(TOPICS)} " + text_for(int(story[i])),
                    "quote": "q",
                    "quote_hash": str(i),
                    "start_seconds": 60.0,
                    "end_seconds": 70.0,
                    "score": rng.random(),
                    "topics": [],
                    "extractor": "offline",
                    "created_at": NOW - timedelta(hours=168 * e / episodes),
                    "embedding": to_blob(vectors[i]),
                    "embedding_model": "local:all-MiniLM-L6-v2",
                    "cluster_id": int(story[i]) + 1,
                }
            )
            if len(rows) == 5000:
                conn.execute(sa.insert(Insight), rows)
                rows = []
        if rows:
            conn.execute(sa.insert(Insight), rows)
        conn.execute(
            sa.update(Cluster).values(
                representative_id=sa.select(sa.func.min(Insight.id))
                .where(Insight.cluster_id == Cluster.id)
                .scalar_subquery()
            )
        )
        conn.execute(
            sa.insert(Subscriber),
            [
                {
                    "id": s + 1,
                    "email": f"s{s}@example.com",
                    "interests": ", ".join(rng.sample(TOPICS, rng.randint(0, 3))),
                    "timezone": "UTC",
                    "send_hour": 7,
                    "top_n": 5,
                    "active": True,
                    "created_at": NOW,
                    "feed_weights": {},
                }
                for s in range(args.subscribers)
            ],
        )
        # A week of past digests per subscriber (5 insights each), so history and
        # never-again filters have real work to do.
        digests, items, d_id = [], [], 0
        for s in range(args.subscribers):
            for day in range(1, 8):
                d_id += 1
                digests.append(
                    {
                        "id": d_id,
                        "subscriber_id": s + 1,
                        "local_date": (NOW - timedelta(days=day)).date().isoformat(),
                        "state": "sent",
                        "created_at": NOW - timedelta(days=day),
                    }
                )
                items += [
                    {
                        "digest_id": d_id,
                        "insight_id": rng.randrange(args.history) + 1,
                        "rank": r,
                        "score": 0.5,
                        "why": "",
                        "also_on": [],
                    }
                    for r in range(5)
                ]
        for start in range(0, len(digests), 20000):
            conn.execute(sa.insert(Digest), digests[start : start + 20000])
        for start in range(0, len(items), 50000):
            # duplicates within a digest are possible with random picks: skip them
            conn.execute(sa.insert(DigestItem).prefix_with("OR IGNORE"), items[start : start + 50000])
    app.close()


class FakeEmbedder:
    """Interest phrases need vectors in the synthetic space: hash each to a fixed vector."""

    name = "local:all-MiniLM-L6-v2"
    dimensions = DIMS

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.stack(
            [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(DIMS) for t in texts]
        ).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def phase_select(args: argparse.Namespace) -> dict[str, float]:
    import sqlalchemy as sa

    from podsift.ranking.score import RankingWeights
    from podsift.ranking.select import Selector
    from podsift.store import Subscriber, make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{args.db}")
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    selector = Selector(sessions, FakeEmbedder(), RankingWeights(), lookback_days=7, novelty_days=30)
    picked = 0
    with sessions() as session:
        subscribers = list(session.scalars(sa.select(Subscriber).order_by(Subscriber.id)))
        selector.warm((s.interests for s in subscribers), session)
        loaded = time.perf_counter()
        selector.pool(session, NOW)
        pool_seconds = time.perf_counter() - loaded
        selector.prefetch(session, [s.id for s in subscribers], NOW)
        history_seconds = time.perf_counter() - loaded - pool_seconds
        for sub in subscribers:
            picked += len(selector.pick(session, sub, NOW.date().isoformat(), NOW))
    return {
        "seconds": time.perf_counter() - started,
        "pool_seconds": pool_seconds,
        "history_seconds": history_seconds,
        "picked": picked,
        "pool": len(selector._pool or []),
    }


def phase_select_naive(args: argparse.Namespace) -> dict[str, float]:
    """The same choice with Python loops: per subscriber, score every candidate with list
    dot products against each interest, then pick greedily with pairwise similarity."""
    import sqlalchemy as sa

    from podsift.backends.embeddings.vectors import from_blob
    from podsift.store import Digest, DigestItem, Insight, Subscriber, make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{args.db}")
    sessions = make_session_factory(engine)
    embedder = FakeEmbedder()
    started = time.perf_counter()
    with sessions() as session:
        since = NOW - timedelta(days=1)
        rows = session.execute(
            sa.select(Insight.id, Insight.cluster_id, Insight.score, Insight.embedding).where(
                Insight.created_at >= since
            )
        ).all()
        candidates = [(r.id, r.cluster_id, r.score, list(map(float, from_blob(r.embedding)))) for r in rows]
        subscribers = list(
            session.scalars(sa.select(Subscriber).order_by(Subscriber.id).limit(args.naive_subscribers))
        )
        for sub in subscribers:
            sent = set(
                session.scalars(
                    sa.select(DigestItem.insight_id).join(Digest).where(Digest.subscriber_id == sub.id)
                )
            )
            phrases = [p.strip() for p in sub.interests.split(",") if p.strip()]
            pvecs = [list(map(float, v)) for v in embedder.embed(phrases)] if phrases else []
            scored = []
            for cid, cluster, score, vec in candidates:
                if cid in sent:
                    continue
                rel = max((sum(a * b for a, b in zip(p, vec, strict=True)) for p in pvecs), default=0.0)
                scored.append((0.4 * rel + 0.2 * score, cid, cluster, vec))
            scored.sort(reverse=True)
            chosen: list[tuple[float, int, int, list[float]]] = []
            for item in scored[:60]:
                if len(chosen) == 5:
                    break
                if all(
                    item[2] != c[2] and sum(a * b for a, b in zip(item[3], c[3], strict=True)) < 0.9
                    for c in chosen
                ):
                    chosen.append(item)
    per = (time.perf_counter() - started) / len(subscribers)
    return {
        "seconds_per_subscriber": per,
        "seconds_scaled": per * args.subscribers,
        "candidates": len(candidates),
    }


PHASES = {
    "embed": phase_embed,
    "cluster": phase_cluster,
    "cluster_naive": phase_cluster_naive,
    "select": phase_select,
    "select_naive": phase_select_naive,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=2_000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--embed", type=int, default=2_000)
    parser.add_argument("--naive-new", type=int, default=5)
    parser.add_argument("--naive-subscribers", type=int, default=20)
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--db", type=Path)
    parser.add_argument("--only", default="embed,cluster,select")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return
    common = [
        f"--history={args.history}",
        f"--new={args.new}",
        f"--subscribers={args.subscribers}",
        f"--embed={args.embed}",
        f"--naive-new={args.naive_new}",
        f"--naive-subscribers={args.naive_subscribers}",
    ]
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}

    def run(phase: str, *extra: str) -> tuple[float, float, dict[str, float]]:
        seconds, peak, out = timed([sys.executable, __file__, "--phase", phase, *common, *extra], env)
        return seconds, peak, json.loads(out.splitlines()[-1])

    only = set(args.only.split(","))
    if "embed" in only:
        _, peak, r = run("embed")
        print(
            f"embed     MiniLM batched {r['insights_per_s']:.0f} insights/s; one call each {r['naive_insights_per_s']:.0f}/s; "
            f"ratio podsift/naive time {r['naive_insights_per_s'] / r['insights_per_s']:.3f}; peak {peak:.0f} MiB"
        )
    if "cluster" in only:
        _, peak, r = run("cluster")
        _, npeak, nr = run("cluster_naive")
        print(
            f"cluster   {args.history:,} history + {args.new:,} new: podsift {r['seconds']:.2f} s, peak {peak:.0f} MiB "
            f"({r['joined']:.0f} joined, {r['joined_right_story']:.0f} to the right story)"
        )
        print(
            f"          naive Python loops: {nr['seconds_per_insight']:.2f} s per new insight ({args.naive_new} measured) "
            f"-> {nr['seconds_scaled']:.0f} s scaled to {args.new:,}; peak {npeak:.0f} MiB; "
            f"ratio podsift/naive {r['seconds'] / nr['seconds_scaled']:.5f}"
        )
    if "select" in only:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            build_seconds, _, _ = timed(
                [
                    sys.executable,
                    "-c",
                    f"import sys; sys.argv=['x']; sys.path[:0]={sys.path[:3]!r}; "
                    f"import ranking as b, argparse; b.build_database(__import__('pathlib').Path({str(db)!r}), "
                    f"argparse.Namespace(history={args.history}, subscribers={args.subscribers}))",
                ],
                env,
            )
            seconds, peak, r = run("select", f"--db={db}")
            _, npeak, nr = run("select_naive", f"--db={db}")
        print(
            f"select    {args.subscribers:,} subscribers over a {args.history:,}-insight window (db built in {build_seconds:.0f} s): "
            f"podsift {r['seconds']:.1f} s in all (process {seconds:.1f} s; pool load {r['pool_seconds']:.1f} s, histories {r['history_seconds']:.1f} s, "
            f"{r['pool']:.0f} insights), {r['picked']:.0f} picks, peak {peak:.0f} MiB"
        )
        print(
            f"          naive Python loops: {nr['seconds_per_subscriber']:.2f} s per subscriber ({args.naive_subscribers} measured, "
            f"{nr['candidates']:.0f} candidates) -> {nr['seconds_scaled']:.0f} s scaled to {args.subscribers:,}; peak {npeak:.0f} MiB; "
            f"ratio podsift/naive {r['seconds'] / nr['seconds_scaled']:.4f}"
        )
        target = "met" if r["seconds"] < 60 and peak < 2048 else "MISSED"
        print(f"          target (< 60 s, < 2 GB): {target}")


if __name__ == "__main__":
    main()
