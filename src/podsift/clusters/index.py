"""Incremental clustering over a rolling window of insight vectors (numpy brute force).

A new insight joins the cluster of its best-matching window member when the pair is judged
the same story (`SameStoryModel` on cosine plus lexical signals, and the LLM judge on
borderline pairs when one is configured); otherwise it starts a cluster. Cosines for a batch
come from one matrix product, so 2,000 new insights against 100,000 take seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from podsift.backends.judge import StoryJudge
from podsift.clusters.signals import SameStoryModel, Signature, pair_features, signature

CANDIDATES_PER_INSIGHT = 8
# Two claims this close in meaning may be the two sides of one story (a near miss of the
# same-story model); below it they are only on one topic and are never joined.
DISPUTE_FLOOR = 0.35
BATCH = 256


@dataclass(frozen=True)
class Assignment:
    cluster_id: int
    joined: bool  # False: a new cluster was started
    via_judge: bool = False
    matched_index: int | None = None  # window position of the member it matched
    via_dispute: bool = False  # joined because it disagrees with a telling of that story


class ClusterIndex:
    def __init__(self, dimensions: int, model: SameStoryModel | None = None, capacity: int = 1024) -> None:
        self.model = model or SameStoryModel()
        self._vectors = np.zeros((max(capacity, 16), dimensions), dtype=np.float32)
        self.cluster_ids: list[int] = []
        self.texts: list[str] = []
        self._signatures: dict[int, Signature] = {}
        self.judged = 0

    def __len__(self) -> int:
        return len(self.cluster_ids)

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors[: len(self)]

    def _reserve(self, extra: int) -> None:
        needed = len(self) + extra
        if needed > len(self._vectors):
            grown = np.zeros((max(needed, len(self._vectors) * 2), self._vectors.shape[1]), dtype=np.float32)
            grown[: len(self)] = self.vectors
            self._vectors = grown

    def add(self, vector: np.ndarray, cluster_id: int, text: str) -> None:
        self.add_many(vector[None, :], [cluster_id], [text])

    def add_many(self, vectors: np.ndarray, cluster_ids: Sequence[int], texts: Sequence[str]) -> None:
        self._reserve(len(vectors))
        self._vectors[len(self) : len(self) + len(vectors)] = vectors
        self.cluster_ids.extend(cluster_ids)
        self.texts.extend(texts)

    def _signature(self, index: int) -> Signature:
        found = self._signatures.get(index)
        if found is None:
            found = self._signatures[index] = signature(self.texts[index])
        return found

    def assign(
        self,
        vectors: np.ndarray,
        texts: Sequence[str],
        new_cluster: Callable[[], int],
        judge: StoryJudge | None = None,
        disputes: Callable[[str, str, float], bool] | None = None,
    ) -> list[Assignment]:
        """Cluster each new insight in order (each one joins the window before the next).
        `disputes(a, b, cosine)`: does a disagree with b about the same thing? A claim that
        is no near enough copy of any story's telling, but disputes one, joins that story:
        its two sides are one story, not two."""
        out: list[Assignment] = []
        floor = self.model.threshold - self.model.band - self.model.max_bonus
        for start in range(0, len(vectors), BATCH):
            chunk = vectors[start : start + BATCH]
            base = len(self)
            window = chunk @ self.vectors.T if base else np.zeros((len(chunk), 0), dtype=np.float32)
            inner = chunk @ chunk.T
            for row in range(len(chunk)):
                cosines = np.concatenate([window[row], inner[row, :row]])
                text = texts[start + row]
                assignment = self._decide(cosines, text, floor, new_cluster, judge, disputes)
                self.add(chunk[row], assignment.cluster_id, text)
                out.append(assignment)
        return out

    def _decide(
        self,
        cosines: np.ndarray,
        text: str,
        floor: float,
        new_cluster: Callable[[], int],
        judge: StoryJudge | None,
        disputes: Callable[[str, str, float], bool] | None = None,
    ) -> Assignment:
        near = np.flatnonzero(cosines >= floor)
        if len(near) > CANDIDATES_PER_INSIGHT:
            near = near[np.argpartition(-cosines[near], CANDIDATES_PER_INSIGHT)[:CANDIDATES_PER_INSIGHT]]
        mine = signature(text)
        best: tuple[float, int] | None = None
        borderline: tuple[float, int] | None = None
        for index in near.tolist():
            features = pair_features(float(cosines[index]), mine, self._signature(index))
            value = self.model.score(features)
            if value >= self.model.threshold:
                if best is None or value > best[0]:
                    best = (value, index)
            elif value >= self.model.threshold - self.model.band and (
                borderline is None or value > borderline[0]
            ):
                borderline = (value, index)
        if best is not None:
            return Assignment(self.cluster_ids[best[1]], True, matched_index=best[1])
        if borderline is not None and judge is not None:
            self.judged += 1
            if judge.same_story(text, self.texts[borderline[1]]):
                return Assignment(self.cluster_ids[borderline[1]], True, True, borderline[1])
        if disputes is not None:
            for index in sorted(near.tolist(), key=lambda i: -cosines[i]):
                if cosines[index] >= DISPUTE_FLOOR and disputes(
                    text, self.texts[index], float(cosines[index])
                ):
                    return Assignment(self.cluster_ids[index], True, matched_index=index, via_dispute=True)
        return Assignment(new_cluster(), False)
