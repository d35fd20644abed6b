"""Any OpenAI-compatible `/v1/audio/transcriptions` endpoint (OpenAI, Groq, a local
faster-whisper-server, vLLM): `openai:whisper-1?base_url=...&max_mb=25&api_key=...`.

Files over the endpoint's upload limit are decoded, split at pauses with overlap, sent as
WAV chunks, and joined with each chunk's segments shifted to episode time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podsift.backends.asr.chunking import SAMPLE_RATE, Chunk, split, to_wav
from podsift.backends.asr.registry import ASR_BACKENDS, TranscriptionError
from podsift.backends.spec import BackendSpec
from podsift.types import Segment, Transcript

UPLOAD_TYPES = (".mp3", ".mp4", ".mpeg", ".mpga", ".m4a", ".wav", ".webm", ".flac", ".ogg", ".oga", ".opus")


def _field(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


class OpenAITranscription:
    def __init__(self, spec: BackendSpec) -> None:
        self.model = spec.target or "whisper-1"
        self.name = f"openai:{self.model}"
        self.spec = spec
        self.max_bytes = int(spec.number("max_mb", 25) * 1024 * 1024)
        self.overlap = spec.number("overlap", 1.5)
        self.language = spec.option("language") or None
        self.calls = 0

    def transcribe(self, audio: Path) -> Transcript:
        from podsift.backends.llm import openai_client

        client = openai_client(self.spec, default_timeout=600)
        try:
            if audio.stat().st_size <= self.max_bytes and audio.suffix.lower() in UPLOAD_TYPES:
                segments, language = self._request(client, audio.name, audio.read_bytes())
                return Transcript(segments, format="asr", language=language)
            return self._chunked(client, audio)
        except TranscriptionError:
            raise
        except Exception as exc:  # SDK errors (HTTP status, connection, validation)
            raise TranscriptionError(f"{self.name}: {type(exc).__name__}: {exc}") from exc

    def _chunked(self, client: Any, audio: Path) -> Transcript:
        from faster_whisper import decode_audio

        samples = decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
        segments: list[Segment] = []
        language = None
        chunks = split(samples, self.max_bytes, self.overlap)
        del samples
        for n, chunk in enumerate(chunks):
            pieces, language = self._request(
                client, f"{audio.stem}-{n}.wav", to_wav(chunk.samples), chunk, last=n == len(chunks) - 1
            )
            segments.extend(pieces)
        return Transcript(segments, format="asr", language=language)

    def _request(
        self, client: Any, name: str, data: bytes, chunk: Chunk | None = None, last: bool = True
    ) -> tuple[list[Segment], str | None]:
        self.calls += 1
        result = client.audio.transcriptions.create(
            model=self.model,
            file=(name, data),
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            **({"language": self.language} if self.language else {}),
        )
        pieces = [
            (float(_field(p, "start")), float(_field(p, "end")), str(_field(p, "text") or "").strip())
            for p in _field(result, "segments") or []
        ]
        if not pieces and (text := (_field(result, "text") or "").strip()):
            pieces = [(0.0, float(_field(result, "duration") or 0.0), text)]
        words = [
            (float(_field(w, "start")), float(_field(w, "end")), str(_field(w, "word") or "").strip())
            for w in _field(result, "words") or []
        ]
        offset = chunk.start if chunk else 0.0
        if chunk is not None:
            pieces = _owned(pieces, words, chunk, last)
        segments = [Segment(round(offset + a, 3), round(offset + b, 3), t) for a, b, t in pieces if t]
        return segments, _field(result, "language")


Piece = tuple[float, float, str]


def _owned(pieces: list[Piece], words: list[Piece], chunk: Chunk, last: bool) -> list[Piece]:
    """What this chunk says in its own stretch, not in the overlap it shares with the
    previous chunk. The stretches partition the timeline, so nothing is kept twice and
    nothing is lost. With word timestamps a segment straddling a cut is trimmed word by
    word; without them a segment belongs where its middle is."""
    low = chunk.own_from - chunk.start if chunk.own_from > 0 else float("-inf")
    high = float("inf") if last else chunk.own_to - chunk.start
    if not words:
        return [p for p in pieces if low <= (p[0] + p[1]) / 2 < high]
    kept: list[Piece] = []
    for start, end, _ in pieces:
        inside = [w for w in words if start - 0.01 <= w[0] <= end + 0.01 and low <= (w[0] + w[1]) / 2 < high]
        if inside:
            kept.append((inside[0][0], inside[-1][1], " ".join(w[2] for w in inside)))
    return kept


@ASR_BACKENDS.register("openai")
def _make(spec: BackendSpec) -> OpenAITranscription:
    return OpenAITranscription(spec)
