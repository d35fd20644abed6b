"""The offline extractor: an episode's best claims chosen by a model learned from labels.

Every run of one to four sentences of one speaker's turn is a candidate; the learned
selector (`insights/selector/`) gives each the probability that a careful reader keeps it as
a claim worth their time, trained on labelled passages of real shows and scored on shows it
never saw (`bench/insights.py`). The best non-overlapping candidates at or above the model's
threshold become insights, fewer when fewer qualify. Sponsor reads are a fact, not a
judgement: no candidate may touch one. The quote is the span verbatim; the text is the same
sentences, less true disfluencies, within 60 words, with the speaker's name.
"""

from __future__ import annotations

import logging
from functools import cache

from podsift.backends.embeddings.local import MINILM_INSTALL
from podsift.backends.embeddings.registry import EmbeddingError
from podsift.backends.embeddings.static import StaticVectors, packaged_static_vectors
from podsift.backends.spec import BackendConfigError, BackendSpec
from podsift.insights.passages import claim_text, turn_sentences
from podsift.insights.registry import Candidate, EpisodeInfo
from podsift.insights.selector import best_spans
from podsift.insights.selector.features import prepare
from podsift.insights.selector.model import SelectorModel, load_model, shipped_model
from podsift.types import Transcript

CONTEXT_SENTENCES = 2  # before and after a candidate, for a model that refines it
log = logging.getLogger(__name__)


def threshold_option(spec: BackendSpec) -> float | None:
    """A spec's `threshold=` for the selector (None: the model's own), checked."""
    given = spec.number("threshold", -1.0)
    if given == -1.0:
        return None
    if not 0.0 <= given <= 1.0:
        raise BackendConfigError(f"{spec.scheme}: threshold={given} is not a probability between 0 and 1")
    return given


@cache
def _static_vectors() -> StaticVectors | None:
    """The packaged MiniLM's token vectors; without them (its wheel not installed) the
    selector judges on its signals alone, and says so once."""
    try:
        return packaged_static_vectors()
    except EmbeddingError as exc:
        log.warning("the insight selector runs without word vectors (%s): " + MINILM_INSTALL, exc)
        return None


class OfflineExtractor:
    name = "offline"

    def __init__(
        self,
        threshold: float | None = None,
        model: SelectorModel | None = None,
        static: StaticVectors | None = None,
    ) -> None:
        self._model = model
        self._static = static
        self.threshold = threshold

    @classmethod
    def from_path(cls, path: str, threshold: float | None = None) -> OfflineExtractor:
        """Weights trained elsewhere: `PATH.npz` beside its card `PATH.json`."""
        from pathlib import Path

        weights = Path(path).expanduser()
        return cls(threshold, load_model(weights, weights.with_suffix(".json")))

    @property
    def model(self) -> SelectorModel:
        if self._model is None:
            self._model = shipped_model()
        return self._model

    def extract(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]:
        return [c for c, _, _ in self.propose(episode, transcript, limit)]

    def propose(
        self, episode: EpisodeInfo, transcript: Transcript, limit: int
    ) -> list[tuple[Candidate, str, str]]:
        """The best claims as candidates, each with the sentences just before and after it in
        the episode (context for a model that refines them)."""
        sentences = turn_sentences(transcript)
        if not sentences:
            return []
        prepared = prepare(sentences, transcript.duration, self._static or _static_vectors())
        out = []
        for pick in best_spans(prepared, self.model, limit, self.threshold):
            a, b = pick.first, pick.last
            speaker = sentences[a].speaker
            candidate = Candidate(
                text=claim_text([s.text for s in sentences[a : b + 1]], speaker),
                quote=transcript.text[sentences[a].start : sentences[b].end],
                speaker=speaker,
                score=round(pick.probability, 4),
            )
            before = " ".join(s.text for s in sentences[max(a - CONTEXT_SENTENCES, 0) : a])
            after = " ".join(s.text for s in sentences[b + 1 : b + 1 + CONTEXT_SENTENCES])
            out.append((candidate, before, after))
        return out
