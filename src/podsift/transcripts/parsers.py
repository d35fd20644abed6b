"""Parse publisher transcripts (WebVTT, SRT, Podcasting 2.0 JSON, HTML, plain text).

Every parser returns a `Transcript` of timed segments. Real files are messy: BOMs, CRLF,
cue times without hours (or even without minutes), speakers given as voice tags, as
"Name:" prefixes only at a change of speaker, or as Markdown bold; JSON at word level with
separate whitespace tokens. The parsers tolerate all of these and raise
`TranscriptParseError` only when nothing usable is left.
"""

from __future__ import annotations

import html
import json
import math
import re
from html.parser import HTMLParser

import srt

from podsift.types import Segment, Transcript, clean_text


class TranscriptParseError(ValueError):
    pass


FORMATS = ("vtt", "srt", "json", "html", "text")

_TIMING = re.compile(r"^\s*([\d:.,]+)\s*-->\s*([\d:.,]+)")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d[\d:.]*>")
# "Travis:" / "Speaker 1:" / "Dr. Jane Doe:" at the start of a cue, at most four words.
_NAME_PREFIX = re.compile(r"^((?:[A-Z][\w'.-]*|\d+)(?: (?:[A-Z][\w'.-]*|\d+)){0,3}):\s+(?=\S)")
_MD_SPEAKER = re.compile(r"^\*\*([^*]{1,60}?):?\*\*:?\s*")
_LINE_STAMP = re.compile(r"^\s*\[?(\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\]?\s+")
_INLINE_STAMP = re.compile(r"\\?\[(\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\\?\]")
_ANNOTATION = re.compile(r"\\?\[[^\]\d][^\]]{0,40}\\?\]")
# "> quoted words": a Markdown blockquote (a news show reading a post aloud) reads as its words.
_MD_QUOTE = re.compile(r"^(?:>\s*)+")
# "[northern lights](https://…)": a Markdown link reads as its words.
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\((?:https?://|/|#)[^)\s]*\)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“A-Z0-9])")
WORDS_PER_SECOND = 2.6  # ~155 wpm, typical conversational speech


def parse_timestamp(value: str) -> float:
    """'01:02:03.400', '02:03,4', '3.48' -> seconds."""
    parts = value.strip().replace(",", ".").split(":")
    try:
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError as exc:
        raise TranscriptParseError(f"bad timestamp {value!r}") from exc
    return seconds


def detect_format(data: str, content_type: str | None = None, url: str | None = None) -> str:
    ctype = (content_type or "").lower()
    path = (url or "").lower().split("?", 1)[0]
    head = data.lstrip("\ufeff \r\n\t")[:2000]
    if "vtt" in ctype or path.endswith(".vtt") or head.startswith("WEBVTT"):
        return "vtt"
    if "srt" in ctype or "subrip" in ctype or path.endswith(".srt"):
        return "srt"
    if "json" in ctype or path.endswith(".json") or head.startswith("{"):
        return "json"
    if "html" in ctype or path.endswith((".html", ".htm")) or re.search(r"<(cite|p|html|body)\b", head, re.I):
        return "html"
    if re.match(r"\d+\s*\n\s*[\d:,]+\s*-->", head):
        return "srt"
    return "text"


def parse_transcript(
    data: bytes | str, content_type: str | None = None, url: str | None = None
) -> Transcript:
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    fmt = detect_format(text, content_type, url)
    try:
        transcript = PARSERS[fmt](text)
    except TranscriptParseError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        # Publisher files are untrusted: whatever a parser chokes on is this file's problem.
        raise TranscriptParseError(
            f"unreadable {fmt} transcript: {type(exc).__name__}: {exc}"[:300]
        ) from None
    transcript.segments = sane_segments(transcript.segments)
    transcript.source_url = url
    if not transcript.segments:
        raise TranscriptParseError(f"{fmt} transcript has no text")
    return transcript


MAX_SECONDS = 7 * 24 * 3600.0  # no episode is longer than a week


def sane_segments(segments: list[Segment]) -> list[Segment]:
    """Times made usable: non-finite or absurd ones dropped, negatives clamped to 0, an end
    before its start set to the start, segments in time order (stable for equal starts)."""
    out = []
    for seg in segments:
        start, end = seg.start, seg.end
        if not (math.isfinite(start) and math.isfinite(end)) or start > MAX_SECONDS or not seg.text.strip():
            continue
        start = max(0.0, start)
        end = min(max(start, end), MAX_SECONDS)
        out.append(
            seg if (start, end) == (seg.start, seg.end) else Segment(start, end, seg.text, seg.speaker)
        )
    return sorted(out, key=lambda s: s.start)


def _split_speaker(text: str, speaker: str | None) -> tuple[str, str | None]:
    """Pull a leading voice tag or 'Name:' prefix off a cue; else keep the running speaker."""
    if voice := _VOICE.search(text):
        speaker = clean_text(voice.group(1))
    text = clean_text(html.unescape(_TAG.sub("", text)))
    if match := _NAME_PREFIX.match(text):
        speaker, text = match.group(1), text[match.end() :]
    return text, speaker


def parse_cues(text: str, fmt: str = "vtt") -> Transcript:
    """WebVTT (or SRT-shaped) cue blocks, tolerant of non-standard timings."""
    segments: list[Segment] = []
    speaker: str | None = None
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip("\n").split("\n")
        timing_at = next((i for i, line in enumerate(lines) if _TIMING.match(line)), None)
        if timing_at is None:
            continue  # header, NOTE, STYLE, REGION blocks
        match = _TIMING.match(lines[timing_at])
        assert match is not None
        body, speaker = _split_speaker(" ".join(lines[timing_at + 1 :]), speaker)
        if body:
            start, end = parse_timestamp(match.group(1)), parse_timestamp(match.group(2))
            segments.append(Segment(start, max(end, start), body, speaker))
    return Transcript(segments, format=fmt)


def parse_vtt(text: str) -> Transcript:
    return parse_cues(text, "vtt")


def parse_srt(text: str) -> Transcript:
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError:
        return parse_cues(text, "srt")  # the srt library is strict; fall back to cue blocks
    segments: list[Segment] = []
    speaker: str | None = None
    for sub in subtitles:
        body, speaker = _split_speaker(sub.content.replace("\n", " "), speaker)
        if body:
            segments.append(Segment(sub.start.total_seconds(), sub.end.total_seconds(), body, speaker))
    return Transcript(segments, format="srt")


def parse_json(text: str) -> Transcript:
    """Podcasting 2.0 JSON; word-level tokens are merged into phrases."""
    try:
        data = json.loads(text)
        raw = data["segments"] if isinstance(data, dict) else data
        tokens = [
            (
                float(s["startTime"]),
                float(s.get("endTime", s["startTime"])),
                str(s.get("body", "")),
                s.get("speaker"),
            )
            for s in raw
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise TranscriptParseError(f"not a Podcasting 2.0 JSON transcript: {exc}") from exc
    explicit_spaces = any(body and not body.strip() for _, _, body, _ in tokens)
    segments: list[Segment] = []
    parts: list[str] = []
    start = end = 0.0
    speaker: str | None = None

    def flush() -> None:
        body = clean_text("".join(parts))
        if body:
            segments.append(Segment(start, max(end, start), body, speaker))
        parts.clear()

    for t_start, t_end, body, t_speaker in tokens:
        if parts and (t_speaker != speaker or t_start - end > 2.0):
            flush()
        if not parts:
            if not body.strip():
                continue
            start, speaker = t_start, t_speaker
        joins_tight = explicit_spaces or not body.strip() or re.fullmatch(r"[^\w\s]+", body)
        parts.append(body if joins_tight or not parts else " " + body)
        end = max(end, t_end)
        words = sum(1 for p in parts if p.strip())
        if re.search(r"[.!?]$", body.strip()) and (words > 25 or len(body.split()) > 3):
            flush()
    flush()
    return Transcript(segments, format="json")


class _HTMLTranscript(HTMLParser):
    """<cite>Name:</cite> <time>0:30</time> <p>text</p> fragments, wrapper or not."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[tuple[float | None, str | None, str]] = []
        self._speaker: str | None = None
        self._time: float | None = None
        self._field: str | None = None
        self._buffer: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in ("cite", "time", "p"):
            self._field, self._buffer = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag == self._field:
            value = clean_text("".join(self._buffer))
            if tag == "cite":
                self._speaker = value.rstrip(":").strip() or None
            elif tag == "time":
                try:
                    self._time = parse_timestamp(value)
                except TranscriptParseError:
                    self._time = None
            elif value:
                self.entries.append((self._time, self._speaker, value))
                self._time = None
            self._field = None

    def handle_data(self, data: str) -> None:
        if self._field and not self._skip:
            self._buffer.append(data)


def parse_html(text: str) -> Transcript:
    parser = _HTMLTranscript()
    parser.feed(text)
    parser.close()
    return _timed_pieces(parser.entries, "html")


def parse_text(text: str) -> Transcript:
    """Plain text or Markdown: leading or inline stamps, voice tags, 'Name:' turns."""
    pieces: list[tuple[float | None, str | None, str]] = []
    speaker: str | None = None
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#") or line == "WEBVTT":
            continue
        stamp: float | None = None
        if match := _LINE_STAMP.match(line):
            stamp, line = parse_timestamp(match.group(1)), line[match.end() :]
        if match := _MD_SPEAKER.match(line):
            speaker, line = clean_text(match.group(1)), line[match.end() :]
        line = _MD_QUOTE.sub("", line)
        if not line:
            continue
        line = _MD_LINK.sub(r"\1", line.replace("\\*", "*").replace("\\_", "_"))
        # Inline stamps split a paragraph: text before belongs to the earlier time.
        chunks = _INLINE_STAMP.split(line)
        for i, chunk in enumerate(chunks):
            if i % 2 == 1:
                stamp = parse_timestamp(chunk)
                continue
            chunk = _ANNOTATION.sub("", chunk).replace("\\[", "[").replace("\\]", "]")
            body, speaker = _split_speaker(chunk, speaker)
            if body:
                pieces.append((stamp, speaker, body))
                stamp = None
    return _timed_pieces(pieces, "text")


def _sentence_chunks(text: str, max_words: int = 40) -> list[str]:
    """Split a long paragraph at sentence ends into chunks of about max_words."""
    chunks: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= max_words:
            chunks.append(" ".join(current))
            current = []
    if current:
        chunks.append(" ".join(current))
    return chunks


def _timed_pieces(pieces: list[tuple[float | None, str | None, str]], fmt: str) -> Transcript:
    """Turn (known start or None, speaker, text) pieces into segments, interpolating
    missing times by word count between known stamps (or at speaking pace)."""
    rows: list[tuple[float | None, str | None, str]] = []
    for stamp, speaker, body in pieces:
        for i, chunk in enumerate(_sentence_chunks(body)):
            rows.append((stamp if i == 0 else None, speaker, chunk))
    words = [len(body.split()) for _, _, body in rows]
    starts: list[float] = []
    approximate = False
    for i, (stamp, _, _) in enumerate(rows):
        if stamp is not None:
            starts.append(stamp)
            continue
        approximate = True
        prev_t = starts[-1] if starts else 0.0
        prev_w = words[i - 1] if i else 0
        # Next known stamp, for proportional placement between anchors.
        nxt = next(((j, rows[j][0]) for j in range(i + 1, len(rows)) if rows[j][0] is not None), None)
        if nxt and i:
            j, t_next = nxt
            span_words = sum(words[i - 1 : j]) or 1
            rate = max((t_next - prev_t) / span_words, 0.0) if t_next is not None else 0.0
            starts.append(prev_t + prev_w * rate)
        else:
            starts.append(prev_t + prev_w / WORDS_PER_SECOND)
    segments = []
    for i, (_, speaker, body) in enumerate(rows):
        end = starts[i + 1] if i + 1 < len(rows) else starts[i] + words[i] / WORDS_PER_SECOND
        segments.append(Segment(round(starts[i], 3), round(max(end, starts[i]), 3), body, speaker))
    return Transcript(segments, format=fmt, approximate_times=approximate)


PARSERS = {
    "vtt": parse_vtt,
    "srt": parse_srt,
    "json": parse_json,
    "html": parse_html,
    "text": parse_text,
}
