"""ASR backends: one small protocol, chosen by `PODSIFT_ASR` (`faster-whisper:base?...`,
`openai:whisper-1?base_url=...`, `none`)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from podsift.backends.spec import BackendSpec, Registry, parse_spec, require_sdk
from podsift.types import Transcript


class SpeechToText(Protocol):
    name: str

    def transcribe(self, audio: Path) -> Transcript: ...


class TranscriptionError(Exception):
    """The audio could not be transcribed; the message is stored as the reason."""


ASR_BACKENDS: Registry[SpeechToText | None] = Registry("speech-to-text", "PODSIFT_ASR")


@ASR_BACKENDS.register("none")
def _no_asr(spec: BackendSpec) -> None:
    return None


def make_asr(spec: str, home: Path) -> SpeechToText | None:
    """The configured backend, or None when ASR is switched off (`none`)."""
    from podsift.backends.asr import openai_api, whisper_local  # noqa: F401  (register)

    backend = ASR_BACKENDS.create(spec)
    if isinstance(backend, whisper_local.FasterWhisper):  # local models live in the app's data dir
        backend.models_home = home / "models"
    return backend


def asr_enabled(spec: str) -> bool:
    """Whether speech to text is switched on, known without loading a model."""
    return parse_spec(spec).scheme != "none"


def check_asr_spec(spec: str) -> None:
    """Refuse an unknown backend at start-up (BackendConfigError), without loading a model."""
    from podsift.backends.asr import openai_api, whisper_local  # noqa: F401  (register)

    scheme = parse_spec(spec).scheme
    ASR_BACKENDS.factory(scheme)
    require_sdk(scheme)
