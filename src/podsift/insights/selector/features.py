"""What the selector sees of a candidate span, built from what it sees of each sentence.

Each sentence is described two ways:

- dense signals: how it opens (a lead-in, a word that points back, an answer to a question
  just asked), how it ends (cut off, followed by its own implication), what it carries
  (figures, names, causal words), whose voice it is in (first person, "you"), where it sits
  in its turn and the episode, and the quality floor's rules (sponsor, greeting, biography…)
  as flags;
- its mean static word vector (what it is about), from the packaged MiniLM's token table.

A candidate is a run of one to `MAX_SENTENCES` consecutive sentences of one speaker's turn
within `MAX_WORDS` words, described by its first sentence's opening signals, its last
sentence's ending signals, the mean of its sentences' content signals, its speaker's share of
the episode, and its mean static vector. (Hashed words were tried and dropped: they learned
the tuning shows' topics and scored worse on shows held out in cross-validation.) Sentence rows are computed once per
episode; spans combine them with prefix sums.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from podsift.backends.embeddings.static import StaticVectors
from podsift.insights.passages import (
    CLAIM_MARKERS,
    FILLER,
    HEDGE,
    OPENING_CONJUNCTION,
    SPECIFICS,
    TEXT_MAX_WORDS,
    Sentence,
    clean_disfluencies,
    drop_asides,
    is_name,
)
from podsift.insights.quality import (
    ARTEFACT,
    BIOGRAPHY,
    BOILERPLATE,
    CONVERSATION,
    GREETING,
    HOUSEKEEPING,
    LEAD_IN,
    PROMPT,
    SPONSOR,
    leans_back,
)

MAX_SENTENCES = 4
MAX_WORDS = TEXT_MAX_WORDS  # of the reader's text (the span less disfluencies): whole sentences fit
STATIC_DIMENSIONS = 384  # the packaged MiniLM's token vectors

_TOKEN = re.compile(r"[a-z][a-z'’]*|\d+")
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|myself)\b", re.I)
_WE = re.compile(r"\b(?:we|we're|we've|our|us)\b", re.I)
_YOU = re.compile(r"\b(?:you|you're|you've|your|yours)\b", re.I)
_HYPOTHETICAL = re.compile(
    r"\b(?:imagine|let's say|say you|suppose|what if|if you're|if you are|picture this|pretend)\b", re.I
)
_STORY = re.compile(
    r"\b(?:i was|we were|i remember|i went|we went|yesterday|last (?:week|night|year|month)|the other day|"
    r"one time|back when|when i was)\b",
    re.I,
)
_IMPLICATION = re.compile(
    r"^(?:(?:and|but)\s+)?(?:so\b|which means|that means|this means|meaning\b|therefore|as a result|"
    r"the result is|the upshot|that's why|which is why|the implication|in other words)",
    re.I,
)
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]+(?:[A-Z]\w*)?\b")
# Words that point at something said before: "it", "they", "this thing", "the same".
_POINTER = re.compile(
    r"\b(?:it|its|they|them|their|he|she|him|her|this|that|these|those|there|such|the same|the other|"
    r"the former|the latter|which)\b",
    re.I,
)
_TERMINAL = re.compile(r"[.!?…][\"'”’)]*$")

# Per-sentence signals (one column each), in this order.
SENTENCE_SIGNALS = (
    "words",
    "question",
    "terminal",
    "starts_lower",
    "leans_back",
    "lead_in",
    "opening_conjunction",
    "conversation",
    "implication",
    "claim_markers",
    "specifics",
    "names",
    "fillers",
    "hedge",
    "first_person",
    "we",
    "you",
    "hypothetical",
    "story",
    "prompt",
    "greeting",
    "biography",
    "sponsor_words",
    "housekeeping",
    "boilerplate",
    "artefact",
    "sponsor_zone",
    "pointers",
    "early_pointer",
    "text_words",
)
_COL = {name: k for k, name in enumerate(SENTENCE_SIGNALS)}
_FLAGS = (
    "prompt",
    "greeting",
    "biography",
    "sponsor_words",
    "housekeeping",
    "boilerplate",
    "artefact",
    "sponsor_zone",
)


def sentence_signals(sentence: Sentence) -> list[float]:
    text = sentence.text.strip()
    opening = LEAD_IN.sub("", text)
    return [
        len(text.split()),
        float(text.endswith("?")),
        float(bool(_TERMINAL.search(text))),
        float(text[:1].islower()),
        float(leans_back(text)),
        float(bool(LEAD_IN.match(text))),
        float(bool(OPENING_CONJUNCTION.match(text))),
        float(bool(CONVERSATION.match(opening))),
        float(bool(_IMPLICATION.match(text))),
        len(CLAIM_MARKERS.findall(text)),
        len(SPECIFICS.findall(text)),
        len(_NAME.findall(text)),
        len(FILLER.findall(text)),
        float(bool(HEDGE.search(text))),
        len(_FIRST_PERSON.findall(text)),
        len(_WE.findall(text)),
        len(_YOU.findall(text)),
        float(bool(_HYPOTHETICAL.search(text))),
        float(bool(_STORY.search(text))),
        float(bool(PROMPT.search(text))),
        float(bool(GREETING.search(text))),
        float(bool(BIOGRAPHY.search(text))),
        float(bool(SPONSOR.search(text))),
        float(bool(HOUSEKEEPING.search(text))),
        float(bool(BOILERPLATE.search(text))),
        float(bool(ARTEFACT.search(text)) or sentence.unusable),
        float(sentence.sponsor),
        len(_POINTER.findall(text)),
        _early_pointer(opening),
        len(drop_asides(clean_disfluencies(text)).split()),
    ]


_WORDS = re.compile(r"[A-Za-z'’]+")
_FILLER_OPENING = frozenset(
    [
        "so",
        "well",
        "yeah",
        "yes",
        "and",
        "but",
        "like",
        "i",
        "think",
        "mean",
        "you",
        "know",
        "okay",
        "oh",
        "um",
        "uh",
        "right",
    ]
)


def _early_pointer(opening: str) -> float:
    """How soon the sentence, past its fillers, says "it", "that", "they"…: 1.0 as its first
    word, fading to 0 by its eighth. A sentence that opens on a pointer leans on talk before it."""
    words = [w.lower() for w in _WORDS.findall(opening)[:12]]
    while words and words[0] in _FILLER_OPENING:
        words.pop(0)
    for k, word in enumerate(words[:8]):
        if _POINTER.fullmatch(word):
            return 1.0 - k / 8
    return 0.0


# Per-sentence features the model weighs: the sentence's own signals, where it sits, and
# what is around it (a question just before it, its own implication just after it).
SENTENCE_FEATURES = (
    "bias",
    "log_words",
    "short",
    "question",
    "unterminated",
    "starts_lower",
    "leans_back",
    "lead_in",
    "opening_conjunction",
    "conversation",
    "implication",
    "claim_markers",
    "specifics",
    "names",
    "fillers",
    "hedge",
    "first_person",
    "we",
    "you",
    "hypothetical",
    "story",
    "pointers",
    "early_pointer",
    *_FLAGS,
    "starts_turn",
    "ends_turn",
    "only_in_turn",
    "turn_sentences",
    "after_question",
    "after_other_speaker",
    "previous_claim_markers",
    "previous_pointers",
    "turn_questions",
    "rare_words",
    "next_implication",
    "next_leans_back",
    "next_question",
    "speaker_named",
    "no_speakers",
    "episode_position",
    "episode_edge",
    "centrality",
)


# A candidate span, in the model's eyes: how it opens (the first sentence's boundary
# signals), how it ends (the last one's), what it carries on average, and whose turn it is in.
SPAN_OPENING = (
    "early_pointer",
    "question",
    "starts_lower",
    "leans_back",
    "lead_in",
    "opening_conjunction",
    "conversation",
    "implication",
    "pointers",
    "starts_turn",
    "after_question",
    "after_other_speaker",
    "previous_claim_markers",
    "previous_pointers",
)
SPAN_ENDING = (
    "question",
    "unterminated",
    "ends_turn",
    "next_implication",
    "next_leans_back",
    "next_question",
)
SPAN_CONTENT = (
    "short",
    "rare_words",
    "question",
    "claim_markers",
    "specifics",
    "names",
    "fillers",
    "hedge",
    "first_person",
    "we",
    "you",
    "hypothetical",
    "story",
    "pointers",
    "leans_back",
    *_FLAGS,
    "centrality",
)
SPAN_PLACE = (
    "speaker_named",
    "no_speakers",
    "episode_position",
    "episode_edge",
    "turn_sentences",
    "turn_questions",
)
SPAN_FEATURES = (
    "bias",
    "log_words",
    "sentences",
    "one_sentence",
    *(f"opening_{name}" for name in SPAN_OPENING),
    *(f"ending_{name}" for name in SPAN_ENDING),
    *(f"mean_{name}" for name in SPAN_CONTENT),
    *SPAN_PLACE,
    "speaker_share",
    "top_speaker",
    "turn_words",
)


@dataclass
class EpisodeSentences:
    """An episode's sentences with everything spans are built from, computed once."""

    sentences: list[Sentence]
    signals: np.ndarray  # (n, len(SENTENCE_SIGNALS))
    cumulative: np.ndarray  # (n + 1, ...) prefix sums of signals
    turn_start: np.ndarray  # first sentence index of each sentence's turn
    turn_end: np.ndarray  # last sentence index of each sentence's turn
    centrality: np.ndarray  # per sentence: mean capped idf of its content words
    duration: float
    # Prefix sums of the sentences' static word vectors and token counts (None without them).
    static_cumulative: np.ndarray | None = None
    static_counts: np.ndarray | None = None
    rare_words: np.ndarray | None = None  # per sentence: words split into word pieces
    _rows: np.ndarray | None = None  # sentence_features, computed once

    @property
    def rows(self) -> np.ndarray:
        if self._rows is None:
            self._rows = sentence_features(self)
        return self._rows


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'"))


