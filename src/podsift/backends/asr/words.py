"""Words heard in a few seconds of audio, with their times: the packaged Whisper base, used
by the audio briefing to check that a clip says its quote (and to find it where an inserted
ad moved it). Independent of the ASR setting: it needs the local model, not the backend."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SPOT_RATE = 16000  # what Whisper takes
TOKENS_PER_SECOND = 6  # fast speech is ~4 tokens a second
MAX_TOKENS = 440  # Whisper's decoder holds 448
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


def _trim() -> None:
    """Give freed heap back to the system (glibc keeps it otherwise): the model that
    follows then starts from a smaller footprint, not on top of this one's."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


class WordSpotter:
    """Whisper base (the packaged one) with word times, loaded on first use."""

    def __init__(self, models_home: Path, threads: int = 2):
        self.models_home = models_home
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                from podsift.backends.asr.packaged import install_whisper_base

                folder = install_whisper_base(self.models_home)
                self._model = WhisperModel(
                    str(folder), device="cpu", compute_type="int8", cpu_threads=self.threads
                )
            return self._model

    def release(self) -> None:
        """Let the model go (a briefing narrates after its clips: the two models need not
        share the memory)."""
        with self._lock:
            self._model = None
        gc.collect()
        _trim()

    def words(self, samples: np.ndarray, language: str | None = None, times: bool = True) -> list[Word]:
        """Words heard in 16 kHz mono samples, with their times from the start (`times`);
        without, every word is at 0 (cheaper: no alignment pass)."""
        if samples.size < SPOT_RATE // 4:
            return []
        segments, _ = self._load().transcribe(
            samples.astype(np.float32),
            language=language,
            beam_size=1,
            word_timestamps=times,
            vad_filter=False,
            condition_on_previous_text=False,
            # One greedy pass, bounded by what the seconds can hold: on silence or music the
            # temperature fallback re-decoded each window up to six times, to 448 tokens each
            # (a 10 s silent clip took 100 s to check); a spotter needs the words, not the
            # best of six guesses.
            temperature=0.0,
            max_new_tokens=min(MAX_TOKENS, 16 + int(TOKENS_PER_SECOND * samples.size / SPOT_RATE)),
        )
        out = []
        for segment in segments:
            if not times:
                out += [Word(text, 0.0, 0.0) for text in tokens(segment.text)]
                continue
            for word in segment.words or []:
                for text in tokens(word.word):
                    out.append(Word(text, float(word.start), float(word.end)))
        return out
