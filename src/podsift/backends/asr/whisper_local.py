"""Local speech to text with faster-whisper (CTranslate2): CPU or GPU, no server.

`faster-whisper:MODEL?device=auto&compute_type=int8&beam_size=5&vad=1&batch=4&threads=0
&words=0&language=&window=300&fallback=1`. MODEL is a size name, a Hub id or a local
folder; `base` uses the packaged Whisper base when its wheels are installed. The model
loads once per process. `batch` > 0 decodes that many 30-second pieces at once
(faster-whisper's batched pipeline, with word times; 0 decodes one piece after another);
`threads=0` uses as many CPU threads as this process has cores, at most 4; `window` is the
seconds of audio decoded at a time, which bounds memory whatever the episode's length;
`fallback=0` never re-decodes at higher temperatures.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from podsift.backends.asr.packaged import PACKAGED, install_whisper_base, packaged_available
from podsift.backends.asr.registry import ASR_BACKENDS, TranscriptionError
from podsift.backends.spec import BackendSpec, cpu_threads
from podsift.types import Segment, Transcript

log = logging.getLogger(__name__)
_MODELS: dict[tuple[str, str, str, int], Any] = {}
_LOCK = threading.Lock()
# Two channels this different are two speakers on separate tracks, not a stereo mix.
SPLIT_CHANNEL_CORRELATION = 0.3
WINDOW_SECONDS = 300.0


def _load_model(path: str, device: str, compute_type: str, threads: int, local: bool) -> Any:
    from faster_whisper import WhisperModel

    key = (path, device, compute_type, threads)
    with _LOCK:
        if key not in _MODELS:
            log.info("loading whisper model %s (%s, %s)", path, device, compute_type)
            _MODELS[key] = WhisperModel(
                path, device=device, compute_type=compute_type, cpu_threads=threads, local_files_only=local
            )
        return _MODELS[key]


class FasterWhisper:
    def __init__(self, spec: BackendSpec) -> None:
        self.model_name = spec.target or "base"
        self.name = f"faster-whisper:{self.model_name}"
        self.device = spec.option("device", "auto") or "auto"
        self.compute_type = spec.option("compute_type", "int8") or "int8"
        self.beam_size = int(spec.number("beam_size", 5))
        self.vad = spec.flag("vad", True)
        self.batch = int(spec.number("batch", 0))
        self.threads = int(spec.number("threads", 0)) or cpu_threads()
        self.window = float(spec.number("window", WINDOW_SECONDS))
        # Re-decoding a doubtful piece at higher temperatures; off trades a little accuracy
        # on hard audio for speed.
        self.fallback = spec.flag("fallback", True)
        self.words = spec.flag("words", False)
        self.language = spec.option("language") or None
        self.models_home = Path("models")

    def model(self) -> Any:
        name, local = self.model_name, Path(self.model_name).is_dir()
        if not local and name in PACKAGED and packaged_available():
            name, local = str(install_whisper_base(self.models_home)), True
        return _load_model(name, self.device, self.compute_type, self.threads, local)

    def transcribe(self, audio: Path) -> Transcript:
        model = self.model()
        try:
            if _channel_count(audio) == 2:
                split = self._maybe_split_channels(model, audio)
                if split is not None:
                    return split
            segments: list[Segment] = []
            language = self.language
            heard = False
            # Window by window: faster-whisper computes features for all the audio it is
            # given at once (~2 GB for an hour); five-minute windows cut at pauses keep a
            # one-hour episode well under 1 GB, whatever its length.
            for offset, window in stream_windows(audio, self.window):
                heard = True
                pieces, info = self._run(model, window, language=language)
                language = language or info.language
                segments += [
                    Segment(round(s.start + offset, 3), round(s.end + offset, 3), s.text, s.speaker)
                    for s in pieces
                ]
            if not heard:
                raise TranscriptionError("could not decode audio: no audio frames in the file")
        except TranscriptionError:
            raise
        except Exception as exc:  # PyAV/ctranslate2 errors for corrupt or odd files
            raise TranscriptionError(
                f"could not decode or transcribe audio: {type(exc).__name__}: {exc}"
            ) from exc
        return Transcript(segments, format="asr", language=language)

    def _maybe_split_channels(self, model: Any, audio: Path) -> Transcript | None:
        """Split-track recordings (one speaker per channel) are transcribed per channel."""
        from faster_whisper import decode_audio

        left, right = decode_audio(str(audio), split_stereo=True)
        if _correlation(left, right) >= SPLIT_CHANNEL_CORRELATION:
            return None
        first, info = self._run(model, left, "Speaker 1")
        second, _ = self._run(model, right, "Speaker 2")
        merged = sorted(first + second, key=lambda s: (s.start, s.end))
        return Transcript(merged, format="asr", language=info.language)

    def _run(
        self, model: Any, audio: Any, speaker: str | None = None, language: str | None = None
    ) -> tuple[list[Segment], Any]:
        options: dict[str, Any] = dict(
            beam_size=self.beam_size,
            vad_filter=self.vad,
            word_timestamps=self.words,
            language=language or self.language,
        )
        if not self.fallback:
            options["temperature"] = 0.0
        if self.batch > 0:
            from faster_whisper import BatchedInferencePipeline

            # A batched piece is a whole ~30 s chunk, too coarse for the listen-at-the-quote
            # links; word times (an alignment pass) cut it finer. Decoding with timestamp
            # tokens instead cost 7 to 10 points of WER (bench/asr_quality.py).
            options["word_timestamps"] = True
            pieces, info = BatchedInferencePipeline(model=model).transcribe(
                audio, batch_size=self.batch, **options
            )
        else:
            pieces, info = model.transcribe(audio, **options)
        segments: list[Segment] = []
        for piece in pieces:
            if not piece.text.strip():
                continue
            if (self.words or self.batch > 0) and piece.words:
                segments += _word_segments(piece.words, speaker)
            else:
                segments.append(
                    Segment(round(piece.start, 3), round(piece.end, 3), piece.text.strip(), speaker)
                )
        return segments, info


def _word_segments(words: Any, speaker: str | None, max_words: int = 12) -> list[Segment]:
    """With word timestamps, finer segments (a clause or up to 12 words) give quotes
    start times accurate to the word rather than to a whole decoding segment."""
    out: list[Segment] = []
    group: list[Any] = []
    for word in words:
        group.append(word)
        if len(group) >= max_words or word.word.rstrip().endswith((".", "?", "!", ",", ";")):
            out.append(_join_words(group, speaker))
            group = []
    if group:
        out.append(_join_words(group, speaker))
    return out


def _join_words(group: list[Any], speaker: str | None) -> Segment:
    text = "".join(w.word for w in group).strip()
    return Segment(round(group[0].start, 3), round(group[-1].end, 3), text, speaker)


def stream_windows(
    audio: Path, window_seconds: float, search_seconds: float = 10.0
) -> Iterator[tuple[float, Any]]:
    """(offset seconds, 16 kHz mono float32 samples) windows of about `window_seconds`,
    each cut at the quietest moment of its last `search_seconds`, decoded as a stream."""
    import av
    import numpy as np

    from podsift.backends.asr.chunking import SAMPLE_RATE, quietest_point

    target = int((window_seconds + search_seconds) * SAMPLE_RATE)
    parts: list[Any] = []
    buffered = offset = 0
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with av.open(str(audio)) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise TranscriptionError("the file has no audio track")
        for frame in _frames(container, stream):
            for out in resampler.resample(frame) if frame is not None else resampler.resample(None):
                data = out.to_ndarray().reshape(-1)
                parts.append(data)
                buffered += len(data)
            if buffered >= target:
                samples = np.concatenate(parts).astype(np.float32) / 32768.0
                lo = int((window_seconds - search_seconds) * SAMPLE_RATE)
                cut = quietest_point(samples, lo, int(window_seconds * SAMPLE_RATE))
                yield offset / SAMPLE_RATE, samples[:cut]
                rest = (samples[cut:] * 32768.0).astype(np.int16)
                parts, buffered, offset = [rest], len(rest), offset + cut
    if buffered:
        yield offset / SAMPLE_RATE, np.concatenate(parts).astype(np.float32) / 32768.0


def _frames(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames, skipping corrupt packets (as faster-whisper's decoder does); a
    final None flushes the resampler."""
    import av

    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            continue
    yield None


def _channel_count(audio: Path) -> int:
    import av

    with av.open(str(audio)) as container:
        stream = next((s for s in container.streams if s.type == "audio"), None)
        if stream is None:
            raise TranscriptionError("the file has no audio track")
        return int(stream.codec_context.channels)  # type: ignore[attr-defined]  # av's stubs lack it


def _correlation(left: Any, right: Any) -> float:
    import numpy as np

    n = min(len(left), len(right), 16000 * 120)  # the first two minutes decide
    a, b = left[:n], right[:n]
    if n == 0 or float(np.std(a)) == 0.0 or float(np.std(b)) == 0.0:
        return 1.0
    return float(np.corrcoef(a, b)[0, 1])


@ASR_BACKENDS.register("faster-whisper")
def _make(spec: BackendSpec) -> FasterWhisper:
    return FasterWhisper(spec)
