"""Thin clients for chat models: the only place that imports a vendor SDK.

`openai:` speaks OpenAI's chat completions with a strict JSON-schema response format (OpenAI,
Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, Groq: anything OpenAI-compatible via
`base_url`); `anthropic:` speaks the Messages API. The SDKs retry 429 and 5xx with backoff,
honouring Retry-After; timeouts are ours.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Protocol

from podsift.backends import BackendSpec


@dataclass
class ChatResult:
    text: str
    tokens_in: int
    tokens_out: int


class ChatClient(Protocol):
    model: str

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> ChatResult: ...


def wire_schema(schema: Any) -> Any:
    """The schema without numeric/length keywords that some strict servers reject
    (pydantic enforces them on the answer anyway)."""
    if isinstance(schema, dict):
        return {
            k: wire_schema(v)
            for k, v in schema.items()
            if k not in ("minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength")
        }
    if isinstance(schema, list):
        return [wire_schema(v) for v in schema]
    return schema


def openai_client(spec: BackendSpec, default_timeout: float) -> Any:
    """An OpenAI SDK client for any compatible server: `base_url`, `api_key` (else the
    OPENAI_* environment), `timeout` and `retries` from the spec. Chat and transcription
    backends share it."""
    from openai import OpenAI

    return OpenAI(
        base_url=spec.option("base_url") or os.environ.get("OPENAI_BASE_URL"),
        api_key=spec.option("api_key") or os.environ.get("OPENAI_API_KEY") or "not-needed",
        timeout=spec.number("timeout", default_timeout),
        max_retries=int(spec.number("retries", 3)),
    )


class OpenAIChat:
    def __init__(self, spec: BackendSpec) -> None:
        self.model = spec.target or "gpt-4o-mini"
        self.client = openai_client(spec, default_timeout=120)
        self.temperature = spec.number("temperature", 0.2)

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> ChatResult:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=self.temperature,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "insights", "strict": True, "schema": wire_schema(schema)},
            },
        )
        usage = response.usage
        return ChatResult(
            response.choices[0].message.content or "",
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
        )


class AnthropicChat:
    def __init__(self, spec: BackendSpec) -> None:
        from anthropic import Anthropic

        self.model = spec.target or "claude-haiku-4-5"
        self.client = Anthropic(
            base_url=spec.option("base_url") or os.environ.get("ANTHROPIC_BASE_URL"),
            api_key=spec.option("api_key") or os.environ.get("ANTHROPIC_API_KEY") or "not-needed",
            timeout=spec.number("timeout", 120),
            max_retries=int(spec.number("retries", 3)),
        )
        self.max_tokens = int(spec.number("max_tokens", 4096))

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> ChatResult:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        system += "\n\nThe JSON schema of your answer:\n" + json.dumps(wire_schema(schema))
        response = self.client.messages.create(
            model=self.model,
            system=system,
            messages=[m for m in messages if m["role"] != "system"],  # type: ignore[misc]
            max_tokens=self.max_tokens,
        )
        text = "".join(getattr(block, "text", "") for block in response.content)
        return ChatResult(text, response.usage.input_tokens, response.usage.output_tokens)
