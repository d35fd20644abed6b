"""The `podsift` command: parses arguments and calls the core's stage functions, nothing more.

One module per group of commands: `feeds`, `subscribers`, `topics`, `exports`, `daily` (run, init, digest, stats,
episodes), `search` and `service` (serve, worker, admin, models, config)."""

from __future__ import annotations

import atexit
import gc
from importlib import metadata
from typing import Annotated

import typer
from rich.markup import escape

from podsift.cli import briefing, common, daily, search, service
from podsift.cli.common import configure_logging
from podsift.cli.exports import exports_app
from podsift.cli.feeds import feeds_app
from podsift.cli.subscribers import subs_app
from podsift.cli.topics import topics_app

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Scan new podcasts; send the top insights daily.",
)
app.add_typer(feeds_app, name="feeds")
app.add_typer(subs_app, name="subscribers")
app.add_typer(topics_app, name="topics")
app.add_typer(exports_app, name="exports")
app.add_typer(daily.episodes_app, name="episodes")
app.add_typer(service.admin_app, name="admin")
app.add_typer(service.models_app, name="models")
app.command("init")(daily.init_command)
app.command("run")(daily.run_command)
app.command("digest")(daily.digest_command)
app.command("stats")(daily.stats_command)
app.command("search")(search.search_command)
app.command("ask")(search.ask_command)
app.command("briefing")(briefing.briefing_command)
app.command("serve")(service.serve_command)
app.command("worker")(service.worker_command)
app.command("config")(service.config_command)


def _print_version(wanted: bool) -> None:
    if wanted:
        version_command()
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print podsift's version and exit."
        ),
    ] = False,
) -> None:
    configure_logging(verbose)


@app.command("version")
def version_command() -> None:
    """Print podsift's version (from the installed package's metadata)."""
    common.out.print(f"podsift {installed_version()}", highlight=False)


def installed_version() -> str:
    try:
        return metadata.version("podsift")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main() -> None:
    _spare_the_collector()
    try:
        app()
    except Exception as exc:  # a bug: one clear line, the traceback only with -v
        if common.VERBOSE:
            raise
        reason = escape(f"{type(exc).__name__}: {exc}")
        common.err.print(f"[red]error:[/red] {reason} (run with -v for details)")
        raise SystemExit(1) from None


def _spare_the_collector() -> None:
    """Keep the cyclic garbage collector off what lives until exit: the modules imported
    (frozen now, so collections during the run skip them) and, at exit, everything (the
    interpreter's final collections walked the whole heap: 0.2 s of a 1.1 s hourly run
    over 1,000 feeds). Objects are still freed by reference counting, files closed.
    The collector is on from here (podsift/__main__.py turns it off for the imports)."""
    gc.freeze()
    gc.enable()
    atexit.register(gc.freeze)
