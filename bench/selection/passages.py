"""Passages to label: sentence windows as the extractor sees them, and where to find them.

A passage is one to five consecutive sentences of one speaker's turn (podsift's own
sentence splitter, `insights.passages.turn_sentences`). It is stored by anchor, never by
copy: the first words of its first sentence, the last words of its last, and the character
offset where it began when it was sampled; `locate` finds it again in the transcript.

    python bench/selection/passages.py sample   # writes passages.jsonl (seeded, reproducible)
"""

from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sources  # noqa: E402

from podsift.insights.passages import Sentence, turn_sentences  # noqa: E402
from podsift.types import Transcript  # noqa: E402

PASSAGES = HERE / "passages.jsonl"
BEGIN_WORDS, END_WORDS = 8, 6


@dataclass
class Anchor:
    begins: str  # the first words of the first sentence
    ends: str  # the last words of the last sentence
    at: int  # character offset of the first sentence when sampled (a hint)


@dataclass
class PassageRef:
    episode: str
    id: str  # "P07"
    origin: str  # "random" (a window drawn at random) or "extractor" (near a pick of the old extractor)
    first: int  # sentence numbers when sampled (0-based), for the labelling files
    last: int
    anchor: Anchor


def anchor_of(sentences: list[Sentence], first: int, last: int) -> Anchor:
    head = " ".join(sentences[first].text.split()[:BEGIN_WORDS])
    tail = " ".join(sentences[last].text.split()[-END_WORDS:])
    return Anchor(head, tail, sentences[first].start)


def locate(text: str, anchor: Anchor) -> tuple[int, int] | None:
    """Character span of an anchored passage: the occurrence of its first words nearest the
    hint, through the first occurrence of its last words after them. Anchors taken before
    the parser dropped Markdown blockquote marks ("> > It mostly went…") are found without
    them."""
    found = _locate(text, anchor)
    if found is None and (">" in anchor.begins or ">" in anchor.ends):
        found = _locate(text, Anchor(_unquoted(anchor.begins), _unquoted(anchor.ends), anchor.at))
    return found


def _unquoted(words: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"(?:^|(?<=\s))(?:>\s*)+", "", words)).strip()


def _locate(text: str, anchor: Anchor) -> tuple[int, int] | None:
    starts, at = [], text.find(anchor.begins)
    while at >= 0:
        starts.append(at)
        at = text.find(anchor.begins, at + 1)
    if not starts:
        return None
    start = min(starts, key=lambda s: abs(s - anchor.at))
    end = text.find(anchor.ends, start)
    return None if end < 0 else (start, end + len(anchor.ends))


def sentence_range(sentences: list[Sentence], span: tuple[int, int]) -> tuple[int, int] | None:
    """First and last sentence numbers that a character span covers."""
    inside = [i for i, s in enumerate(sentences) if s.end > span[0] and s.start < span[1]]
    return (inside[0], inside[-1]) if inside else None


def random_windows(sentences: list[Sentence], count: int, rng: random.Random) -> list[tuple[int, int]]:
    """`count` windows spread over the episode (one per equal stretch), each 2-5 sentences of
    one turn and 15-130 words, not overlapping."""
    out: list[tuple[int, int]] = []
    n = len(sentences)
    for k in range(count):
        lo, hi = k * n // count, (k + 1) * n // count
        for _ in range(40):
            i = rng.randrange(lo, max(hi, lo + 1))
            j = min(i + rng.choice((1, 2, 2, 3, 3, 4)), n - 1)
            while j > i and sentences[j].turn != sentences[i].turn:
                j -= 1
            words = sum(len(s.text.split()) for s in sentences[i : j + 1])
            while j > i and words > 130:
                words -= len(sentences[j].text.split())
                j -= 1
            if words < 15 or any(not (j < a or i > b) for a, b in out):
                continue
            out.append((i, j))
            break
    return sorted(out)


def extractor_windows(transcript: Transcript, sentences: list[Sentence], count: int) -> list[tuple[int, int]]:
    """The old extractor's best picks, widened by a sentence on each side within the turn:
    hard cases (tuning shows only)."""
    from podsift.insights.offline import OfflineExtractor
    from podsift.insights.registry import EpisodeInfo

    out = []
    for candidate in OfflineExtractor().extract(EpisodeInfo(show=None, title=None), transcript, count):
        at = transcript.text.find(candidate.quote)
        found = sentence_range(sentences, (at, at + len(candidate.quote))) if at >= 0 else None
        if found is None:
            continue
        i, j = found
        if i > 0 and sentences[i - 1].turn == sentences[i].turn:
            i -= 1
        if j + 1 < len(sentences) and sentences[j + 1].turn == sentences[j].turn and j - i < 4:
            j += 1
        out.append((i, j))
    return out


def per_episode(words: int, split: str) -> int:
    """More random windows on held-out shows: they carry the honest passage figures."""
    if split == "heldout":
        return max(10, min(26, words // 350))
    return max(8, min(22, words // 450))


def sample() -> list[PassageRef]:
    refs: list[PassageRef] = []
    for episode in sources.episodes():
        transcript = sources.load(episode)
        sentences = turn_sentences(transcript)
        rng = random.Random(f"podsift-selection/{episode.id}")
        windows = [
            (w, "random")
            for w in random_windows(sentences, per_episode(len(transcript.text.split()), episode.split), rng)
        ]
        if episode.split == "tune":
            taken = [w for w, _ in windows]
            for w in extractor_windows(transcript, sentences, 8):
                if all(w[1] < a or w[0] > b for a, b in taken):
                    windows.append((w, "extractor"))
                    taken.append(w)
        windows.sort()
        for k, ((i, j), origin) in enumerate(windows, 1):
            refs.append(PassageRef(episode.id, f"P{k:02d}", origin, i, j, anchor_of(sentences, i, j)))
    return refs


def load_refs() -> list[PassageRef]:
    rows = [json.loads(line) for line in PASSAGES.read_text().splitlines() if line.strip()]
    return [PassageRef(**{**row, "anchor": Anchor(**row["anchor"])}) for row in rows]


def main() -> None:
    if sys.argv[1:] == ["sample"]:
        refs = sample()
        PASSAGES.write_text("".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in refs))
        print(f"{len(refs)} passages from {len({r.episode for r in refs})} episodes -> {PASSAGES}")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
