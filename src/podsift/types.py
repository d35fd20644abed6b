"""A transcript is a list of timed segments, with speakers where known."""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass
class Transcript:
    segments: list[Segment]
    format: str
    language: str | None = None
    # True when some times were interpolated (plain text with sparse or no stamps).
    approximate_times: bool = False
    source_url: str | None = None
    _offsets: list[int] = field(default_factory=list, repr=False, compare=False)
    _text: str | None = field(default=None, repr=False, compare=False)
    _text_for: int = field(default=-1, repr=False, compare=False)

    @property
    def text(self) -> str:
        """All segment texts joined by single spaces: the text quotes must be found in."""
        # Joined once: grounding asks for it for every candidate of a long episode.
        if self._text is None or self._text_for != len(self.segments):
            self._text, self._text_for = " ".join(s.text for s in self.segments), len(self.segments)
        return self._text

    @property
    def duration(self) -> float:
        return max((s.end for s in self.segments), default=0.0)

    def offsets(self) -> list[int]:
        """Character offset in `text` where each segment starts."""
        if len(self._offsets) != len(self.segments):
            pos, self._offsets = 0, []
            for seg in self.segments:
                self._offsets.append(pos)
                pos += len(seg.text) + 1
        return self._offsets

    def span_times(self, start_char: int, end_char: int) -> tuple[float, float]:
        """Start/end seconds of the segments that text[start_char:end_char] touches."""
        offsets = self.offsets()
        first = last = 0
        for i, off in enumerate(offsets):
            if off <= start_char:
                first = i
            if off < end_char:
                last = i
        return self.segments[first].start, max(self.segments[last].end, self.segments[first].start)

    def speaker_at(self, char: int) -> str | None:
        """The speaker label of the segment that holds text[char], if the transcript has one."""
        offsets = self.offsets()
        index = max(bisect.bisect_right(offsets, char) - 1, 0)
        return self.segments[index].speaker if self.segments else None

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def to_json(self) -> list[dict[str, object]]:
        return [asdict(s) for s in self.segments]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]], fmt: str = "json") -> Transcript:
        return cls([Segment(**s) for s in data], format=fmt)
