"""The offline extractor: picks claim-bearing passages with no model at all.

A passage is one to four consecutive sentences of one speaker's turn. It scores for
carrying a claim (causal or contrastive structure, specifics such as numbers and names,
centrality to the episode's vocabulary) and loses for filler, questions, sponsor reads,
intros/outros and banter. The best non-overlapping passages become insights whose quote is
the passage verbatim and whose text is the same passage cleaned of disfluencies.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from podsift.backends import BackendSpec
from podsift.insights.registry import Candidate, EpisodeInfo, register
from podsift.transcripts.model import Transcript

_SENTENCE = re.compile(r"[^.!?…]+(?:[.!?…]+[\"'”’)]*|$)")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d,.]*%?")

CLAIM_MARKERS = re.compile(
    r"\b(because|which means|that means|means that|the reason|therefore|so that|as a result|"
    r"instead of|rather than|the key|the problem|the biggest|the real|what matters|turns out|"
    r"in fact|the truth is|the difference|the point is|the trick|the lesson|the risk|"
    r"will|won't|going to|should|must|need to|can't|cannot|never|always|every|"
    r"more than|less than|fewer|faster|cheaper|better|worse|most|least|"
    r"if you|unless|until|whereas|however|but)\b",
    re.I,
)
SPECIFICS = re.compile(
    r"\b\d[\d,.]*\s*(%|percent|x|times|million|billion|thousand|hours?|days?|years?|"
    r"dollars?|gb|tb|ms|seconds?)?\b|\$\d|\b(19|20)\d\d\b",
    re.I,
)
FILLER = re.compile(
    r"\b(um+|uh+|erm|hmm+|mm-?hm+|you know|i mean|kind of|sort of|like,|yeah|okay|oh|wow|"
    r"right\?|laughs|crosstalk)\b",
    re.I,
)
SPONSOR = re.compile(
    r"(brought to you by|sponsored by|our sponsor|this episode is sponsored|thanks to our sponsor|"
    r"promo code|use code|coupon|discount|free trial|sign up (?:at|today)|visit \S+\.(?:com|fm|io)|"
    r"\b\w+\.(?:com|fm|io|co)/\S*|support (?:for )?the show|patreon|our partners? at|"
    r"check (?:them|it) out at|head (?:over )?to \S+\.(?:com|fm|io))",
    re.I,
)
INTRO_OUTRO = re.compile(
    r"(welcome (?:back )?to|thanks for (?:listening|having me|coming on|joining)|great to be here|"
    r"good to (?:be here|see you|have you)|subscribe|rate (?:and|&) review|see you next time|"
    r"until next time|this is episode|i'm your host|my co-?host|joining me today|"
    r"how are you|how's it going|let's (?:get started|dive in|kick)|that's (?:all|it) for|"
    r"thank you (?:so much|very much)|appreciate (?:it|you)|before we (?:begin|start|get)|"
    r"on today's (?:show|episode)|in today's episode)",
    re.I,
)
DANGLING_START = re.compile(
    r"^[\"'“]?(that|this|it|it's|they|them|those|these|he|she|which|so|and|but|or|also|then|there|"
    r"because|yeah|right|exactly|same|student)\b",
    re.I,
)
# The first straight quote in the passage closes a quotation that began before it.
CLOSES_A_QUOTE = re.compile(r'^[^"]*[\w.,!?]"(\s|$)')
NON_SPEAKERS = re.compile(r"^(break|jingles?|music|ad|sponsor|intro|outro|narrator)$", re.I)
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "yeah",
        "like",
        "really",
        "think",
        "know",
        "going",
        "get",
        "got",
        "thing",
        "things",
        "lot",
        "kind",
        "sort",
        "mean",
        "actually",
        "also",
        "gonna",
        "wanna",
        "just",
        "well",
        "right",
        "okay",
        "one",
        "two",
        "people",
        "way",
        "even",
        "much",
        "something",
        "stuff",
        "said",
        "say",
        "says",
        "see",
        "go",
        "make",
        "want",
        "don't",
        "it's",
        "that's",
        "i'm",
        "you're",
        "we're",
        "they're",
        "there's",
        "can't",
        "didn't",
        "doesn't",
        "isn't",
        "i've",
        "you've",
        "we've",
        "i'd",
    ]
)
SPONSOR_ZONE_SENTENCES = 8


@dataclass
class _Sentence:
    start: int  # char offsets into transcript.text
    end: int
    text: str
    speaker: str | None
    turn: int
    sponsor: bool = False


def _turn_sentences(transcript: Transcript) -> list[_Sentence]:
    """Sentences with offsets, never crossing a change of speaker."""
    sentences: list[_Sentence] = []
    offsets = transcript.offsets()
    segments = transcript.segments
    text = transcript.text
    turn, i = 0, 0
    while i < len(segments):
        j = i
        while j + 1 < len(segments) and segments[j + 1].speaker == segments[i].speaker:
            j += 1
        begin, finish = offsets[i], offsets[j] + len(segments[j].text)
        for match in _SENTENCE.finditer(text, begin, finish):
            raw = match.group(0)
            lead = len(raw) - len(raw.lstrip())
            body = raw.strip()
            if body:
                s = match.start() + lead
                sentences.append(_Sentence(s, s + len(body), body, segments[i].speaker, turn))
        turn, i = turn + 1, j + 1
    _mark_sponsor_zones(sentences)
    return sentences


def _mark_sponsor_zones(sentences: list[_Sentence]) -> None:
    """A sponsor read runs on after its trigger phrase: mark the rest of that turn too."""
    zone_left, zone_turn = 0, -1
    for sentence in sentences:
        if SPONSOR.search(sentence.text):
            zone_left, zone_turn = SPONSOR_ZONE_SENTENCES, sentence.turn
        if zone_left and sentence.turn == zone_turn:
            sentence.sponsor = True
            zone_left -= 1
        else:
            zone_left = 0


def background_vocabulary(texts: list[str]) -> dict[str, float]:
    """Share of the given transcripts (a show's other episodes) that use each word."""
    if not texts:
        return {}
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(_content_words(text)))
    return {word: count / len(texts) for word, count in counts.items()}


