"""`podsift exports`: copy insights to Readwise, Notion or a Markdown vault."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from podsift.cli.common import err, fail, load_core, out

exports_app = typer.Typer(no_args_is_help=True, help="Insights copied to notes tools.")


def _token(token_env: str | None) -> str:
    """From an environment variable, else stdin (piped), else a hidden prompt: never an
    argument, which would land in the shell's history and `ps`."""
    if token_env:
        value = os.environ.get(token_env, "")
        if not value:
            fail(f"${token_env} is empty")
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    return str(typer.prompt("Access token", hide_input=True))


@exports_app.command("add")
def exports_add(
    kind: Annotated[str, typer.Argument(help="readwise, notion or vault.")],
    subscriber: Annotated[
        str | None, typer.Option(help="Whose insights (an email); none: everyone's (vault only).")
    ] = None,
    scope: Annotated[
        str, typer.Option(help="received (every insight of a digest) or liked (👍).")
    ] = "received",
    database: Annotated[str, typer.Option(help="Notion: the database id or its link.")] = "",
    folder: Annotated[
        str, typer.Option("--dir", help="Vault: its folder (default PODSIFT_EXPORT_DIR).")
    ] = "",
    token_env: Annotated[
        str | None,
        typer.Option(help="Read the token from this environment variable (else stdin or a prompt)."),
    ] = None,
    no_check: Annotated[bool, typer.Option(help="Readwise: do not check the token now.")] = False,
) -> None:
    """Set up a target, or change a subscriber's target of that kind (tokens are kept encrypted)."""
    from podsift.exports.targets import ExportSetupError, add_target

    core = load_core()
    token = _token(token_env) if kind in ("readwise", "notion") else ""
    if kind == "vault" and subscriber is None:
        scope = "all"
    try:
        target = add_target(core, kind, subscriber, token, scope, database, folder, check=not no_check)
    except ExportSetupError as exc:
        fail(str(exc))
        return
    out.print(
        f"export target {target.id}: {kind} for {subscriber or 'everyone (admin)'}, {target.scope}",
        highlight=False,
    )


@exports_app.command("list")
def exports_list() -> None:
    """Targets, their state and what each was sent."""
    from podsift.exports.targets import list_targets

    table = Table("id", "target", "for", "what", "where", "state", "sent", "waiting", "failed", "last run")
    for t in list_targets(load_core()):
        state = t.state if not t.error else f"{t.state}: {t.error[:120]}"
        last = t.last_run_at.strftime("%Y-%m-%d %H:%M") if t.last_run_at else "never"
        table.add_row(
            str(t.id), t.kind, t.subscriber or "admin", t.scope, t.where, escape(state),
            str(t.sent), str(t.waiting), str(t.failed), last,
        )  # fmt: skip
    out.print(table)


@exports_app.command("run")
def exports_run(
    target: Annotated[list[int] | None, typer.Option(help="Only this target id (repeat for more).")] = None,
) -> None:
    """Send every target what it is due now (`podsift run` does this after delivery)."""
    from podsift.exports.stage import export_due

    report = export_due(load_core(), only=target or None)
    for label in sorted(set(report.sent) | set(report.updated)):
        out.print(f"{label}: {report.sent[label]} new, {report.updated[label]} updated", highlight=False)
    if not report.sent and not report.updated:
        out.print("nothing new to export", highlight=False)
    for label, reason in report.failed.items():
        err.print(f"[yellow]{label} stopped[/yellow]: {escape(reason)}", highlight=False)
    for what, reason in report.refused.items():
        err.print(f"[yellow]{what} refused[/yellow]: {escape(reason)}", highlight=False)
    if report.failed:
        raise typer.Exit(1)


@exports_app.command("remove")
def exports_remove(target: Annotated[int, typer.Argument(help="The target id (`exports list`).")]) -> None:
    """Forget a target and its token (what it was sent stays in the notes tool)."""
    from podsift.exports.targets import remove_target

    if not remove_target(load_core(), target):
        fail(f"no export target {target}")
    out.print(f"export target {target} removed", highlight=False)
