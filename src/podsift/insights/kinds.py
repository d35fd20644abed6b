"""What kind of item an insight is (funding news, a launch, advice, a contrarian take, a
prediction), so a reader's "skip funding news" or "more contrarian takes" works offline.

One logistic regression per kind over few features, so ~700 labelled items can fit it: the
insight's cosine to twenty short descriptions of the kinds (four each, embedded with MiniLM,
the embedder podsift runs; the insight's own vector comes from the candidate pool) and a few
cue counts (money figures, release verbs, "you should", "everyone thinks", "will"). Trained by
`bench/kinds/train.py` on items labelled by readers who never saw these features, chosen by
leave-one-show-out cross-validation, and scored on shows held out before training. Shipped as
plain arrays (`kinds.npz`) with a card (`kinds.json`: labels, split, scores, thresholds). With
another embedder, or none, the cue-only weights it also ships serve.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from podsift.insights.kind_encoder import KindEncoder

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "kinds.npz"
CARD = HERE / "kinds.json"
KINDS = ("funding", "launch", "advice", "contrarian", "prediction")
EMBEDDER = "local:all-MiniLM-L6-v2"  # the vectors the prototype weights were trained on
# Short descriptions of each kind; the model learns what closeness to each is worth.
PROTOTYPES = {
    "funding": (
        "The startup raised a funding round from venture capital investors at a high valuation.",
        "The company was acquired in a deal worth billions of dollars.",
        "Their revenue grew and the business is now profitable.",
        "The company laid off staff to cut costs.",
    ),
    "launch": (
        "The company released a new version of its product today.",
        "They announced and launched a new open source tool.",
        "The new feature is now available to all users.",
        "The project is being shut down and discontinued.",
    ),
    "advice": (
        "You should always do this, here is my advice.",
        "My tip for anyone starting out is to focus on the basics.",
        "If you want to get better at this, try the following approach.",
        "The lesson is that you need to take care of yourself first.",
    ),
    "contrarian": (
        "Everyone thinks this is true, but they are wrong.",
        "This popular idea is overrated and I disagree with the consensus.",
        "Unpopular opinion: the conventional wisdom here is a myth.",
        "People say this works, but actually the opposite is true.",
    ),
    "prediction": (
        "In the next five years this technology will replace the old one.",
        "I predict that by 2030 most companies will do this.",
        "This is going to change the industry in the future.",
        "Eventually the market will move in this direction.",
    ),
}
PROTOTYPE_TEXTS = tuple(p for kind in KINDS for p in PROTOTYPES[kind])

# Cue counts: each a learned weight, not a rule (the model decides what they are worth).
CUES = {
    "money": re.compile(
        r"\$\s?\d|\b\d+(?:\.\d+)?\s?(?:million|billion|m|bn|k)\b|\b(?:million|billion)\b", re.I
    ),
    "raise": re.compile(
        r"\b(?:rais(?:e|ed|es|ing)|funding|valuation|valued|investors?|acqui(?:re|red|res|sition)|ipo|"
        r"series [a-e]|seed round|revenue|profit|layoffs?|laid off|sponsor(?:ed|ship)?|donat\w+|pric(?:e|ing))\b",
        re.I,
    ),
    "release": re.compile(
        r"\b(?:launch(?:ed|es|ing)?|releas(?:e|ed|es|ing)|announc(?:e|ed|es|ing|ement)|shipp?(?:ed|ing|s)?|"
        r"introduc(?:ed|es|ing)|unveil\w*|available (?:now|today)|version \d|v\d+(?:\.\d+)*|open[- ]sourced|"
        r"shut(?:ting)? down|sunset\w*|new (?:feature|tool|product|model|release))\b",
        re.I,
    ),
    "should": re.compile(
        r"\b(?:you should|you shouldn't|you need to|you have to|you want to|you've got to|make sure|"
        r"my advice|i recommend|i'd recommend|try to|don't|always|never|the key is|the trick is|tip)\b",
        re.I,
    ),
    "against": re.compile(
        r"\b(?:everyone thinks|people think|conventional wisdom|overrated|underrated|myth|actually|wrong|"
        r"disagree|unpopular|controversial|hot take|contrary|the opposite|not true|nonsense|i don't buy|"
        r"misconception|but really|counterintuitive)\b",
        re.I,
    ),
    "future": re.compile(
        r"\b(?:will|won't|going to|gonna|in (?:the )?(?:next|coming) (?:few )?(?:years?|decades?|months?)|"
        r"by 20\d\d|in \d+ years|predict\w*|forecast\w*|future|eventually|someday|likely|bet that|expect)\b",
        re.I,
    ),
    "question": re.compile(r"\?"),
    "i": re.compile(r"\b(?:i|i'm|i've|my|me)\b", re.I),
}
CUE_NAMES = tuple(CUES)


def cue_features(texts: Sequence[str]) -> np.ndarray:
    """Per text: log(1 + count) of each cue, and log of its word count."""
    out = np.zeros((len(texts), len(CUES) + 1), dtype=np.float64)
    for k, text in enumerate(texts):
        for j, pattern in enumerate(CUES.values()):
            out[k, j] = np.log1p(len(pattern.findall(text)))
        out[k, -1] = np.log1p(len(text.split()))
    return out


_SPEAKER = re.compile(r"^[^:\n]{2,60}:\s+")


def item_text(text: str) -> str:
    """The words of an insight without its "Speaker: " label."""
    return _SPEAKER.sub("", text, count=1)


class Thresholds(Protocol):
    """Per kind: `flag` (counts as that kind), `mute` (the bar a muted kind uses; > 1: it
    cannot be muted) and `sure` (right at least half the time; > 1: never)."""

    @property
    def flag(self) -> np.ndarray: ...
    @property
    def mute(self) -> np.ndarray: ...
    @property
    def sure(self) -> np.ndarray: ...


@dataclass(frozen=True)
class KindWeights:
    mean: np.ndarray  # standardising the features
    scale: np.ndarray
    coef: np.ndarray  # (kinds, features)
    bias: np.ndarray  # (kinds,)
    flag: np.ndarray  # (kinds,): at or above, the item counts as of that kind (F1 on held-out folds)
    mute: np.ndarray  # (kinds,): the bar a muted kind uses (F2 at precision ≥ 0.25); > 1: cannot mute
    sure: np.ndarray  # (kinds,): where the model is right at least half the time; > 1: never

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(
            1.0 / (1.0 + np.exp(-(((features - self.mean) / self.scale) @ self.coef.T + self.bias)))
        )


@dataclass(frozen=True)
class KindModel:
    embedded: KindWeights  # cosines to the prototypes + cues
    cue_only: KindWeights
    prototypes: np.ndarray  # (20, dims) MiniLM vectors of PROTOTYPE_TEXTS
    card: dict[str, Any]

    def weights(self, vectors: np.ndarray | None, embedder: str | None) -> KindWeights:
        usable = vectors is not None and embedder == EMBEDDER and vectors.shape[1] == self.prototypes.shape[1]
        return self.embedded if usable else self.cue_only

    def probabilities(
        self, texts: Sequence[str], vectors: np.ndarray | None = None, embedder: str | None = None
    ) -> np.ndarray:
        """(texts, kinds): each text's probability of each kind. `vectors`: the texts'
        embeddings by `embedder` (unit length), used when it is the one trained on."""
        if not len(texts):
            return np.zeros((0, len(KINDS)))
        cues = cue_features([item_text(t) for t in texts])
        weights = self.weights(vectors, embedder)
        if weights is self.embedded and vectors is not None:
            return weights.probabilities(np.hstack([vectors @ self.prototypes.T, cues]))
        return weights.probabilities(cues)

    def save(self, weights: Path = WEIGHTS, card: Path = CARD) -> None:
        arrays: dict[str, np.ndarray] = {"prototypes": self.prototypes.astype(np.float32)}
        for name, w in (("embedded", self.embedded), ("cue", self.cue_only)):
            for field in ("mean", "scale", "coef", "bias", "flag", "mute", "sure"):
                arrays[f"{name}_{field}"] = getattr(w, field)
        np.savez_compressed(weights, **arrays)  # type: ignore[arg-type]
        card.write_text(json.dumps(self.card, indent=1, ensure_ascii=False) + "\n")


class KindModelError(RuntimeError):
    """The shipped weights are missing or were trained on other features."""


def load_kind_model(weights: Path = WEIGHTS, card: Path = CARD) -> KindModel:
    try:
        arrays = np.load(weights, allow_pickle=False)
        meta = json.loads(card.read_text())
    except (OSError, ValueError) as exc:
        raise KindModelError(f"cannot read the kind model ({weights}): {exc}") from exc
    if (
        tuple(meta.get("cues", ())) != CUE_NAMES
        or tuple(meta.get("kinds", ())) != KINDS
        or tuple(meta.get("prototypes", ())) != PROTOTYPE_TEXTS
    ):
        raise KindModelError(
            "the kind model was trained on other features: retrain with bench/kinds/train.py"
        )

    def weights_of(name: str) -> KindWeights:
        return KindWeights(
            **{
                f: arrays[f"{name}_{f}"].astype(np.float64)
                for f in ("mean", "scale", "coef", "bias", "flag", "mute", "sure")
            }
        )

    return KindModel(weights_of("embedded"), weights_of("cue"), arrays["prototypes"].astype(np.float32), meta)


@cache
def shipped_kind_model() -> KindModel:
    return load_kind_model()


def kind_probabilities(
    texts: Sequence[str], vectors: np.ndarray | None = None, embedder: str | None = None
) -> np.ndarray:
    """(texts, kinds). Where the kind encoder is installed (MiniLM and its arrays): its
    reading, blended per kind with this model's (the weights chosen on validation shows;
    MiniLM vectors computed here where `vectors` are another embedder's). Else this model's
    alone (`vectors` by `embedder`, when given)."""
    from podsift.insights.kind_encoder import shipped_kind_encoder

    encoder = shipped_kind_encoder()
    if encoder is None:
        return shipped_kind_model().probabilities(texts, vectors, embedder)
    return blended(encoder, texts, vectors, embedder)


def blended(
    encoder: KindEncoder, texts: Sequence[str], vectors: np.ndarray | None, embedder: str | None
) -> np.ndarray:
    """The encoder's reading blended per kind (`encoder.blend`) with this model's."""
    read = encoder.probabilities(texts)
    if not len(texts) or (encoder.blend >= 1.0).all():
        return read
    model = shipped_kind_model()
    if model.weights(vectors, embedder) is not model.embedded:
        vectors, embedder = _minilm().embed(list(texts)), EMBEDDER
    return np.asarray(
        encoder.blend * read + (1.0 - encoder.blend) * model.probabilities(texts, vectors, embedder)
    )


@cache
def _minilm() -> Any:
    from podsift.backends.embeddings import make_embedder

    return make_embedder("local")


def kind_thresholds(vectors: np.ndarray | None = None, embedder: str | None = None) -> Thresholds:
    """The thresholds that go with `kind_probabilities` for the same arguments."""
    from podsift.insights.kind_encoder import shipped_kind_encoder

    encoder = shipped_kind_encoder()
    if encoder is not None:
        return encoder.thresholds
    return shipped_kind_model().weights(vectors, embedder)


def _mute_figures() -> tuple[np.ndarray, dict[str, float]] | None:
    """The mute thresholds in use and each kind's cross-validated mute recall."""
    from podsift.insights.kind_encoder import shipped_kind_encoder

    encoder = shipped_kind_encoder()
    if encoder is not None:
        checked = encoder.card.get("validated", {})
        recall = {k: checked.get(k, {}).get("mute", {}).get("recall", 0.0) for k in KINDS}
        return encoder.thresholds.mute, recall
    try:
        model = shipped_kind_model()
    except KindModelError:
        return None
    recall = {
        k: model.card.get("embedded", {}).get(k, {}).get("cross_validated_mute", {}).get("recall", 0.0)
        for k in KINDS
    }
    return model.embedded.mute, recall


def unreliable_mutes() -> frozenset[str]:
    """Kinds that cannot be muted reliably (no mute threshold reached the mute precision on
    held-out folds): a reader who mutes one is told, rather than served a filter that drops
    mostly good items."""
    figures = _mute_figures()
    if figures is None:
        return frozenset(KINDS)
    return frozenset(k for j, k in enumerate(KINDS) if figures[0][j] > 1.0)


def partial_mutes() -> frozenset[str]:
    """Kinds muted only in their clearest cases (the mute catches under half of them on
    held-out folds): the reader is told so."""
    figures = _mute_figures()
    if figures is None:
        return frozenset()
    mute, recall = figures
    return frozenset(k for j, k in enumerate(KINDS) if mute[j] <= 1.0 and recall[k] < 0.5)
