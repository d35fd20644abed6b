"""Benchmark: time to first byte of a subscriber's digest page with 1,000 insights in their
archive (200 daily digests of 5), served by `podsift serve` in its own process.

    .venv/bin/python bench/web.py [--digests 200] [--requests 50]

Baseline in the same run: /healthz on the same server (one database query, a tiny body).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent)]

from tests.conftest import free_port  # noqa: E402

from podsift.core import make_app  # noqa: E402
from podsift.settings import Settings  # noqa: E402
from podsift.store import Digest, DigestItem, Episode, Feed, Insight, Subscriber, Transcript  # noqa: E402

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def build(home: Path, digests: int) -> str:
    app = make_app(Settings.load(env={}, home=home))
    with app.session() as s:
        feed = Feed(url="https://example.org/rss", title="Bench Show")
        sub = Subscriber(email="bench@example.com", interests="batteries")
        s.add_all([feed, sub])
        s.flush()
        segments = [
            {
                "start": 10.0 * k,
                "end": 10.0 * k + 9,
                "text": f"Sentence {k} of the episode about grid batteries and power.",
                "speaker": "Host",
            }
            for k in range(360)
        ]
        for d in range(digests):
            day = (date(2026, 11, 20) - timedelta(days=d)).isoformat()
            episode = Episode(
                feed=feed,
                key=f"e{d}",
                fallback_key=f"e{d}",
                title=f"Episode {d}",
                audio_url="https://cdn.example/e.mp3",
                published_at=NOW - timedelta(days=d),
            )
            s.add(episode)
            s.flush()
            s.add(
                Transcript(
                    episode_id=episode.id,
                    source="publisher",
                    format="vtt",
                    content_hash=str(d),
                    segments=segments,
                )
            )
            digest = Digest(
                subscriber_id=sub.id, local_date=day, state="sent", created_at=NOW - timedelta(days=d)
            )
            s.add(digest)
            s.flush()
            for r in range(5):
                insight = Insight(
                    episode_id=episode.id,
                    text=f"Claim {d}-{r}: grid batteries now cover the evening peak on {r + 2} of 7 days.",
                    quote=f"quote {d}-{r}",
                    quote_hash=f"{d}-{r}",
                    speaker="Host",
                    start_seconds=600.0 + 60 * r,
                    end_seconds=610.0 + 60 * r,
                    score=0.8,
                    extractor="offline",
                    created_at=NOW - timedelta(days=d),
                )
                s.add(insight)
                s.flush()
                s.add(
                    DigestItem(
                        digest_id=digest.id,
                        insight_id=insight.id,
                        rank=r + 1,
                        score=0.8,
                        why="matches your interest 'batteries'",
                    )
                )
        s.commit()
        token = app.tokens().make("preferences", sub.id, sub.token_version)
    app.close()
    return token


def ttfb(port: int, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        first = time.perf_counter() - started  # status line and headers received
        body = response.read()
        assert response.status == 200 and body, (path, response.status)
        out.append(first * 1000)
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--digests", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        token = build(home, args.digests)
        port = free_port()
        env = {**os.environ, "PODSIFT_HOME": str(home)}
        server = subprocess.Popen(
            [sys.executable, "-m", "podsift", "serve", "--port", str(port), "--no-scheduler"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    ttfb(port, "/healthz", 1)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            ttfb(port, f"/me/{token}/today", 3)  # warm-up
            base = ttfb(port, "/healthz", args.requests)
            today = ttfb(port, f"/me/{token}/today", args.requests)
            old = ttfb(
                port,
                f"/me/{token}/digest/{(date(2026, 11, 20) - timedelta(days=args.digests - 1)).isoformat()}",
                args.requests,
            )
        finally:
            server.terminate()
            server.wait()

    def line(name: str, values: list[float]) -> str:
        values = sorted(values)
        return f"{name:34} median {statistics.median(values):6.1f} ms   p95 {values[int(0.95 * (len(values) - 1))]:6.1f} ms"

    print(
        f"{args.digests * 5} insights in {args.digests} digests, {args.requests} requests each, one client, loopback"
    )
    print(line("/healthz (baseline)", base))
    print(line("today's digest page", today))
    print(line("oldest digest in the archive", old))
    print(f"ratio today/baseline (median): {statistics.median(today) / statistics.median(base):.1f}")


if __name__ == "__main__":
    main()
