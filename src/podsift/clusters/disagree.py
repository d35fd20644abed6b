"""Shows that disagree: two tellings of one story whose claims conflict.

Two ways to see it offline. Figures as people say them (frames.py): "about $45 per kilowatt
hour" against "around seventy dollars a kilowatt hour", "in 2027" against "not before 2030",
"a third higher" against "half the cost": two frames of one quantity that do not overlap are a
disagreement, whatever else the two sentences say. Stance (stance.py): a classifier learned
from labelled pairs weighs denial, opposite words and judgements, corrections and refused
predictions with how alike the two claims are. With an LLM configured, the judge is asked only
about the pairs the classifier proposes (above PROPOSE, below its own threshold); it adds
disagreements, it never removes one the figures show. bench/disagreement.py measures all of
it on pairs held out by topic.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podsift.backends.embeddings import from_blob
from podsift.clusters.frames import agreeing
from podsift.clusters.pair_encoder import shipped_pair_encoder
from podsift.clusters.signals import story_text
from podsift.clusters.stance import (
    Side,
    StanceModel,
    detail,
    figure_clash,
    related,
    shipped_stance_model,
    side,
    stance_sign,
)
from podsift.net.links import listen_link
from podsift.sources.titles import episode_title
from podsift.store import Disagreement, Episode, Feed, Insight

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
PROPOSE = 0.25  # a pair the classifier gives this much goes to the LLM judge, where there is one


@dataclass(frozen=True)
class Conflict:
    method: str  # figures | stance | llm
    detail: str  # what conflicts, for readers: "$45 against around $70 per kWh"


def disagreement_probability(a: str, b: str, cosine: float, model: StanceModel | None = None) -> float:
    one, other = side(a), side(b)
    encoder = shipped_pair_encoder() if model is None else None
    if encoder is not None:
        return encoder.disagreement(one.text, other.text)
    return (model or shipped_stance_model()).probability(one, other, cosine)


def offline_conflict(a: str, b: str, cosine: float, model: StanceModel | None = None) -> Conflict | None:
    """The conflict between two claims that their figures or the pair encoder show (the
    stance classifier where the encoder or MiniLM is missing, or where `model` is given)."""
    return _verdict(side(a), side(b), cosine, model)[0]


def _verdict(
    one: Side, other: Side, cosine: float, model: StanceModel | None = None
) -> tuple[Conflict | None, float]:
    """The offline conflict, if any, and the classifier's probability (1 for clashing figures)."""
    clash = figure_clash(one, other)
    if clash:
        return Conflict("figures", f"{clash[0].shown} against {clash[1].shown}"), 1.0
    encoder = shipped_pair_encoder() if model is None else None
    if encoder is not None:
        if _figures_agree_without_sign(one, other, cosine):
            return None, 0.0
        probability = encoder.disagreement(one.text, other.text)
        # The hand-featured classifier still speaks where it is sure (its threshold was set
        # for precision 0.9): a plain "won't beat" against "now beat".
        stance = shipped_stance_model()
        if stance.probability(one, other, cosine) >= stance.threshold:
            probability = max(probability, encoder.threshold)
        threshold = encoder.threshold
    else:
        model = model or shipped_stance_model()
        probability, threshold = model.probability(one, other, cosine), model.threshold
    return (Conflict("stance", detail(one, other)) if probability >= threshold else None), probability


def _figures_agree_without_sign(one: Side, other: Side, cosine: float) -> bool:
    """The encoder reads "$60/kWh" and "about sixty dollars per kilowatt hour" as two figures;
    the frames know they are one. Where the figures agree, a dispute must be in the stance,
    and show a sign of it (a denial, opposite words or judgements, a correction, a refused
    prediction)."""
    return agreeing(one.frames, other.frames) and not stance_sign(one, other, cosine)


