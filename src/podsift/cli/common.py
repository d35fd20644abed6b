"""What every command shares: the consoles, building the core, failing clearly, --now."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import exc as sa_exc

from podsift.backends.spec import BackendConfigError
from podsift.core import App, make_app
from podsift.settings import Settings, SettingsError, hide_secrets

# Soft wrap: a line is one line however narrow the terminal (cron mail, logs, grep).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


VERBOSE = False  # -v: tracebacks and every step in the log


def load_core() -> App:
    """The core, or a clear one-line error (exit 2) when podsift cannot work at all."""
    try:
        settings = Settings.load()
    except SettingsError as exc:
        fail(str(exc))
        raise  # unreachable
    log_to_file(settings.resolved_log_file)
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
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)  # "[llm]" is not markup
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


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOG_FILE_BYTES = 1_000_000  # then rotated, three files kept


def configure_logging(verbose: bool) -> None:
    """With -v, log records (each step, tracebacks) go to stderr. Without it, stderr carries
    only what a command prints itself (a run's summary, each failure once, from a terminal
    or from cron alike) and the records go to the log file, once the settings say where."""
    global VERBOSE
    VERBOSE = verbose
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    if verbose:
        handler: logging.Handler = _stderr_handler()
        logging.getLogger("podsift").setLevel(logging.DEBUG)  # with tracebacks of what failed
    else:  # no stderr fallback for records before the log file opens
        handler = logging.NullHandler()
        for name in NOISY_LIBRARIES:  # libraries' INFO lines (every HTTP request) only with -v
            logging.getLogger(name).setLevel(logging.WARNING)
    _replace_handler(root, handler, "podsift-console")


def log_to_stderr() -> None:
    """Services (serve, worker) log to stderr for their supervisor, -v or not."""
    _replace_handler(logging.getLogger(), _stderr_handler(), "podsift-console")


def _stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def log_to_file(path: Path) -> None:
    """Log records also to `path` (rotated), where a cron run's details can be read later.
    A log file that cannot be opened costs the file, not the command."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        err.print(f"[yellow]cannot write the log file {path}[/yellow]: {exc}", highlight=False)
        return
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    _replace_handler(logging.getLogger(), handler, "podsift-file")


def _replace_handler(logger: logging.Logger, handler: logging.Handler, name: str) -> None:
    for old in [h for h in logger.handlers if h.get_name() == name]:
        logger.removeHandler(old)
        old.close()
    handler.set_name(name)
    logger.addHandler(handler)
