"""Benchmark: 200 subscribers who steer their digest in their own words, on a labelled day.

    .venv/bin/python -m bench.instructions.day [--subscribers 200] [--top 5]

The day: the 234 held-out items of the kind model (bench/kinds: Lenny's Podcast, Oxide and
Friends, Away From Keyboard; kinds labelled twice and adjudicated), stored as insights with
their MiniLM vectors, each its own story. The readers: the held-out and dev instructions of
bench/instructions, in turn, 200 of them; beside each, a twin with the same settings and no
instructions (the baseline). Printed:

- time of the delivery round (choose, record, send to the outbox) for the 200 instructed
  readers against the 200 twins, and its ratio;
- for readers who muted a kind (funding, launch, "no predictions"), how many items of that
  kind (by the human labels) reached their five, against their twins' five;
- for readers who boosted a kind or a show, how many such items are in their five against
  their twins';
- with a model configured (a loopback server speaking the OpenAI wire format, tests/fake_llm),
  the model requests and tokens the 200 readers add per day: one when they save their words,
  one per digest for those with a style flag.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from podsift.backends.embeddings import make_embedder, to_blob
from podsift.core import App, make_app
from podsift.delivery.stage import deliver_due
from podsift.settings import Settings
from podsift.store import Digest, DigestItem, Episode, Feed, Insight, LLMRequest, Subscriber
from podsift.subscribers import add_subscriber
from podsift.subscribers.profile import ReaderProfile
from podsift.subscribers.steer import instruct

HERE = Path(__file__).resolve().parent
KINDS_DIR = HERE.parent / "kinds"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHOWS = {"lenny": "Lenny's Podcast", "oxide": "Oxide and Friends", "afk": "Away From Keyboard"}


def labelled_day() -> list[dict[str, object]]:
    items = [json.loads(line) for line in (KINDS_DIR / "items-heldout.jsonl").read_text().splitlines()]
    kinds = {
        row["id"]: row["kinds"]
        for row in map(json.loads, (KINDS_DIR / "labels-heldout.jsonl").read_text().splitlines())
    }
    return [{**item, "kinds": kinds[item["id"]]} for item in items]


def seed_day(app: App, day: list[dict[str, object]]) -> dict[int, dict[str, object]]:
    """The day's items as insights (one episode each), with MiniLM vectors; by insight id."""
    embedder = make_embedder("local")
    texts = [str(item["text"]) for item in day]
    vectors = embedder.embed(texts)
    out = {}
    with app.session() as session:
        feeds = {}
        for key, title in SHOWS.items():
            feeds[key] = Feed(url=f"https://example.org/{key}.xml", title=title)
            session.add(feeds[key])
        session.flush()
        for n, (item, vector) in enumerate(zip(day, vectors, strict=True)):
            show = str(item["episode"]).split("/")[0]
            episode = Episode(
                feed_id=feeds[show].id,
                key=f"k{n}",
                fallback_key=f"f{n}",
                title=str(item["episode"]),
                audio_url="https://cdn.example.org/ep.mp3",
                published_at=NOW - timedelta(hours=2),
                state="extracted",
            )
            session.add(episode)
            session.flush()
            text = str(item["text"])
            speaker = text.split(": ", 1)[0] if ": " in text[:60] else None
            insight = Insight(
                episode_id=episode.id,
                text=text,
                quote=text.split(": ", 1)[-1],
                quote_hash=f"h{n}",
                speaker=speaker,
                start_seconds=60.0,
                end_seconds=90.0,
                score=0.8,
                extractor="offline",
                embedding=to_blob(vector),
                embedding_model=embedder.name,
                created_at=NOW - timedelta(hours=1),
            )
            session.add(insight)
            session.flush()
            out[insight.id] = {**item, "show": show}
        session.commit()
    return out


def instructions(count: int) -> list[str]:
    texts = [
        json.loads(line)["text"]
        for name in ("heldout.jsonl", "dev.jsonl")
        for line in (HERE / name).read_text().splitlines()
        if line.strip()
    ]
    return [texts[k % len(texts)] for k in range(count)]


def digests(app: App) -> dict[str, list[int]]:
    with app.session() as session:
        rows = session.execute(
            sa.select(Subscriber.email, DigestItem.insight_id)
            .join(Digest, Digest.subscriber_id == Subscriber.id)
            .join(DigestItem, DigestItem.digest_id == Digest.id)
            .order_by(DigestItem.rank)
        ).all()
    out: dict[str, list[int]] = {}
    for email, insight_id in rows:
        out.setdefault(email, []).append(insight_id)
    return out


