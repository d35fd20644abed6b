"""What a reader gets from shows nobody tuned on: the selection benchmark, held-out shows only.

    .venv/bin/python bench/insights.py            # every figure below, in one run
    .venv/bin/python bench/insights.py --show 3   # and three episodes' top fives, side by side

Labels and their split live in bench/selection/ (LABELLING.md; episodes.json names each
episode by repository and commit; `sources.py --check` says how to fetch them). The held-out
shows were split off before any tuning and labelled before anyone looked at an extractor's
output on them; features and weights were written reading the tuning shows only.

1. Held-out passages (random windows, labelled twice, disagreements decided by a third
   labeller): keep/cut precision and recall of the learned selector (a passage is a keep
   when its best candidate span reaches the shipped threshold) and, for comparison, of the
   quality floor at d3a8604 (a passage it lets through counts as a keep). 559178f had no floor.
2. Held-out top fives, judged blind (blind.py): each system's keep rate, the items that are
   a lead-in alone, housekeeping, a sponsor read, biography or a fragment, and the share of
   kept items written in the product's style (the claim, with its implication where the
   passage gives one). Systems: the offline extractor at 559178f and at d3a8604 (before),
   the learned selector (after), and the labellers' own five (a human reference).
3. The selector's CPU time per episode-hour.
4. The first held-out score ever recorded for the shipped selector, beside today's
   (bench/selection/heldout-scores.json: written once per model, never overwritten).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench" / "selection"))

import dataset  # noqa: E402
import sources  # noqa: E402
import systems  # noqa: E402
from blind import BLIND, ITEMS  # noqa: E402

from podsift.insights.selector.features import candidate_spans  # noqa: E402
from podsift.insights.selector.model import shipped_model  # noqa: E402

SCORES = ROOT / "bench" / "selection" / "heldout-scores.json"
FORBIDDEN = ("lead-in", "housekeeping", "sponsor", "biography", "fragment")
# Systems judged blind, in this order; each trained selector under its card's name
# ("selector@TRAINED@REVISION"), every one judged so far listed; "selector+active3@…" was
# trained with the third round of labels too and not shipped (bench/selection/train.py).
SYSTEMS = ("before-559178f", "before-d3a8604", "selector@", "selector+active3@", "labeller")


def passage_figures(data: list[dataset.EpisodeData]) -> dict:
    model = shipped_model()
    truth, scores, floor_texts = [], [], []
    for ep in data:
        spans = candidate_spans(ep.prepared)
        table = dict(zip(spans, model.span_probabilities(ep.prepared, spans).tolist(), strict=True))
        for p in ep.passages:
            if p.origin != "random" or p.final is None:
                continue
            inside = [
                table[(i, j)]
                for i in range(p.first, p.last + 1)
                for j in range(i, p.last + 1)
                if (i, j) in table
            ]
            truth.append(p.final.label == "keep")
            scores.append(max(inside, default=0.0))
            floor_texts.append(" ".join(s.text for s in ep.prepared.sentences[p.first : p.last + 1]))
    out = {
        "passages": len(truth),
        "keeps": sum(truth),
        "selector": _pr(truth, [s >= model.threshold for s in scores]),
    }
    floor = systems.floor_verdicts("d3a8604", floor_texts)
    out["floor-d3a8604"] = _pr(truth, [reason is None for reason in floor])
    from sklearn.metrics import average_precision_score, roc_auc_score

    out["selector"]["auc"] = round(float(roc_auc_score(truth, scores)), 3)
    out["selector"]["average_precision"] = round(float(average_precision_score(truth, scores)), 3)
    return out


def _pr(truth: list[bool], predicted: list[bool]) -> dict:
    tp = sum(t and p for t, p in zip(truth, predicted, strict=True))
    return {
        "precision": round(tp / max(sum(predicted), 1), 3),
        "recall": round(tp / max(sum(truth), 1), 3),
        "kept": sum(predicted),
    }


def top5_figures() -> dict:
    """Per system, from the blind judgements: items, judged, keep rate, forbidden kinds,
    seed style among keeps."""
    if not ITEMS.exists() or not BLIND.exists():
        return {}
    items = {row["id"]: row for row in map(json.loads, ITEMS.read_text().splitlines())}
    verdicts: dict[str, list[dict]] = defaultdict(list)
    for row in map(json.loads, BLIND.read_text().splitlines()):
        verdicts[row["id"]].append(row)
    named = sorted({name for i in items.values() for name in i["systems"]})
    out = {}
    for system in [
        n
        for prefix in SYSTEMS
        for n in named
        if n == prefix or (n.startswith(prefix) and prefix.endswith("@"))
    ]:
        mine = [i for i in items.values() if system in i["systems"]]
        judged = [verdicts[i["id"]][0] for i in mine if verdicts[i["id"]]]
        kept = [v for v in judged if v["verdict"] == "keep"]
        reasons = Counter(v.get("reason") for v in judged if v["verdict"] == "cut")
        out[system] = {
            "items": len(mine),
            "judged": len(judged),
            "keep_rate": round(len(kept) / max(len(judged), 1), 3),
            "forbidden": {r: reasons[r] for r in FORBIDDEN if reasons[r]},
            "seed_style_of_kept": round(sum(bool(v.get("seed_style")) for v in kept) / max(len(kept), 1), 3),
            "episodes": len({i["episode"] for i in mine}),
        }
    return out


def speed(episodes: list[sources.SourceEpisode]) -> dict:
    from podsift.backends.embeddings.static import packaged_static_vectors
    from podsift.insights.offline import OfflineExtractor
    from podsift.insights.registry import EpisodeInfo

    extractor = OfflineExtractor()
    packaged_static_vectors()  # loaded once per process, as in a run
    hours = cpu = 0.0
    for episode in episodes:
        transcript = sources.load(episode)
        started = time.process_time()
        extractor.extract(EpisodeInfo(episode.show, None), transcript, 5)
        cpu += time.process_time() - started
        hours += transcript.duration / 3600
    return {
        "episode_hours": round(hours, 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_seconds_per_hour": round(cpu / hours, 3),
    }


def record(figures: dict) -> dict:
    """Today's figures beside the first ever recorded for this model (by its card's date and
    code revision); the first is written once and kept."""
    card = shipped_model().card
    key = f"{card.get('trained')}@{card.get('code_revision')}"
    history = json.loads(SCORES.read_text()) if SCORES.exists() else {}
    if key not in history and figures.get("passages"):
        history[key] = {"first": figures, "recorded": time.strftime("%Y-%m-%d")}
        SCORES.write_text(json.dumps(history, indent=1) + "\n")
    return {"model": key, "first": history.get(key, {}).get("first"), "all_models": list(history)}


def side_by_side(episodes: list[sources.SourceEpisode], count: int) -> None:
    found = systems.items_for(episodes[:count], 5, ("before-d3a8604", "selector", "labeller"))
    by = defaultdict(list)
    for item in found:
        by[(item.episode, item.system)].append(item)
    for episode in episodes[:count]:
        print(f"\n=== {episode.id} ({episode.show})")
        for system in ("before-d3a8604", "selector", "labeller"):
            print(f"  -- {system}")
            for item in by[(episode.id, system)]:
                print(textwrap.fill(item.text, 100, initial_indent="   * ", subsequent_indent="     "))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--show", type=int, default=0, help="print this many episodes' top fives")
    args = parser.parse_args()
    held_out = sources.episodes("heldout")
    data = dataset.load("heldout")
    print(f"Held-out: {len({e.show for e in held_out})} shows, {len(held_out)} episodes")
    passages = passage_figures(data)
    print(f"\n1. Held-out passages ({passages['passages']} random windows, {passages['keeps']} keeps):")
    for name in ("selector", "floor-d3a8604"):
        f = passages[name]
        extra = f"; AUC {f['auc']}, average precision {f['average_precision']}" if "auc" in f else ""
        print(
            f"   {name:15} keep precision {f['precision']:.2f}, recall {f['recall']:.2f} ({f['kept']} kept){extra}"
        )
    top = top5_figures()
    print("\n2. Held-out top fives, judged blind:")
    if not top:
        print("   not judged yet: bench/selection/blind.py make, then label, then import")
    shipped = systems.shipped_name(shipped_model().card)
    for name, f in top.items():
        print(
            f"   {name + (' (shipped)' if name == shipped else ''):46} {f['judged']}/{f['items']} items judged over {f['episodes']} episodes: keep rate "
            f"{f['keep_rate']:.0%}; lead-in/housekeeping/sponsor/biography/fragment: {f['forbidden'] or 'none'}; "
            f"seed style in {f['seed_style_of_kept']:.0%} of kept"
        )
    pace = speed(held_out)
    print(
        f"\n3. Selector speed: {pace['cpu_seconds']} s of CPU for {pace['episode_hours']} episode-hours "
        f"= {pace['cpu_seconds_per_hour']} s per episode-hour"
    )
    history = record({"passages": passages, "top5": top})
    first = history["first"] or {}
    print(
        f"\n4. Model {history['model']}: first held-out passage figures recorded: {json.dumps(first.get('passages', {}).get('selector'))}"
    )
    if args.show:
        side_by_side(held_out, args.show)


if __name__ == "__main__":
    main()
