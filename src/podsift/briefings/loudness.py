"""Per-segment loudness for the briefing: ITU-R BS.1770-4 integrated loudness, a gain to
-16 LUFS, a look-ahead peak limiter and fades, in plain numpy.

Each segment (a narrated lead-in or a podcast clip) is measured and gained on its own:
one-pass ffmpeg loudnorm misses on clips of a few seconds, and mixing sources of very
different loudness into one file is exactly what the listener hears as jumps."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]

BLOCK_SECONDS = 0.4  # BS.1770 gating block, with 75% overlap
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
_OFFSET = -0.691  # makes a 0 dBFS 997 Hz sine read -3.01 LUFS
_CHUNK_SAMPLES = 1 << 20  # K-weighting works through long audio this much at a time
_TAIL_LEVEL = 1e-15  # impulse-response amplitude at which the K-weighting IIR counts as decayed


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) of a mono signal; -inf for silence. A signal shorter
    than one 400 ms block is measured as one block."""
    x = _mono(samples)
    if x.size == 0:
        return float("-inf")
    powers = _block_powers(x, rate)
    gated = powers[powers > _power(ABSOLUTE_GATE_LUFS)]
    if gated.size == 0:
        return float("-inf")
    relative_gate = float(np.mean(gated)) * 10 ** (RELATIVE_GATE_LU / 10)
    gated = gated[gated > relative_gate]
    if gated.size == 0:
        return float("-inf")
    return _OFFSET + 10 * float(np.log10(np.mean(gated)))


def gain_to(samples: np.ndarray, rate: int, target_lufs: float = -16.0) -> np.ndarray:
    """The samples scaled so their integrated loudness is `target_lufs` (silence unchanged)."""
    loudness = integrated_loudness(samples, rate)
    if not np.isfinite(loudness):
        return np.array(samples, dtype=_float_dtype(samples))
    gain = 10 ** ((target_lufs - loudness) / 20)
    return (_mono(samples) * gain).astype(_float_dtype(samples))


def limit_peaks(
    samples: np.ndarray,
    rate: int,
    ceiling_db: float = -1.0,
    lookahead: float = 0.005,
    release: float = 0.05,
) -> np.ndarray:
    """Look-ahead peak limiter: no output sample above 10**(ceiling_db/20) in absolute value.

    The gain starts falling `lookahead` seconds before a peak (a linear ramp, so there is
    no click) and recovers exponentially over about `release` seconds."""
    x = _mono(samples)
    ceiling = 10 ** (ceiling_db / 20)
    if x.size == 0 or float(np.max(np.abs(x))) <= ceiling:
        return np.array(samples, dtype=_float_dtype(samples))
    window = _count(lookahead, rate) + 1
    # Reduction has fallen to e**-37 (under float64 resolution) this long after a peak, so
    # chunks that see this much audio before them (and the look-ahead after) are exact.
    memory = _count(release * 37 / 3, rate) + window
    gains = np.empty_like(x)
    for start in range(0, x.size, _CHUNK_SAMPLES):
        end = min(start + _CHUNK_SAMPLES, x.size)
        lead = min(start, memory)
        piece = x[start - lead : end + window]
        gains[start:end] = _limiter_gain(piece, ceiling, window, rate * release)[lead : lead + end - start]
    return _clip(x * gains, ceiling, _float_dtype(samples))


def fade(samples: np.ndarray, rate: int, fade_in: float = 0.05, fade_out: float = 0.15) -> np.ndarray:
    """Raised-cosine fade in and out; on a signal shorter than both, each is shortened in
    proportion so they meet rather than overlap."""
    x = _mono(samples)
    n_in, n_out = _count(fade_in, rate), _count(fade_out, rate)
    if n_in + n_out > x.size:
        scale = x.size / (n_in + n_out)
        n_in = int(n_in * scale)
        n_out = x.size - n_in if n_out else 0
    envelope = np.ones(x.size)
    envelope[:n_in] = _raised_cosine(n_in)
    envelope[x.size - n_out :] = _raised_cosine(n_out)[::-1]
    return (x * envelope).astype(_float_dtype(samples))


