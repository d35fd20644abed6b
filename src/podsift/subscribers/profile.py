"""What a reader's own words ask of their digest, as a typed profile they can read and edit.

A profile holds mutes and boosts (topics, shows, people, kinds of item) and style flags. It is
made once, when the reader saves their instructions (instructions.py), stored as JSON on the
subscriber, shown back in words, and applied by ranking (filters and features) and by the
digest's write-up (style). Nothing in it is free text that reaches a shared prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podsift.insights.kinds import partial_mutes, unreliable_mutes

# Kinds of item a reader may mute or boost; insights/kinds.py recognises them.
KINDS = {
    "funding": "funding news",
    "launch": "product launches",
    "advice": "advice and tips",
    "contrarian": "contrarian takes",
}
STYLES = {
    "explain_jargon": "Explaining jargon",
    "short_texts": "Keeping texts short",
    "contrarian_first": "Putting contrarian takes first",
    "no_predictions": "Leaving out predictions",
}
FACETS = ("topics", "shows", "people", "kinds")
MAX_PER_FACET = 12
MAX_VALUE_CHARS = 80


@dataclass
class Targets:
    topics: list[str] = field(default_factory=list)
    shows: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def values(self, facet: str) -> list[str]:
        values: list[str] = getattr(self, facet)
        return values

    def add(self, facet: str, value: str) -> None:
        value = " ".join(value.split())[:MAX_VALUE_CHARS]
        values = self.values(facet)
        if value and value.lower() not in {v.lower() for v in values} and len(values) < MAX_PER_FACET:
            values.append(value)

    def discard(self, facet: str, value: str) -> bool:
        values = self.values(facet)
        kept = [v for v in values if v.lower() != value.lower()]
        setattr(self, facet, kept)
        return len(kept) != len(values)

    def has(self, facet: str, value: str) -> bool:
        return value.lower() in {v.lower() for v in self.values(facet)}

    def empty(self) -> bool:
        return not any(self.values(f) for f in FACETS)

    def to_json(self) -> dict[str, list[str]]:
        return {f: list(self.values(f)) for f in FACETS}

    @classmethod
    def from_json(cls, data: Any) -> Targets:
        out = cls()
        if isinstance(data, dict):
            for facet in FACETS:
                for value in data.get(facet) or []:
                    if isinstance(value, str) and (facet != "kinds" or value in KINDS):
                        out.add(facet, value)
        return out


@dataclass
class ProfilePart:
    """One removable line of the profile as the reader sees it."""

    key: str  # "mute:topics:crypto"
    words: str  # "crypto"
    note: str = ""  # what the reader should know about how it is applied


@dataclass
class ReaderProfile:
    mute: Targets = field(default_factory=Targets)
    boost: Targets = field(default_factory=Targets)
    style: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return self.mute.empty() and self.boost.empty() and not self.style

    def add_style(self, flag: str) -> None:
        if flag in STYLES and flag not in self.style:
            self.style.append(flag)

    def has_style(self, flag: str) -> bool:
        return flag in self.style

    def to_json(self) -> dict[str, Any]:
        return {"mute": self.mute.to_json(), "boost": self.boost.to_json(), "style": list(self.style)}

    @classmethod
    def from_json(cls, data: Any) -> ReaderProfile:
        if not isinstance(data, dict):
            return cls()
        profile = cls(Targets.from_json(data.get("mute")), Targets.from_json(data.get("boost")))
        for flag in data.get("style") or []:
            if isinstance(flag, str):
                profile.add_style(flag)
        return profile

    def parts(self) -> dict[str, list[ProfilePart]]:
        """The profile in words, grouped: {"Muting": [...], "Boosting": [...], "Style": [...]}."""
        groups: dict[str, list[ProfilePart]] = {}
        for label, side, targets in (("Muting", "mute", self.mute), ("Boosting", "boost", self.boost)):
            parts = [
                ProfilePart(f"{side}:{facet}:{value}", _words(facet, value), _note(side, facet, value))
                for facet in FACETS
                for value in targets.values(facet)
            ]
            if parts:
                groups[label] = parts
        if self.style:
            groups["Style"] = [ProfilePart(f"style::{flag}", STYLES[flag]) for flag in self.style]
        return groups

    def describe(self) -> str:
        """ "Muting: funding news, crypto. Boosting: open-source models. Explaining jargon." """
        sentences: list[str] = []
        for label, parts in self.parts().items():
            if label == "Style":
                sentences.extend(f"{p.words}." for p in parts)
            else:
                sentences.append(f"{label}: {', '.join(p.words for p in parts)}.")
        return " ".join(sentences) or "Nothing understood yet."

    def remove(self, key: str) -> bool:
        """Drop one part by its key; False when there is no such part."""
        side, _, rest = key.partition(":")
        facet, _, value = rest.partition(":")
        if side == "style":
            if value in self.style:
                self.style.remove(value)
                return True
            return False
        if side not in ("mute", "boost") or facet not in FACETS:
            return False
        return (self.mute if side == "mute" else self.boost).discard(facet, value)


def _note(side: str, facet: str, value: str) -> str:
    if side == "mute" and facet == "kinds" and value in unreliable_mutes():
        return "podsift cannot yet tell these apart reliably, so nothing is filtered for it"
    if side == "mute" and facet == "kinds" and value in partial_mutes():
        return "only the clearest cases are recognised and filtered"
    return ""


def _words(facet: str, value: str) -> str:
    if facet == "kinds":
        return KINDS.get(value, value)
    if facet == "shows":
        return f"the show {value}"
    return value
