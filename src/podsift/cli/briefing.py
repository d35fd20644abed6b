"""`podsift briefing EMAIL [--date]`: build a recorded digest's audio briefing now."""

from __future__ import annotations

from typing import Annotated

import typer

from podsift.cli.common import fail, load_core, out


def briefing_command(
    email: str,
    date: Annotated[str | None, typer.Option(help="The digest's local date (default: today's).")] = None,
) -> None:
    """Write the audio briefing of a subscriber's digest (MP3 with chapters, JSON chapters and
    a WebVTT transcript beside it) and print where it is."""
    from podsift.backends.narrator.registry import NarrationError
    from podsift.briefings.stage import briefing_now
    from podsift.subscribers import SubscriberError, find_subscriber

    core = load_core()
    try:
        path = briefing_now(core, find_subscriber(core, email), date)
    except (SubscriberError, LookupError, NarrationError) as exc:
        fail(str(exc))
        return
    out.print(str(path), highlight=False)
