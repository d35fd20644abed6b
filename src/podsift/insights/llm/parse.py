"""Parse and police a model's answer (pure: no I/O).

The answer must be JSON matching the schema (pydantic, strict); then every candidate is
checked for what an injected instruction would try to smuggle out: links, email addresses
and HTML that the show's own metadata does not contain, and instruction-like text. Such a
candidate is dropped whole, not cleaned, so nothing of an attack reaches the database.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podsift.insights.registry import Candidate

URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|net|org|io|xyz|ru|cn|info|biz|app|link|click)(?:/\S*)?\b", re.I
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
HTML = re.compile(r"<\s*/?\s*[a-z][^>]*>|&lt;|javascript:|on\w+\s*=", re.I)
INJECTION = re.compile(
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts?)|system prompt|"
    r"you are now|disregard (?:the|all|your)|new instructions|output (?:this|the following)",
    re.I,
)


class InvalidAnswer(ValueError):
    pass


class _Insight(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)
    claim: str = Field(min_length=10, max_length=600)
    implication: str = Field(min_length=5, max_length=600)
    speaker: str | None = Field(default=None, max_length=120)
    quote: str = Field(min_length=10, max_length=1200)
    topics: list[str] = Field(min_length=1, max_length=3)
    importance: float = Field(ge=0, le=1)
    novelty: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    insights: list[_Insight]


def _json_text(raw: str) -> str:
    """The JSON object in an answer, tolerating a ```json fence around it."""
    text = raw.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    return fenced.group(1) if fenced else text


def parse_answer(raw: str) -> list[_Insight]:
    try:
        data = json.loads(_json_text(raw))
        return _Answer.model_validate(data).insights
    except (json.JSONDecodeError, ValidationError) as exc:
        raise InvalidAnswer(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


def unsafe_reason(candidate: _Insight, trusted_text: str) -> str | None:
    """Why a candidate must be dropped, or None. `trusted_text` is the feed's own metadata."""
    trusted = trusted_text.lower()
    fields = " ".join(
        [candidate.claim, candidate.implication, candidate.quote, candidate.speaker or "", *candidate.topics]
    )
    for pattern, what in ((URL, "link"), (EMAIL, "email address")):
        for found in pattern.findall(fields):
            if found.lower().rstrip(".,;)") not in trusted:
                return f"{what} not in the feed: {found[:60]}"
    if HTML.search(fields):
        return "HTML in the answer"
    if INJECTION.search(fields):
        return "instruction-like text in the answer"
    return None


def to_candidates(insights: list[_Insight], trusted_text: str) -> tuple[list[Candidate], list[str]]:
    kept, dropped = [], []
    for item in insights:
        reason = unsafe_reason(item, trusted_text)
        if reason:
            dropped.append(reason)
            continue
        text = f"{item.claim.strip()} {item.implication.strip()}"
        score = round(0.5 * item.importance + 0.3 * item.novelty + 0.2 * item.confidence, 4)
        kept.append(
            Candidate(
                text=text,
                quote=item.quote.strip(),
                speaker=(item.speaker or "").strip() or None,
                score=score,
                tags=[t.strip().lower() for t in item.topics if t.strip()][:3],
                importance=item.importance,
                novelty=item.novelty,
                confidence=item.confidence,
            )
        )
    return kept, dropped
