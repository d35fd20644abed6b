"""Chapters and transcript of an audio briefing, in the forms podcast apps read: an ID3v2.4
tag with CHAP/CTOC frames (prepended to the MP3), Podcasting 2.0 JSON chapters
(`podcast:chapters`) and a WebVTT transcript (`podcast:transcript`).

Written by hand with the stdlib: the usual tag library (mutagen) is GPL, and this project
is Apache-2.0. Titles and text come from feeds, so they are cleaned (control characters,
stray surrogates, runaway length) before they reach a listener's app.
"""

from __future__ import annotations

import datetime
import math
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

TITLE_LIMIT = 200  # a chapter title, the briefing's title, artist and album (characters)
COMMENT_LIMIT = 2000
CUE_LIMIT = 2000  # one transcript cue; far above any sentence a narrator reads
SPEAKER_LIMIT = 100
URL_LIMIT = 2048

JSON_CHAPTERS_VERSION = "1.2.0"
TAG_PADDING = 256  # room for a tag editor to add a frame without rewriting the audio
_MAX_MS = 0xFFFFFFFF  # CHAP times are unsigned 32-bit milliseconds (about 49 days)
_MAX_CHAPTERS = 255  # the CTOC entry count is one byte
_NO_OFFSET = 0xFFFFFFFF  # CHAP byte offsets "not set": players seek by time
_UTF8 = b"\x03"  # ID3v2.4 text encoding byte


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds into the briefing
    end: float
    title: str
    url: str | None = None  # the episode's page (a link podcast apps show); see _web_url

    def __post_init__(self) -> None:
        # Checked here so that no invalid chapter can reach a tag or a JSON file.
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"chapter {self.title!r}: times must be finite numbers")
        if self.start < 0 or self.end < 0:
            raise ValueError(f"chapter {self.title!r}: negative time ({self.start}, {self.end})")
        if self.end < self.start:
            raise ValueError(f"chapter {self.title!r}: ends ({self.end}) before it starts ({self.start})")
        if round(self.end * 1000) > _MAX_MS:
            raise ValueError(f"chapter {self.title!r}: ends past what ID3 can hold ({self.end} s)")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    speaker: str | None
    text: str


# --- text cleaning ----------------------------------------------------------------------

# Code points that continue the grapheme before them: cutting in front of one would leave a
# bare accent, a half emoji sequence or an emoji without its skin tone.
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}


