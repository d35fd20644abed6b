"""What every command shares: the consoles, building the core, failing clearly, --now."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import typer
from rich.console import Console

from podsift.core import App, make_app
from podsift.settings import Settings, SettingsError

out = Console()
err = Console(stderr=True)


def load_core() -> App:
    try:
        return make_app(Settings.load())
    except SettingsError as exc:
        fail(str(exc))
        raise  # unreachable


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now must be an ISO date-time like 2026-11-28T07:30:00+01:00, not {value!r}")
        raise
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


NOISY_LIBRARIES = (
    "httpx",
    "httpx2",
    "httpcore",
    "openai",
    "anthropic",
    "urllib3",
    "faster_whisper",
    "sentence_transformers",
    "apprise",
    "alembic",
    "uvicorn.access",
)


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose or not sys.stderr.isatty() else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if not verbose:  # libraries' INFO lines (every HTTP request, model loads) only with -v
        for name in NOISY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