def _read_together(pairs: list[tuple[Side, Side, float]]) -> None:
    """The pairs the encoder will be asked about, read in batches first."""
    encoder = shipped_pair_encoder()
    if encoder is None or len(pairs) < 2:
        return
    encoder.prefetch(
        [
            (one.text, other.text)
            for one, other, cosine in pairs
            if figure_clash(one, other) is None and not _figures_agree_without_sign(one, other, cosine)
        ]
    )


def disputes_same_thing(a: str, b: str, cosine: float) -> bool:
    """For joining two stories: the claims conflict and are about one thing (their figures
    clash on one subject, or they share content words): merely sharing a topic is not
    enough."""
    one, other = side(a), side(b)
    if figure_clash(one, other) is not None:
        return True
    # Unrelated claims are never joined, so the encoder is not asked about them.
    return related(one, other) and _verdict(one, other, cosine)[0] is not None


class StanceJudge(Protocol):
    def stance(self, a: str, b: str) -> tuple[str, str] | None: ...


def judge_pair(judge: StanceJudge | None, a: str, b: str, cosine: float) -> Conflict | None:
    """The offline signs first; the model, when there is one, only for the pairs the
    classifier proposes and does not settle. It adds disagreements and never removes one
    the figures or the classifier show."""
    return _judge_sides(judge, a, b, side(a), side(b), cosine)


def _judge_sides(
    judge: StanceJudge | None, a: str, b: str, one: Side, other: Side, cosine: float
) -> Conflict | None:
    """`judge_pair` with the two claims' sides already read."""
    offline, probability = _verdict(one, other, cosine)
    if offline is not None or judge is None:
        return offline
    if probability < PROPOSE:
        return None
    answer = judge.stance(a, b)
    if answer is None or answer[0] != "disagree":
        return None
    return Conflict("llm", answer[1])


def file_disagreements(app: App, insight_ids: Collection[int], judge: StanceJudge | None = None) -> int:
    """Compare each newly filed insight with its story's tellings from other shows and
    record the pairs that conflict. Each pair is judged once: when its later member is filed."""
    if not insight_ids:
        return 0
    with app.session() as session:
        new = _tellings(session, Insight.id.in_(sorted(insight_ids)))
        clusters = sorted({row.cluster_id for row in new})
        members: dict[int, list[Any]] = defaultdict(list)
        for row in _tellings(session, Insight.cluster_id.in_(clusters)):
            members[row.cluster_id].append(row)
        known = {
            (first, second)
            for first, second in session.execute(
                sa.select(Disagreement.first_id, Disagreement.second_id).where(
                    Disagreement.cluster_id.in_(clusters)
                )
            )
        }
    asked: dict[tuple[int, int], tuple[Any, Any]] = {}
    for row in new:
        for other in members[row.cluster_id]:
            first, second = sorted((row, other), key=lambda r: r.id)
            pair = (first.id, second.id)
            if other.feed_id != row.feed_id and pair not in known:
                asked.setdefault(pair, (first, second))
    # Each telling is read once, however many pairs it is in.
    said = {row.id: _said(row) for pair in asked.values() for row in pair}
    sides = {ident: side(text) for ident, text in said.items()}
    judged = [(first, second, _cosine(first, second)) for first, second in asked.values()]
    _read_together([(sides[first.id], sides[second.id], cosine) for first, second, cosine in judged])
    found: list[Disagreement] = []
    for first, second, cosine in judged:
        conflict = _judge_sides(
            judge, said[first.id], said[second.id], sides[first.id], sides[second.id], cosine
        )
        if conflict is not None:
            found.append(
                Disagreement(
                    cluster_id=first.cluster_id,
                    first_id=first.id,
                    second_id=second.id,
                    method=conflict.method,
                    detail=conflict.detail,
                )
            )
    if not found:
        return 0
    with app.session() as session:
        session.add_all(found)
        try:
            session.commit()
        except IntegrityError:  # another process filed the same pair first
            session.rollback()
            return 0
    log.info("%d disagreement(s) between shows found", len(found))
    return len(found)


