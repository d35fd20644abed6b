"""Parse and police a model's answer (pure: no I/O).

The answer must be JSON matching the schema (pydantic, strict); then every candidate is
checked for what an injected instruction would try to smuggle out: links, email addresses
and HTML that the show's own metadata does not contain, and instruction-like text. Such a
candidate is dropped whole, not cleaned, so nothing of an attack reaches the database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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


T = TypeVar("T", bound=BaseModel)


class InvalidAnswer(ValueError):
    pass


# The limits the answer is checked against; the schema sent to the model carries the same.
CLAIM_CHARS = (30, 400)
IMPLICATION_CHARS = (20, 400)
QUOTE_CHARS = (20, 1200)
SPEAKER_CHARS = 120
TOPICS = (1, 3)


class _Insight(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)
    claim: str = Field(min_length=CLAIM_CHARS[0], max_length=CLAIM_CHARS[1])
    implication: str = Field(min_length=IMPLICATION_CHARS[0], max_length=IMPLICATION_CHARS[1])
    speaker: str | None = Field(default=None, max_length=SPEAKER_CHARS)
    quote: str = Field(min_length=QUOTE_CHARS[0], max_length=QUOTE_CHARS[1])
    topics: list[str] = Field(min_length=TOPICS[0], max_length=TOPICS[1])
    importance: float = Field(ge=0, le=1)
    novelty: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)

    @field_validator("claim")
    @classmethod
    def _a_claim_not_a_name(cls, value: str) -> str:
        if len(value.split()) < 6:
            raise ValueError("a claim is a sentence of at least 6 words, not a name or a label")
        return value


def _json_text(raw: str) -> str:
    """The JSON object in an answer, tolerating a ```json fence or prose around it."""
    text = raw.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*(?:```)?$", text, re.S)
    text = fenced.group(1) if fenced else text
    start = text.find("{")
    return text[start:] if start > 0 else text


def salvage_items(raw: str, key: str) -> list[object]:
    """The complete items of `key`'s array in an answer cut off mid-way (max_tokens)."""
    text = _json_text(raw)
    match = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
    if not match:
        return []
    decoder = json.JSONDecoder()
    items: list[object] = []
    at = match.end()
    while True:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        if at >= len(text) or text[at] == "]":
            return items
        try:
            item, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            return items  # the cut-off item
        items.append(item)


@dataclass
class Parsed(Generic[T]):
    items: list[T]
    errors: list[str]  # one line per refused item, with every reason
    salvaged: bool = False  # the JSON was cut off; complete items were kept


def parse_items(raw: str, key: str, model: type[T]) -> Parsed[T]:
    """Validate each item on its own: a bad item is dropped with its reasons, not the answer.
    InvalidAnswer only when no item can be read at all (not JSON, no `key` array)."""
    salvaged = False
    try:
        data = json.loads(_json_text(raw))
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise InvalidAnswer(f'the answer must be a JSON object {{"{key}": [...]}}; got {str(data)[:200]}')
        extra = sorted(set(data) - {key})
        if extra:
            raise InvalidAnswer(f"unexpected field(s) at the top level: {', '.join(extra)}")
        raw_items: list[object] = data[key]
    except json.JSONDecodeError as exc:
        raw_items = salvage_items(raw, key)
        if not raw_items:
            raise InvalidAnswer(f"not valid JSON: {exc}") from exc
        salvaged = True
    items: list[T] = []
    errors: list[str] = []
    for index, item in enumerate(raw_items):
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in exc.errors()
            )
            errors.append(f"{key}[{index}]: {reasons}")
    return Parsed(items, errors, salvaged)


def parse_answer(raw: str) -> list[_Insight]:
    """The valid insights of an answer (strict: any refused item is an error)."""
    parsed = parse_items(raw, "insights", _Insight)
    if parsed.errors:
        raise InvalidAnswer("\n".join(parsed.errors))
    return parsed.items


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
