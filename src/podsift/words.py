"""Words as matching sees them: the function words left out and plurals folded, shared by
the topic search (sources/) and interest matching (ranking/) so "battery storage" finds
the same texts in both."""

from __future__ import annotations

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
