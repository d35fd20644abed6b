"""Audio in and out of the briefing, through PyAV (which faster-whisper already brings):
a window of an episode decoded from a file, resampling, and the one MP3 encode.

Everything in between is mono float32 at `RATE`: 24 kHz is plenty for speech at 64 kb/s
and is a rate MP3 encodes natively."""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from io import BytesIO
from pathlib import Path

import av
import numpy as np

RATE = 24000
BITRATE = 64000


class AudioError(Exception):
    """The file could not be read as audio (message safe to show)."""


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(max(round(seconds * rate), 0), dtype=np.float32)


def read_window(path: Path, start: float, end: float, rate: int = RATE) -> tuple[np.ndarray, float]:
    """Mono samples of [start, end) seconds of `path`, and the time of their first sample
    (start, or later when the file begins later or ends sooner). Seeks, so an hour's file
    is not decoded to reach its 50th minute."""
    start = max(start, 0.0)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            if start > 1.0:  # a seek lands on a frame at or before the time asked for
                container.seek(int((start - 1.0) * 1_000_000), any_frame=False)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            pieces: list[np.ndarray] = []
            first: float | None = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if frame.time > end:
                    break
                for out in resampler.resample(frame):
                    first = frame.time if first is None else first
                    pieces.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, IndexError) as exc:
        raise AudioError(f"cannot read audio: {type(exc).__name__}: {exc}") from exc
    if first is None or not pieces:
        return silence(0, rate), start
    samples = np.concatenate(pieces).astype(np.float32)
    skip = max(round((start - first) * rate), 0)
    begins = first + skip / rate
    return samples[skip : skip + round((end - begins) * rate)], begins


def resample(samples: np.ndarray, from_rate: int, to_rate: int = RATE) -> np.ndarray:
    """Samples at another rate, by FFmpeg's resampler (a narrator speaks at its own rate)."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = from_rate
    frame.time_base = Fraction(1, from_rate)
    frame.pts = 0
    resampler = av.AudioResampler(format="flt", layout="mono", rate=to_rate)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32) if out else silence(0, to_rate)


def encode_mp3(samples: np.ndarray, rate: int = RATE, bitrate: int = BITRATE) -> bytes:
    """One encode of the whole briefing: mono MP3 at `bitrate` (CBR, so players seek well),
    its level set so that what players decode is what was measured here."""
    return _encode(samples / encoder_gain(rate, bitrate), rate, bitrate)


@cache
def encoder_gain(rate: int = RATE, bitrate: int = BITRATE) -> float:
    """What the encoder and decoder give back for a level put in: LAME's mono path scales
    by 0.95 here (-0.45 dB, at every rate tried), which would leave each -16 LUFS segment
    at -16.45. Measured once on a 1 kHz tone rather than assumed."""
    tone = (0.1 * np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)).astype(np.float32)
    with av.open(BytesIO(_encode(tone, rate, bitrate)), mode="r") as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    middle = decoded[rate // 4 : 3 * rate // 4]
    gain = float(np.sqrt(np.mean(middle**2)) / np.sqrt(np.mean(tone[rate // 4 : 3 * rate // 4] ** 2)))
    return gain if 0.5 < gain < 2.0 else 1.0


def _encode(samples: np.ndarray, rate: int, bitrate: int) -> bytes:
    buffer = BytesIO()
    # No tag of its own: the briefing's ID3 tag (with chapters) goes in front.
    with av.open(buffer, mode="w", format="mp3", options={"id3v2_version": "0"}) as container:
        stream = container.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        stream.bit_rate = bitrate
        pcm = np.clip(samples, -1.0, 1.0).astype(np.float32)
        step = 1152 * 8
        for at in range(0, pcm.size, step):
            frame = av.AudioFrame.from_ndarray(
                pcm[at : at + step].reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = at
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
