"""`podsift search`: moments of the followed shows by their words and meaning."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from podsift.cli.common import fail, load_core, out


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        fail(f"{name} takes a date like 2026-11-20, not {value!r}")
        raise


def search_command(
    query: Annotated[str, typer.Argument(help='Words, "a phrase", -excluded, OR.')],
    show: Annotated[str | None, typer.Option(help="Only shows whose title has this.")] = None,
    speaker: Annotated[str | None, typer.Option(help="Only this speaker (part of the name).")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after this date.")] = None,
    until: Annotated[str | None, typer.Option(help="Published before this date.")] = None,
    insights: Annotated[bool, typer.Option("--insights", help="Only insights, not every passage.")] = False,
    limit: Annotated[int, typer.Option(help="How many moments (1-100).")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Search everything your shows said: each hit is a moment (speaker, show, episode, second)."""
    from podsift.search import QueryError, SearchFilters, search_moments

    filters = SearchFilters(show, speaker, _date(since, "--since"), _date(until, "--until"), insights, limit)
    try:
        moments = search_moments(load_core(), query, filters)
    except QueryError as exc:
        fail(str(exc))
        return
    if as_json:
        for moment in moments:
            sys.stdout.write(json.dumps(moment.to_json(), ensure_ascii=False) + "\n")
        return
    if not moments:
        out.print("no moments found", highlight=False)
        return
    for n, m in enumerate(moments, 1):
        snippet = re.sub(r"</?mark>", "**", m.snippet)
        out.print(f"{n}. {snippet}", highlight=False, markup=False)
        where = f"{m.speaker or 'unknown speaker'}, {m.show or 'unknown show'}: {m.episode or 'untitled'}"
        out.print(
            f"   {m.kind} · {where} · {m.published or ''} · at {m.timestamp}", highlight=False, markup=False
        )
        if m.link:
            out.print(f"   {m.link}", highlight=False, markup=False)


def ask_command(
    question: Annotated[str, typer.Argument(help="A question about what your shows said.")],
    show: Annotated[str | None, typer.Option(help="Only shows whose title has this.")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after this date.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON.")] = False,
) -> None:
    """Answer from your shows' own moments, with numbered citations (an LLM configured);
    offline, the best moments."""
    from podsift.search import QueryError, SearchFilters
    from podsift.search.ask import ask

    try:
        answer = ask(load_core(), question, SearchFilters(show=show, since=_date(since, "--since")))
    except QueryError as exc:
        fail(str(exc))
        return
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), ensure_ascii=False) + "\n")
        return
    if answer.answered or not answer.moments:
        out.print(answer.text, highlight=False, markup=False)
    else:
        out.print("(no model configured: the moments that best match)", highlight=False)
    for n, m in enumerate(answer.moments, 1):
        where = f"{m.speaker or 'unknown speaker'}, {m.show or 'unknown show'}: {m.episode or 'untitled'}"
        out.print(
            f"[{n}] {where} · at {m.timestamp}{f' · {m.link}' if m.link else ''}",
            highlight=False,
            markup=False,
        )