def prepare(
    sentences: list[Sentence], duration: float, static: StaticVectors | None = None
) -> EpisodeSentences:
    n = len(sentences)
    signals = np.array([sentence_signals(s) for s in sentences], dtype=np.float64).reshape(
        n, len(SENTENCE_SIGNALS)
    )
    cumulative = np.vstack([np.zeros((1, signals.shape[1])), np.cumsum(signals, axis=0)])
    tokens = [_tokens(s.text) for s in sentences]
    turn_start = np.zeros(n, dtype=np.int64)
    turn_end = np.zeros(n, dtype=np.int64)
    start = 0
    for i in range(1, n + 1):
        if i == n or sentences[i].turn != sentences[start].turn:
            turn_start[start:i], turn_end[start:i] = start, i - 1
            start = i
    df: dict[str, int] = {}
    for words in tokens:
        for word in set(words):
            df[word] = df.get(word, 0) + 1
    # Sorted: a set's order changes with the hash seed, and a float sum with its order.
    centrality = np.array(
        [
            np.mean([min(math.log((n + 1) / (df[w] + 0.5)), 4.0) for w in sorted(set(words))])
            if words
            else 0.0
            for words in tokens
        ]
    )
    static_cumulative = static_counts = rare = None
    if static is not None:
        sums, counts, rare = static.sums([s.text for s in sentences])
        static_cumulative = np.vstack([np.zeros((1, sums.shape[1])), np.cumsum(sums, axis=0)])
        static_counts = np.concatenate([[0.0], np.cumsum(counts)])
    return EpisodeSentences(
        sentences,
        signals,
        cumulative,
        turn_start,
        turn_end,
        centrality,
        duration,
        static_cumulative,
        static_counts,
        rare,
    )


