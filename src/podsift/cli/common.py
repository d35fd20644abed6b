"""What every command shares: the consoles, building the core, failing clearly, --now."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import typer
from rich.console import Console
from sqlalchemy import exc as sa_exc

from podsift.backends.spec import BackendConfigError
from podsift.core import App, make_app
from podsift.settings import Settings, SettingsError, hide_secrets

out = Console()
err = Console(stderr=True)


VERBOSE = False  # -v: tracebacks and every step in the log


def load_core() -> App:
    """The core, or a clear one-line error (exit 2) when podsift cannot work at all."""
    try:
        settings = Settings.load()
    except SettingsError as exc:
        fail(str(exc))
        raise  # unreachable
    scrub_logs(settings)
    try:
        return make_app(settings)
    except BackendConfigError as exc:
        fail(settings.scrub(str(exc)))
        raise  # unreachable
    except (sa_exc.SQLAlchemyError, OSError) as exc:
        if VERBOSE:
            logging.getLogger(__name__).exception("cannot open the database")
        reason = settings.scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
        fail(f"cannot open the database {hide_secrets(settings.resolved_database_url)}: {reason}")
        raise  # unreachable


class ScrubSecrets(logging.Filter):
    """Replaces this configuration's secrets in every log line and traceback with ***."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.settings.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.settings.scrub(logging.Formatter().formatException(record.exc_info))
        return True


def scrub_logs(settings: Settings) -> None:
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, ScrubSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(ScrubSecrets(settings))


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
    "aiohttp",
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
    global VERBOSE
    VERBOSE = verbose
    logging.basicConfig(
        level=logging.INFO if verbose or not sys.stderr.isatty() else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if verbose:  # with tracebacks of what failed
        logging.getLogger("podsift").setLevel(logging.DEBUG)
    else:  # libraries' INFO lines (every HTTP request, model loads) only with -v
        for name in NOISY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
