"""Interest suggestions for the sign-up form, from what the shows talked about lately."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from podsift.clusters.signals import strip_speaker
from podsift.store import Insight, utcnow

if TYPE_CHECKING:
    from podsift.core import App

# Capitalised because they start a sentence, not because they name something.
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "we",
        "i",
        "you",
        "they",
        "he",
        "she",
        "our",
        "my",
        "in",
        "on",
        "at",
        "for",
        "and",
        "but",
        "so",
        "if",
        "when",
    ]
)


_NAME = re.compile(r"\b[A-Z][a-zA-Z0-9&'-]+(?:\s+[A-Z][a-zA-Z0-9&'-]+)*")


def _names_in(text: str) -> list[str]:
    """Capitalised runs that are names: a lone capitalised word opening a sentence is not."""
    out = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        opens_sentence = match.start() == 0 or text[: match.start()].rstrip().endswith((".", "!", "?", ":"))
        if words[0].lower() in _NOT_NAMES:
            words = words[1:]
        elif opens_sentence and len(words) == 1:
            continue
        name = " ".join(words)
        if len(name) > 2:
            out.append(name)
    return out


def recent_topics(app: App, limit: int = 20) -> list[str]:
    """Interest suggestions from the last two weeks: the topics an LLM gave insights, else
    (offline) the names the insights mention most: people, companies, places, products."""
    since = utcnow() - timedelta(days=14)
    topics: Counter[str] = Counter()
    names: Counter[str] = Counter()
    with app.session() as session:
        rows = session.execute(
            sa.select(Insight.topics, Insight.text)
            .where(Insight.created_at >= since)
            .order_by(Insight.id.desc())
            .limit(2000)
        )
        for insight_topics, text in rows:
            for topic in insight_topics or []:
                if isinstance(topic, str) and 2 < len(topic) < 40:
                    topics[topic.strip().lower()] += 1
            names.update(set(_names_in(strip_speaker(text))))
    chosen = [t for t, _ in topics.most_common(limit)]
    chosen += [n for n, _ in names.most_common(limit) if n.lower() not in chosen]
    return chosen[:limit]