def candidate_spans(episode: EpisodeSentences) -> list[tuple[int, int]]:
    """Every run of 1..MAX_SENTENCES sentences of one turn whose text, less disfluencies,
    fits in MAX_WORDS words: a text is whole sentences, never cut short."""
    out = []
    words = episode.signals[:, _COL["text_words"]] if len(episode.sentences) else np.zeros(0)
    for i in range(len(episode.sentences)):
        total = 0.0
        for j in range(i, min(i + MAX_SENTENCES, int(episode.turn_end[i]) + 1)):
            total += words[j]
            if total > MAX_WORDS:
                break
            out.append((i, j))
    return out


def _turn_share(episode: EpisodeSentences, values: np.ndarray) -> np.ndarray:
    """Per sentence: the mean of `values` over its turn (how much of the turn is questions)."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    length = episode.turn_end - episode.turn_start + 1
    return (cumulative[episode.turn_end + 1] - cumulative[episode.turn_start]) / length


def sentence_features(episode: EpisodeSentences) -> np.ndarray:
    """Dense features, one row per sentence, columns as SENTENCE_FEATURES."""
    n = len(episode.sentences)
    if not n:
        return np.zeros((0, len(SENTENCE_FEATURES)))
    sig = episode.signals
    col = lambda name: sig[:, _COL[name]]  # noqa: E731
    index = np.arange(n)
    words = np.maximum(col("words"), 1.0)
    prev = np.maximum(index - 1, 0)
    nxt = np.minimum(index + 1, n - 1)
    has_prev, has_next = index > 0, index < n - 1
    same_prev = has_prev & (episode.turn_start == episode.turn_start[prev])
    same_next = has_next & (episode.turn_end == episode.turn_end[nxt])
    names = np.array([is_name(s.speaker) if s.speaker else False for s in episode.sentences])
    no_speakers = float(all(s.speaker is None for s in episode.sentences))
    times = np.array([s.time for s in episode.sentences])
    position = times / max(episode.duration, 1.0)
    starts = index == episode.turn_start
    ends = index == episode.turn_end
    columns = [
        np.ones(n),
        np.log(words),
        (words < 6).astype(float),
        col("question"),
        1.0 - col("terminal"),
        col("starts_lower"),
        col("leans_back"),
        col("lead_in"),
        col("opening_conjunction"),
        col("conversation"),
        col("implication"),
        np.minimum(col("claim_markers"), 4) / 2,
        np.minimum(col("specifics"), 3),
        np.minimum(col("names"), 4) / 2,
        col("fillers") / words * 10,
        col("hedge"),
        col("first_person") / words * 10,
        col("we") / words * 10,
        col("you") / words * 10,
        col("hypothetical"),
        col("story"),
        np.minimum(col("pointers"), 4) / 2,
        col("early_pointer"),
        *(col(flag) for flag in _FLAGS),
        starts.astype(float),
        ends.astype(float),
        (starts & ends).astype(float),
        np.log1p(episode.turn_end - episode.turn_start + 1),
        (has_prev & (sig[prev, _COL["question"]] > 0)).astype(float),
        (starts & has_prev).astype(float),
        np.where(same_prev, np.minimum(sig[prev, _COL["claim_markers"]], 4) / 2, 0.0),
        np.where(same_prev, np.minimum(sig[prev, _COL["pointers"]], 4) / 2, 0.0),
        _turn_share(episode, col("question")),
        (episode.rare_words if episode.rare_words is not None else np.zeros(n)) / words * 10,
        np.where(same_next, sig[nxt, _COL["implication"]], 0.0),
        np.where(same_next, sig[nxt, _COL["leans_back"]], 0.0),
        np.where(has_next, sig[nxt, _COL["question"]], 0.0),
        names.astype(float),
        np.full(n, no_speakers),
        position,
        ((position < 0.03) | (position > 0.97)).astype(float),
        episode.centrality / 4,
    ]
    return np.column_stack(columns)


_SENTENCE_COL = {name: k for k, name in enumerate(SENTENCE_FEATURES)}


def _speaker_shares(episode: EpisodeSentences) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence: its speaker's share of the episode's words, and whether that speaker
    says the most (in an interview, the guest: where most claims are)."""
    totals: dict[str | None, float] = {}
    for s, words in zip(episode.sentences, episode.signals[:, _COL["words"]], strict=True):
        totals[s.speaker] = totals.get(s.speaker, 0.0) + float(words)
    whole = max(sum(totals.values()), 1.0)
    top = max(totals, key=lambda k: totals[k]) if totals else None
    share = np.array([totals[s.speaker] / whole for s in episode.sentences])
    return share, np.array([float(s.speaker == top) for s in episode.sentences])


