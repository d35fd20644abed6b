"""Episode titles as a digest shows them: beside the show's name, without it again.

Publishers often put the show's name in every title ("Grid Weekly: this week in storage",
"Storage costs | Grid Weekly"); a digest line already names the show, so "Grid Weekly:
Grid Weekly: this week in storage" says it twice."""

from __future__ import annotations

import re

# What joins a show's name to the rest of a title: colon, bar, bullet, comma, a dash (a
# hyphen only between spaces: "Grid Weekly-ish" is another phrase).
_JOINER = r"(?:\s*[:|·•,–—]+\s*|\s+-+\s+)"
_NUMBER = re.compile(r"(?:#|ep\b|ep\.|episode\b|no\.|\d)", re.I)


def episode_title(title: str | None, show: str | None) -> str | None:
    """`title` without a leading or trailing copy of `show`; the title unchanged when that
    would leave nothing, or when the show's name is part of a longer phrase."""
    if not title or not show or not show.strip():
        return title
    name = re.escape(show.strip())
    stripped = _without_leading(title.strip(), name) or _without_trailing(title.strip(), name)
    if not stripped or not re.search(r"\w", stripped):
        return title
    return stripped[0].upper() + stripped[1:] if stripped[0].islower() else stripped


def _without_leading(title: str, name: str) -> str | None:
    found = re.match(rf"(?:the\s+)?{name}(?:{_JOINER}|\s+(?={_NUMBER.pattern}))", title, re.I)
    return title[found.end() :].strip() if found else None


def _without_trailing(title: str, name: str) -> str | None:
    found = re.search(rf"{_JOINER}(?:the\s+)?{name}\s*$", title, re.I)
    return title[: found.start()].strip() if found else None