def measure(args: argparse.Namespace, llm: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        app = make_app(Settings.load(env={}, home=Path(home), llm=llm or "offline", asr="none"))
        day = seed_day(app, labelled_day())
        texts = instructions(args.subscribers)
        for k in range(len(texts)):
            add_subscriber(app, f"reader{k}@example.com", hour=0, top=args.top, skip_confirm=True)
            add_subscriber(app, f"twin{k}@example.com", hour=0, top=args.top, skip_confirm=True)
        started = time.perf_counter()
        profiles = [instruct(app, f"reader{k}@example.com", text, NOW) for k, text in enumerate(texts)]
        save_seconds = time.perf_counter() - started
        twins = [f"twin{k}@example.com" for k in range(len(texts))]
        readers = [f"reader{k}@example.com" for k in range(len(texts))]
        with app.session() as session:
            ids = {email: sid for email, sid in session.execute(sa.select(Subscriber.email, Subscriber.id))}
        deliver_due(app, NOW, only=[ids[t] for t in twins[:5]])  # warm: model and pool loaded once
        started = time.perf_counter()
        deliver_due(app, NOW, only=[ids[t] for t in twins[5:]])
        twin_seconds = (time.perf_counter() - started) / max(len(twins) - 5, 1)
        started = time.perf_counter()
        deliver_due(app, NOW, only=[ids[r] for r in readers])
        reader_seconds = (time.perf_counter() - started) / len(readers)
        chosen = digests(app)
        with app.session() as session:
            requests = session.execute(
                sa.select(
                    LLMRequest.purpose,
                    sa.func.count(),
                    sa.func.sum(LLMRequest.tokens_in + LLMRequest.tokens_out),
                ).group_by(LLMRequest.purpose)
            ).all()
        app.close()
    return {
        "save_seconds_per_reader": round(save_seconds / len(texts), 4),
        "delivery_seconds_per_reader": {
            "instructed": round(reader_seconds, 4),
            "twins": round(twin_seconds, 4),
        },
        "outcomes": outcomes(profiles, readers, twins, chosen, day),
        "model_requests": {
            purpose: {"requests": n, "tokens": int(tokens or 0)} for purpose, n, tokens in requests
        },
    }


def outcomes(
    profiles: list[ReaderProfile],
    readers: list[str],
    twins: list[str],
    chosen: dict[str, list[int]],
    day: dict[int, dict[str, object]],
) -> dict[str, object]:
    def count(email: str, wanted) -> int:  # type: ignore[no-untyped-def]
        return sum(1 for i in chosen.get(email, []) if wanted(day[i]))

    muted: dict[str, list[int]] = {}
    boosted: dict[str, list[int]] = {}
    for profile, reader, twin in zip(profiles, readers, twins, strict=True):
        kinds = list(profile.mute.kinds) + (["prediction"] if profile.has_style("no_predictions") else [])
        for kind in kinds:
            row = muted.setdefault(kind, [0, 0, 0])
            row[0] += 1
            row[1] += count(reader, lambda item, k=kind: k in item["kinds"])
            row[2] += count(twin, lambda item, k=kind: k in item["kinds"])
        for kind in profile.boost.kinds:
            row = boosted.setdefault(f"kind {kind}", [0, 0, 0])
            row[0] += 1
            row[1] += count(reader, lambda item, k=kind: k in item["kinds"])
            row[2] += count(twin, lambda item, k=kind: k in item["kinds"])
        for show in profile.boost.shows:
            key = next((k for k, t in SHOWS.items() if t == show), None)
            if key:
                row = boosted.setdefault(f"show {show}", [0, 0, 0])
                row[0] += 1
                row[1] += count(reader, lambda item, k=key: item["show"] == k)
                row[2] += count(twin, lambda item, k=key: item["show"] == k)
    return {
        "muted kind items in the five (readers, instructed, twins)": muted,
        "boosted items in the five (readers, instructed, twins)": boosted,
        "readers with an empty digest": sum(1 for r in readers if not chosen.get(r)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    offline = measure(args, None)
    print(json.dumps({"offline": offline}, indent=1))
    from tests.fake_llm import FakeLLM, honest_model

    def model(prompt: str) -> str:  # profiles: an empty proposal; rewrites: the insight's first words
        import re

        if "<instructions>" in prompt:
            return json.dumps(
                {
                    "mute": {"topics": [], "shows": [], "people": [], "kinds": []},
                    "boost": {"topics": [], "shows": [], "people": [], "kinds": []},
                    "style": [],
                }
            )
        if '<insight n="' in prompt:
            found = re.findall(r'<insight n="(\d+)" speaker="[^"]*">(.*?)</insight>', prompt, re.S)
            return json.dumps({"items": [{"n": int(n), "text": " ".join(t.split()[:25])} for n, t in found]})
        return honest_model(prompt)

    llm = FakeLLM(model)
    try:
        online = measure(args, f"openai:bench-model?base_url={llm.base_url}")
    finally:
        llm.close()
    print(
        json.dumps(
            {
                "with a model": {
                    "model_requests": online["model_requests"],
                    "delivery_seconds_per_reader": online["delivery_seconds_per_reader"],
                }
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