def span_features(episode: EpisodeSentences, spans: list[tuple[int, int]]) -> np.ndarray:
    """Dense features, one row per span, columns as SPAN_FEATURES."""
    if not spans:
        return np.zeros((0, len(SPAN_FEATURES)))
    rows = episode.rows
    a = np.array([s[0] for s in spans])
    b = np.array([s[1] for s in spans])
    count = (b - a + 1).astype(float)
    cumulative = np.vstack([np.zeros((1, rows.shape[1])), np.cumsum(rows, axis=0)])
    mean = (cumulative[b + 1] - cumulative[a]) / count[:, None]
    words = episode.cumulative[b + 1, _COL["words"]] - episode.cumulative[a, _COL["words"]]
    share, top = _speaker_shares(episode)
    turn_words = (
        episode.cumulative[episode.turn_end + 1, _COL["words"]]
        - episode.cumulative[episode.turn_start, _COL["words"]]
    )
    col = _SENTENCE_COL
    return np.column_stack(
        [
            np.ones(len(spans)),
            np.log(np.maximum(words, 1.0)),
            count,
            (count == 1).astype(float),
            *(rows[a, col[name]] for name in SPAN_OPENING),
            *(rows[b, col[name]] for name in SPAN_ENDING),
            *(mean[:, col[name]] for name in SPAN_CONTENT),
            *(rows[a, col[name]] for name in SPAN_PLACE),
            share[a],
            top[a],
            np.log1p(turn_words[a]),
        ]
    )


