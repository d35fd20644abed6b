"""A day of real shows, end to end, to read as a subscriber would.

    .venv/bin/python bench/corpus_day.py [--llm SPEC] [--interests "AI, open source"]
    .venv/bin/python bench/corpus_day.py --shows heldout   # the selection benchmark's held-out shows
    .venv/bin/python bench/corpus_day.py --reader "" --reader "skip funding news, keep it short"

Serves each long transcript in ../shared/corpus as its own show's newest episode on a
loopback HTTP server, runs `podsift run` (scan, publisher transcripts, insights, stories,
ranking, delivery to the outbox) in a temporary home, and prints each subscriber's digest
as text, then every disagreement found, both sides, to read for false ones. The default
extractor is the offline one; --llm takes a PODSIFT_LLM spec. `--shows heldout` serves the
selection benchmark's held-out episodes instead (bench/selection/, read from their public
repositories), each as Podcasting 2.0 JSON with the speakers and times podsift reads.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.conftest import LoopbackServer  # noqa: E402
from tests.feedgen import Item, rss  # noqa: E402

from bench.corpus import CORPUS, EPISODES  # noqa: E402
from podsift.core import make_app  # noqa: E402
from podsift.digests.read import preview  # noqa: E402
from podsift.digests.view import render  # noqa: E402
from podsift.pipeline import run  # noqa: E402
from podsift.settings import Settings  # noqa: E402
from podsift.sources.scan import add_feeds  # noqa: E402
from podsift.subscribers import add_subscriber  # noqa: E402

NOW = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
TYPES = {
    ".vtt": "text/vtt",
    ".srt": "application/srt",
    ".md": "text/plain",
    ".txt": "text/plain",
    ".json": "application/json",
}


def serve_corpus() -> tuple[LoopbackServer, list[str]]:
    """A loopback server with one show per long transcript of the corpus; their feed URLs."""
    server = LoopbackServer()
    urls = []
    for n, name in enumerate(EPISODES):
        path = CORPUS / name
        server.add(f"/t/{path.name}", path.read_bytes(), content_type=TYPES.get(path.suffix, "text/plain"))
        show = path.stem.replace("_", " ").replace("-", " ")
        item = Item(
            show,
            NOW - timedelta(hours=2 + n),
            guid=path.stem,
            audio=f"https://cdn.example.org/{n}.mp3",
            transcripts=[(server.url(f"/t/{path.name}"), TYPES.get(path.suffix, "text/plain"))],
        )
        server.add(f"/feed/{n}.xml", rss(show.title(), [item]))
        urls.append(server.url(f"/feed/{n}.xml"))
    return server, urls


def serve_heldout() -> tuple[LoopbackServer, list[str]]:
    """One show per held-out show of the selection benchmark, its episodes as one day."""
    import json

    sys.path.insert(0, str(ROOT / "bench" / "selection"))
    import sources

    server = LoopbackServer()
    by_show: dict[str, list] = {}
    for episode in sources.episodes("heldout"):
        by_show.setdefault(episode.show, []).append(episode)
    urls = []
    for n, (show, episodes) in enumerate(by_show.items()):
        items = []
        for k, episode in enumerate(episodes):
            segments = [
                {
                    "startTime": s.start,
                    "endTime": s.end,
                    "body": s.text,
                    **({"speaker": s.speaker} if s.speaker else {}),
                }
                for s in sources.load(episode).segments
            ]
            slug = episode.id.replace("/", "-")
            server.add(
                f"/t/{slug}.json",
                json.dumps({"version": "1.0.0", "segments": segments}).encode(),
                content_type="application/json",
            )
            items.append(
                Item(
                    episode.id.split("/")[1].replace("-", " "),
                    NOW - timedelta(hours=2 + k),
                    guid=slug,
                    audio=f"https://cdn.example.org/{slug}.mp3",
                    transcripts=[(server.url(f"/t/{slug}.json"), "application/json")],
                )
            )
        server.add(f"/feed/{n}.xml", rss(show, items))
        urls.append(server.url(f"/feed/{n}.xml"))
    return server, urls


def print_disagreements(app) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from podsift.store import Disagreement, Insight

    with app.session() as session:
        rows = session.execute(
            sa.select(Disagreement.method, Disagreement.detail, Disagreement.first_id, Disagreement.second_id)
        ).all()
        for method, detail, first, second in rows:
            a, b = session.get(Insight, first), session.get(Insight, second)
            print(f"-- {method}: {detail}\n   A: {a.text}\n   B: {b.text}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", default="offline")
    parser.add_argument("--interests", action="append", default=None)
    parser.add_argument("--shows", choices=("corpus", "heldout"), default="corpus")
    parser.add_argument("--reader", action="append", default=None, help="a reader's own instructions")
    parser.add_argument("--alert", action="append", default=[], help="a saved search for every reader")
    args = parser.parse_args()
    interests = args.interests or ["AI, open source, energy", ""]
    readers = args.reader or []
    if readers:
        interests = [""] * len(readers)
    server, urls = serve_heldout() if args.shows == "heldout" else serve_corpus()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.load(
            env={}, home=Path(home), allow_hosts=(server.host,), asr="none", llm=args.llm
        )
        app = make_app(settings)
        add_feeds(app, urls)
        emails = []
        for k, phrase in enumerate(interests):
            email = f"reader{k}@example.com"
            add_subscriber(app, email, phrase, "UTC", 0)
            if readers and readers[k]:
                from podsift.subscribers.steer import instruct

                print(f"{email}: {readers[k]!r} -> {instruct(app, email, readers[k]).describe()}")
            if args.alert:
                from podsift.search import add_alert
                from podsift.subscribers import find_subscriber

                for query in args.alert:
                    add_alert(app, find_subscriber(app, email).id, query)
            emails.append((email, readers[k] if readers else phrase))
        report = run(app, NOW)
        i = report.insights
        print(
            f"{i.insights} insights from {i.episodes} episodes; below the floor: {i.dropped_floor}; "
            f"failed: {len(i.failed)}; stories: {report.clusters.joined} joined another show's, "
            f"{report.clusters.disagreements} disagreement(s) between shows; {report.seconds:.0f} s\n"
        )
        for email, phrase in emails:
            print(f"######## {email} ({'instructions' if readers else 'interests'}: {phrase or 'none'})")
            print(render(preview(app, email, NOW.date().isoformat(), NOW), "text"))
        print("######## disagreements found")
        print_disagreements(app)
        app.close()
    server.close()


if __name__ == "__main__":
    main()
