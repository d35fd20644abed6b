"""Split long audio at quiet moments for APIs with an upload limit, and join the results."""

from __future__ import annotations

import io
import itertools
import wave
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
WAV_BYTES_PER_SECOND = SAMPLE_RATE * 2  # 16-bit mono
SEARCH_SECONDS = 10.0  # look this far back from the limit for a pause
WINDOW = SAMPLE_RATE // 10  # 100 ms energy windows


@dataclass(frozen=True)
class Chunk:
    start: float  # seconds into the episode where the uploaded audio begins
    own_from: float  # segments starting before this belong to the previous chunk
    own_to: float
    samples: np.ndarray


def quietest_point(samples: np.ndarray, lo: int, hi: int) -> int:
    """Sample index of the quietest 100 ms window in [lo, hi)."""
    if hi - lo <= WINDOW:
        return hi
    region = samples[lo:hi]
    usable = len(region) // WINDOW * WINDOW
    energy = np.square(region[:usable].reshape(-1, WINDOW)).mean(axis=1)
    # Among windows about as quiet as the quietest, take the latest: chunks stay long.
    quiet = energy <= energy.min() + 0.05 * (np.median(energy) - energy.min())
    return lo + int(np.flatnonzero(quiet)[-1]) * WINDOW + WINDOW // 2


def split(samples: np.ndarray, max_bytes: int, overlap: float = 1.5) -> list[Chunk]:
    """Chunks whose WAV encoding fits `max_bytes`, cut at pauses, overlapping by `overlap`."""
    header = 44
    max_len = int((max_bytes - header) / 2) - int(overlap * SAMPLE_RATE)
    if max_len <= SEARCH_SECONDS * SAMPLE_RATE:
        raise ValueError(f"an upload limit of {max_bytes} bytes is too small to split audio sensibly")
    cuts = [0]
    while len(samples) - cuts[-1] > max_len:
        hi = cuts[-1] + max_len
        cuts.append(quietest_point(samples, hi - int(SEARCH_SECONDS * SAMPLE_RATE), hi))
    cuts.append(len(samples))
    pad = int(overlap * SAMPLE_RATE)
    chunks = []
    for a, b in itertools.pairwise(cuts):
        start = max(0, a - pad)
        chunks.append(Chunk(start / SAMPLE_RATE, a / SAMPLE_RATE, b / SAMPLE_RATE, samples[start:b]))
    return chunks


def to_wav(samples: np.ndarray) -> bytes:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)
    return buffer.getvalue()
