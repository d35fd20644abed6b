"""A reader's search words made safe for each database's full-text syntax (pure).

Readers type words, "quoted phrases", -excluded words and OR. SQLite's FTS5 has its own
operators (NEAR, column filters, *, ^, parentheses) that a raw query would trip on or abuse:
every term is passed as a quoted string, so only the structure above survives. Postgres gets
the cleaned text for websearch_to_tsquery, which reads the same syntax and never fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_CHARS = 300
MAX_TERMS = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
_WORD = re.compile(r"[\w][\w'.+#-]*", re.UNICODE)


class QueryError(ValueError):
    """The words cannot be searched for as given; the message says why."""


@dataclass
class SearchQuery:
    text: str  # the cleaned words, as the reader meant them
    include: list[list[str]] = field(default_factory=list)  # the words of each bare token
    phrases: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    any_of: bool = False  # the reader wrote OR between terms

    def fts5(self) -> str:
        """An FTS5 MATCH expression of quoted strings only."""
        positives = [_quoted(t) for t in self.terms()]
        joiner = " OR " if self.any_of else " AND "
        expression = f"({joiner.join(positives)})" if len(positives) > 1 else positives[0]
        for word in self.exclude:
            expression += f" NOT {_quoted(word)}"
        return expression

    def terms(self) -> list[str]:
        return [w for group in self.include for w in group] + self.phrases

    def words(self) -> list[str]:
        """Every word searched for (for marking them in a text the database did not mark)."""
        return [w for t in self.terms() for w in t.split()]


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def parse_query(raw: str) -> SearchQuery:
    """Clean and parse a reader's query; QueryError for an empty, absurd or term-less one."""
    if raw is None:
        raise QueryError("type some words to search for")
    if len(raw) > MAX_CHARS:
        raise QueryError(f"a search is at most {MAX_CHARS} characters; this one has {len(raw)}")
    text = " ".join(_CONTROL.sub(" ", raw).split())
    if not text:
        raise QueryError("type some words to search for")
    query = SearchQuery(text=text)
    for match in _TOKEN.finditer(text):
        negated, phrase, bare = match.group(1), match.group(2), match.group(3)
        if phrase is not None:
            words = _WORD.findall(phrase)
            if words:
                (query.exclude if negated else query.phrases).append(" ".join(words))
            continue
        if bare == "OR":
            query.any_of = True
            continue
        excluded = bare.startswith("-") and len(bare) > 1
        words = _WORD.findall(bare)
        if excluded:
            query.exclude.extend(words)
        elif words:
            query.include.append(words)
    if not query.terms():
        raise QueryError("the search needs at least one word to look for (not only excluded ones)")
    if len(query.terms()) + len(query.exclude) > MAX_TERMS:
        raise QueryError(f"a search takes at most {MAX_TERMS} words")
    return query
