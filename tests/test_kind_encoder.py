"""The kind encoder (insights/kind_encoder.py): the packaged MiniLM with the shipped LoRA
updates reading an item and saying which kinds it is, in numpy, as it was trained in torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from podsift.insights import kind_encoder, kinds
from podsift.insights.kind_encoder import CARD, load_kind_encoder, shipped_kind_encoder
from podsift.insights.kinds import KINDS

ROOT = Path(__file__).resolve().parents[1]
# Ours, written for this test (none is a labelled item): one of each kind, and one of none.
ITEMS = {
    "funding": "Dana Lee: They just closed a forty million dollar Series B led by Sequoia, at a valuation north of half a billion.",
    "advice": "Sam Ortiz: If you're starting out, my advice is simple. Write the boring tests first, and never deploy on a Friday. Seriously, make sure you can roll back.",
    "prediction": "Priya Nair: Within five years, I think most code review will be done by models, and humans will only look at the hard diffs.",
    "none": "Tom Berg: So I grew up in Ohio, and my first computer was a hand-me-down from my uncle.",
}


def encoder():  # type: ignore[no-untyped-def]
    found = shipped_kind_encoder()
    if found is None:
        pytest.skip("the packaged MiniLM is not installed")
    return found


def test_the_card_holds_the_thresholds_and_the_held_out_figures() -> None:
    card = json.loads(CARD.read_text())
    model = encoder()
    assert card["kinds"] == list(KINDS)
    assert set(card["heldout"]["shows"]) == {"lenny", "oxide", "afk"}
    assert not set(card["heldout"]["shows"]) & set(card["tuning"]["shows"])
    for j, kind in enumerate(KINDS):
        assert model.thresholds.flag[j] == card["validated"][kind]["flag_threshold"]
        assert model.thresholds.mute[j] == card["validated"][kind]["mute_threshold"]


def test_clear_items_are_read_as_their_kind_and_small_talk_as_none() -> None:
    model = encoder()
    texts = list(ITEMS.values())
    p = model.probabilities(texts)
    print(dict(zip(ITEMS, np.round(p, 2).tolist(), strict=True)))
    assert p.shape == (len(texts), len(KINDS))
    for k, kind in enumerate(ITEMS):
        if kind == "none":
            assert (p[k] < model.thresholds.flag).all()
        else:
            j = KINDS.index(kind)
            assert p[k, j] >= model.thresholds.flag[j]
            assert p[k, j] == p[k].max()


def test_each_text_is_read_once_and_the_speaker_label_is_not_read() -> None:
    model = encoder()
    text = ITEMS["advice"]
    first = model.probabilities([text])
    assert text.split(": ", 1)[1] in model._seen
    np.testing.assert_array_equal(model.probabilities([text, text]), np.vstack([first, first]))
    np.testing.assert_allclose(model.probabilities([text.split(": ", 1)[1]]), first)
    assert model.probabilities([]).shape == (0, len(KINDS))


def test_the_numpy_encoder_gives_what_the_torch_model_it_was_trained_as_gives() -> None:
    torch = pytest.importorskip("torch")
    from bench import lora_torch
    from bench.kinds import train_encoder as trainer

    from podsift.backends.embeddings.local import packaged_minilm

    model = encoder()
    with np.load(kind_encoder.WEIGHTS) as data:
        arrays = {k: data[k] for k in data.files if not k.startswith("threshold.")}
    bert = lora_torch.torch_bert(packaged_minilm(), len(KINDS), trainer.FROZEN, trainer.RANK, trainer.ALPHA)
    lora_torch.load_arrays(bert, arrays)
    bert.eval()
    texts = [kinds.item_text(t) for t in ITEMS.values()]
    with torch.no_grad():
        ids, types, mask = lora_torch.padded(model.inputs.encode_batch(texts))
        expected = torch.sigmoid(bert.upper(bert.lower(ids, types, mask), mask)).numpy()
    np.testing.assert_allclose(model.probabilities(texts), expected, atol=2e-4)


def test_switched_off_or_without_minilm_the_prototype_model_decides(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from podsift.backends.embeddings import local

    texts = list(ITEMS.values())
    encoded = kinds.kind_probabilities(texts)
    monkeypatch.setenv("PODSIFT_KIND_ENCODER", "off")
    shipped_kind_encoder.cache_clear()
    try:
        fallback = kinds.kind_probabilities(texts)
        np.testing.assert_allclose(fallback, kinds.shipped_kind_model().probabilities(texts))
        assert kinds.kind_thresholds() is kinds.shipped_kind_model().cue_only
        monkeypatch.delenv("PODSIFT_KIND_ENCODER")
        monkeypatch.setattr(local, "packaged_minilm", lambda: None)
        assert load_kind_encoder() is None
    finally:
        shipped_kind_encoder.cache_clear()
    assert not np.allclose(encoded, fallback)  # the two models are not the same reading
