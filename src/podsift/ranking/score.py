"""The ranking formula, in one place, with weights a deployment may change.

For each eligible insight (one per story cluster), every feature lies in [0, 1]:

    relevance      best match to the subscriber's interests: embedding cosine to each interest
                   phrase, rescaled from [0.10, 0.45] to [0, 1], plus `exact_boost` when the phrase
                   itself appears in the insight's words (capped at 1)
    quality        the extractor's own score (importance, novelty, confidence when given)
    corroboration  how many distinct shows told the story: 1 show 0, 2 shows 0.5, 3+ shows 1
    dispute        1 when shows disagree on the story (clusters/disagree.py): news in itself,
                   so its weight beats full corroboration's
    recency        1 for just published, falling linearly to 0 at the look-back limit
    novelty        1 − the highest cosine to anything sent to this subscriber in the last
                   `novelty_days` (a new angle beats a rehash of last week's story)
    feedback       cosine to the closest 👍 insight minus cosine to the closest 👎 one
    boost          what the reader's instructions ask more of (a topic, show, person or kind;
                   ranking/steering.py), added to the static part; their mutes are filters

    score = show_weight × (relevance·w_r + quality·w_q + corroboration·w_c + dispute·w_d
                           + recency·w_t + novelty·w_n) + feedback·w_f

A subscriber with no interests has w_r = 0 and the other weights scaled to the same total, so
they get the strongest, most corroborated stories. The top N are then picked by maximal
marginal relevance: each next pick maximises score − diversity × (highest cosine to a pick
already made) − same_show × (picks already from its show) − same_episode × (picks already
from its episode); never two from one cluster. A second claim from one episode is chosen when
it beats the alternatives by more than the penalty: 0.25 is less than what full relevance
(0.40) adds, so a strong on-topic claim wins over a weak off-topic one.

`PODSIFT_RANKING_WEIGHTS="relevance=0.5,diversity=0.4"` overrides any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from podsift.settings import SettingsError


@dataclass(frozen=True)
class RankingWeights:
    relevance: float = 0.40
    quality: float = 0.20
    corroboration: float = 0.15
    dispute: float = 0.2
    recency: float = 0.10
    novelty: float = 0.15
    feedback: float = 0.20
    boost: float = 0.35  # what the reader asked for in their own words (steering.py)
    exact_boost: float = 0.3
    diversity: float = 0.30
    same_show: float = 0.05
    same_episode: float = 0.25

    @classmethod
    def parse(cls, spec: str) -> RankingWeights:
        weights = cls()
        names = {f.name for f in fields(cls)}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            name, _, raw = part.partition("=")
            if name.strip() not in names:
                raise SettingsError(
                    f"ranking_weights: unknown weight {name.strip()!r} (known: {', '.join(sorted(names))})"
                )
            try:
                weights = replace(weights, **{name.strip(): float(raw)})
            except ValueError as exc:
                raise SettingsError(f"ranking_weights: {part!r} is not name=number") from exc
        return weights

    def without_interests(self) -> RankingWeights:
        """Relevance's share spread over the rest, so totals stay comparable."""
        rest = self.quality + self.corroboration + self.dispute + self.recency + self.novelty
        scale = (rest + self.relevance) / rest if rest else 1.0
        return replace(
            self,
            relevance=0.0,
            quality=self.quality * scale,
            corroboration=self.corroboration * scale,
            dispute=self.dispute * scale,
            recency=self.recency * scale,
            novelty=self.novelty * scale,
        )


def corroboration(show_count: int) -> float:
    return min(1.0, max(show_count - 1, 0) / 2)


# A short interest ("rockets") and a sentence about a rocket launch meet at a cosine of
# about 0.3 with MiniLM; unrelated pairs sit near 0.0-0.15.
INTEREST_LOW, INTEREST_HIGH = 0.10, 0.45


def rescale_similarity(cosine: np.ndarray) -> np.ndarray:
    return np.clip((cosine - INTEREST_LOW) / (INTEREST_HIGH - INTEREST_LOW), 0.0, 1.0)
