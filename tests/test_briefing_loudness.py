"""Briefing loudness (podsift.briefings.loudness) checked against pyloudnorm, an independent
BS.1770-4 meter, on a reference sine, noise and espeak-ng speech at the rates segments come in,
and against a plain lfilter meter built on the standard's published 48 kHz coefficients.

pyloudnorm's K-weighting (RBJ-cookbook biquads) reads 0.04 LU low at 48 kHz (a 0 dBFS 997 Hz
sine gives -3.05, not -3.01) and up to 0.09 LU low at 22.05 kHz, so 0.1 LU is the honest
tolerance against it; against the published coefficients the agreement is to rounding."""

from __future__ import annotations

import math
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from podsift.briefings.loudness import (
    fade,
    gain_to,
    integrated_loudness,
    limit_peaks,
    normalise_segment,
)

pyloudnorm = pytest.importorskip("pyloudnorm")
lfilter = pytest.importorskip("scipy.signal").lfilter  # scipy: a dev dependency only

# ITU-R BS.1770-4 Table 1 and 2: the K-weighting pre-filter and RLB filter at 48 kHz.
SHELF_48K = (
    [1.53512485958697, -2.69169618940638, 1.19839281085285],
    [1.0, -1.69065929318241, 0.73248077421585],
)
HIGHPASS_48K = ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621])

RATES = [22050, 24000, 44100, 48000]
CEILING_DB = -1.0
CEILING = 10 ** (CEILING_DB / 20)
TEXT = (
    "Solar power has become the cheapest source of new electricity in most of the world. "
    "Because panel prices keep falling, utilities are closing old coal plants years ahead of "
    "schedule. Batteries store the cheap midday power and release it in the evening."
)


def reference(samples: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(np.asarray(samples, dtype=np.float64)))


def bs1770_at_48k(samples: np.ndarray) -> float:
    """The standard's algorithm written out plainly: time-domain filters, 400 ms blocks every
    100 ms, absolute then relative gate."""
    weighted = lfilter(*HIGHPASS_48K, lfilter(*SHELF_48K, samples))
    starts = range(0, len(weighted) - 19200 + 1, 4800)
    powers = np.array([np.mean(weighted[s : s + 19200] ** 2) for s in starts])
    loudness = -0.691 + 10 * np.log10(np.maximum(powers, 1e-300))
    gated = powers[loudness > -70]
    relative = -0.691 + 10 * np.log10(np.mean(gated)) - 10
    return float(-0.691 + 10 * np.log10(np.mean(powers[(loudness > -70) & (loudness > relative)])))


def sine(rate: int, seconds: float = 5.0, dbfs: float = -20.0, hz: float = 997.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t)


