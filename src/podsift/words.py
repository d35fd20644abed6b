"""Words as matching sees them: the function words left out and plurals folded, shared by
the topic search (sources/) and interest matching (ranking/) so "battery storage" finds
the same texts in both."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

GLOSSARY = Path(__file__).with_name("glossary.json")

STOP_WORDS = frozenset(
    "a an and the of in on for to with about from by or at is are ai's".split()  # noqa: SIM905
)


def singular(token: str) -> str:
    """The token with a plural ending folded: batteries -> battery, cars -> car."""
    token = token.strip(".-")
    for suffix in ("ies", "es", "s"):
        if len(token) > 4 and token.endswith(suffix):
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


@cache
def glossary() -> dict[str, str]:
    """Terms readers may not know, with a plain definition (glossary.json): the "explain
    jargon" lines of a digest, and what a muted topic's words also cover ("AI" → "LLM")."""
    try:
        terms = json.loads(GLOSSARY.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in terms.items()}


@cache
def related_terms(topic: str) -> tuple[str, ...]:
    """Glossary terms whose definition names `topic` as a whole word ("crypto" → "UTXO",
    "mempool"; "AI" → "LLM", "RAG"): a reader who mutes a topic mutes its jargon too."""
    words = topic.strip()
    if len(words) < 2:
        return ()
    pattern = re.compile(r"(?<![\w-])" + re.escape(words) + r"(?![\w-])", re.I)
    return tuple(term for term, meaning in glossary().items() if pattern.search(meaning))
