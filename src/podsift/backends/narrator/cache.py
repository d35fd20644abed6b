"""Spoken texts kept on disk: a briefing says the same lines every day ("That's your
briefing...") and a rebuilt briefing says all of its lines again; each is spoken once.

One `.npz` file per (narrator, text): the float32 samples exactly as spoken and their rate.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from podsift.backends.narrator.registry import Narrator, Speech, as_speech, spoken_text

log = logging.getLogger(__name__)


class CachedNarrator:
    def __init__(self, inner: Narrator, folder: Path) -> None:
        self.inner, self.folder = inner, folder
        self.name = inner.name

    def path_for(self, text: str) -> Path:
        # The narrator's name holds its voice and pace: another voice is another file.
        digest = hashlib.sha256(f"{self.inner.name}\0{text}".encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.npz"

    def speak(self, text: str) -> Speech:
        text = spoken_text(text)
        path = self.path_for(text)
        kept = self._read(path)
        if kept is not None:
            return kept
        speech = self.inner.speak(text)
        self._write(path, speech)
        return speech

    def _read(self, path: Path) -> Speech | None:
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                samples, rate = stored["samples"], int(stored["rate"])
            if samples.dtype != np.float32 or samples.ndim != 1:
                raise ValueError(f"samples of {samples.dtype} in {samples.ndim} dimensions")
            return as_speech(samples, rate)
        except Exception as exc:  # a torn or foreign file: speak again, and the write replaces it
            log.warning(
                "narration cache %s unreadable (%s: %s); speaking again", path.name, type(exc).__name__, exc
            )
            return None

    def _write(self, path: Path, speech: Speech) -> None:
        # A full disk or a read-only home costs the cache, never the briefing.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".narration-", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(handle, "wb") as out:
                    np.savez(out, samples=speech.samples, rate=np.int64(speech.rate))
                os.replace(temporary, path)  # atomic: a reader sees the old file or the whole new one
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            log.warning("narration cache not written (%s: %s)", type(exc).__name__, exc)
