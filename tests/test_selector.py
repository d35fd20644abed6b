"""The learned selector and the stance classifier as shipped: plain arrays with a card,
deterministic, and (where the labelled shows can be read) still as good on held-out shows
as when they were trained."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from podsift.backends.embeddings.static import packaged_static_vectors
from podsift.clusters.stance import CARD as STANCE_CARD
from podsift.clusters.stance import WEIGHTS as STANCE_WEIGHTS
from podsift.clusters.stance import load_stance_model
from podsift.insights.passages import turn_sentences
from podsift.insights.selector import best_spans
from podsift.insights.selector.features import candidate_spans, prepare
from podsift.insights.selector.model import CARD, WEIGHTS, load_model
from podsift.transcripts.parsers import parse_transcript
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_models_are_small_plain_arrays_with_a_card() -> None:
    for weights, card in ((WEIGHTS, CARD), (STANCE_WEIGHTS, STANCE_CARD)):
        assert weights.stat().st_size < 3_000_000
        with np.load(weights, allow_pickle=False) as arrays:  # no pickle: nothing runs on load
            assert all(arrays[name].dtype.kind == "f" for name in arrays.files)
        meta = json.loads(card.read_text())
        assert meta["features"] and meta["trained"] and meta["labels"]
    model = load_model()
    assert model.card["labels"]["episodes"] >= 40 and len(model.card["labels"]["shows"]) >= 12
    assert 0.0 < model.threshold < 1.0
    assert 0.0 < load_stance_model().threshold < 1.0


def test_scores_are_deterministic_and_texts_are_whole_sentences_within_sixty_words() -> None:
    transcript = parse_transcript(
        (FIXTURES / "transcripts" / "policy-signals-12.vtt").read_bytes(), url="x.vtt"
    )
    episode = prepare(turn_sentences(transcript), transcript.duration, packaged_static_vectors())
    model = load_model()
    spans = candidate_spans(episode)
    first = model.span_probabilities(episode, spans)
    assert np.array_equal(first, model.span_probabilities(episode, spans))
    for a, b in spans:
        assert episode.sentences[a].turn == episode.sentences[b].turn and b - a < 4
    picks = best_spans(episode, model, 5)
    assert [p.probability for p in picks] == sorted((p.probability for p in picks), reverse=True)
    assert all(p.probability >= model.threshold for p in picks)


def _bench(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_selector_still_scores_its_first_held_out_figures() -> None:
    """A retrain that got worse on the held-out shows fails here (where the public
    transcript repositories are present: bench/selection/sources.py says how to get them)."""
    import sys

    sys.path.insert(0, str(ROOT / "bench" / "selection"))
    import sources

    if any(sources.repo_dir(repo) is None for repo in {e.repo for e in sources.episodes("heldout")}):
        pytest.skip("the held-out shows' transcript repositories are not here")
    insights = _bench("insights")
    import dataset

    figures = insights.passage_figures(dataset.load("heldout"))["selector"]
    recorded = json.loads((ROOT / "bench" / "selection" / "heldout-scores.json").read_text())
    first = next(iter(recorded.values()))["first"]["passages"]["selector"]
    assert figures["auc"] >= first["auc"] - 0.02, (figures, first)


def test_without_the_packaged_minilm_the_selector_still_chooses_on_its_signals(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from podsift.backends.embeddings import static
    from podsift.insights import offline

    monkeypatch.setattr(static, "packaged_minilm", lambda: None)
    static.packaged_static_vectors.cache_clear()
    offline._static_vectors.cache_clear()
    try:
        transcript = parse_transcript(
            (FIXTURES / "transcripts" / "policy-signals-12.vtt").read_bytes(), url="x.vtt"
        )
        found = offline.OfflineExtractor(threshold=0.0).extract(
            offline.EpisodeInfo(None, None), transcript, 3
        )
        assert found and all("promo code" not in c.quote for c in found)
        assert "without word vectors" in caplog.text
    finally:
        static.packaged_static_vectors.cache_clear()
        offline._static_vectors.cache_clear()


def test_a_sign_off_or_greeting_is_never_glued_to_a_claim() -> None:
    vtt = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n<v Maya Chen>Hello and welcome back to Grid Talk.\n\n"
        "00:00:04.000 --> 00:00:14.000\n<v Maya Chen>Offshore wind auctions failed in three countries this "
        "year, because turbine prices rose faster than the prices governments would pay. That is all for today.\n\n"
        "00:00:14.000 --> 00:00:24.000\n<v Maya Chen>Heat pumps outsold gas furnaces in America for the third "
        "year in a row, because installers now quote them below a replacement furnace. Goodbye for now.\n"
    )
    transcript = parse_transcript(vtt.encode(), url="x.vtt")
    episode = prepare(turn_sentences(transcript), transcript.duration, packaged_static_vectors())
    picks = best_spans(episode, load_model(), 5, threshold=0.0)
    texts = [" ".join(s.text for s in episode.sentences[p.first : p.last + 1]) for p in picks]
    assert any(t.startswith("Offshore wind") for t in texts) and any(
        t.startswith("Heat pumps") for t in texts
    )
    glued = ("That is all", "Goodbye", "Hello and welcome")
    assert not [t for t in texts if len(t.split(". ")) > 1 and any(g in t for g in glued)], texts
