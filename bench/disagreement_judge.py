"""The LLM stance judge on a packaged model served by llama.cpp on loopback, for the benches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.llm_server import llama_server

from podsift.backends.calls import CachedCall, CallStore
from podsift.backends.judge import LLMStoryJudge
from podsift.backends.llm import chat_model
from podsift.backends.spec import parse_spec


class MemoryStore(CallStore):
    """Answers kept for the run: nothing is asked twice."""

    def __init__(self) -> None:
        self.calls: dict[str, CachedCall] = {}

    def get(self, key: str) -> CachedCall | None:
        return self.calls.get(key)

    def put(
        self, key: str, episode_id: int | None, model: str, call: CachedCall, cost: float, version: str
    ) -> None:
        self.calls[key] = call


@contextmanager
def judge_for(name: str, logs: Path) -> Iterator[LLMStoryJudge]:
    with llama_server(name, logs, context=2048) as url:
        client = chat_model(parse_spec(f"openai:{name}?base_url={url}&timeout=120"))
        assert client is not None
        yield LLMStoryJudge(client(), MemoryStore(), name, 0, 100_000)
