"""Label what the selector picks: a round of active learning on the tuning shows.

    .venv/bin/python bench/selection/active.py ROUND OUT_DIR   # e.g. active.py 1 /work/labelling/tasks

Cross-validated models (each trained without the show it picks from) choose their top
PICKS spans in every tuning episode; the ones no label covers yet become passages (the span
widened by a sentence on each side within its turn, so the labeller can draw the claim's
own bounds), appended to passages.jsonl with origin "active-ROUND", and are written out as
second-read labelling tasks. Labelling them tells how good the top of the ranking is (the
share of picks a reader keeps) and teaches the next model where it was wrong.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402
import train  # noqa: E402
from passages import PASSAGES, PassageRef, anchor_of  # noqa: E402
from tasks import SECOND_PASSAGES, second_read_item  # noqa: E402

from podsift.insights.selector import choose  # noqa: E402

PICKS = 8


def main() -> None:
    round_, out = sys.argv[1], Path(sys.argv[2])
    data = dataset.load("tune")
    scored = train.Scored(data, train.cross_validated_models(data, 0.1))
    refs: list[PassageRef] = []
    items: list[str] = []
    for ep in data:
        picks = choose(ep.prepared, scored.spans[ep.episode.id], scored.arrays[ep.episode.id], PICKS, 0.0)
        labelled = [(p.first, p.last) for p in ep.passages]
        sentences = ep.prepared.sentences
        k = 0
        for pick in picks:
            span = (pick.first, pick.last)
            if any(dataset.iou(span, known) >= 0.5 for known in labelled):
                continue
            first, last = pick.first, pick.last
            if first > 0 and sentences[first - 1].turn == sentences[first].turn:
                first -= 1
            if last + 1 < len(sentences) and sentences[last + 1].turn == sentences[last].turn:
                last += 1
            k += 1
            ref = PassageRef(
                ep.episode.id,
                f"A{round_}{k:02d}",
                f"active-{round_}",
                first,
                last,
                anchor_of(sentences, first, last),
            )
            refs.append(ref)
            items.append(second_read_item(ep.episode, sentences, ref))
    with PASSAGES.open("a") as handle:
        for ref in refs:
            handle.write(json.dumps(asdict(ref), ensure_ascii=False) + "\n")
    order = np.random.default_rng(int(round_)).permutation(len(items))  # episodes mixed across tasks
    shuffled = [items[i] for i in order]
    for k in range(0, len(shuffled), SECOND_PASSAGES):
        folder = out / f"active{round_}-{k // SECOND_PASSAGES + 1:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "PASSAGES.txt").write_text("\n\n".join(shuffled[k : k + SECOND_PASSAGES]) + "\n")
        (folder / "task.json").write_text(json.dumps({"task": folder.name, "kind": "second"}))
    print(
        f"{len(refs)} picks to label in {(len(items) + SECOND_PASSAGES - 1) // SECOND_PASSAGES} tasks under {out}"
    )


if __name__ == "__main__":
    main()
