"""Labelling tasks for helper sessions, and their answers checked and imported.

    python bench/selection/tasks.py make OUT_DIR       # task folders (episode texts stay outside the repo)
    python bench/selection/tasks.py check ANSWER.json  # what a labeller runs before handing in
    python bench/selection/tasks.py import ANSWER.json [...]  # into labels/*.jsonl, by anchor

A primary task gives one to three whole episodes (numbered sentences, turns with speaker and
time) and the passages to label in them; its labeller also picks each episode's five. A
second-read task gives held-out passages with the talk around them, for the second label.
Sentence numbers in a task are 1-based; labels are stored by anchor (passages.py).
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sources  # noqa: E402
from passages import anchor_of, load_refs  # noqa: E402

from podsift.insights.passages import Sentence, turn_sentences  # noqa: E402

LABELS = HERE / "labels"
REASONS = (
    "lead-in", "housekeeping", "sponsor", "biography", "anecdote", "hypothetical", "truism",
    "fragment", "leans-back", "question", "banter", "artefact", "other",
)  # fmt: skip
KINDS = (
    "argument", "prediction", "fact", "explanation", "advice", "news-launch", "news-funding", "news-other",
)  # fmt: skip
PRIMARY_WORDS = 24_000  # a task's reading, at most (one long episode may exceed it alone)
SECOND_PASSAGES = 112
TUNE_SECOND_SAMPLE = 112  # tuning passages read twice, for the agreement figure


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def episode_text(episode: sources.SourceEpisode, sentences: list[Sentence]) -> str:
    lines = [
        f"EPISODE {episode.id} — show: {episode.show} ({episode.kind})",
        f"Sentences S1..S{len(sentences)}; each turn starts with '== Speaker [time]'"
        + (" (this transcript names no speakers)" if all(s.speaker is None for s in sentences) else ""),
        "",
    ]
    turn = None
    for n, s in enumerate(sentences, 1):
        if s.turn != turn:
            turn = s.turn
            lines.append(f"\n== {s.speaker or 'Unknown speaker'} [{clock(s.time)}]")
        lines.append(f"S{n} {s.text}")
    return "\n".join(lines) + "\n"


def make(out: Path) -> None:
    refs = load_refs()
    by_episode: dict[str, list] = {}
    for ref in refs:
        by_episode.setdefault(ref.episode, []).append(ref)
    primaries: list[list[tuple[sources.SourceEpisode, list[Sentence]]]] = []
    seconds: list[str] = []
    current: list[tuple[sources.SourceEpisode, list[Sentence]]] = []
    tune_items: list[str] = []
    words = 0
    for split in ("heldout", "tune"):
        for episode in sources.episodes(split):
            sentences = turn_sentences(sources.load(episode))
            size = sum(len(s.text.split()) for s in sentences)
            if current and (words + size > PRIMARY_WORDS or current[0][0].split != split):
                primaries.append(current)
                current, words = [], 0
            current.append((episode, sentences))
            words += size
            if split == "heldout":
                for ref in by_episode[episode.id]:
                    seconds.append(second_read_item(episode, sentences, ref))
            else:
                tune_items.extend(second_read_item(episode, sentences, ref) for ref in by_episode[episode.id])
    primaries.append(current)
    seconds.extend(random.Random("podsift-selection/second").sample(tune_items, TUNE_SECOND_SAMPLE))
    for k, group in enumerate(primaries, 1):
        folder = out / f"primary-{k:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        listing = []
        for episode, sentences in group:
            name = episode.id.replace("/", "__") + ".txt"
            (folder / name).write_text(episode_text(episode, sentences))
            listing.append(f"\n## {episode.id} (file {name})")
            for ref in by_episode[episode.id]:
                who = sentences[ref.first].speaker or "unknown speaker"
                listing.append(f"{ref.id}: S{ref.first + 1}-S{ref.last + 1} ({who})")
        (folder / "PASSAGES.txt").write_text("Passages to label, by episode:\n" + "\n".join(listing) + "\n")
        (folder / "task.json").write_text(
            json.dumps({"task": folder.name, "kind": "primary", "episodes": [e.id for e, _ in group]})
        )
    for k in range(0, len(seconds), SECOND_PASSAGES):
        folder = out / f"second-{k // SECOND_PASSAGES + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "PASSAGES.txt").write_text("\n\n".join(seconds[k : k + SECOND_PASSAGES]) + "\n")
        (folder / "task.json").write_text(json.dumps({"task": folder.name, "kind": "second"}))
    print(
        f"{len(primaries)} primary tasks, {(len(seconds) + SECOND_PASSAGES - 1) // SECOND_PASSAGES} second-read tasks in {out}"
    )


def second_read_item(episode: sources.SourceEpisode, sentences: list[Sentence], ref) -> str:
    lo, hi = max(ref.first - 12, 0), min(ref.last + 4, len(sentences) - 1)
    lines = [f"### {episode.id} {ref.id} — show: {episode.show} — passage S{ref.first + 1}-S{ref.last + 1}"]
    turn = None
    for n in range(lo, hi + 1):
        s = sentences[n]
        if s.turn != turn:
            turn = s.turn
            lines.append(f"== {s.speaker or 'Unknown speaker'} [{clock(s.time)}]")
        mark = ">>" if ref.first <= n <= ref.last else "  "
        lines.append(f"{mark} S{n + 1} {s.text}")
    return "\n".join(lines)


# --- answers ------------------------------------------------------------------------------


def check(answer: dict) -> list[str]:
    """Everything wrong with a labeller's answer file (empty when it is complete)."""
    problems: list[str] = []
    refs = {(r.episode, r.id): r for r in load_refs()}
    kind = answer.get("kind", "primary")
    for block in answer.get("episodes", []):
        episode_id = block.get("episode")
        wanted = {
            pid
            for (eid, pid), ref in refs.items()
            if eid == episode_id and not ref.origin.startswith("active")
        }
        if not wanted:
            problems.append(f"unknown episode {episode_id!r}")
            continue
        seen = set()
        for row in block.get("passages", []):
            pid = row.get("id")
            ref = refs.get((episode_id, pid))
            where = f"{episode_id} {pid}"
            if ref is None:
                problems.append(f"{where}: no such passage")
                continue
            seen.add(pid)
            label = row.get("label")
            if label == "keep":
                span = row.get("span")
                if not (isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span)):
                    problems.append(f"{where}: a keep needs span [first, last] (sentence numbers)")
                elif not (ref.first + 1 <= span[0] <= span[1] <= ref.last + 1):
                    problems.append(f"{where}: span {span} is not inside S{ref.first + 1}-S{ref.last + 1}")
                if row.get("kind") not in KINDS:
                    problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
            elif label == "cut":
                if row.get("reason") not in REASONS:
                    problems.append(f"{where}: reason must be one of {', '.join(REASONS)}")
            else:
                problems.append(f"{where}: label must be keep or cut")
        if kind == "primary" and (missing := sorted(wanted - seen)):
            problems.append(f"{episode_id}: passages not labelled: {', '.join(missing)}")
        if kind == "primary":
            top = block.get("top5", [])
            if not 1 <= len(top) <= 5 or (len(top) < 5 and not block.get("top5_note")):
                problems.append(f"{episode_id}: top5 needs five spans (or fewer with top5_note)")
            for item in top:
                span = item.get("span")
                if not (isinstance(span, list) and len(span) == 2 and 1 <= span[0] <= span[1]):
                    problems.append(f"{episode_id}: top5 span {span!r} is not [first, last]")
    return problems