def _said(row: Any) -> str:
    return story_text(row.text, row.quote)


def _cosine(a: Any, b: Any) -> float:
    if a.embedding is None or b.embedding is None:
        return 0.0
    return float(np.dot(from_blob(a.embedding), from_blob(b.embedding)))


def _tellings(session: Session, where: sa.ColumnElement[bool]) -> list[Any]:
    return list(
        session.execute(
            sa.select(
                Insight.id,
                Insight.text,
                Insight.quote,
                Insight.embedding,
                Insight.cluster_id,
                Episode.feed_id,
            )
            .join(Episode, Episode.id == Insight.episode_id)
            .where(where, Insight.cluster_id.is_not(None))
            .order_by(Insight.id)
        ).all()
    )


def cluster_disputes(session: Session, cluster_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Each story's disagreements, both sides told as readers see them: speaker, show,
    episode, the claim, its quote and a listen link."""
    ids = sorted(cluster_ids)
    pairs: list[Any] = []
    for start in range(0, len(ids), 5000):
        pairs += session.execute(
            sa.select(
                Disagreement.cluster_id, Disagreement.first_id, Disagreement.second_id, Disagreement.detail
            )
            .where(Disagreement.cluster_id.in_(ids[start : start + 5000]))
            .order_by(Disagreement.id)
        ).all()
    wanted = sorted({i for p in pairs for i in (p.first_id, p.second_id)})
    sides: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), 5000):
        for row in session.execute(
            sa.select(
                Insight.id,
                Insight.text,
                Insight.quote,
                Insight.speaker,
                Insight.start_seconds,
                Episode.title,
                Episode.link,
                Episode.audio_url,
                Feed.title.label("show"),
            )
            .join(Episode, Episode.id == Insight.episode_id)
            .join(Feed, Feed.id == Episode.feed_id)
            .where(Insight.id.in_(wanted[start : start + 5000]))
        ):
            sides[row.id] = {
                "insight_id": row.id,
                "speaker": row.speaker,
                "show": row.show,
                "episode": episode_title(row.title, row.show),
                "text": row.text,
                "quote": row.quote,
                "link": listen_link(row.audio_url, row.link, row.start_seconds),
            }
    by_cluster: dict[int, list[Any]] = defaultdict(list)
    for p in pairs:
        if p.first_id in sides and p.second_id in sides:
            by_cluster[p.cluster_id].append(p)
    return {
        cluster: [
            {"detail": detail, "sides": [[sides[i] for i in camp] for camp in camps]}
            for detail, camps in camps_of(group)
        ]
        for cluster, group in by_cluster.items()
    }


def camps_of(pairs: list[Any]) -> list[tuple[str, list[list[int]]]]:
    """Disagreeing pairs as camps: A and C both disagreeing with B read as "A, C against B",
    not as two disputes. Each connected group of pairs is split in two by alternating sides;
    a group that cannot be split so (A against B against C against A) is left as pairs."""
    links: dict[int, set[int]] = defaultdict(set)
    for p in pairs:
        links[p.first_id].add(p.second_id)
        links[p.second_id].add(p.first_id)
    side: dict[int, int] = {}
    out: list[tuple[str, list[list[int]]]] = []
    for p in pairs:
        if p.first_id in side:
            continue
        group, queue, split = [p.first_id], [p.first_id], True
        side[p.first_id] = 0
        while queue:
            here = queue.pop()
            for there in sorted(links[here]):
                if there not in side:
                    side[there] = 1 - side[here]
                    group.append(there)
                    queue.append(there)
                elif side[there] == side[here]:
                    split = False
        inside = [q for q in pairs if q.first_id in group]
        if not split:
            out += [(q.detail, [[q.first_id], [q.second_id]]) for q in inside]
            continue
        camps = [sorted(i for i in group if side[i] == k) for k in (0, 1)]
        out.append((inside[0].detail, camps))
    return out
