"""What a passage says and how it reads, for the offline extractor and the LLM's proposals:
sentences split from speaker turns (run-on ones cut), sponsor reads marked, a claim's text
written within 60 words with its speaker."""

from __future__ import annotations

import re
from dataclasses import dataclass

from podsift.insights.quality import ARTEFACT, SPONSOR
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
# A sponsor read's offer and call to action: where a read ends. Only words an ad says
# ("free trial", a URL, "use the code"), never ones a show says too ("code", "customers").
SPONSOR_TALK = re.compile(
    r"\b(?:sign(?:ing)? up|free trial|for free|(?:months?|weeks?) free|try (?:it|them)|get started|"
    r"learn more|check (?:it|them) out|visit|promo|(?:use|with) (?:the )?code|discount|special offer|"
    r"thanks to|sponsor\w*|\w+\.(?:com|fm|io|dev|ai|co)\b)",
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
    return _trimmed(text, spans)


def _trimmed(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans without their surrounding whitespace; empty ones dropped."""
    out = []
    for a, b in spans:
        raw = text[a:b]
        lead, body = len(raw) - len(raw.lstrip()), raw.strip()
        if body:
            out.append((a + lead, a + lead + len(body)))
    return out


LONG_SENTENCE = 50  # words: speech to text without punctuation runs on for pages


def _unrun(text: str, span: tuple[int, int], cues: list[int]) -> list[tuple[int, int]]:
    """A run-on "sentence" (speech to text that wrote no full stops) cut into pieces of about
    LONG_SENTENCE / 2 words: at cue starts where there are some, else after commas, else
    between words."""
    a, b = span
    if len(text[a:b].split()) <= LONG_SENTENCE:
        return [span]
    cuts = [c for c in cues if a < c < b] or [a + m.end() for m in re.finditer(r",(?= )", text[a:b])]
    atoms: list[tuple[int, int]] = []
    for s, e in zip([a, *cuts], [*cuts, b], strict=True):
        words = [m.start() + s for m in re.finditer(r"\S+", text[s:e])]
        step = LONG_SENTENCE // 2
        starts = [s, *words[step::step]] if len(words) > LONG_SENTENCE else [s]
        atoms.extend(zip(starts, [*starts[1:], e], strict=True))
    pieces: list[tuple[int, int]] = []
    for s, e in atoms:
        if pieces and len(text[pieces[-1][0] : e].split()) <= LONG_SENTENCE // 2:
            pieces[-1] = (pieces[-1][0], e)
        else:
            pieces.append((s, e))
    return _trimmed(text, pieces)


def turn_sentences(transcript: Transcript, split_run_ons: bool = True) -> list[Sentence]:
    """Sentences with offsets and times, never crossing a change of speaker; run-on
    "sentences" cut into pieces unless `split_run_ons` is off (as sentences were numbered
    for the first labelling tasks)."""
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
        cues = offsets[i + 1 : j + 1]
        spans = split_sentences(text, begin, finish)
        if split_run_ons:
            spans = [piece for span in spans for piece in _unrun(text, span, cues)]
        for a, b in spans:
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
    """A sponsor read runs from its trigger phrase ("brought to you by", "promo code") to its
    last sentence of offer talk (the call to action, the sponsor's name): whatever follows it
    is the show again, even when the same speaker goes straight on in the same turn. A zone
    closes at a change of speaker, a pause (an edit point), a return-from-break phrase ("All
    right, back to…"), SPONSOR_QUIET_RUN sentences in a row without offer talk, or
    SPONSOR_ZONE_MAX sentences. Turns of a non-speaker ("Break", "Jingles") are never the
    show's talk."""
    zone: list[Sentence] = []
    last_offer = -1  # index in zone of the last sentence with offer talk
    quiet = 0
    sponsors: list[str] = []  # names from "brought to you by Sentry": the read keeps saying them

    def close() -> None:
        nonlocal last_offer
        for sentence in zone[: last_offer + 1]:
            sentence.sponsor = True
        zone.clear()
        last_offer = -1

    for sentence in sentences:
        if sentence.speaker and NON_SPEAKERS.match(sentence.speaker.strip()):
            sentence.sponsor = True
        if named := SPONSOR_NAME.search(sentence.text):
            sponsors.append(named.group(1).rstrip(".,&-").lower())
        if SPONSOR.search(sentence.text):
            if zone and sentence.turn != zone[0].turn:
                close()
            zone.append(sentence)
            last_offer, quiet = len(zone) - 1, 0
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
        zone.append(sentence)
        if SPONSOR_TALK.search(sentence.text) or any(name in sentence.text.lower() for name in sponsors):
            last_offer, quiet = len(zone) - 1, 0
        else:
            quiet += 1
            if quiet >= SPONSOR_QUIET_RUN:
                close()
                quiet = 0
    close()


def content_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 2]


# A word said twice is a stutter ("the the"), unless the second is part of a compound
# ("pay pay-later firms") or the pair is grammar ("that that", "had had").
_STUTTER = re.compile(r"\b(\w+)(?:\s+\1\b(?![-'’]\w))+", re.I)
_GRAMMATICAL_PAIRS = frozenset({"that", "had", "is", "do"})


def _unstutter(match: re.Match[str]) -> str:
    return match.group(0) if match.group(1).lower() in _GRAMMATICAL_PAIRS else match.group(1)


def clean_disfluencies(text: str) -> str:
    """Readable text from spoken words: fillers, stutters and discourse markers removed;
    every other word kept, in order (hedges such as "kind of" change meaning: they stay)."""
    out = re.sub(r",?\s*\b(um+|uh+|erm|hmm+)\b[,.]?", "", text, flags=re.I)
    out = re.sub(r"(^|[.!?]\s+)(so|and|yeah|okay|well|like|you know|i mean)[,]?\s+", r"\1", out, flags=re.I)
    out = re.sub(r",\s*\b(you know|i mean)\b,|\s*\b(you know|i mean)\b,", "", out, flags=re.I)
    out = _STUTTER.sub(_unstutter, out)
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


def claim_text(sentences: list[str], speaker: str | None) -> str:
    """The reader's text for a claim span: its sentences in order, less true disfluencies,
    within TEXT_MAX_WORDS words, with the speaker's name."""
    cleaned = [drop_asides(clean_disfluencies(s)) for s in sentences]
    claim = _trim_words(" ".join(c for c in cleaned if c), TEXT_MAX_WORDS)
    claim = claim[:1].upper() + claim[1:]
    return f"{speaker}: {claim}" if speaker and is_name(speaker) else claim


def is_name(speaker: str) -> bool:
    """'Adam Jacob' is a name; 'SPEAKER_2', 'Speaker 1' and 'Break' are not."""
    return not re.match(
        r"^(speaker|spk|guest|host)[ _]?\d*$", speaker.strip(), re.I
    ) and not NON_SPEAKERS.match(speaker.strip())
