"""Where a second of an MP3 lies in its bytes, from its first kilobytes: the ID3 tag's size,
the first frame's bit rate, and the Xing/Info table of contents of a VBR file. A clip of a
few minutes is then fetched with one HTTP Range request, not the whole episode. The guess
is exact for constant bit rates and close for variable ones; the clip's quote check (and
its ±60 s search) absorbs what is left."""

from __future__ import annotations

from dataclasses import dataclass

_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class Frame:
    bitrate: int  # bits per second
    rate: int
    length: int  # bytes, with padding
    samples: int  # per frame


@dataclass(frozen=True)
class Mp3Layout:
    audio_start: int  # the first frame's byte
    audio_bytes: int
    duration: float
    toc: tuple[int, ...] | None  # Xing: 100 points, the byte share (of 256) at each percent

    def offset(self, seconds: float) -> int:
        """The byte at which `seconds` begins (clamped to the audio)."""
        share = min(max(seconds / self.duration, 0.0), 1.0) if self.duration > 0 else 0.0
        if self.toc:
            k = min(int(share * 100), 99)
            low = self.toc[k]
            high = self.toc[k + 1] if k < 99 else 256
            share = (low + (high - low) * (share * 100 - k)) / 256
        return self.audio_start + int(share * self.audio_bytes)


def id3_size(head: bytes) -> int:
    """Bytes of a leading ID3v2 tag (0 when there is none)."""
    if len(head) < 10 or head[:3] != b"ID3":
        return 0
    size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def frame_at(data: bytes, at: int) -> Frame | None:
    if at + 4 > len(data) or data[at] != 0xFF or data[at + 1] & 0xE0 != 0xE0:
        return None
    version, layer = (data[at + 1] >> 3) & 3, (data[at + 1] >> 1) & 3
    bitrate_index, rate_index = data[at + 2] >> 4, (data[at + 2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # reserved values, or not layer III
    kbps = _BITRATES[1 if version == 3 else 2][bitrate_index]
    rate = _RATES[version][rate_index]
    padding = (data[at + 2] >> 1) & 1
    per_frame = 1152 if version == 3 else 576
    length = per_frame // 8 * kbps * 1000 // rate + padding
    return Frame(kbps * 1000, rate, length, per_frame)


def first_frame(data: bytes, start: int) -> tuple[int, Frame] | None:
    """The first frame at or after `start` that the next frame confirms (no false sync)."""
    for at in range(start, max(len(data) - 4, start)):
        frame = frame_at(data, at)
        if frame is not None and frame_at(data, at + frame.length) is not None:
            return at, frame
    return None


def layout(head: bytes, total: int, tag: int | None = None) -> Mp3Layout | None:
    """The layout of an MP3 of `total` bytes from bytes that begin at its first frame's
    neighbourhood: `head` starts at byte `tag` (the ID3 tag's end) or 0."""
    start = id3_size(head) if tag is None else 0
    found = first_frame(head, start)
    if found is None:
        return None
    at, frame = found
    audio_start = at + (tag or 0)
    audio_bytes = max(total - audio_start, 0)
    xing = _xing(head[at : at + frame.length])
    if xing is not None and xing[0]:
        frames, size, toc = xing
        duration = frames * frame.samples / frame.rate
        return Mp3Layout(audio_start, size or audio_bytes, duration, toc)
    return Mp3Layout(audio_start, audio_bytes, audio_bytes * 8 / frame.bitrate, None)


def _xing(frame: bytes) -> tuple[int, int, tuple[int, ...] | None] | None:
    """(frames, bytes, toc) of a Xing or Info header in the first frame."""
    for mark in (b"Xing", b"Info"):
        at = frame.find(mark)
        if at < 0:
            continue
        flags = int.from_bytes(frame[at + 4 : at + 8], "big")
        pos, frames, size, toc = at + 8, 0, 0, None
        if flags & 1:
            frames, pos = int.from_bytes(frame[pos : pos + 4], "big"), pos + 4
        if flags & 2:
            size, pos = int.from_bytes(frame[pos : pos + 4], "big"), pos + 4
        if flags & 4 and mark == b"Xing" and len(frame) >= pos + 100:
            toc = tuple(frame[pos : pos + 100])
        return frames, size, toc
    return None