def normalise_segment(
    samples: np.ndarray, rate: int, target_lufs: float = -16.0, ceiling_db: float = -1.0
) -> np.ndarray:
    """A segment ready to join the briefing: at `target_lufs`, peaks under `ceiling_db`,
    float32. Limiting takes loudness off (0.2-0.5 LU on speech whose peaks sit high), so
    corrective gains follow until the segment is within 0.05 LU (three at most: limiting is
    compressive, so each step lands closer)."""
    x = limit_peaks(gain_to(_mono(samples), rate, target_lufs), rate, ceiling_db)
    for _ in range(3):
        loudness = integrated_loudness(x, rate)
        if not np.isfinite(loudness) or abs(loudness - target_lufs) <= 0.05:
            break
        x = limit_peaks(gain_to(x, rate, target_lufs), rate, ceiling_db)
    return _clip(x, 10 ** (ceiling_db / 20), np.dtype(np.float32))


# --- K-weighting -------------------------------------------------------------------------


@cache
def _k_weighting(rate: int) -> tuple[Floats, Floats]:
    """(b, a) of the two-stage BS.1770 pre-filter at `rate`, from its analog prototype by
    the bilinear transform as libebur128 derives it (exactly the standard's 48 kHz table)."""
    # Stage 1: high shelf, about +4 dB above 1.5 kHz (the head's acoustic effect).
    k = np.tan(np.pi * 1681.974450955533 / rate)
    q = 0.7071752369554196
    vh = 10 ** (3.999843853973347 / 20)
    vb = vh**0.4996667741545416
    norm = 1 + k / q + k * k
    shelf_b = np.array([vh + vb * k / q + k * k, 2 * (k * k - vh), vh - vb * k / q + k * k]) / norm
    shelf_a = np.array([1.0, 2 * (k * k - 1) / norm, (1 - k / q + k * k) / norm])
    # Stage 2: the RLB high-pass at 38 Hz.
    k = np.tan(np.pi * 38.13547087602444 / rate)
    q = 0.5003270373238773
    norm = 1 + k / q + k * k
    highpass_b = np.array([1.0, -2.0, 1.0])
    highpass_a = np.array([1.0, 2 * (k * k - 1) / norm, (1 - k / q + k * k) / norm])
    return np.convolve(shelf_b, highpass_b), np.convolve(shelf_a, highpass_a)


@cache
def _k_impulse_response(rate: int) -> Floats:
    """The K-weighting IIR's impulse response, cut where it has decayed below _TAIL_LEVEL:
    convolving with it equals lfilter to rounding error, and FFT convolution is fast."""
    b, a = _k_weighting(rate)
    radius = float(np.max(np.abs(np.roots(a))))
    # Repeated poles decay like n * r**n, hence the factor 2 on the r**n length.
    length = int(np.ceil(2 * np.log(_TAIL_LEVEL) / np.log(radius)))
    n_fft = _next_pow2(4 * length)  # time aliasing of r**n_fft: far below the tail level
    response = np.fft.irfft(np.fft.rfft(b, n_fft) / np.fft.rfft(a, n_fft), n_fft)[:length]
    response.setflags(write=False)
    return response


def _k_weight(x: Floats, rate: int) -> Floats:
    return _fft_convolve(x, _k_impulse_response(rate))


