"""The daily job and what it leaves: `podsift run`, `init`, `digest`, `stats`, `episodes`."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from podsift.cli.common import err, fail, load_core, out, parse_now
from podsift.core import App
from podsift.pipeline import RunReport, run
from podsift.store import EpisodeState

episodes_app = typer.Typer(no_args_is_help=True, help="Episodes whose processing failed.")


def stats_command() -> None:
    """Every model request (answered or not), its tokens and seconds; cost per episode."""
    from podsift.insights.stats import usage_by_episode, usage_by_model

    core = load_core()
    models = Table(
        "model",
        "purpose",
        "requests",
        "failed",
        "tokens in",
        "tokens out",
        "seconds",
        "guard trips",
        "fell back",
    )
    for m in usage_by_model(core):
        models.add_row(
            m.model,
            m.purpose,
            str(m.requests),
            str(m.failed),
            str(m.tokens_in),
            str(m.tokens_out),
            f"{m.seconds:.0f}",
            str(m.guard_trips),
            str(m.guard_fallbacks),
        )
    out.print(models)
    rows = usage_by_episode(core)
    table = Table("show", "episode", "model", "requests", "failed", "tokens in", "tokens out", "cost (USD)")
    for r in rows:
        table.add_row(
            r.show or "",
            r.episode or "",
            r.model,
            str(r.calls),
            str(r.failed),
            str(r.tokens_in),
            str(r.tokens_out),
            f"{r.cost_usd:.4f}",
        )
    table.add_row(
        "total",
        "",
        "",
        str(sum(r.calls for r in rows)),
        str(sum(r.failed for r in rows)),
        str(sum(r.tokens_in for r in rows)),
        str(sum(r.tokens_out for r in rows)),
        f"{sum(r.cost_usd for r in rows):.4f}",
    )
    out.print(table)
    _print_export_counts(core)


def _print_export_counts(core: App) -> None:
    from podsift.exports.targets import export_counts

    counts = export_counts(core)
    if counts:
        table = Table("export target", "outcome", "insights")
        for kind, outcome, n in counts:
            table.add_row(kind, outcome, str(n))
        out.print(table)


# --- first run ----------------------------------------------------------------------------


def init_command(
    opml: Annotated[Path | None, typer.Option(help="Shows to follow when none are followed yet.")] = None,
    email: Annotated[str, typer.Option(help="Subscriber to add when there is none yet.")] = "you@example.com",
) -> None:
    """First-run set-up: follow the example shows and add one subscriber, if none exist."""
    from podsift.sources.feeds import count_feeds
    from podsift.sources.scan import import_opml
    from podsift.subscribers import add_subscriber, count_subscribers

    core = load_core()
    if count_feeds(core) == 0 and opml is not None:
        added, _ = import_opml(core, opml.read_bytes())
        out.print(f"following {len(added)} show(s) from {opml}", highlight=False)
    if count_subscribers(core) == 0:
        # Hour 0: the first digest is due on the very first run, whatever the time.
        add_subscriber(core, email, hour=0)
        out.print(
            f"added subscriber {email} (digests go to {core.settings.resolved_outbox} "
            "unless PODSIFT_SMTP_URL is set)",
            highlight=False,
        )


# --- the daily job ------------------------------------------------------------------------


def run_command(
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO date-time.")] = None,
) -> None:
    """Scan feeds, fetch transcripts, extract insights, deliver what is due."""
    core = load_core()
    report = run(core, parse_now(now))
    s, t, a, i, d = report.scan, report.transcripts, report.speech, report.insights, report.delivery
    out.print(
        f"feeds: {s.checked} checked, {s.new_episodes} new episode(s), {s.queued_episodes} queued, "
        f"{len(s.failed)} failed\n"
        f"transcripts: {t.fetched} fetched, {t.needs_asr} need speech-to-text, {t.skipped} skipped\n"
        f"speech to text: {a.transcribed} transcribed ({a.audio_seconds / 60:.1f} min of audio), "
        f"{a.cached} from cache, {a.waiting} waiting, {len(a.failed)} failed\n"
        f"insights: {i.insights} from {i.episodes} episode(s), {i.dropped_ungrounded} dropped as ungrounded, "
        f"{sum(i.dropped_floor.values())} below the quality floor{_reasons(i.dropped_floor)}, "
        f"{len(i.failed)} episode(s) failed (retried on a later run), {i.waiting} waiting for the next run\n"
        f"stories: {report.clusters.clustered} insight(s) filed, {report.clusters.joined} joined a story told "
        f"before, {report.clusters.disagreements} disagreement(s) between shows"
        f"{'; embeddings failed: ' + report.clusters.error if report.clusters.error else ''}\n"
        f"digests: {len(d.sent)} sent, {d.already_sent} already sent today, {d.empty} with nothing new, "
        f"{d.not_due} not due yet, {len(d.retry_later)} to retry, {len(d.failed)} failed, "
        f"{d.deferred} deferred  ({report.seconds:.1f} s)",
        highlight=False,
    )
    for email, where in d.locations.items():
        out.print(f"  {email} -> {where}", highlight=False)
    topics = report.topics
    if topics is not None and (topics.searched or topics.dropped):
        out.print(
            f"topics: {topics.searched} searched, {topics.proposed} show(s) proposed, "
            f"{topics.followed} followed, {topics.dropped} dropped",
            highlight=False,
        )
        for phrase, reason in topics.errors.items():
            err.print(f"[yellow]topic {phrase!r}[/yellow]: {escape(reason)}", highlight=False)
    for url, reason in s.failed.items():
        err.print(f"[yellow]feed {url}[/yellow]: {escape(reason)}", highlight=False)
    if i.stopped:
        err.print(f"[yellow]extraction stopped early[/yellow]: {escape(i.stopped)}", highlight=False)
    for episode_id, reason in i.failed.items():
        err.print(
            f"[yellow]episode {episode_id} extraction failed[/yellow]: {escape(reason[:300])}",
            highlight=False,
        )
    for email, reason in d.failed.items():
        err.print(f"[red]digest for {email}[/red]: {escape(reason)}", highlight=False)
    for email, reason in d.retry_later.items():
        err.print(f"[yellow]digest for {email} will be retried[/yellow]: {escape(reason)}", highlight=False)
    late = report.late_delivery
    if late is not None and late.sent:
        out.print(f"late digests (from speech to text): {len(late.sent)} sent", highlight=False)
        for email, where in late.locations.items():
            out.print(f"  {email} -> {where}", highlight=False)
    _print_exports(report)
    _print_briefings(report)
    for stage, reason in report.stage_errors.items():
        err.print(f"[red]the {stage} stage failed[/red]: {escape(reason)}", highlight=False)
    summary = failure_summary(report)
    if summary:
        err.print(f"[yellow]failed, the rest done:[/yellow] {summary}", highlight=False)
    if len(set(report.stage_errors)) >= STAGES:  # nothing worked: say so to cron
        raise typer.Exit(1)


STAGES = 7  # scan, transcripts, insights, stories, delivery, exports, speech to text


def _print_briefings(report: RunReport) -> None:
    b = report.briefings
    if b.built:
        missing = f" ({b.clips_missing} clips read out instead)" if b.clips_missing else ""
        out.print(f"audio briefings: {b.built} built{missing}", highlight=False)
    for subscriber_id, reason in b.failed.items():
        err.print(
            f"[yellow]briefing for subscriber {subscriber_id} failed[/yellow]: {escape(reason)}",
            highlight=False,
        )


def _print_exports(report: RunReport) -> None:
    x = report.exports
    for label in sorted(set(x.sent) | set(x.updated)):
        out.print(f"exported: {x.sent[label]} new, {x.updated[label]} updated -> {label}", highlight=False)
    for label, reason in x.failed.items():
        err.print(f"[yellow]export to {label} stopped[/yellow]: {escape(reason)}", highlight=False)
    for what, reason in x.refused.items():
        err.print(f"[yellow]export {what} refused[/yellow]: {escape(reason)}", highlight=False)


def failure_summary(report: RunReport) -> str:
    """One line: what failed in this run (each also recorded with its reason)."""
    late = report.late_delivery
    counts = {
        "feed": len(report.scan.failed),
        "transcript": len(report.transcripts.failed),
        "audio": len(report.speech.failed),
        "extraction": len(report.insights.failed),
        "digest": len(report.delivery.failed) + (len(late.failed) if late else 0),
        "export target": len(report.exports.failed),
        "briefing": len(report.briefings.failed),
    }
    parts = [f"{n} {name}{'s' if n != 1 else ''}" for name, n in counts.items() if n]
    parts += [f"the {stage} stage" for stage in report.stage_errors]
    return ", ".join(parts)


def _reasons(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})" if counts else ""


@episodes_app.command("retry")
def episodes_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Episode ids (default: every failed one).")] = None,
) -> None:
    """Queue failed insight extractions again for the next run."""
    from podsift.insights.stage import requeue_failed

    count = requeue_failed(load_core(), ids or None)
    out.print(f"{count} episode(s) queued for extraction again", highlight=False)


@episodes_app.command("failed")
def episodes_failed() -> None:
    """Episodes whose transcript, speech to text or extraction failed: the reason, the next try."""
    from podsift.insights.stage import failed_episodes

    for row in failed_episodes(load_core()):
        if row.state != EpisodeState.LLM_FAILED:
            next_try = "not retried (the file itself is bad)"
        elif row.retry_at:
            next_try = row.retry_at.strftime("%Y-%m-%d %H:%M UTC")
        else:
            next_try = "only by `episodes retry`"
        sys.stdout.write(
            f"{row.id}\t{row.show or ''} / {row.title or ''}\tattempts {row.attempts}, next try {next_try}\t"
            f"{(row.reason or '')[:300]}\n"
        )


def digest_command(
    email: str,
    date: Annotated[str | None, typer.Option(help="Local date YYYY-MM-DD (default today).")] = None,
    format: Annotated[str, typer.Option("--format", help="text, html, json or md.")] = "text",
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO date-time.")] = None,
) -> None:
    """Show a subscriber's digest without sending it."""
    from podsift.digests.read import preview
    from podsift.digests.view import FORMATS, render
    from podsift.store import utcnow
    from podsift.subscribers.addresses import AddressError, parse_address

    if format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    if date is not None:
        try:
            datetime.strptime(date, "%Y-%m-%d")
        except ValueError:
            fail(f"--date must be YYYY-MM-DD, not {date!r}")
    try:
        view = preview(load_core(), parse_address(email), date, parse_now(now) or utcnow())
    except (LookupError, AddressError) as exc:
        fail(str(exc), 1)
        return
    sys.stdout.write(render(view, format))