def pink_noise(rate: int, seconds: float = 8.0, seed: int = 7) -> np.ndarray:
    """White noise shaped to 1/f power in the frequency domain, at about -23 dBFS RMS."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(int(seconds * rate)))
    freqs = np.fft.rfftfreq(int(seconds * rate), 1 / rate)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, int(seconds * rate))
    return 0.07 * noise / np.sqrt(np.mean(noise**2))


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return samples
    times = np.arange(int(len(samples) * to_rate / from_rate)) / to_rate
    return np.interp(times, np.arange(len(samples)) / from_rate, samples)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """espeak-ng's speech at its native rate, as floats in [-1, 1]."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), TEXT], check=True, capture_output=True)
    return read_wav(path)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        frames = wav.readframes(wav.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768, wav.getframerate()


# --- integrated_loudness against pyloudnorm ----------------------------------------------


def test_full_scale_997_hz_sine_reads_the_bs1770_reference() -> None:
    assert integrated_loudness(sine(48000, dbfs=0.0), 48000) == pytest.approx(-3.01, abs=0.02)


@pytest.mark.parametrize("rate", RATES)
def test_sine_at_minus_20_dbfs_matches_pyloudnorm(rate: int) -> None:
    samples = sine(rate)
    ours = integrated_loudness(samples, rate)
    assert ours == pytest.approx(reference(samples, rate), abs=0.1)
    assert ours == pytest.approx(-23.01, abs=0.05)


@pytest.mark.parametrize("rate", RATES)
def test_pink_noise_matches_pyloudnorm(rate: int) -> None:
    samples = pink_noise(rate)
    assert integrated_loudness(samples, rate) == pytest.approx(reference(samples, rate), abs=0.1)


def test_speech_at_its_native_rate_matches_pyloudnorm(speech: tuple[np.ndarray, int]) -> None:
    samples, rate = speech
    assert integrated_loudness(samples, rate) == pytest.approx(reference(samples, rate), abs=0.1)


@pytest.mark.parametrize("rate", RATES)
def test_speech_resampled_matches_pyloudnorm(speech: tuple[np.ndarray, int], rate: int) -> None:
    samples = resample(*speech, rate)
    assert integrated_loudness(samples, rate) == pytest.approx(reference(samples, rate), abs=0.1)


def test_matches_the_published_48k_filters_to_rounding(speech: tuple[np.ndarray, int]) -> None:
    # 80 s, long enough to be filtered in several chunks, with quiet and silent stretches
    # that the gates have to drop.
    voice = resample(*speech, 48000)
    samples = np.concatenate(
        [voice, np.zeros(48000 * 5), 0.05 * voice, pink_noise(48000, seconds=40.0), 0.001 * voice, voice]
    )
    assert len(samples) > 3_000_000
    assert integrated_loudness(samples, 48000) == pytest.approx(bs1770_at_48k(samples), abs=1e-6)


def test_gating_ignores_silence_between_speech(speech: tuple[np.ndarray, int]) -> None:
    samples, rate = speech
    padded = np.concatenate([samples, np.zeros(10 * rate), samples])
    assert integrated_loudness(padded, rate) == pytest.approx(reference(padded, rate), abs=0.1)
    assert integrated_loudness(padded, rate) == pytest.approx(integrated_loudness(samples, rate), abs=0.2)


def test_float32_input_reads_the_same() -> None:
    samples = pink_noise(24000)
    assert integrated_loudness(samples.astype(np.float32), 24000) == pytest.approx(
        integrated_loudness(samples, 24000), abs=1e-3
    )


def test_silence_is_minus_infinity() -> None:
    assert integrated_loudness(np.zeros(24000), 24000) == -math.inf
    assert integrated_loudness(np.zeros(0), 24000) == -math.inf
    assert integrated_loudness(np.full(24000, 1e-6), 24000) == -math.inf  # under the -70 gate


def test_a_signal_shorter_than_a_block_is_one_block() -> None:
    # A 0.3 s sine reads as a longer one does (the K-weighting settles in a few ms).
    short, long = sine(24000, seconds=0.3), sine(24000, seconds=3.0)
    assert integrated_loudness(short, 24000) == pytest.approx(integrated_loudness(long, 24000), abs=0.05)


def test_stereo_is_refused() -> None:
    with pytest.raises(ValueError):
        integrated_loudness(np.zeros((2, 24000)), 24000)


# --- gain, limiter, fades ----------------------------------------------------------------


def test_gain_to_reaches_the_target() -> None:
    out = gain_to(pink_noise(24000), 24000, -16.0)
    assert integrated_loudness(out, 24000) == pytest.approx(-16.0, abs=1e-6)
    assert reference(out, 24000) == pytest.approx(-16.0, abs=0.1)
    assert np.array_equal(gain_to(np.zeros(100), 24000), np.zeros(100))


def test_limiter_holds_the_ceiling_and_ramps_smoothly() -> None:
    rate = 24000
    samples = sine(rate, seconds=1.0, dbfs=-12.0)
    samples[rate // 2 : rate // 2 + 240] *= 8  # a 10 ms burst 6 dB over full scale
    out = limit_peaks(samples, rate, ceiling_db=CEILING_DB)
    assert np.max(np.abs(out)) <= CEILING
    quiet = np.abs(samples) > 0.05
    gain = np.ones_like(samples)
    gain[quiet] = out[quiet] / samples[quiet]
    assert np.allclose(gain[: rate // 4], 1.0) and np.allclose(gain[-rate // 4 :], 1.0)
    # No gain jump between neighbouring samples bigger than a small step: no clicks.
    assert np.max(np.abs(np.diff(gain[quiet][rate // 4 : -rate // 4]))) < 0.1


def test_limiter_leaves_quiet_audio_alone() -> None:
    samples = sine(24000, dbfs=-6.0)
    assert np.allclose(limit_peaks(samples, 24000), samples)


def test_loud_clipped_square_wave_is_limited_to_the_ceiling() -> None:
    rate = 24000
    square = np.clip(4 * np.sign(np.sin(2 * np.pi * 220 * np.arange(2 * rate) / rate)), -1, 1)
    out = limit_peaks(square, rate, ceiling_db=CEILING_DB)
    assert np.max(np.abs(out)) <= CEILING
    assert np.max(np.abs(out[rate // 2 :])) == pytest.approx(CEILING, rel=1e-3)  # not over-limited
    segment = normalise_segment(square.astype(np.float32), rate, ceiling_db=CEILING_DB)
    assert segment.dtype == np.float32
    assert np.max(np.abs(segment)) <= CEILING


def test_limiting_normalised_speech_changes_loudness_little(speech: tuple[np.ndarray, int]) -> None:
    samples = resample(*speech, 24000)
    gained = gain_to(samples, 24000, -16.0)
    limited = limit_peaks(gained, 24000)
    assert np.max(np.abs(limited)) <= CEILING
    assert abs(reference(limited, 24000) - reference(gained, 24000)) < 0.75


def test_fades_start_and_end_at_silence() -> None:
    out = fade(np.ones(24000), 24000, fade_in=0.05, fade_out=0.15)
    assert out[0] == 0.0 and out[-1] == pytest.approx(0.0, abs=1e-3)
    assert np.all(np.diff(out[:1200]) >= 0) and np.all(np.diff(out[-3600:]) <= 0)
    assert np.all(out[1200:-3600] == 1.0)


def test_fades_on_a_short_signal_are_clamped() -> None:
    out = fade(np.ones(1000), 24000, fade_in=0.05, fade_out=0.15)
    assert out.shape == (1000,)
    assert out[0] == 0.0 and out[-1] == pytest.approx(0.0, abs=1e-2)
    assert np.all((out >= 0) & (out <= 1))
    assert fade(np.ones(1, dtype=np.float32), 24000).dtype == np.float32


# --- the segment pipeline ----------------------------------------------------------------


@pytest.mark.parametrize("at_native_rate", [False, True])
def test_normalise_segment_on_speech(speech: tuple[np.ndarray, int], at_native_rate: bool) -> None:
    samples, native = speech
    rate = native if at_native_rate else 24000
    out = normalise_segment(resample(samples * 0.3, native, rate), rate, -16.0, CEILING_DB)
    assert out.dtype == np.float32
    assert reference(out, rate) == pytest.approx(-16.0, abs=0.5)
    assert np.max(np.abs(out)) <= CEILING


def test_normalise_segment_on_a_short_clip(speech: tuple[np.ndarray, int]) -> None:
    samples, native = speech
    clip = resample(samples, native, 24000)[int(0.5 * 24000) : int(1.7 * 24000)]  # 1.2 s
    out = normalise_segment(clip, 24000)
    assert reference(out, 24000) == pytest.approx(-16.0, abs=0.5)
    assert np.max(np.abs(out)) <= CEILING


def test_normalise_segment_leaves_silence_silent() -> None:
    out = normalise_segment(np.zeros(24000), 24000)
    assert out.dtype == np.float32 and not out.any()
