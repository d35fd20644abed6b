"""The LLM extractor: chunk, prompt, parse, police, merge; cached and budgeted.

`PODSIFT_LLM=openai:MODEL?base_url=...&price_in=0.15&price_out=0.6&chunk_tokens=6000`
or `anthropic:MODEL?...`. One re-ask on an invalid answer, then the episode fails with
the reason. Calls are cached by (episode, transcript hash, prompt version, model, chunk),
so a re-run makes no call; tokens and cost are stored per call.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podsift.backends import BackendSpec
from podsift.insights.llm.clients import AnthropicChat, ChatClient, OpenAIChat
from podsift.insights.llm.parse import InvalidAnswer, parse_answer, to_candidates
from podsift.insights.llm.prompt import (
    INSIGHT_SCHEMA,
    PROMPT_VERSION,
    build_messages,
    chunk_segments,
    reask_message,
)
from podsift.insights.registry import BudgetExhausted, Candidate, EpisodeInfo, ExtractionError, register
from podsift.transcripts.model import Transcript

log = logging.getLogger(__name__)


@dataclass
class CachedCall:
    response: str
    tokens_in: int
    tokens_out: int


class CallStore:
    """Where calls are cached and costed; the app binds a database-backed one."""

    def get(self, key: str) -> CachedCall | None:
        return None

    def put(self, key: str, episode_id: int | None, model: str, call: CachedCall, cost: float) -> None:
        pass


@dataclass
class Usage:
    calls: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    dropped_unsafe: list[str] = field(default_factory=list)


class LLMExtractor:
    def __init__(self, spec: BackendSpec, client_factory: Callable[[BackendSpec], ChatClient]) -> None:
        self.spec = spec
        self._client: ChatClient | None = None
        self._client_factory = client_factory
        self.model = spec.target
        self.name = f"{spec.scheme}:{spec.target}"
        self.chunk_tokens = int(spec.number("chunk_tokens", 6000))
        self.overlap_tokens = int(spec.number("overlap_tokens", 300))
        self.price_in = spec.number("price_in", 0.0) / 1e6  # USD per token
        self.price_out = spec.number("price_out", 0.0) / 1e6
        self.budget_tokens = int(spec.number("budget_tokens", 2_000_000))
        self.budget_usd = spec.number("budget_usd", 0.0)  # 0: no cost cap
        self.store: CallStore = CallStore()
        self.usage = Usage()

    @property
    def client(self) -> ChatClient:
        if self._client is None:
            self._client = self._client_factory(self.spec)
        return self._client

    def extract(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]:
        chunks = chunk_segments(transcript.segments, self.chunk_tokens, self.overlap_tokens)
        per_chunk = max(2, -(-limit // max(len(chunks), 1)) + 1)
        trusted = " ".join(
            filter(None, [episode.show, episode.title, episode.description, episode.link, *episode.persons])
        )
        candidates: list[Candidate] = []
        transcript_hash = transcript.content_hash()
        for chunk in chunks:
            key = hashlib.sha256(
                "|".join(
                    [
                        episode.key,
                        transcript_hash,
                        PROMPT_VERSION,
                        self.name,
                        str(chunk.index),
                        str(per_chunk),
                    ]
                ).encode()
            ).hexdigest()
            messages = build_messages(episode, chunk, len(chunks), per_chunk)
            answer = self._answer(key, messages, episode.episode_id)
            kept, dropped = to_candidates(answer, trusted)
            self.usage.dropped_unsafe.extend(dropped)
            candidates.extend(kept)
        # Grounding and merging near-copies across overlapping chunks happen in the stage.
        return candidates

    def _answer(self, key: str, messages: list[dict[str, str]], episode_id: int | None) -> Any:
        cached = self.store.get(key)
        if cached is not None:
            self.usage.cached += 1
            try:
                return parse_answer(cached.response)
            except InvalidAnswer:
                pass  # a cache entry from an older parser: ask again
        first = self._call(messages)
        try:
            insights = parse_answer(first.response)
            final = first
        except InvalidAnswer as exc:
            retry = [
                *messages,
                {"role": "assistant", "content": first.response[:4000]},
                reask_message(str(exc)),
            ]
            final = self._call(retry)
            final.tokens_in += first.tokens_in
            final.tokens_out += first.tokens_out
            try:
                insights = parse_answer(final.response)
            except InvalidAnswer as again:
                self.store.put(key + ":invalid", episode_id, self.name, final, self._cost(final))
                raise ExtractionError(f"invalid answer after one re-ask: {again}") from again
        self.store.put(key, episode_id, self.name, final, self._cost(final))
        return insights

    def _call(self, messages: list[dict[str, str]]) -> CachedCall:
        if self.usage.tokens_in + self.usage.tokens_out >= self.budget_tokens:
            raise BudgetExhausted(f"token budget of {self.budget_tokens} for this run is spent")
        if self.budget_usd and self.usage.cost_usd >= self.budget_usd:
            raise BudgetExhausted(f"cost budget of ${self.budget_usd:g} for this run is spent")
        try:
            result = self.client.complete(messages, INSIGHT_SCHEMA)
        except Exception as exc:  # SDK errors after its own retries: status, timeout, connection
            raise ExtractionError(f"{self.name}: {type(exc).__name__}: {str(exc)[:300]}") from exc
        self.usage.calls += 1
        self.usage.tokens_in += result.tokens_in
        self.usage.tokens_out += result.tokens_out
        call = CachedCall(result.text, result.tokens_in, result.tokens_out)
        self.usage.cost_usd += self._cost(call)
        return call

    def _cost(self, call: CachedCall) -> float:
        return call.tokens_in * self.price_in + call.tokens_out * self.price_out


@register("openai")
def _openai(spec: BackendSpec) -> LLMExtractor:
    return LLMExtractor(spec, OpenAIChat)


@register("anthropic")
def _anthropic(spec: BackendSpec) -> LLMExtractor:
    return LLMExtractor(spec, AnthropicChat)