def _content_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 2]


def clean_disfluencies(text: str) -> str:
    """Readable text from spoken words: fillers, stutters and false starts removed."""
    out = re.sub(r",?\s*\b(um+|uh+|erm|hmm+)\b[,.]?", "", text, flags=re.I)
    out = re.sub(
        r"(^|[.!?]\s+)(so|and|but|yeah|okay|well|like|you know|i mean)[,]?\s+", r"\1", out, flags=re.I
    )
    out = re.sub(r",?\s*\b(you know|i mean|kind of|sort of)\b,?", "", out, flags=re.I)
    out = re.sub(r"\b(\w+)(\s+\1\b)+", r"\1", out, flags=re.I)  # "the the" -> "the"
    out = re.sub(r"\s*(?:—|--|\.\.\.)\s*", " ", out)
    out = re.sub(r"\s+([,.!?])", r"\1", out)
    out = re.sub(r"\s{2,}", " ", out).strip(" ,")
    return re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), out)


class OfflineExtractor:
    name = "offline"
    uses_background = True  # the stage passes the show's usual vocabulary

    def __init__(self, min_words: int = 18, max_words: int = 80) -> None:
        self.min_words, self.max_words = min_words, max_words

    def extract(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]:
        sentences = _turn_sentences(transcript)
        if not sentences:
            return []
        idf = self._idf(sentences)
        duration = max(transcript.duration, 1.0)
        scored: list[tuple[float, int, int]] = []
        for i in range(len(sentences)):
            for j in range(i, min(i + 4, len(sentences))):
                if sentences[j].turn != sentences[i].turn:
                    break
                window = sentences[i : j + 1]
                words = sum(len(s.text.split()) for s in window)
                if words > self.max_words:
                    break
                if words >= self.min_words:
                    scored.append((self._score(window, idf, transcript, duration, episode), i, j))
        scored.sort(reverse=True)
        return self._select(scored, sentences, transcript, limit)

    @staticmethod
    def _idf(sentences: list[_Sentence]) -> dict[str, float]:
        df: Counter[str] = Counter()
        for s in sentences:
            df.update(set(_content_words(s.text)))
        n = len(sentences)
        return {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}

    def _score(
        self,
        window: list[_Sentence],
        idf: dict[str, float],
        transcript: Transcript,
        duration: float,
        episode: EpisodeInfo,
    ) -> float:
        text = " ".join(s.text for s in window)
        speaker = window[0].speaker or ""
        if any(s.sponsor for s in window) or NON_SPEAKERS.match(speaker.strip()):
            return -10.0
        words = text.split()
        n = len(words)
        content = _content_words(text)
        claims = len(CLAIM_MARKERS.findall(text))
        specifics = len(SPECIFICS.findall(text))
        # Capitalised words not at a sentence start: names, products, places.
        names = len(re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[A-Z]\w*)?\b", text)) - text.count(" I ")
        fillers = len(FILLER.findall(text))
        # Centrality: how much of the episode's distinctive vocabulary the passage carries,
        # with terms frequent across the episode (but not everywhere) weighing most.
        centrality = sum(min(idf.get(w, 0.0), 4.0) for w in set(content)) / max(len(set(content)), 1)
        density = len(content) / n
        # Distinctiveness: words this show says every week (its catchphrases, its recurring
        # segments) carry less news than words it rarely uses.
        distinct = 1.0
        if episode.background and content:
            distinct = sum(1.0 - episode.background.get(w, 0.0) for w in set(content)) / len(set(content))
        score = (
            0.9 * min(claims, 4)
            + 0.7 * min(specifics, 3)
            + 0.35 * min(max(names, 0), 4)
            + 1.5 * density
            + 0.25 * centrality
            - 0.8 * fillers / max(n / 20, 1)
        )
        if text.count('"') % 2 or text.count("“") != text.count("”") or CLOSES_A_QUOTE.match(text):
            score -= 1.5  # starts or ends inside someone's quotation: not self-contained
        if DANGLING_START.match(window[0].text):
            score -= 1.5  # "That will come before..." leans on what came before: not self-contained
        if score > 0:
            score *= 0.3 + distinct  # 1.3 for all-new words, 0.3 for the show's stock phrases
        if window[-1].text.rstrip().endswith("?"):
            score -= 2.5
        score -= 1.2 * sum(s.text.rstrip().endswith("?") for s in window[:-1])
        if INTRO_OUTRO.search(text):
            score -= 3.0
        start, _ = transcript.span_times(window[0].start, window[-1].end)
        if start < 0.03 * duration or start > 0.97 * duration:
            score -= 1.0  # openings and closings are mostly greetings and plugs
        if n < 25:
            score -= 0.5
        return score

    def _select(
        self,
        scored: list[tuple[float, int, int]],
        sentences: list[_Sentence],
        transcript: Transcript,
        limit: int,
    ) -> list[Candidate]:
        chosen: list[tuple[float, int, int]] = []
        chosen_words: list[set[str]] = []
        for score, i, j in scored:
            if len(chosen) >= limit or score <= 0:
                break
            if any(not (j < ci or i > cj) for _, ci, cj in chosen):
                continue  # overlaps a passage already taken
            words = set(_content_words(" ".join(s.text for s in sentences[i : j + 1])))
            if any(len(words & other) / max(len(words | other), 1) > 0.45 for other in chosen_words):
                continue  # says nearly the same as one already taken
            chosen.append((score, i, j))
            chosen_words.append(words)
        text = transcript.text
        top = max((s for s, _, _ in chosen), default=1.0)
        out = []
        for score, i, j in chosen:
            quote = text[sentences[i].start : sentences[j].end]
            speaker = sentences[i].speaker
            cleaned = clean_disfluencies(quote)
            out.append(
                Candidate(
                    text=f"{speaker}: {cleaned}" if speaker and _is_name(speaker) else cleaned,
                    quote=quote,
                    speaker=speaker,
                    score=round(max(0.0, min(1.0, score / top)), 4),
                )
            )
        return out


def _is_name(speaker: str) -> bool:
    """'Adam Jacob' is a name; 'SPEAKER_2', 'Speaker 1' and 'Break' are not."""
    return not re.match(
        r"^(speaker|spk|guest|host)[ _]?\d*$", speaker.strip(), re.I
    ) and not NON_SPEAKERS.match(speaker.strip())


@register("offline")
def _make_offline(spec: BackendSpec) -> OfflineExtractor:
    return OfflineExtractor(int(spec.number("min_words", 18)), int(spec.number("max_words", 80)))
