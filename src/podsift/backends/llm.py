"""Thin clients for chat models: the only place that imports a vendor SDK.

`openai:` speaks OpenAI's chat completions (OpenAI, Ollama, vLLM, llama.cpp's llama-server,
llama-cpp-python, LM Studio, OpenRouter: anything OpenAI-compatible via `base_url`);
`anthropic:` speaks the Messages API.

What a slow local server needs, and the client does:
- structured output as the server allows: `json_schema`, else `json_object` with the schema
  (llama-cpp-python answers json_schema with HTTP 500), else the schema in the prompt; the
  mode that worked is kept for the process;
- `max_tokens` on every request, and `finish_reason` reported, so a cut-off answer is known;
- the context window from the server (`/props` of llama-server, `meta.n_ctx_train` of its
  `/v1/models`) or `context=` in the spec, so callers size prompts to fit;
- timeouts from `timeout=` or, for a local server, from its measured speed; a request that
  timed out is never re-sent by the client (the caller decides); 429 and 5xx other than a
  refused response format are retried with backoff, at most `retries` times;
- one request at a time per local server, across processes (a file lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from podsift.backends.spec import BackendSpec, Lazy, Registry, require_sdk

log = logging.getLogger(__name__)
MODES = ("json_schema", "json_object", "prompt")


@dataclass
class ChatResult:
    text: str
    tokens_in: int
    tokens_out: int
    finish_reason: str = "stop"  # "length": cut off at max_tokens
    seconds: float = 0.0

    @property
    def truncated(self) -> bool:
        return self.finish_reason in ("length", "max_tokens")


class ChatTimeout(Exception):
    """The server did not answer in time; the request was not re-sent."""


class ChatError(Exception):
    """The server refused or failed the request after the retries the spec allows."""


class ChatClient(Protocol):
    model: str

    def context_window(self) -> int: ...

    def complete(
        self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int
    ) -> ChatResult: ...


def openai_client(spec: BackendSpec, default_timeout: float, retries: int | None = None) -> Any:
    """An OpenAI SDK client for any compatible server: `base_url`, `api_key` (else the
    OPENAI_* environment), `timeout` and `retries` from the spec. Chat and transcription
    backends share it."""
    require_sdk("openai")
    from openai import OpenAI

    return OpenAI(
        base_url=spec.option("base_url") or os.environ.get("OPENAI_BASE_URL"),
        api_key=spec.option("api_key") or os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=spec.number("timeout", default_timeout),
        max_retries=int(spec.number("retries", 3)) if retries is None else retries,
    )


def is_local(base_url: str | None) -> bool:
    host = urlsplit(base_url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def one_at_a_time(base_url: str) -> Iterator[None]:
    """A local model server answers one request at a time well; more only queue inside it
    and time out. A lock per server, shared by threads and processes on this machine."""
    key = hashlib.sha256(base_url.encode()).hexdigest()[:16]
    with _THREAD_LOCKS.setdefault(key, threading.Lock()):
        path = Path(tempfile.gettempdir()) / f"podsift-llm-{key}.lock"
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


_THREAD_LOCKS: dict[str, threading.Lock] = {}


class Speed:
    """Seconds per prompt token and per generated token, learnt from answers."""

    def __init__(self) -> None:
        self.prompt: float | None = None
        self.generate: float | None = None

    def learn(self, result: ChatResult, timings: dict[str, Any] | None) -> None:
        if timings and timings.get("prompt_per_second") and timings.get("predicted_per_second"):
            self.prompt = 1.0 / float(timings["prompt_per_second"])
            self.generate = 1.0 / float(timings["predicted_per_second"])
        elif result.seconds > 0 and (result.tokens_in or result.tokens_out):
            # No timings: generating a token costs about as much as reading six.
            unit = result.seconds / (result.tokens_in + 6 * result.tokens_out)
            self.prompt, self.generate = unit, 6 * unit

    def estimate(self, tokens_in: int, tokens_out: int) -> float | None:
        if self.prompt is None or self.generate is None:
            return None
        return tokens_in * self.prompt + tokens_out * self.generate


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    return sum(len(m["content"]) for m in messages) // 4 + 8 * len(messages)


def schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "\n\nAnswer with one JSON object only, no prose and no code fence, matching this JSON schema "
        "(respect every maxItems and maxLength):\n" + json.dumps(schema, separators=(",", ":"))
    )


class OpenAIChat:
    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self.model = spec.target or "gpt-4o-mini"
        self.base_url = spec.option("base_url") or os.environ.get("OPENAI_BASE_URL")
        self.local = is_local(self.base_url)
        self.fixed_timeout = spec.option("timeout") is not None
        # A first request to a slow local server may read 6,000 tokens at 60/s: be patient
        # until its speed is known; a hosted API answers in seconds.
        self.timeout = spec.number("timeout", 900 if self.local else 120)
        self.retries = int(spec.number("retries", 2))
        self.client = openai_client(spec, self.timeout, retries=0)  # retries are ours
        # Greedy by default: the same transcript gives the same digest, and answers cache cleanly.
        self.temperature = spec.number("temperature", 0.0)
        self.mode = spec.option("structured") or "json_schema"
        if self.mode not in MODES:
            raise ValueError(f"structured={self.mode!r}: use one of {', '.join(MODES)}")
        self.speed = Speed()
        self._context: int | None = None

    # -- what the server is ---------------------------------------------------------------

    def context_window(self) -> int:
        if self._context is None:
            given = self.spec.option("context")
            self._context = int(given) if given else (self._ask_server_context() or self._default_context())
        return self._context

    def _default_context(self) -> int:
        return 4096 if self.local else 128_000

    def _ask_server_context(self) -> int | None:
        if not self.local or not self.base_url:
            return None
        import httpx2

        root = self.base_url.rstrip("/").removesuffix("/v1")
        probes = (
            (f"{root}/props", ("default_generation_settings", "n_ctx")),
            (f"{self.base_url.rstrip('/')}/models", ("data", 0, "meta", "n_ctx_train")),
        )
        for url, path in probes:
            try:
                value: Any = httpx2.get(url, timeout=5).json()
                for step in path:
                    value = value[step]
                if int(value) > 0:
                    log.info("%s: the server reports a context of %d tokens", self.model, int(value))
                    return int(value)
            except Exception:  # not that kind of server: try the next probe
                continue
        return None

    def timeout_for(self, tokens_in: int, max_tokens: int) -> float:
        if self.fixed_timeout or not self.local:
            return self.timeout
        estimate = self.speed.estimate(tokens_in, max_tokens)
        # Generous: another process may share the CPU; a timeout costs the whole request.
        return self.timeout if estimate is None else max(120.0, min(self.timeout * 2, 3.0 * estimate + 60))

    # -- one request ----------------------------------------------------------------------

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> ChatResult:
        lock = one_at_a_time(self.base_url or "") if self.local else contextlib.nullcontext()
        with lock:
            while True:
                try:
                    return self._send(messages, schema, max_tokens)
                except _FormatRefused as exc:
                    following = MODES.index(self.mode) + 1
                    if following >= len(MODES):
                        raise ChatError(str(exc)) from exc
                    log.warning(
                        "%s refused response_format %s (%s); using %s",
                        self.model,
                        self.mode,
                        exc,
                        MODES[following],
                    )
                    self.mode = MODES[following]

    def _send(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> ChatResult:
        import openai

        request: dict[str, Any] = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": max_tokens,
        }
        if self.mode == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "strict": True, "schema": schema},
            }
        elif self.mode == "json_object":
            request["response_format"] = {"type": "json_object", "schema": schema}
        if self.mode != "json_schema":  # the schema's limits go into the prompt too
            messages = [
                *messages[:-1],
                {**messages[-1], "content": messages[-1]["content"] + schema_instruction(schema)},
            ]
        timeout = self.timeout_for(prompt_tokens(messages), max_tokens)
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                raw = self.client.chat.completions.with_raw_response.create(
                    messages=messages, timeout=timeout, **request
                )
            except openai.APITimeoutError as exc:
                raise ChatTimeout(f"no answer within {timeout:.0f} s") from exc
            except openai.APIStatusError as exc:
                body = str(exc)[:300]
                if exc.status_code in (400, 422, 500, 501) and _about_format(body, self.mode):
                    raise _FormatRefused(f"HTTP {exc.status_code}: {body}") from exc
                if exc.status_code in (429, 500, 502, 503, 504) and attempt < self.retries:
                    time.sleep(_backoff(attempt, exc.response.headers.get("retry-after")))
                    continue
                raise ChatError(f"HTTP {exc.status_code}: {body}") from exc
            except openai.APIConnectionError as exc:
                if attempt < self.retries:
                    time.sleep(_backoff(attempt, None))
                    continue
                raise ChatError(f"connection failed: {exc}") from exc
            response = raw.parse()
            elapsed = time.perf_counter() - started
            usage = response.usage
            choice = response.choices[0]
            result = ChatResult(
                choice.message.content or "",
                usage.prompt_tokens if usage else prompt_tokens(messages),
                usage.completion_tokens if usage else len(choice.message.content or "") // 4,
                choice.finish_reason or "stop",
                elapsed,
            )
            with contextlib.suppress(Exception):
                self.speed.learn(result, json.loads(raw.text).get("timings"))
            return result
        raise ChatError("no answer")  # unreachable: the loop returns or raises


def _backoff(attempt: int, retry_after: str | None) -> float:
    """Seconds before the next try: the server's Retry-After when it gives one, else 2, 4, 8…"""
    try:
        return min(float(retry_after), 60.0) if retry_after is not None else min(2.0 * 2**attempt, 30.0)
    except ValueError:
        return min(2.0 * 2**attempt, 30.0)