def _extends(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or ch in _JOINERS
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters with an ellipsis, at a word break when one
    is near the end (CJK text has none), and never inside a grapheme (an approximation of
    UAX #29 that covers accents, ZWJ emoji sequences, skin tones and flags)."""
    if len(text) <= limit:
        return text
    cut = limit - 1  # room for the ellipsis
    while cut > 0 and (_extends(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    # A flag is a pair of regional indicators: an odd run before the cut splits one.
    run = 0
    while run < cut and _is_regional(text[cut - 1 - run]):
        run += 1
    if run % 2:
        cut -= 1
    space = text.rfind(" ", 0, cut + 1)
    if space > cut * 0.7:
        cut = space
    return text[:cut].rstrip() + "…"


def _clean(text: str, limit: int, *, lines: bool = False) -> str:
    """User-visible text made safe to store: NFC, no control characters (a NUL would split
    an ID3 text frame into several values), no lone surrogates (unencodable), whitespace
    collapsed (kept as line breaks where `lines`), then clipped to `limit`."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs":
            kept.append("\ufffd")
        elif ch == "\n" or category not in ("Cc", "Zl", "Zp"):
            kept.append(ch)
        else:
            kept.append(" ")
    text = "".join(kept)
    if lines:
        text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
    else:
        text = " ".join(text.split())
    return _clip(text, limit)


def _web_url(url: str | None) -> str | None:
    """`url` as ASCII (IDNA host, percent-encoded path), as WXXX holds ISO-8859-1 only; or
    None, and the chapter goes without a link, for anything but a plain http(s) URL. Links
    come from feeds: a javascript: or data: one must never become tappable, and one bad
    link must not cost a subscriber the whole briefing (podsift.net.links does the same)."""
    if url is None:
        return None
    url = url.strip()
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in url):
        return None
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        netloc, port = parts.netloc, parts.port  # .port raises on a port out of range
        if not netloc.isascii():
            host = parts.hostname.encode("idna").decode("ascii")
            userinfo = parts.netloc.rpartition("@")[0]
            netloc = (quote(userinfo, safe=":%") + "@" if userinfo else "") + host
            if port is not None:
                netloc += f":{port}"
    except (ValueError, UnicodeError):  # a bad port or an unencodable host
        return None
    safe = "/:@!$&'()*+,;=%~-._"
    ascii_url = urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe + "?"),
            quote(parts.fragment, safe=safe + "?#"),
        )
    )
    # Never truncated (a cut URL leads nowhere): an absurd one is left out.
    return ascii_url if len(ascii_url) <= URL_LIMIT else None


def _ordered(chapters: Sequence[Chapter]) -> list[Chapter]:
    # Players step through chapters in list order; a caller's list in another order would
    # make "next chapter" jump backwards.
    return sorted(chapters, key=lambda c: (c.start, c.end))


# --- ID3v2.4 ----------------------------------------------------------------------------


def _syncsafe(n: int) -> bytes:
    # v2.4 sizes keep bit 7 of each byte clear, so no size can look like an MPEG sync word.
    if not 0 <= n < 1 << 28:
        raise ValueError(f"ID3 size out of range: {n}")
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def _frame(frame_id: str, body: bytes) -> bytes:
    return frame_id.encode("ascii") + _syncsafe(len(body)) + b"\x00\x00" + body


def _text_frame(frame_id: str, text: str) -> bytes:
    # One value, no terminator: in v2.4 a NUL separates values (_clean removed any).
    return _frame(frame_id, _UTF8 + text.encode("utf-8"))


def _chapter_frame(element_id: str, chapter: Chapter) -> bytes:
    body = element_id.encode("ascii") + b"\x00"
    body += struct.pack(
        ">IIII", round(chapter.start * 1000), round(chapter.end * 1000), _NO_OFFSET, _NO_OFFSET
    )
    title = _clean(chapter.title, TITLE_LIMIT)
    if title:
        body += _text_frame("TIT2", title)
    if url := _web_url(chapter.url):
        # Empty description, then the URL, which is always ISO-8859-1 and unterminated.
        body += _frame("WXXX", _UTF8 + b"\x00" + url.encode("latin-1"))
    return _frame("CHAP", body)


def _toc_frame(element_ids: Sequence[str]) -> bytes:
    top_level, ordered = 0x02, 0x01
    body = b"toc\x00" + bytes((top_level | ordered, len(element_ids)))
    body += b"".join(e.encode("ascii") + b"\x00" for e in element_ids)
    return _frame("CTOC", body)


def id3_tag(
    *,
    title: str,
    artist: str,
    album: str,
    date: str,
    chapters: Sequence[Chapter],
    comment: str | None = None,
) -> bytes:
    """A complete ID3v2.4 tag (header, frames, padding) to prepend to MP3 frames.

    Chapters are written in start order as CHAP frames ch0, ch1, ... listed by one
    top-level, ordered CTOC "toc" (left out when there are no chapters: an empty table of
    contents confuses some players)."""
    _check_date(date)
    if len(chapters) > _MAX_CHAPTERS:
        raise ValueError(f"at most {_MAX_CHAPTERS} chapters fit an ID3 table of contents")
    frames = []
    for frame_id, text in (("TIT2", title), ("TPE1", artist), ("TALB", album)):
        cleaned = _clean(text, TITLE_LIMIT)
        if cleaned:
            frames.append(_text_frame(frame_id, cleaned))
    frames.append(_text_frame("TDRC", date))
    if comment is not None and (note := _clean(comment, COMMENT_LIMIT, lines=True)):
        # Language "eng" (the narration's), empty description, then the text.
        frames.append(_frame("COMM", _UTF8 + b"eng" + b"\x00" + note.encode("utf-8")))
    ordered = _ordered(chapters)
    element_ids = [f"ch{i}" for i in range(len(ordered))]
    if ordered:
        frames.append(_toc_frame(element_ids))
        frames.extend(_chapter_frame(e, c) for e, c in zip(element_ids, ordered, strict=True))
    body = b"".join(frames) + bytes(TAG_PADDING)
    # Version 2.4.0, no flags (no unsynchronisation, no extended header, no footer).
    return b"ID3\x04\x00\x00" + _syncsafe(len(body)) + body


def _check_date(value: str) -> None:
    # fromisoformat alone would also take "20240105" and week dates (3.11+).
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError(f"date must be YYYY-MM-DD: {value!r}")
    try:
        datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not a calendar date: {value!r}") from exc


# --- Podcasting 2.0 JSON chapters -------------------------------------------------------


def chapters_json(chapters: Sequence[Chapter], *, title: str | None = None) -> dict[str, Any]:
    """The `podcast:chapters` document (application/json+chapters), chapters in start order."""
    out: dict[str, Any] = {"version": JSON_CHAPTERS_VERSION}
    if title is not None and (cleaned := _clean(title, TITLE_LIMIT)):
        out["title"] = cleaned
    items = []
    for chapter in _ordered(chapters):
        item: dict[str, Any] = {"startTime": round(chapter.start, 3), "endTime": round(chapter.end, 3)}
        if name := _clean(chapter.title, TITLE_LIMIT):
            item["title"] = name
        if url := _web_url(chapter.url):
            item["url"] = url
        items.append(item)
    out["chapters"] = items
    return out


# --- WebVTT -----------------------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def webvtt(cues: Sequence[Cue]) -> str:
    """A WebVTT transcript: cues in start order, with `<v Speaker>` where the speaker is known.

    Text is one line per cue (a blank line would end the cue early) and escaped, so feed
    text like "<b>" shows as written; a cue with no text left is skipped. A negative time is
    taken as 0 and an end before its start as the start: word timings drift a little, and
    strict readers drop such a cue or refuse the whole file."""
    for cue in cues:
        if not (math.isfinite(cue.start) and math.isfinite(cue.end)):
            raise ValueError(f"cue {cue.text[:40]!r}: times must be finite numbers")
    blocks = ["WEBVTT"]
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        text = _clean(cue.text, CUE_LIMIT)
        if not text:
            continue
        start = round(max(cue.start, 0.0) * 1000)
        end = max(round(max(cue.end, 0.0) * 1000), start)
        line = _escape(text)
        # '>' would close the <v> tag early; escaping it is legal but most readers take the
        # annotation up to the first '>' verbatim, so it is dropped instead.
        speaker = _clean(cue.speaker.replace(">", ""), SPEAKER_LIMIT) if cue.speaker else ""
        if speaker:
            line = f"<v {_escape(speaker)}>{line}"
        blocks.append(f"{_timestamp(start)} --> {_timestamp(end)}\n{line}")
    return "\n\n".join(blocks) + "\n"
