"""Pairs of claims for the disagreement classifier: real claims, and the other side as
another show's speaker would say it.

    .venv/bin/python bench/pairs/build.py sources   # pick the real claims (by anchor): sources.jsonl
    .venv/bin/python bench/pairs/build.py write OUT  # tasks for writers: agree / disagree / different
    .venv/bin/python bench/pairs/build.py pairs ANSWER.json [...]  # -> written.jsonl, pairs.jsonl
    .venv/bin/python bench/pairs/build.py label OUT  # blind labelling tasks, pairs shuffled
    .venv/bin/python bench/pairs/build.py import ANSWER.json [...]  # labels -> labels.jsonl
    .venv/bin/python bench/pairs/build.py training CLAIMS.jsonl ANSWER.json [...]  # -> training.jsonl
    .venv/bin/python bench/pairs/build.py check  # blind labels of a sample against the writers' intent

Sources are claims a labeller kept or picked in the selection benchmark (their words stay in
their repositories: stored by anchor). For each, a writer wrote three sentences as a speaker on
another show would say them: one that agrees in other words, one that disagrees (a different
figure said the way people say figures, an opposite stance in paraphrase, a date against a
denial, a correction), one about the same subject that neither agrees nor disagrees. Those
sentences are ours and are stored here. Then labellers who never saw the writers' intent or
the detector label every pair agree / disagree / different and name the conflict. Split by
topic before any tuning: the held-out topics' pairs are never read while writing the detector.

Training pairs (training.jsonl, for the pair encoder): more claims from the tuning topics only
(labelled keeps and the selector's top spans on tuning shows, by anchor), each answered by a
writer (WRITING.md) with five sentences: an agreement, an agreement worded to look like a
dispute, two disagreements of different kinds and a different claim; labelled by the writer's
intent, which blind labellers matched on 318 of 320 sampled pairs (training-check.jsonl).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "selection"))

import dataset  # noqa: E402
from passages import anchor_of  # noqa: E402

SOURCES = HERE / "sources.jsonl"
WRITTEN = HERE / "written.jsonl"
PAIRS = HERE / "pairs.jsonl"
LABELS = HERE / "labels.jsonl"
# Topics by the shows the claims come from; held out before any tuning.
TOPICS = {
    "bitcoin": ("stephanlivera", "chaincode"),
    "mind-and-work": ("brainscience", "afk", "conduit", "lenny"),
    "news": ("news",),
    "software": (
        "gotime",
        "jsparty",
        "shipit",
        "rfc",
        "bigtent",
        "talkpython",
        "friends",
        "changelog",
        "backstage",
    ),
    "ai": ("practicalai",),
    "business": ("founderstalk",),
    "systems": ("oxide",),
}
HELD_OUT_TOPICS = ("bitcoin", "mind-and-work", "news")
PER_TOPIC = {
    "software": 70,
    "ai": 30,
    "business": 25,
    "systems": 20,
    "bitcoin": 35,
    "mind-and-work": 30,
    "news": 20,
}
PER_WRITER = 30


def topic_of(episode_id: str) -> str:
    show = episode_id.split("/")[0]
    return next(t for t, shows in TOPICS.items() if show in shows)


def pick_sources() -> None:
    rng = random.Random("podsift-pairs")
    claims: dict[str, list[dict]] = {t: [] for t in TOPICS}
    for split in ("tune", "heldout"):
        for ep in dataset.load(split):
            sentences = ep.prepared.sentences
            spans = [p.span for p in ep.picks] + [
                p.final.span for p in ep.passages if p.final and p.final.label == "keep" and p.final.span
            ]
            seen: set[tuple[int, int]] = set()
            for a, b in spans:
                if (a, b) in seen or b - a > 3:
                    continue
                seen.add((a, b))
                claims[topic_of(ep.episode.id)].append(
                    {
                        "episode": ep.episode.id,
                        "anchor": vars(anchor_of(sentences, a, b)),
                        "speaker": sentences[a].speaker,
                    }
                )
    rows = []
    for topic, found in claims.items():
        for k, claim in enumerate(rng.sample(found, min(PER_TOPIC[topic], len(found)))):
            rows.append(
                {
                    "id": f"{topic}-{k + 1:03d}",
                    "topic": topic,
                    "split": "heldout" if topic in HELD_OUT_TOPICS else "tune",
                    **claim,
                }
            )
    SOURCES.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print({t: sum(r["topic"] == t for r in rows) for t in TOPICS}, len(rows), "sources")


def source_text(row: dict) -> str:
    found = dataset.resolve(row["episode"], row["anchor"])
    if found is None:
        raise SystemExit(f"source {row['id']} not found by its anchor")
    sentences = dataset.prepared(row["episode"]).sentences
    return " ".join(s.text for s in sentences[found[0] : found[1] + 1])


def sources() -> list[dict]:
    return [json.loads(line) for line in SOURCES.read_text().splitlines() if line]


def write_tasks(out: Path) -> None:
    rows = sources()
    rng = random.Random("podsift-pairs-writers")
    rng.shuffle(rows)
    for k in range(0, len(rows), PER_WRITER):
        folder = out / f"write-{k // PER_WRITER + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        blocks = [
            f"### {r['id']} — said on {dataset.prepared(r['episode']).sentences[0] and r['episode'].split('/')[0]} by {r['speaker'] or 'a speaker'}\n{source_text(r)}"
            for r in rows[k : k + PER_WRITER]
        ]
        (folder / "CLAIMS.txt").write_text("\n\n".join(blocks) + "\n")
    print(f"{len(rows)} claims in {(len(rows) + PER_WRITER - 1) // PER_WRITER} writing tasks under {out}")


INTENTS = ("agree", "disagree", "different")
PER_LABEL_TASK = 90


def make_pairs(answers: list[Path]) -> None:
    """The writers' answers into written.jsonl (their words and intent) and pairs.jsonl
    (opaque ids, the real claim first or second at random, no intent)."""
    by_id = {r["id"]: r for r in sources()}
    written, pairs = [], []
    rng = random.Random("podsift-pairs-order")
    for path in answers:
        for item in json.loads(path.read_text())["items"]:
            source = by_id[item["id"]]
            for intent in INTENTS:
                written.append(
                    {
                        "source": source["id"],
                        "intent": intent,
                        "text": item[intent],
                        "conflict": item["conflict"] if intent == "disagree" else "",
                        "writer": path.stem,
                    }
                )
    rng.shuffle(written)
    for k, row in enumerate(written, 1):
        row["pair"] = f"Q{k:04d}"
        source = by_id[row["source"]]
        pairs.append(
            {
                "id": row["pair"],
                "source": source["id"],
                "topic": source["topic"],
                "split": source["split"],
                "written": row["text"],
                "source_first": rng.random() < 0.5,
            }
        )
    WRITTEN.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sorted(written, key=lambda r: r["pair"]))
    )
    PAIRS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pairs))
    print(f"{len(pairs)} pairs from {len(answers)} writers")


def pair_texts(pair: dict) -> tuple[str, str]:
    real = source_text(next(r for r in sources() if r["id"] == pair["source"]))
    return (real, pair["written"]) if pair["source_first"] else (pair["written"], real)


def load_pairs() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line]


def label_tasks(out: Path) -> None:
    pairs = load_pairs()
    for k in range(0, len(pairs), PER_LABEL_TASK):
        folder = out / f"pairs-{k // PER_LABEL_TASK + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        blocks = []
        for pair in pairs[k : k + PER_LABEL_TASK]:
            a, b = pair_texts(pair)
            blocks.append(f"### {pair['id']}\nA: {a}\nB: {b}")
        (folder / "PAIRS.txt").write_text("\n\n".join(blocks) + "\n")
    print(
        f"{len(pairs)} pairs in {(len(pairs) + PER_LABEL_TASK - 1) // PER_LABEL_TASK} labelling tasks under {out}"
    )


def import_labels(paths: list[Path]) -> None:
    known = {p["id"] for p in load_pairs()}
    have = (
        {(r["id"], r["labeller"]) for r in map(json.loads, LABELS.read_text().splitlines())}
        if LABELS.exists()
        else set()
    )
    rows = []
    for path in paths:
        answer = json.loads(path.read_text())
        for item in answer["items"]:
            if item["id"] not in known or item.get("label") not in INTENTS:
                raise SystemExit(f"{path}: bad item {item}")
            if (item["id"], answer["task"]) not in have:
                rows.append(
                    {
                        "id": item["id"],
                        "labeller": answer["task"],
                        "label": item["label"],
                        "conflict": item.get("conflict", ""),
                    }
                )
    with LABELS.open("a") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    print(f"imported {len(rows)} pair labels")


TRAINING = HERE / "training.jsonl"
# The writers' five sentences for a training claim, and the label each is written to have.
TRAINING_INTENTS = {
    "agree": "agree",
    "agree_tricky": "agree",
    "disagree": "disagree",
    "disagree_other": "disagree",
    "different": "different",
}


def make_training(claims: Path, answers: list[Path]) -> None:
    """Training pairs (tuning topics only): each claim (by anchor in its transcript) against
    each of the five sentences a writer wrote for it, labelled by the writer's intent. Claims
    a writer marked as no claim are left out."""
    from passages import Anchor, locate

    by_id = {r["id"]: r for r in map(json.loads, claims.read_text().splitlines())}
    rows = []
    for path in answers:
        answer = json.loads(path.read_text())
        for item in answer["items"]:
            claim = by_id[item["id"]]
            if item.get("skip") or claim["topic"] in HELD_OUT_TOPICS:
                continue
            words = claim["text"].split()
            text = dataset.transcript(claim["episode"]).text
            anchor = Anchor(" ".join(words[:8]), " ".join(words[-6:]), max(text.find(" ".join(words[:8])), 0))
            if locate(text, anchor) is None:
                print(f"  {item['id']}: not found by its anchor, left out")
                continue
            for intent, label in TRAINING_INTENTS.items():
                rows.append(
                    {
                        "id": f"{answer['task']}-{item['id']}-{intent}",
                        "topic": claim["topic"],
                        "episode": claim["episode"],
                        "anchor": vars(anchor),
                        "speaker": claim["speaker"],
                        "intent": intent,
                        "label": label,
                        "text": item[intent],
                        "conflict": item.get("conflict", "") if label == "disagree" else "",
                        "writer": answer["task"],
                    }
                )
    known = (
        {json.loads(line)["id"] for line in TRAINING.read_text().splitlines()} if TRAINING.exists() else set()
    )
    new = [r for r in rows if r["id"] not in known]
    with TRAINING.open("a") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in new)
    print(f"{len(new)} training pairs added ({len(known)} before)")


def training_source_text(row: dict) -> str:
    """The real claim of a training pair, read from its transcript by anchor."""
    from passages import Anchor, locate

    text = dataset.transcript(row["episode"]).text
    span = locate(text, Anchor(**row["anchor"]))
    if span is None:
        raise SystemExit(f"training pair {row['id']}: its claim is not found by its anchor")
    return text[span[0] : span[1]]


def check_training() -> None:
    """How often blind labellers (training-check.jsonl, a random sample) gave a training pair
    the label its writer meant."""
    meant = {r["id"]: r for r in map(json.loads, TRAINING.read_text().splitlines())}
    checked = [json.loads(line) for line in (HERE / "training-check.jsonl").read_text().splitlines()]
    same = [c for c in checked if c["label"] == meant[c["id"]]["label"]]
    print(f"blind labels agree with the writers' intent on {len(same)} of {len(checked)} sampled pairs")
    for c in checked:
        if c["label"] != meant[c["id"]]["label"]:
            print(f"  {c['id']}: meant {meant[c['id']]['label']}, labelled {c['label']}")


def main() -> None:
    if sys.argv[1:] == ["sources"]:
        pick_sources()
    elif len(sys.argv) == 3 and sys.argv[1] == "write":
        write_tasks(Path(sys.argv[2]))
    elif len(sys.argv) >= 3 and sys.argv[1] == "pairs":
        make_pairs([Path(p) for p in sys.argv[2:]])
    elif len(sys.argv) == 3 and sys.argv[1] == "label":
        label_tasks(Path(sys.argv[2]))
    elif sys.argv[1:] == ["check"]:
        check_training()
    elif len(sys.argv) >= 4 and sys.argv[1] == "training":
        make_training(Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
    elif len(sys.argv) >= 3 and sys.argv[1] == "import":
        import_labels([Path(p) for p in sys.argv[2:]])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
