"""Held-out passages whose two labels disagree on keep/cut, as a task for a third labeller.

    .venv/bin/python bench/selection/adjudicate.py OUT_DIR

The third labeller sees the passage in its episode (the talk around it) and both labels with
their notes, and decides; the decision is imported like any answer (labeller
"adjudication-NN") and becomes the passage's label. Agreement before adjudication is printed.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sources  # noqa: E402
from passages import load_refs  # noqa: E402
from tasks import LABELS, numbered_as_in, second_read_item  # noqa: E402


def main() -> None:
    out = Path(sys.argv[1])
    rows = [json.loads(line) for line in (LABELS / "heldout-passages.jsonl").read_text().splitlines() if line]
    by_passage: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        if not row["labeller"].startswith("adjudication"):
            by_passage[(row["episode"], row["passage"])].append(row)
    pairs = {k: v for k, v in by_passage.items() if len(v) >= 2}
    agree = sum(len({r["label"] for r in v}) == 1 for v in pairs.values())
    print(
        f"{len(pairs)} held-out passages labelled twice; keep/cut agree on {agree} ({agree / max(len(pairs), 1):.1%})"
    )
    refs = {(r.episode, r.id): r for r in load_refs()}
    episodes = {e.id: e for e in sources.episodes("heldout")}
    items = []
    for key, labels in sorted(pairs.items()):
        if len({r["label"] for r in labels}) == 1:
            continue
        episode = episodes[key[0]]
        sentences = numbered_as_in("adjudication-01", episode)  # as the passages were numbered
        ref = refs[key]
        shown = "\n".join(
            f"  label {n}: {r['label']}"
            + (f" ({r['reason']})" if r["reason"] else "")
            + (f" span {r['span']['begins']!r}…{r['span']['ends']!r}" if r["span"] else "")
            + (f" — note: {r['note']}" if r["note"] else "")
            for n, r in enumerate(labels, 1)
        )
        items.append(second_read_item(episode, sentences, ref) + "\nThe two earlier labels:\n" + shown)
    folder = out / "adjudication-01"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "PASSAGES.txt").write_text("\n\n".join(items) + "\n")
    (folder / "task.json").write_text(json.dumps({"task": folder.name, "kind": "second"}))
    print(f"{len(items)} disagreements to decide in {folder}")


if __name__ == "__main__":
    main()