def _fft_convolve(x: Floats, h: Floats) -> Floats:
    """The first len(x) samples of x * h by overlap-add, all blocks in one 2-D FFT."""
    m = h.size
    if x.size < 4 * m:  # one block, long enough that the circular wrap misses len(x)
        n_fft = _next_pow2(x.size + m - 1)
        return np.fft.irfft(np.fft.rfft(x, n_fft) * np.fft.rfft(h, n_fft), n_fft)[: x.size]
    n_fft = max(_next_pow2(4 * m), 1 << 15)
    step = n_fft - m + 1  # input samples per block; each block's m - 1 tail spills into the next
    blocks = np.zeros((-(-x.size // step), step))
    blocks.reshape(-1)[: x.size] = x
    spectra = np.fft.rfft(blocks, n_fft, axis=1)
    spectra *= np.fft.rfft(h, n_fft)
    filtered = np.fft.irfft(spectra, n_fft, axis=1)
    out = filtered[:, :step]
    out[1:, : m - 1] += filtered[:-1, step:]
    return out.reshape(-1)[: x.size]


def _block_powers(x: Floats, rate: int) -> Floats:
    """Mean square of the K-weighted signal in each 400 ms block, blocks every 100 ms."""
    hop = max(_count(BLOCK_SECONDS / 4, rate), 1)
    if x.size < 4 * hop:
        return np.array([np.mean(_k_weight(x, rate) ** 2)])
    energy = _hop_energies(x, rate, hop)
    return (energy[:-3] + energy[1:-2] + energy[2:-1] + energy[3:]) / (4 * hop)


def _hop_energies(x: Floats, rate: int, hop: int) -> Floats:
    """K-weighted energy of each whole 100 ms hop. Filtered a chunk at a time, each chunk
    with the input before it that the filter remembers: exact, and memory stays small (on
    long audio, fresh memory's page faults cost more than the FFTs)."""
    h = _k_impulse_response(rate)
    chunk = hop * max(_CHUNK_SAMPLES // hop, 1)
    usable = x.size // hop * hop
    energies = []
    for start in range(0, usable, chunk):
        lead = min(start, h.size - 1)
        hops = _fft_convolve(x[start - lead : min(start + chunk, usable)], h)[lead:].reshape(-1, hop)
        energies.append(np.einsum("ij,ij->i", hops, hops))
    return np.concatenate(energies)


def _power(lufs: float) -> float:
    return float(10 ** ((lufs - _OFFSET) / 10))


# --- limiter pieces ----------------------------------------------------------------------


def _limiter_gain(x: Floats, ceiling: float, window: int, release_samples: float) -> Floats:
    """Gain per sample keeping x under the ceiling. Worked out as reduction (1 - gain):
    zero almost everywhere, so its running sums stay accurate."""
    needed = 1 - ceiling / np.maximum(np.abs(x), ceiling)
    held = _running_max_ahead(needed, window)
    released = _release(held, release_samples)
    # The attack ramp: every value averaged at n was held over a window containing n, so
    # the average is still >= the reduction that sample n needs.
    return 1 - _moving_average_behind(released, window)


def _running_max_ahead(x: Floats, window: int) -> Floats:
    """out[n] = max(x[n : n + window]) (zeros past the end): maxima over spans doubling to
    the largest power of two within the window, then two overlapping spans cover it."""
    spans = np.concatenate([x, np.zeros(window)])
    span = 1
    while span * 2 <= window:
        spans = np.maximum(spans[:-span], spans[span:])  # now max over 2 * span samples
        span *= 2
    return np.maximum(spans[: x.size], spans[window - span : window - span + x.size])


def _release(reduction: Floats, release_samples: float) -> Floats:
    """Reduction that falls back exponentially (down to e**-3 after `release_samples`):
    out[n] = max over k <= n of reduction[k] * decay**(n - k), a running maximum in the log
    domain, so no per-sample loop."""
    if release_samples <= 0:
        return reduction
    log_decay = -3.0 / release_samples
    steps = np.arange(reduction.size) * log_decay
    with np.errstate(divide="ignore"):
        logs = np.log(reduction)
    return np.exp(np.maximum.accumulate(logs - steps) + steps)


def _moving_average_behind(x: Floats, window: int) -> Floats:
    """out[n] = mean(x[n - window + 1 : n + 1]), with zeros before the start."""
    sums = np.cumsum(np.concatenate([np.zeros(window), x]))
    return (sums[window:] - sums[:-window]) / window


def _clip(x: Floats, ceiling: float, dtype: np.dtype) -> np.ndarray:
    """x in `dtype`, clipped at the largest value of that dtype not above `ceiling` (a
    float32 rounding of the ceiling may be a hair over it)."""
    limit = np.asarray(ceiling, dtype=dtype)
    if float(limit) > ceiling:
        limit = np.nextafter(limit, np.asarray(0, dtype=dtype))
    out = x.astype(dtype)
    np.minimum(out, limit, out=out)
    return np.maximum(out, -limit, out=out)


# --- small helpers -----------------------------------------------------------------------


def _mono(samples: np.ndarray) -> Floats:
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected mono samples (1-D), got shape {x.shape}")
    return x


def _float_dtype(samples: np.ndarray) -> np.dtype:
    """The input's float type (float32 segments stay float32); float64 for anything else."""
    dtype = np.asarray(samples).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def _count(seconds: float, rate: int) -> int:
    """Whole samples in `seconds` (none for a negative time)."""
    return max(round(seconds * rate), 0)


def _raised_cosine(n: int) -> Floats:
    """n gains rising from 0 towards 1 along half a cosine."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n, 1))


def _next_pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 1).bit_length()
