"""The pair encoder (clusters/pair_encoder.py): the packaged MiniLM read over two claims at
once with the shipped LoRA updates, in numpy, as it was trained in torch."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from podsift.clusters.pair_encoder import CARD, CLASSES, load_pair_encoder, shipped_pair_encoder

ROOT = Path(__file__).resolve().parents[1]
# Ours: claims as two shows' hosts might say them (none of them from a labelled pair).
PAIRS = [
    (
        "Iron-air batteries will become the workhorse of the grid within a decade.",
        "Honestly, iron-air storage is a dead end for utilities; it will never carry the grid.",
    ),
    (
        "Heat pumps now outsell gas furnaces across the United States.",
        "More American homes bought heat pumps than gas furnaces last year.",
    ),
    (
        "Heat pumps now outsell gas furnaces across the United States.",
        "Heat pumps were invented in the nineteenth century.",
    ),
]


def encoder():  # type: ignore[no-untyped-def]
    found = shipped_pair_encoder()
    if found is None:
        pytest.skip("the packaged MiniLM is not installed")
    return found


def test_the_card_names_what_the_weights_are() -> None:
    card = json.loads(CARD.read_text())
    assert card["classes"] == list(CLASSES)
    assert 0.0 < card["threshold"] < 1.0
    assert card["validated_on_shows"]["precision"] >= 0.9  # the threshold was chosen for it
    assert encoder().threshold == card["threshold"]


def test_a_pair_reads_the_same_in_either_order_and_sums_to_one() -> None:
    model = encoder()
    forward = model.probabilities(PAIRS)
    backward = model.probabilities([(b, a) for a, b in PAIRS])
    np.testing.assert_allclose(forward, backward, atol=1e-6)
    np.testing.assert_allclose(forward.sum(axis=1), 1.0, atol=1e-5)
    assert model.probabilities([]).shape == (0, len(CLASSES))


def test_opposite_stances_in_other_words_disagree_and_a_paraphrase_does_not() -> None:
    model = encoder()
    p = model.probabilities(PAIRS)
    labels = [CLASSES[k] for k in p.argmax(axis=1)]
    print(np.round(p, 3), labels)
    assert p[0, CLASSES.index("disagree")] >= model.threshold
    assert p[1, CLASSES.index("disagree")] < model.threshold
    assert p[2, CLASSES.index("disagree")] < model.threshold


def test_the_numpy_encoder_gives_what_the_torch_model_it_was_trained_as_gives() -> None:
    """The LoRA updates merged into MiniLM's weights in numpy, against the same arrays put
    back into the training script's torch model: the merge and the pair inputs (token types,
    truncation) are what was trained."""
    torch = pytest.importorskip("torch")
    model = encoder()
    spec = importlib.util.spec_from_file_location(
        "train_encoder", ROOT / "bench" / "pairs" / "train_encoder.py"
    )
    assert spec and spec.loader
    sys.path.insert(0, str(ROOT / "bench" / "pairs"))
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    from podsift.backends.embeddings.local import packaged_minilm

    folder = packaged_minilm()
    with np.load(ROOT / "src" / "podsift" / "clusters" / "pair_encoder.npz") as data:
        arrays = {k: data[k] for k in data.files}
    bert = trainer.torch_bert(folder)
    trainer.lora_torch.load_arrays(bert, arrays)
    bert.eval()
    tokenizer = model.inputs
    with torch.no_grad():
        ids, types, mask = trainer.lora_torch.padded(tokenizer.encode_batch(PAIRS))
        expected = torch.softmax(bert.upper(bert.lower(ids, types, mask), mask), dim=-1).numpy()
    np.testing.assert_allclose(model._classify(list(PAIRS)), expected, atol=2e-4)


def test_without_minilm_there_is_no_encoder_and_the_stance_model_decides(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from podsift.backends.embeddings import local
    from podsift.clusters import disagree, pair_encoder

    monkeypatch.setattr(local, "packaged_minilm", lambda: None)
    assert load_pair_encoder() is None
    monkeypatch.setattr(disagree, "shipped_pair_encoder", lambda: None)
    monkeypatch.setattr(pair_encoder, "shipped_pair_encoder", lambda: None)
    # the figures still decide without it
    found = disagree.offline_conflict(
        "Battery packs cost about $45 per kilowatt hour now.",
        "Battery packs cost around seventy dollars a kilowatt hour now.",
        0.9,
    )
    assert found is not None and found.method == "figures"


def test_a_text_never_disputes_itself_and_a_pair_is_read_once() -> None:
    model = encoder()
    a, b = PAIRS[0]
    assert model.disagreement(a, a) == 0.0
    first = model.disagreement(a, b)
    assert model.disagreement(b, a) == first and (min(a, b), max(a, b)) in model._seen