class _FormatRefused(Exception):
    pass


def _about_format(body: str, mode: str) -> bool:
    """Does the error look like the server refusing this structured-output mode?"""
    if mode == "prompt":
        return False
    lowered = body.lower()
    return any(word in lowered for word in ("response_format", "json_schema", "schema", "grammar"))


class AnthropicChat:
    def __init__(self, spec: BackendSpec) -> None:
        from anthropic import Anthropic

        self.spec = spec
        self.model = spec.target or "claude-haiku-4-5"
        self.client = Anthropic(
            base_url=spec.option("base_url") or os.environ.get("ANTHROPIC_BASE_URL"),
            api_key=spec.option("api_key") or os.environ.get("ANTHROPIC_API_KEY") or "not-needed",
            timeout=spec.number("timeout", 120),
            max_retries=int(spec.number("retries", 2)),
        )

    def context_window(self) -> int:
        return int(self.spec.number("context", 200_000))

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> ChatResult:
        import anthropic

        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") + schema_instruction(
            schema
        )
        started = time.perf_counter()
        try:
            response = self.client.messages.create(
                model=self.model,
                system=system,
                messages=[m for m in messages if m["role"] != "system"],  # type: ignore[misc]
                max_tokens=max_tokens,
            )
        except anthropic.APITimeoutError as exc:
            raise ChatTimeout("no answer in time") from exc
        except anthropic.APIError as exc:
            raise ChatError(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        text = "".join(getattr(block, "text", "") for block in response.content)
        return ChatResult(
            text,
            response.usage.input_tokens,
            response.usage.output_tokens,
            response.stop_reason or "end_turn",
            time.perf_counter() - started,
        )


CHAT_MODELS: Registry[ChatClient | None] = Registry("insight extractor", "PODSIFT_LLM")


@CHAT_MODELS.register("offline")
def _no_model(spec: BackendSpec) -> None:
    return None


@CHAT_MODELS.register("openai")
def _openai(spec: BackendSpec) -> ChatClient:
    return OpenAIChat(spec)


@CHAT_MODELS.register("anthropic")
def _anthropic(spec: BackendSpec) -> ChatClient:
    return AnthropicChat(spec)


def chat_model(spec: BackendSpec) -> Lazy[ChatClient] | None:
    """The chat model `spec` names, built on first use (None for `offline`).

    An unknown scheme is refused now, at start-up, not on the first request."""
    build = CHAT_MODELS.factory(spec.scheme)
    if spec.scheme == "offline":
        return None
    require_sdk(spec.scheme)
    return Lazy(lambda: cast(ChatClient, build(spec)))