def span_static(episode: EpisodeSentences, spans: list[tuple[int, int]]) -> np.ndarray:
    """Each span's mean static word vector, unit length."""
    if episode.static_cumulative is None or episode.static_counts is None:
        raise ValueError("the episode was prepared without static vectors")
    a = np.array([s[0] for s in spans])
    b = np.array([s[1] for s in spans]) + 1
    means = (episode.static_cumulative[b] - episode.static_cumulative[a]) / np.maximum(
        episode.static_counts[b] - episode.static_counts[a], 1.0
    )[:, None]
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)


_CHATTER = [_COL[name] for name in ("greeting", "housekeeping", "sponsor_words", "boilerplate")]


def glued_chatter(episode: EpisodeSentences, first: int, last: int) -> bool:
    """Does a span of several sentences hold a greeting, a sign-off, show housekeeping or an
    ad's words? Those are facts about the show, never part of a claim: the spans beside them
    are candidates of their own."""
    if first == last:
        return False
    return bool(episode.signals[first : last + 1, _CHATTER].any())


def in_sponsor_read(episode: EpisodeSentences, first: int, last: int) -> bool:
    """Does the span touch a sentence of a sponsor read (a fact, not a judgement)?"""
    return bool(episode.signals[first : last + 1, _COL["sponsor_zone"]].any())
