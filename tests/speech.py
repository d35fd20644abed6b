"""Speech for tests: espeak-ng speaks sentences we wrote, so we know every word and when
each sentence starts."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SENTENCES = [
    "Solar power has become the cheapest source of new electricity in most of the world.",
    "Because panel prices keep falling, utilities are closing old coal plants years ahead of schedule.",
    "Batteries store the cheap midday power and release it in the evening when demand is highest.",
    "The biggest obstacle is no longer technology but the slow approval of new transmission lines.",
]
GAP_SECONDS = 1.0


@dataclass
class Speech:
    text: str
    starts: list[float]  # second at which each sentence begins
    rate: int
    samples: np.ndarray  # int16 mono

    def wav(self) -> bytes:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.rate)
            out.writeframes(self.samples.astype("<i2").tobytes())
        return buffer.getvalue()

    def mp3(self) -> bytes:
        return encode_mp3(self.samples, self.rate)


def encode_mp3(samples: np.ndarray, rate: int, bit_rate: int = 64000) -> bytes:
    """Mono int16 samples -> MP3 bytes (PyAV's bundled LAME)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        for i in range(0, len(samples), 1152):
            frame = av.AudioFrame.from_ndarray(
                samples[i : i + 1152].astype(np.int16).reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def espeak(text: str, wpm: int = 130) -> tuple[np.ndarray, int]:
    """(int16 samples, sample rate) of espeak-ng speaking `text` in US English."""
    raw = subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", str(wpm), "--stdout", text], capture_output=True, check=True
    ).stdout
    with wave.open(io.BytesIO(raw)) as clip:
        return np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2"), clip.getframerate()


def speak(sentences: list[str] = SENTENCES, workdir: Path | None = None) -> Speech:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    parts, starts, rate, position = [], [], 22050, 0
    for sentence in sentences:
        samples, rate = espeak(sentence)
        starts.append(position / rate)
        silence = np.zeros(int(GAP_SECONDS * rate), dtype=np.int16)
        parts += [samples, silence]
        position += len(samples) + len(silence)
    return Speech(" ".join(sentences), starts, rate, np.concatenate(parts))


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return jiwer.wer(words(reference), words(hypothesis))
