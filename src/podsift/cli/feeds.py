"""`podsift feeds`: follow, list, export, scan and backfill shows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from podsift.cli.common import err, fail, load_core, out, parse_now

feeds_app = typer.Typer(no_args_is_help=True, help="Follow, list and export shows.")

# --- feeds --------------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(urls: Annotated[list[str], typer.Argument(help="Feed URLs (RSS or Atom).")]) -> None:
    from podsift.sources.scan import add_feeds

    added, problems = add_feeds(load_core(), urls)
    for feed in added:
        out.print(f"added {feed.url}", highlight=False)
    for problem in problems:
        err.print(f"[yellow]skipped:[/yellow] {problem}", highlight=False)
    if problems and not added:
        raise typer.Exit(1)


@feeds_app.command("import")
def feeds_import(file: Annotated[Path, typer.Argument(help="OPML file.")]) -> None:
    from podsift.sources.opml import OPMLError
    from podsift.sources.scan import import_opml

    try:
        added, problems = import_opml(load_core(), file.read_bytes())
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
        return
    except OPMLError as exc:
        fail(f"{file}: {exc}")
        return
    out.print(f"imported {len(added)} new feed(s) from {file}", highlight=False)
    for problem in problems:
        err.print(f"[yellow]skipped:[/yellow] {problem}", highlight=False)


@feeds_app.command("export")
def feeds_export() -> None:
    from podsift.sources.scan import export_opml

    sys.stdout.write(export_opml(load_core()))


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    from podsift.sources.feeds import feed_overview

    rows = feed_overview(load_core())
    if as_json:
        data = [
            {
                "id": f.id,
                "title": f.title,
                "url": f.url,
                "status": f.status,
                "episodes": f.episodes,
                "last_checked": f.last_checked.isoformat() if f.last_checked else None,
                "next_check": f.next_check.isoformat() if f.next_check else None,
                "error": f.error,
                "failed_episodes": f.failed_episodes,
            }
            for f in rows
        ]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    table = Table("id", "title", "url", "status", "episodes", "last checked", "problem")
    for f in rows:
        checked = f.last_checked.isoformat()[:16].replace("T", " ") if f.last_checked else "never"
        problem = "; ".join(
            p for p in (f.error, f"{f.failed_episodes} episode(s) failed" if f.failed_episodes else "") if p
        )
        table.add_row(str(f.id), f.title or "", f.url, f.status, str(f.episodes), checked, problem)
    out.print(table)


@feeds_app.command("remove")
def feeds_remove(feed: Annotated[str, typer.Argument(help="Feed URL or id.")]) -> None:
    from podsift.sources.scan import remove_feed

    if not remove_feed(load_core(), feed):
        fail(f"no such feed: {feed}", 1)
    out.print(f"removed {feed}", highlight=False)


@feeds_app.command("scan")
def feeds_scan(
    force: Annotated[bool, typer.Option(help="Fetch every feed, due or not.")] = False,
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO date-time.")] = None,
) -> None:
    from podsift.sources.scan import scan_feeds

    report = scan_feeds(load_core(), parse_now(now), force=force)
    out.print(
        f"checked {report.checked} feed(s): {report.not_modified} not modified, "
        f"{report.unchanged} unchanged, "
        f"{report.parsed} parsed, {report.new_episodes} new episode(s), {report.queued_episodes} queued, "
        f"{len(report.failed)} failed",
        highlight=False,
    )
    for url, reason in report.failed.items():
        err.print(f"[yellow]{url}[/yellow]: {reason}", highlight=False)


@feeds_app.command("backfill")
def feeds_backfill(
    feed: Annotated[str, typer.Argument(help="Feed URL or id.")],
    days: Annotated[int, typer.Option(help="Queue archived episodes from the last N days.")] = 30,
) -> None:
    from podsift.sources.scan import FeedURLError, backfill

    try:
        count = backfill(load_core(), feed, days)
    except FeedURLError as exc:
        fail(str(exc), 1)
        return
    out.print(f"queued {count} episode(s) of {feed} for processing", highlight=False)
