"""Insight extractors: one small protocol, built-ins registered like plugins.

An extractor reads a transcript and proposes candidates, each with a verbatim quote; the
insights stage grounds every quote in the transcript and drops those it cannot find, so
no backend (offline or LLM) can put an unsupported claim into a digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from podsift.backends import BackendConfigError, Registry
from podsift.transcripts.model import Transcript


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
    # Share of the show's other episodes that use each word: the show's usual talk.
    background: dict[str, float] = field(default_factory=dict)


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

EXTRACTORS: Registry[Extractor] = Registry("insight extractor", "PODSIFT_LLM")
register = EXTRACTORS.register


def make_extractor(spec: str) -> Extractor:
    """`offline`, or `scheme:model?options` for a registered backend."""
    from podsift.insights import offline  # noqa: F401  (registers itself)

    if not (spec or "offline").startswith("offline"):
        # Model backends (pydantic, SDK clients) load only when configured: start-up of
        # every command stays fast.
        from podsift.insights.llm import extractor  # noqa: F401  (registers openai, anthropic)
    return EXTRACTORS.create(spec or "offline")
