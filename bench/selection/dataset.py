"""Labels joined to their transcripts: passages, claim spans and picks, as sentence numbers.

Every labelled passage is found again by its anchor in the episode as podsift splits it
today; its label becomes training examples for the selector: each candidate span inside the
passage (what the extractor would consider) is a positive when it is the labelled claim
span (or the candidate closest to it), ignored when it overlaps the claim by half or more,
and a negative otherwise; every candidate of a cut passage is a negative. A labeller's
"five you would send" adds positives from anywhere in the episode.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sources  # noqa: E402
from passages import Anchor, load_refs, locate, sentence_range  # noqa: E402

from podsift.backends.embeddings.static import packaged_static_vectors  # noqa: E402
from podsift.insights.passages import turn_sentences  # noqa: E402
from podsift.insights.selector.features import EpisodeSentences, candidate_spans, prepare  # noqa: E402
from podsift.types import Transcript  # noqa: E402

LABELS = HERE / "labels"


@dataclass
class Label:
    labeller: str
    label: str  # keep or cut
    reason: str | None
    kind: str | None
    span: tuple[int, int] | None  # claim span (sentence numbers), keeps only
    note: str = ""


@dataclass
class Passage:
    episode: str
    id: str
    origin: str
    first: int
    last: int
    labels: list[Label] = field(default_factory=list)
    final: Label | None = None  # the label used: adjudicated, else the primary labeller's


@dataclass
class Pick:
    episode: str
    labeller: str
    rank: int
    span: tuple[int, int]
    why: str


@dataclass
class EpisodeData:
    episode: sources.SourceEpisode
    prepared: EpisodeSentences
    passages: list[Passage]
    picks: list[Pick]


@cache
@cache
def transcript(episode_id: str) -> Transcript:
    return sources.load(next(e for e in sources.episodes() if e.id == episode_id))


@cache
def prepared(episode_id: str) -> EpisodeSentences:
    found = transcript(episode_id)
    return prepare(turn_sentences(found), found.duration, packaged_static_vectors())


def resolve(episode_id: str, anchor: dict) -> tuple[int, int] | None:
    """Sentence numbers of an anchored span in the episode as split today."""
    span = locate(transcript(episode_id).text, Anchor(**anchor))
    return sentence_range(prepared(episode_id).sentences, span) if span else None


def load(split: str | None = None) -> list[EpisodeData]:
    """Every labelled episode of the split, with its passages' labels and its picks."""
    refs = load_refs()
    episodes = {e.id: e for e in sources.episodes(split)}
    by_key: dict[tuple[str, str], Passage] = {}
    for ref in refs:
        if ref.episode in episodes:
            found = resolve(ref.episode, vars(ref.anchor))
            if found is None:
                raise SystemExit(f"passage {ref.episode} {ref.id} not found again by its anchor")
            by_key[(ref.episode, ref.id)] = Passage(ref.episode, ref.id, ref.origin, found[0], found[1])
    for row in _rows("passages.jsonl"):
        passage = by_key.get((row["episode"], row["passage"]))
        if passage is None:
            continue
        span = resolve(row["episode"], row["span"]) if row["span"] else None
        label = Label(row["labeller"], row["label"], row["reason"], row["kind"], span, row.get("note", ""))
        if row["labeller"].startswith("adjudication"):
            passage.final = label
        else:
            passage.labels.append(label)
    picks: dict[str, list[Pick]] = defaultdict(list)
    for row in _rows("top5.jsonl"):
        if row["episode"] in episodes:
            span = resolve(row["episode"], row["span"])
            if span:
                picks[row["episode"]].append(
                    Pick(row["episode"], row["labeller"], row["rank"], span, row["why"])
                )
    out = []
    for episode_id, episode in episodes.items():
        passages = [p for (e, _), p in by_key.items() if e == episode_id]
        for p in passages:
            if p.final is None and p.labels:
                primary = [x for x in p.labels if x.labeller.startswith("primary")]
                p.final = (primary or p.labels)[0]
        labelled = [p for p in passages if p.final is not None]
        if labelled or picks[episode_id]:
            out.append(EpisodeData(episode, prepared(episode_id), labelled, picks[episode_id]))
    return out


def _rows(name: str) -> list[dict]:
    out = []
    for path in (LABELS / name, LABELS / f"heldout-{name}"):
        if path.exists():
            out.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return out


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)
    union = max(a[1], b[1]) - min(a[0], b[0]) + 1
    return inter / union


@dataclass
class Example:
    episode: str
    show: str
    span: tuple[int, int]
    target: int
    source: str  # passage, pick or unlabelled


UNLABELLED_PER_EPISODE = 60  # candidates drawn from the rest of an episode, taken as not top-five


def examples(data: list[EpisodeData], seed: int = 0) -> list[Example]:
    """Candidate spans with targets. Positives: each labelled claim span and each of the
    labellers' five (as the candidate closest to it, overlapping it by half or more).
    Negatives: the candidates inside a cut passage, those inside a keep passage that miss its
    claim, and a sample of the episode's other candidates that touch no labelled claim: a
    reader who picked five from the whole episode did not pick them."""
    import random

    rng = random.Random(seed)
    out: list[Example] = []
    for ep in data:
        candidates = candidate_spans(ep.prepared)
        by_start: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for c in candidates:
            by_start[c[0]].append(c)
        show = ep.episode.id.split("/")[0]
        claims: list[tuple[int, int]] = []
        for p in ep.passages:
            inside = [c for i in range(p.first, p.last + 1) for c in by_start[i] if c[1] <= p.last]
            label = p.final
            assert label is not None
            if label.label == "cut" or label.span is None:
                out.extend(Example(ep.episode.id, show, c, 0, "passage") for c in inside)
                continue
            claims.append(label.span)
            best = max(inside, key=lambda c: iou(c, label.span), default=None)
            for c in inside:
                overlap = iou(c, label.span)
                if c == best and overlap >= 0.5:
                    out.append(Example(ep.episode.id, show, c, 1, "passage"))
                elif overlap < 0.5:
                    out.append(Example(ep.episode.id, show, c, 0, "passage"))
        for pick in ep.picks:
            claims.append(pick.span)
            near = [c for i in range(pick.span[0], pick.span[1] + 1) for c in by_start[i]]
            best = max(near, key=lambda c: iou(c, pick.span), default=None)
            if best is not None and iou(best, pick.span) >= 0.5:
                out.append(Example(ep.episode.id, show, best, 1, "pick"))
        labelled = [(p.first, p.last) for p in ep.passages]
        free = [
            c
            for c in candidates
            if not any(iou(c, k) > 0 for k in claims)
            and not any(c[0] >= k[0] and c[1] <= k[1] for k in labelled)
        ]
        for c in rng.sample(free, min(UNLABELLED_PER_EPISODE, len(free))):
            out.append(Example(ep.episode.id, show, c, 0, "unlabelled"))
    return out
