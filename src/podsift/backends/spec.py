"""URL-like backend specs and a tiny registry, shared by every pluggable stage.

A spec is `scheme:target?option=value&...`: `faster-whisper:base?beam_size=5`,
`openai:whisper-1?base_url=http://localhost:8000/v1`, `offline`. Built-in backends register
exactly as a plugin would; an unknown scheme is a clear configuration error.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import parse_qsl

from podsift.settings import SECRET_OPTIONS, TRUE_WORDS

T = TypeVar("T")


class BackendConfigError(ValueError):
    pass


@dataclass(frozen=True)
class BackendSpec:
    scheme: str
    target: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def option(self, name: str, default: str | None = None) -> str | None:
        return self.options.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.options.get(name)
        return default if value is None else value.lower() in TRUE_WORDS

    def number(self, name: str, default: float) -> float:
        value = self.options.get(name)
        try:
            return default if value is None else float(value)
        except ValueError as exc:
            raise BackendConfigError(f"option {name}={value!r} is not a number") from exc

    def __str__(self) -> str:
        """The spec with secrets hidden, for logs and `podsift config`."""
        shown = "&".join(f"{k}={'***' if k in SECRET_OPTIONS else v}" for k, v in self.options.items())
        return f"{self.scheme}{':' + self.target if self.target else ''}{'?' + shown if shown else ''}"


def parse_spec(spec: str) -> BackendSpec:
    spec = (spec or "").strip()
    if not spec:
        raise BackendConfigError("empty backend spec")
    head, _, query = spec.partition("?")
    scheme, _, target = head.partition(":")
    # base_url values contain ':' and '?' is split above; parse_qsl keeps '=' inside values.
    return BackendSpec(scheme.strip().lower(), target.strip(), dict(parse_qsl(query, keep_blank_values=True)))


class Registry(Generic[T]):
    def __init__(self, kind: str, setting: str) -> None:
        self.kind, self.setting = kind, setting
        self._factories: dict[str, Callable[[BackendSpec], T]] = {}

    def register(self, scheme: str) -> Callable[[Callable[[BackendSpec], T]], Callable[[BackendSpec], T]]:
        def wrap(factory: Callable[[BackendSpec], T]) -> Callable[[BackendSpec], T]:
            self._factories[scheme] = factory
            return factory

        return wrap

    def factory(self, scheme: str) -> Callable[[BackendSpec], T]:
        """The registered factory; an unknown scheme is a clear configuration error."""
        factory = self._factories.get(scheme)
        if factory is None:
            known = ", ".join(sorted(self._factories))
            raise BackendConfigError(f"unknown {self.setting} backend {scheme!r} (available: {known})")
        return factory

    def create(self, spec: str | BackendSpec) -> T:
        parsed = spec if isinstance(spec, BackendSpec) else parse_spec(spec)
        return self.factory(parsed.scheme)(parsed)


# The vendor SDKs come with the `llm` extra: the default (offline) path never imports them.
SDK_OF_SCHEME = {"openai": "openai", "anthropic": "anthropic"}


def require_sdk(scheme: str) -> None:
    """Refuse, with the install line, a backend scheme whose SDK is not installed (schemes
    without a vendor SDK pass)."""
    module = SDK_OF_SCHEME.get(scheme)
    if module is not None and importlib.util.find_spec(module) is None:
        raise BackendConfigError(
            f"the {module} backend needs its SDK, which the default install leaves out: "
            "pip install 'podsift[llm]'"
        )


class Lazy(Generic[T]):
    """A backend built on first call, once: a model load takes seconds most commands never need."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build: Callable[[], T] | None = build
        self._value: T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> T:
        if self._build is not None:
            with self._lock:
                if self._build is not None:
                    self._value, self._build = self._build(), None
        return self._value  # type: ignore[return-value]  # built above: T, which may include None


def cpu_threads() -> int:
    """Threads a local model runs on when its spec does not say (`threads=0`): the cores
    this process may use, at most 4 (CTranslate2's own default is 4 whatever the machine,
    which on 2 cores only makes threads wait)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 4
    return max(1, min(cores, 4))
