"""Blind labels for what each system puts in a reader's top five, on the held-out shows.

    .venv/bin/python bench/selection/blind.py make OUT_DIR    # items and labelling tasks
    .venv/bin/python bench/selection/blind.py add OUT_DIR     # a retrained selector's new items only
    .venv/bin/python bench/selection/tasks.py ...              # (answers are checked by blind.py check)
    .venv/bin/python bench/selection/blind.py check ANSWER.json
    .venv/bin/python bench/selection/blind.py import ANSWER.json [...]

Every system's top five on every held-out episode (systems.py) is pooled; an item two
systems share (quotes overlapping by half or more) is judged once. The judge sees each item
as a reader would (the speaker, the text, the show) and the talk around its quote, never
which system chose it, in an order shuffled across episodes and systems. Items and their
systems are kept in blind-items.jsonl; the judgements in labels/blind-top5.jsonl.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402
import sources  # noqa: E402
import systems  # noqa: E402
from passages import anchor_of, sentence_range  # noqa: E402
from tasks import KINDS, LABELS, REASONS, clock  # noqa: E402

from podsift.insights.selector.model import shipped_model  # noqa: E402

ITEMS = HERE / "blind-items.jsonl"
BLIND = LABELS / "blind-top5.jsonl"
PER_TASK = 60
VERDICTS = ("keep", "cut")


def make(out: Path) -> None:
    """Every system's items, pooled and judged from scratch."""
    episodes = sources.episodes("heldout")
    items: list[dict] = []
    _pool(systems.items_for(episodes, 5), items)
    ITEMS.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
    _tasks(out, items, episodes, "blind")


def add(out: Path) -> None:
    """The shipped selector's items added to the pool judged before (named by its card, as
    "selector@TRAINED@REVISION"): an item judged before keeps its judgement, only new items
    become tasks. The earlier models' items stay, under their own names."""
    card = shipped_model().card
    name = systems.shipped_name(card)
    episodes = sources.episodes("heldout")
    items = [json.loads(line) for line in ITEMS.read_text().splitlines() if line]
    before = len(items)
    found = [replace(item, system=name) for item in systems.items_for(episodes, 5, ("selector",))]
    _pool(found, items)
    ITEMS.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items))
    _tasks(out, items[before:], episodes, f"blind-{name.rsplit('@', 1)[-1]}")
    print(f"{name}: {len(found)} picks, {len(items) - before} not judged before")


def _pool(found: list, items: list[dict]) -> None:
    """Each pick joins the item with its episode, text and (by half or more) its sentences,
    or becomes a new item."""
    for item in found:
        transcript = dataset.transcript(item.episode)
        sentences = dataset.prepared(item.episode).sentences
        at = transcript.text.find(item.quote)
        span = sentence_range(sentences, (at, at + len(item.quote))) if at >= 0 else None
        if span is None:
            raise SystemExit(f"{item.system}: a quote not found in {item.episode}: {item.quote[:80]!r}")
        same = next(
            (
                x
                for x in items
                if x["episode"] == item.episode
                and dataset.iou(tuple(x["span"]), span) >= 0.5
                and x["text"] == item.text
            ),
            None,
        )
        if same is None:
            same = {
                "id": f"B{len(items) + 1:03d}",
                "episode": item.episode,
                "span": list(span),
                "anchor": asdict(anchor_of(sentences, *span)),
                "text": item.text,
                "systems": {},
            }
            items.append(same)
        same["systems"][item.system] = item.rank


def _tasks(out: Path, items: list[dict], episodes: list, prefix: str) -> None:
    order = list(range(len(items)))
    random.Random("podsift-blind").shuffle(order)
    shows = {e.id: e.show for e in episodes}
    for k in range(0, len(order), PER_TASK):
        folder = out / f"{prefix}-{k // PER_TASK + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        blocks = [_item_block(items[i], shows[items[i]["episode"]]) for i in order[k : k + PER_TASK]]
        (folder / "ITEMS.txt").write_text("\n\n".join(blocks) + "\n")
    print(f"{len(items)} items to judge, {(len(items) + PER_TASK - 1) // PER_TASK} tasks in {out}")


def _item_block(item: dict, show: str) -> str:
    sentences = dataset.prepared(item["episode"]).sentences
    a, b = item["span"]
    lo, hi = max(a - 10, 0), min(b + 4, len(sentences) - 1)
    lines = [
        f"### {item['id']} — show: {show}",
        f"THE ITEM AS THE READER SEES IT: {item['text']}",
        "Where it was said:",
    ]
    turn = None
    for n in range(lo, hi + 1):
        s = sentences[n]
        if s.turn != turn:
            turn = s.turn
            lines.append(f"== {s.speaker or 'Unknown speaker'} [{clock(s.time)}]")
        lines.append(f"{'>>' if a <= n <= b else '  '} {s.text}")
    return "\n".join(lines)


def check(answer: dict) -> list[str]:
    known = {json.loads(line)["id"] for line in ITEMS.read_text().splitlines() if line}
    problems = []
    for row in answer.get("items", []):
        where = row.get("id")
        if where not in known:
            problems.append(f"{where}: no such item")
            continue
        if row.get("verdict") not in VERDICTS:
            problems.append(f"{where}: verdict must be keep or cut")
        elif row["verdict"] == "cut" and row.get("reason") not in REASONS:
            problems.append(f"{where}: reason must be one of {', '.join(REASONS)}")
        elif row["verdict"] == "keep":
            if row.get("kind") not in KINDS:
                problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
            if row.get("seed_style") not in (True, False):
                problems.append(f"{where}: seed_style must be true or false")
    return problems


def import_answers(paths: list[Path]) -> None:
    rows = []
    for path in paths:
        answer = json.loads(path.read_text())
        if problems := check(answer):
            raise SystemExit(f"{path}: " + "; ".join(problems[:5]))
        rows += [{**row, "labeller": answer["task"]} for row in answer["items"]]
    have = (
        {(r["id"], r["labeller"]) for r in map(json.loads, BLIND.read_text().splitlines())}
        if BLIND.exists()
        else set()
    )
    with BLIND.open("a") as handle:
        for row in rows:
            if (row["id"], row["labeller"]) not in have:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"imported {len(rows)} judgements")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(Path(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "add":
        add(Path(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        problems = check(json.loads(Path(sys.argv[2]).read_text()))
        print("\n".join(problems) if problems else "OK: complete")
        sys.exit(1 if problems else 0)
    elif len(sys.argv) >= 3 and sys.argv[1] == "import":
        import_answers([Path(p) for p in sys.argv[2:]])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
