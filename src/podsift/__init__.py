"""podsift: scan new podcasts; send the top insights daily."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podsift.settings import Settings

__all__ = ["Settings"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Loaded on first use: `python -m podsift` turns the garbage collector off before the
    # CLI's imports (podsift/__main__.py), and importing the package must not do them first.
    if name == "Settings":
        from podsift.settings import Settings

        return Settings
    raise AttributeError(f"module 'podsift' has no attribute {name!r}")
