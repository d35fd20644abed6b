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
        import av

        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mp3") as container:
            stream = container.add_stream("libmp3lame", rate=self.rate, layout="mono")
            frame_size = 1152
            for i in range(0, len(self.samples), frame_size):
                block = self.samples[i : i + frame_size].astype(np.int16).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
                frame.sample_rate = self.rate
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return buffer.getvalue()


def speak(sentences: list[str] = SENTENCES, workdir: Path | None = None) -> Speech:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    parts, starts, rate, position = [], [], 22050, 0
    for sentence in sentences:
        raw = subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "130", "--stdout", sentence], capture_output=True, check=True
        ).stdout
        with wave.open(io.BytesIO(raw)) as clip:
            rate = clip.getframerate()
            samples = np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2")
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
