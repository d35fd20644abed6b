"""Narrator backends: one small protocol, chosen by `PODSIFT_NARRATOR` (`piper:joe`,
`espeak:en-us?speed=165`, `openai:tts-1?base_url=...&voice=alloy&api_key=...`, `auto`).

Every backend gives mono float32 samples at its own rate; the briefing resamples. Spoken
texts are cached on disk (cache.py), so a rebuilt briefing speaks nothing twice.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from podsift.backends.spec import BackendConfigError, BackendSpec, Registry, parse_spec

# Far above a briefing's sentence (a few hundred characters) and OpenAI's own limit: a
# longer text is a caller's mistake, and would hold a local engine for minutes.
MAX_CHARS = 4096
INSTALL_PIPER = "pip install 'podsift[narrator]'"


@dataclass(frozen=True)
class Speech:
    samples: np.ndarray  # mono float32 in [-1, 1]
    rate: int

    @property
    def seconds(self) -> float:
        return self.samples.size / self.rate if self.rate else 0.0


class Narrator(Protocol):
    name: str

    def speak(self, text: str) -> Speech: ...


class NarrationError(Exception):
    """The text could not be spoken; the message is safe to log (it never holds a key)."""


NARRATOR_BACKENDS: Registry[Narrator] = Registry("narrator", "PODSIFT_NARRATOR")


def spoken_text(text: str) -> str:
    """The text a backend speaks, or NarrationError for one that cannot be spoken."""
    text = (text or "").strip()
    if not text:
        raise NarrationError("nothing to speak: the text is empty")
    if len(text) > MAX_CHARS:
        raise NarrationError(
            f"text of {len(text)} characters is over {MAX_CHARS}: speak it a sentence at a time"
        )
    return text


def as_speech(samples: np.ndarray, rate: int) -> Speech:
    """Any engine's output as the protocol promises it: 1-D float32 within [-1, 1]."""
    mono = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate <= 0:
        raise NarrationError(f"speech at an impossible rate of {rate} Hz")
    if mono.size == 0:
        raise NarrationError("the engine gave no audio")
    if not np.all(np.isfinite(mono)):
        raise NarrationError("the engine gave audio that is not a number")
    return Speech(np.clip(mono, -1.0, 1.0), int(rate))


# -- WAV ------------------------------------------------------------------------------------

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def decode_wav(data: bytes) -> Speech:
    """A WAV file's audio as Speech: integer PCM by the stdlib reader; 32/64-bit float and
    WAVE_FORMAT_EXTENSIBLE (which Python 3.11's `wave` refuses) by reading the chunks."""
    try:
        with wave.open(io.BytesIO(data)) as clip:
            channels, width, rate = clip.getnchannels(), clip.getsampwidth(), clip.getframerate()
            # A streamed WAV (a server's reply) may state a length it cannot know: read to the end.
            frames = clip.readframes(max(clip.getnframes(), len(data)))
        if frames:
            return _pcm(frames, channels, width, rate)
    except (wave.Error, EOFError):
        pass  # a format `wave` does not read: the chunks below say what it is
    return _read_chunks(data)


def _pcm(frames: bytes, channels: int, width: int, rate: int) -> Speech:
    if channels < 1 or width < 1:
        raise NarrationError(f"WAV of {channels} channels of {width}-byte samples")
    usable = len(frames) - len(frames) % (channels * width)
    frames = frames[:usable]
    if width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3)
        wide = (
            raw[:, 0].astype(np.int32)
            | (raw[:, 1].astype(np.int32) << 8)
            | (raw[:, 2].astype(np.int32) << 16)
        )
        samples = (np.where(wide >= 1 << 23, wide - (1 << 24), wide)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = (np.frombuffer(frames, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:
        raise NarrationError(f"WAV of {8 * width}-bit samples is not supported")
    return as_speech(samples.reshape(-1, channels).mean(axis=1) if channels > 1 else samples, rate)


def _read_chunks(data: bytes) -> Speech:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise NarrationError("no RIFF/WAVE header")
    fmt: tuple[int, int, int, int] | None = None
    at = 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
        if kind == b"data" and size in (0, 0xFFFFFFFF):
            size = len(data) - at - 8  # streamed: the length was not known when the header was sent
        body = data[at + 8 : at + 8 + size]
        if kind == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == _EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]  # the sub-format GUID's first two bytes
            fmt = (tag, channels, rate, bits)
        elif kind == b"data":
            if fmt is None:
                raise NarrationError("data chunk before its format")
            tag, channels, rate, bits = fmt
            if tag == _PCM and bits % 8 == 0:
                return _pcm(body, channels, bits // 8, rate)
            if tag == _FLOAT and bits in (32, 64) and channels >= 1:
                dtype = "<f4" if bits == 32 else "<f8"
                usable = len(body) - len(body) % (channels * bits // 8)
                samples = np.frombuffer(body[:usable], dtype=dtype).astype(np.float32)
                return as_speech(samples.reshape(-1, channels).mean(axis=1), rate)
            raise NarrationError(f"WAV format {tag} with {bits}-bit samples")
        at += 8 + size + (size & 1)  # chunks are padded to an even length
    raise NarrationError("no audio in the WAV file")


# -- the choice -----------------------------------------------------------------------------


def piper_installed() -> bool:
    return importlib.util.find_spec("piper") is not None


@NARRATOR_BACKENDS.register("auto")
def _auto(spec: BackendSpec) -> Narrator:
    """Piper's packaged voice where the `narrator` extra is installed, else espeak-ng."""
    from podsift.backends.narrator import espeak, piper_voice

    if piper_voice.voice_importable():
        return piper_voice.PiperNarrator(parse_spec("piper:joe"))
    if shutil.which(espeak.BINARY) is not None:
        return espeak.EspeakNarrator(parse_spec("espeak:en-us"))
    raise NarrationError(
        f"no narrator: neither Piper ({INSTALL_PIPER}) nor espeak-ng (apt-get install espeak-ng) "
        "is installed; or set PODSIFT_NARRATOR=openai:tts-1?base_url=...&voice=...&api_key=..."
    )


def _register() -> None:
    from podsift.backends.narrator import espeak, openai_speech, piper_voice  # noqa: F401  (register)


def make_narrator(spec: str, home: Path) -> Narrator:
    """The configured backend, its spoken texts cached under `home/cache/narration`."""
    from podsift.backends.narrator.cache import CachedNarrator

    _register()
    return CachedNarrator(NARRATOR_BACKENDS.create(spec), home / "cache" / "narration")


def check_narrator_spec(spec: str) -> None:
    """Refuse an unknown backend at start-up (BackendConfigError), without loading a model.
    `auto` passes whatever is installed: a missing engine fails the briefing, not the app."""
    _register()
    parsed = parse_spec(spec)
    NARRATOR_BACKENDS.factory(parsed.scheme)
    if parsed.scheme == "piper":
        from podsift.backends.narrator.piper_voice import PACKAGED, voice_installed

        packaged = (parsed.target or PACKAGED) == PACKAGED
        if not (voice_installed() if packaged else piper_installed()):
            raise BackendConfigError(f"the piper narrator is not installed: {INSTALL_PIPER}")
    if parsed.scheme != "auto":  # building one loads nothing, and checks its options
        NARRATOR_BACKENDS.create(parsed)