# Tasks made before run-on sentences were cut into pieces number sentences without that cut.
UNSPLIT_TASKS = ("primary-", "second-", "adjudication-", "active1-")


def numbered_as_in(task: str, episode: sources.SourceEpisode) -> list[Sentence]:
    """The episode's sentences numbered as the task numbered them."""
    return turn_sentences(sources.load(episode), split_run_ons=not task.startswith(UNSPLIT_TASKS))


def import_answers(paths: list[Path]) -> None:
    """Append the answers' labels, by anchor, to labels/passages.jsonl and labels/top5.jsonl."""
    episodes = {e.id: e for e in sources.episodes()}
    LABELS.mkdir(exist_ok=True)
    passage_rows, top_rows = [], []
    for path in paths:
        answer = json.loads(path.read_text())
        if problems := check(answer):
            raise SystemExit(f"{path}: " + "; ".join(problems[:5]))
        labeller = answer["task"]
        for block in answer["episodes"]:
            episode_id = block["episode"]
            sentences = numbered_as_in(labeller, episodes[episode_id])
            for row in block["passages"]:
                span = None
                if row["label"] == "keep":
                    span = asdict(anchor_of(sentences, row["span"][0] - 1, row["span"][1] - 1))
                passage_rows.append(
                    {
                        "episode": episode_id,
                        "passage": row["id"],
                        "labeller": labeller,
                        "label": row["label"],
                        "reason": row.get("reason") if row["label"] == "cut" else None,
                        "kind": row.get("kind") if row["label"] == "keep" else None,
                        "span": span,
                        "note": row.get("note", ""),
                    }
                )
            for rank, item in enumerate(block.get("top5", []), 1):
                first, last = item["span"][0] - 1, item["span"][1] - 1
                top_rows.append(
                    {
                        "episode": episode_id,
                        "labeller": labeller,
                        "rank": rank,
                        "span": asdict(anchor_of(sentences, first, last)),
                        "why": item.get("why", ""),
                    }
                )
    # Held-out labels live in files of their own: nobody tuning the selector opens them.
    for prefix, wanted in (("", "tune"), ("heldout-", "heldout")):
        _append(
            LABELS / f"{prefix}passages.jsonl",
            [r for r in passage_rows if episodes[r["episode"]].split == wanted],
        )
        _append(
            LABELS / f"{prefix}top5.jsonl", [r for r in top_rows if episodes[r["episode"]].split == wanted]
        )
    print(f"imported {len(passage_rows)} passage labels and {len(top_rows)} top-5 picks")


def _append(path: Path, rows: list[dict]) -> None:
    """Append rows not there yet (by episode, labeller and passage or rank): importing an
    answer twice changes nothing."""

    def key(row: dict) -> tuple:
        return (row["episode"], row["labeller"], row.get("passage"), row.get("rank"))

    have = set()
    if path.exists():
        have = {key(json.loads(line)) for line in path.read_text().splitlines() if line.strip()}
    with path.open("a") as handle:
        for row in rows:
            if key(row) not in have:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(Path(sys.argv[2]))
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
