"""Insight extractors: one small protocol; offline, or a chat model refining its proposals.

An extractor reads a transcript and proposes candidates, each with a verbatim quote; the
insights stage grounds every quote in the transcript and drops those it cannot find, so
no backend (offline or LLM) can put an unsupported claim into a digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from podsift.backends.calls import CallStore
from podsift.backends.llm import ChatClient, chat_model
from podsift.backends.spec import BackendConfigError, Lazy, parse_spec
from podsift.types import Transcript


@dataclass(frozen=True)
class EpisodeInfo:
    """What an extractor may know about the episode besides its transcript."""

    show: str | None
    title: str | None
    description: str | None = None
    persons: tuple[str, ...] = ()
    # Stable identity (feed URL + episode key) for caching model calls.
    key: str = ""
    link: str | None = None
    episode_id: int | None = None
    chapters: tuple[tuple[float, str], ...] = ()


@dataclass
class Candidate:
    text: str
    quote: str
    speaker: str | None
    score: float
    tags: list[str] = field(default_factory=list)
    importance: float | None = None
    novelty: float | None = None
    confidence: float | None = None


class Extractor(Protocol):
    name: str

    def extract(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]: ...


class ExtractionError(Exception):
    """The backend could not produce a valid answer; the episode is marked llm_failed."""


class BudgetExhausted(ExtractionError):
    """This run's token or cost budget is spent; remaining episodes wait for the next run."""


ExtractorConfigError = BackendConfigError


def make_extractor(
    spec: str, chat: Lazy[ChatClient] | None = None, calls: CallStore | None = None
) -> Extractor:
    """`offline` (`offline?threshold=0.6` to move the selector's keep threshold,
    `offline:PATH.npz` for weights trained elsewhere), or a chat model's spec
    (`openai:MODEL?...`, `anthropic:MODEL?...`): the model refines offline proposals or reads
    whole transcripts."""
    parsed = parse_spec(spec or "offline")
    if parsed.scheme == "offline":
        from podsift.insights.offline import OfflineExtractor, threshold_option

        level = threshold_option(parsed)
        if parsed.target:
            return OfflineExtractor.from_path(parsed.target, level)
        return OfflineExtractor(level)
    chat = chat or chat_model(parsed)
    if chat is None:
        raise BackendConfigError(f"{parsed.scheme}: not a chat model")
    # Model backends (pydantic, SDK clients) load only when configured: start-up of every
    # command stays fast.
    from podsift.insights.llm.extractor import LLMExtractor

    return LLMExtractor(parsed, chat, calls)
