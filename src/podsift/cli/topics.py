"""`podsift topics`: topics that find their own shows (add, list, search, follow, dismiss)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from podsift.cli.common import err, fail, load_core, out, parse_now

topics_app = typer.Typer(no_args_is_help=True, help="Topics that find shows in the podcast directories.")


@topics_app.command("add")
def topics_add(
    phrase: Annotated[str, typer.Argument(help="A few words: 'battery storage'.")],
    email: Annotated[
        str | None, typer.Option("--for", help="One subscriber's topic (default: everyone's).")
    ] = None,
    cap: Annotated[int | None, typer.Option(help="Shows followed automatically for it, at most.")] = None,
) -> None:
    from podsift.sources.topics import TopicError, add_topic

    try:
        topic = add_topic(load_core(), phrase, email, cap)
    except TopicError as exc:
        fail(str(exc))
        return
    whose = f"for {email}" if email else "for everyone"
    out.print(f"topic {topic.id} '{topic.phrase}' {whose}; searched on the next run", highlight=False)


@topics_app.command("list")
def topics_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    from podsift.sources.topics import topic_overview

    topics = topic_overview(load_core())
    if as_json:
        data = [
            {
                "id": t.id,
                "topic": t.phrase,
                "for": t.owner or "everyone",
                "cap": t.cap,
                "searched_at": t.searched_at.isoformat() if t.searched_at else None,
                "error": t.error,
                "shows": [
                    {
                        "id": s.id,
                        "title": s.title,
                        "feed_url": s.feed_url,
                        "state": s.state,
                        "matches": s.matches,
                        "evidence": s.evidence,
                        "source": s.source,
                    }
                    for s in t.shows
                ],
            }
            for t in topics
        ]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    if not topics:
        out.print("no topics yet: podsift topics add 'battery storage'", highlight=False)
    for t in topics:
        searched = t.searched_at.isoformat()[:16].replace("T", " ") if t.searched_at else "not yet"
        out.print(f"[bold]{t.id}. {t.phrase}[/bold] (for {t.owner or 'everyone'}; searched {searched})")
        if t.error:
            err.print(f"  [yellow]last search[/yellow]: {t.error}", highlight=False)
        if t.shows:
            table = Table("proposal", "show", "state", "recent episodes on it", "feed")
            for s in t.shows:
                table.add_row(str(s.id), s.title or "", s.state, str(s.matches), s.feed_url)
            out.print(table)


@topics_app.command("search")
def topics_search(
    force: Annotated[bool, typer.Option(help="Search every topic, due or not.")] = False,
    now: Annotated[str | None, typer.Option(help="Pretend it is this ISO date-time.")] = None,
) -> None:
    from podsift.sources.topics import search_topics
    from podsift.store import utcnow

    report = search_topics(load_core(), parse_now(now) or utcnow(), force=force)
    out.print(
        f"{report.searched} topic(s) searched: {report.proposed} new show(s) proposed, "
        f"{report.followed} followed, {report.dropped} dropped",
        highlight=False,
    )
    for phrase, reason in report.errors.items():
        err.print(f"[yellow]{phrase}[/yellow]: {reason}", highlight=False)


@topics_app.command("follow")
def topics_follow(
    proposal: Annotated[int, typer.Argument(help="Proposal id (podsift topics list).")],
) -> None:
    from podsift.sources.topics import TopicError, follow_proposal
    from podsift.store import utcnow

    try:
        show = follow_proposal(load_core(), proposal, utcnow())
    except TopicError as exc:
        fail(str(exc), 1)
        return
    out.print(f"{show.state}: {show.title or show.feed_url}", highlight=False)


@topics_app.command("dismiss")
def topics_dismiss(
    proposal: Annotated[int, typer.Argument(help="Proposal id (podsift topics list).")],
) -> None:
    from podsift.sources.topics import TopicError, dismiss_proposal
    from podsift.store import utcnow

    try:
        show = dismiss_proposal(load_core(), proposal, utcnow())
    except TopicError as exc:
        fail(str(exc), 1)
        return
    out.print(f"dismissed: {show.title or show.feed_url} (not proposed again)", highlight=False)


@topics_app.command("remove")
def topics_remove(topic: Annotated[int, typer.Argument(help="Topic id.")]) -> None:
    from podsift.sources.topics import remove_topic

    phrase = remove_topic(load_core(), topic)
    if phrase is None:
        fail(f"no topic {topic}", 1)
    out.print(f"removed topic '{phrase}' (shows it followed stay followed)", highlight=False)
