"""Any OpenAI-compatible `POST /audio/speech` endpoint (OpenAI, a local Kokoro or Piper
server): `openai:tts-1?base_url=http://127.0.0.1:8000/v1&voice=alloy&api_key=...&timeout=60`.
Asks for WAV, so no decoder beyond the stdlib is needed."""

from __future__ import annotations

import os

import httpx2

from podsift.backends.narrator.registry import (
    NARRATOR_BACKENDS,
    NarrationError,
    Speech,
    decode_wav,
    spoken_text,
)
from podsift.backends.spec import BackendConfigError, BackendSpec

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAISpeech:
    def __init__(self, spec: BackendSpec) -> None:
        self.model = spec.target or "tts-1"
        self.base_url = (
            spec.option("base_url") or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise BackendConfigError(f"narrator base_url {self.base_url!r} is not an http(s) URL")
        self.voice = spec.option("voice") or "alloy"
        # As the other OpenAI backends: the spec's key, else the OPENAI_* environment.
        self._api_key = spec.option("api_key") or os.environ.get("OPENAI_API_KEY") or ""
        self.timeout = spec.number("timeout", 60)
        # The name keys the cache (another server or voice sounds different); no key in it.
        self.name = f"openai:{self.model}?voice={self.voice}&base_url={self.base_url}"
        self.calls = 0

    def _safe(self, text: str) -> str:
        """`text` as it may be logged: a server that echoes the key back gets it masked."""
        return text.replace(self._api_key, "***") if self._api_key else text

    def speak(self, text: str) -> Speech:
        text = spoken_text(text)
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        body = {"model": self.model, "input": text, "voice": self.voice, "response_format": "wav"}
        self.calls += 1
        try:
            reply = httpx2.post(
                f"{self.base_url}/audio/speech", json=body, headers=headers, timeout=self.timeout
            )
        except httpx2.TimeoutException as exc:
            raise NarrationError(
                f"{self.name}: no answer in {self.timeout:g} s ({type(exc).__name__})"
            ) from exc
        except httpx2.HTTPError as exc:  # refused, reset, TLS, a malformed URL
            raise NarrationError(self._safe(f"{self.name}: {type(exc).__name__}: {exc}")) from exc
        if reply.status_code != 200:
            said = " ".join(reply.text.split())[:300]
            raise NarrationError(self._safe(f"{self.name}: HTTP {reply.status_code}: {said}"))
        try:
            return decode_wav(reply.content)
        except NarrationError as exc:
            kind = reply.headers.get("content-type", "?")
            raise NarrationError(f"{self.name}: the reply ({kind}) is not WAV audio: {exc}") from exc


@NARRATOR_BACKENDS.register("openai")
def _make(spec: BackendSpec) -> OpenAISpeech:
    return OpenAISpeech(spec)
