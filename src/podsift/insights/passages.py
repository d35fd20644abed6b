"""What a passage says and how it reads, for the offline extractor and the LLM's proposals:
sentences split from speaker turns, sponsor reads marked, the claim inside a passage found
and written within 60 words with its speaker."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from podsift.insights.quality import ARTEFACT, LEAD_IN, SPONSOR, leans_back
from podsift.types import Transcript

# A sentence ends at . ! ? … (with closing quotes) followed by a space or the end: "2.0",
# "1.5 billion" and "Node.js" stay whole.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)]*(?=\s|$)")
_ABBREVIATION = re.compile(
    r"(?:\b(?:mr|mrs|ms|dr|st|vs|etc|inc|jr|sr|prof|approx|no)|\b[A-Z]|e\.g|i\.e)$", re.I
)
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
# The end of a sponsor read: "Now, back to…", "Anyway…", "Okay, so…".
BACK_FROM_BREAK = re.compile(
    r"^(?:now,? )?(?:back to|and we're back|welcome back|anyway|all right|alright|okay,? so|so,? back|"
    r"let's get back|returning to|where were we)\b",
    re.I,
)
# Words that keep a sponsor read going: its offer and its call to action.
SPONSOR_TALK = re.compile(
    r"\b(?:sign up|free|try|trial|visit|code|offer|today|plans?|pricing|customers|teams|"
    r"get started|check (?:it|them) out|learn more|thanks to|sponsor\w*|partner\w*|courses?|you'll (?:learn|build|get|"
    r"find|love)|our (?:newest|latest)|\w+\.(?:com|fm|io|dev|ai))\b",
    re.I,
)
OPENING_CONJUNCTION = re.compile(r"^(?:and|so|or|well|now|like|actually)\b", re.I)
HEDGE = re.compile(
    r"\bi don't know (?:how to say|if|whether)|\bhow to (?:say|put) (?:this|it)\b|\bsomething like that\b|"
    r"\bor whatever\b|\band stuff(?: like that)?\b|\bif that makes sense\b",
    re.I,
)
SPONSOR_NAME = re.compile(
    r"(?:brought to you by|sponsored by|thanks to our sponsor,?)\s+(?:the (?:folks|people) at\s+)?([A-Z][\w.&-]+)"
)
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
SPONSOR_ZONE_MAX = 16  # sentences; a read that runs longer than this is rare
SPONSOR_QUIET_RUN = 4  # sentences in a row without offer talk: the read is over
PAUSE_SECONDS = 1.5  # a gap in the audio this long ends a read (an edit point)
TEXT_MAX_WORDS = 60


@dataclass
class Sentence:
    start: int  # char offsets into transcript.text
    end: int
    text: str
    speaker: str | None
    turn: int
    time: float = 0.0  # start second of its first segment
    gap_before: float = 0.0  # silence before it, when it begins a segment
    sponsor: bool = False
    unusable: bool = False  # carries a transcript artefact: never part of a quote


def split_sentences(text: str, begin: int, finish: int) -> list[tuple[int, int]]:
    """Character spans of the sentences in text[begin:finish]."""
    spans: list[tuple[int, int]] = []
    start = begin
    for match in _SENTENCE_END.finditer(text, begin, finish):
        before = text[start : match.start()]
        if match.group(0).startswith(".") and _ABBREVIATION.search(before[-6:]):
            continue  # "Dr. Smith", "e.g. this", "J. R."
        spans.append((start, match.end()))
        start = match.end()
    if start < finish:
        spans.append((start, finish))
    out = []
    for a, b in spans:
        raw = text[a:b]
        lead, body = len(raw) - len(raw.lstrip()), raw.strip()
        if body:
            out.append((a + lead, a + lead + len(body)))
    return out


def turn_sentences(transcript: Transcript) -> list[Sentence]:
    """Sentences with offsets and times, never crossing a change of speaker."""
    sentences: list[Sentence] = []
    offsets = transcript.offsets()
    segments = transcript.segments
    text = transcript.text
    turn, i = 0, 0
    while i < len(segments):
        j = i
        while j + 1 < len(segments) and segments[j + 1].speaker == segments[i].speaker:
            j += 1
        begin, finish = offsets[i], offsets[j] + len(segments[j].text)
        k = i
        for a, b in split_sentences(text, begin, finish):
            gap = 0.0
            while k < j and offsets[k + 1] <= a:
                k += 1
                if offsets[k] == a:
                    gap = segments[k].start - segments[k - 1].end
            body = text[a:b]
            sentences.append(
                Sentence(
                    a,
                    b,
                    body,
                    segments[i].speaker,
                    turn,
                    segments[k].start,
                    gap,
                    False,
                    bool(ARTEFACT.search(body)),
                )
            )
        turn, i = turn + 1, j + 1
    mark_sponsor_zones(sentences)
    return sentences


def mark_sponsor_zones(sentences: list[Sentence]) -> None:
    """A sponsor read runs from its trigger phrase ("brought to you by") to where the read
    ends: a change of speaker, a pause (an edit point), a return-from-break phrase ("All
    right, let's talk about…"), or a run of SPONSOR_QUIET_RUN sentences without the read's
    offer talk. Whatever way it ends, a trailing run of two or more sentences with no offer
    talk is the show again, not the read: a read ends on its call to action."""
    zone: list[Sentence] = []
    quiet = 0
    sponsors: list[str] = []  # names from "brought to you by Sentry": the read keeps saying them

    def close() -> None:
        trailing = quiet if quiet >= 2 else 0
        for sentence in zone[: len(zone) - trailing]:
            sentence.sponsor = True
        zone.clear()

    for sentence in sentences:
        if named := SPONSOR_NAME.search(sentence.text):
            sponsors.append(named.group(1).rstrip(".,&-").lower())
        if SPONSOR.search(sentence.text):
            if zone and sentence.turn != zone[0].turn:
                close()
            zone.append(sentence)
            quiet = 0
            continue
        if not zone:
            continue
        if (
            sentence.turn != zone[0].turn
            or sentence.gap_before >= PAUSE_SECONDS
            or BACK_FROM_BREAK.match(sentence.text)
            or len(zone) >= SPONSOR_ZONE_MAX
        ):
            close()
            quiet = 0
            continue
        offer = SPONSOR_TALK.search(sentence.text) or any(name in sentence.text.lower() for name in sponsors)
        quiet = 0 if offer else quiet + 1
        zone.append(sentence)
        if quiet >= SPONSOR_QUIET_RUN:
            close()
            quiet = 0
    close()


def background_vocabulary(texts: list[str]) -> dict[str, float]:
    """Share of the given transcripts (a show's other episodes) that use each word."""
    if not texts:
        return {}
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(content_words(text)))
    return {word: count / len(texts) for word, count in counts.items()}


def content_words(text: str) -> list[str]:
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


def drop_asides(text: str) -> str:
    """Asides a reader can skip: "(…)", " - roughly every night - ", ", basically,"."""
    out = re.sub(r"\s*\([^)]{0,80}\)", "", text)
    out = re.sub(r"\s+[-–—]\s+[^-–—.!?]{1,60}?\s+[-–—]\s+", " ", out)
    out = re.sub(r",?\s*\b(basically|actually|literally|honestly|obviously|like)\b,", ",", out, flags=re.I)
    out = re.sub(r"^,\s*|(?<=[.!?])\s*,", "", out)
    return re.sub(r"\s*,\s*,", ",", out)


def _trim_words(text: str, limit: int) -> str:
    """At most `limit` words, cut at the last clause boundary that fits."""
    words = text.split()
    if len(words) <= limit:
        return text
    head = " ".join(words[:limit])
    cut = max(head.rfind(","), head.rfind(";"), head.rfind(":"))
    if cut > len(head) // 2:
        head = head[:cut]
    return head.rstrip(" ,;:") + "…"


def _sentence_value(text: str) -> float:
    return (
        len(CLAIM_MARKERS.findall(text))
        + 1.2 * min(len(SPECIFICS.findall(text)), 3)
        - (3.0 if text.rstrip().endswith("?") else 0.0)
        - (1.0 if len(text.split()) < 6 else 0.0)
        - (1.0 if not re.search(r"[.!?…][\"'”’)]*$", text.rstrip()) else 0.0)  # cut off mid-sentence
        - (2.0 if HEDGE.search(text) else 0.0)  # "I don't know how to say this exactly."
    )


def claim_span(sentences: list[str]) -> tuple[int, int]:
    """The passage's strongest one or two sentences (never one that leans on a sentence
    left out, never a second that adds nothing), within TEXT_MAX_WORDS words."""
    cleaned = [drop_asides(clean_disfluencies(LEAD_IN.sub("", s))) for s in sentences]
    total = sum(len(s.split()) for s in cleaned)
    best: tuple[float, int, int] | None = None
    for a in range(len(cleaned)):
        if a and any(_sentence_value(s) > 0.5 for s in cleaned[:a]):
            break  # start later only past set-up (a question, a short lead-in), never mid-thought
        if a and leans_back(sentences[a]):
            continue
        for b in range(a, min(a + 2, len(cleaned))):
            words = sum(len(s.split()) for s in cleaned[a : b + 1])
            if b > a and (words > TEXT_MAX_WORDS or _sentence_value(cleaned[b]) <= 0.5):
                break  # a second sentence only when it adds to the claim
            value = sum(_sentence_value(s) for s in cleaned[a : b + 1]) - 0.02 * max(words - 45, 0)
            if words < min(12, total):
                value -= 2.0  # "Audio Boom." is not a claim
            if best is None or value > best[0]:
                best = (value, a, b)
    return (best[1], best[2]) if best else (0, len(cleaned) - 1)


def insight_text(sentences: list[str], speaker: str | None) -> str:
    """The reader's text for a passage: its claim span, cleaned, within TEXT_MAX_WORDS
    words, with the speaker's name."""
    a, b = claim_span(sentences)
    cleaned = [drop_asides(clean_disfluencies(LEAD_IN.sub("", s))) for s in sentences[a : b + 1]]
    claim = _trim_words(" ".join(cleaned), TEXT_MAX_WORDS)
    claim = claim[:1].upper() + claim[1:]
    return f"{speaker}: {claim}" if speaker and is_name(speaker) else claim


def is_name(speaker: str) -> bool:
    """'Adam Jacob' is a name; 'SPEAKER_2', 'Speaker 1' and 'Break' are not."""
    return not re.match(
        r"^(speaker|spk|guest|host)[ _]?\d*$", speaker.strip(), re.I
    ) and not NON_SPEAKERS.match(speaker.strip())
