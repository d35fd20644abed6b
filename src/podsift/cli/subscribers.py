"""`podsift subscribers`: add, change, list and remove the people who get digests."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from podsift.cli.common import fail, load_core, out

subs_app = typer.Typer(no_args_is_help=True, help="People who get digests.")

# --- subscribers --------------------------------------------------------------------------


def _shows(value: str | None) -> list[int] | None:
    if value is None:
        return None
    if value.strip().lower() in ("", "all"):
        return []
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        fail(f"--shows takes feed ids from `podsift feeds list` (1,4,7) or 'all', not {value!r}")
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
            load_core(),
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
        fail(str(exc))
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
    briefing: Annotated[
        bool | None, typer.Option("--briefing/--no-briefing", help="Make the daily audio briefing.")
    ] = None,
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
        "briefing": briefing,
        "channels": [c for c in channel if c] if channel is not None else None,
    }
    changes = {k: v for k, v in values.items() if v is not None}
    if shows is not None:
        changes["feed_ids"] = _shows(shows) or None
    if weight:
        try:
            changes["feed_weights"] = {int(k): float(v) for k, _, v in (w.partition("=") for w in weight)}
        except ValueError:
            fail("--weight takes FEED_ID=WEIGHT, e.g. --weight 3=1.5")
    if not changes:
        fail("nothing to change (see --help)")
    try:
        sub = update_subscriber(load_core(), email, **changes)
    except (SubscriberError, AddressError) as exc:
        fail(str(exc))
        return
    out.print(f"updated {sub.email}: {', '.join(sorted(changes))}", highlight=False)


@subs_app.command("remove")
def subscribers_remove(email: str) -> None:
    """Delete a subscriber with their digests and votes."""
    from podsift.subscribers import SubscriberError, remove_subscriber
    from podsift.subscribers.addresses import AddressError

    try:
        remove_subscriber(load_core(), email)
    except (SubscriberError, AddressError) as exc:
        fail(str(exc), 1)
        return
    out.print(f"removed {email}", highlight=False)


@subs_app.command("list")
def subscribers_list(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    from podsift.delivery.stage import delivery_problems
    from podsift.subscribers import channel_key, list_subscribers, state_of

    core = load_core()
    subs = list_subscribers(core)
    problems = delivery_problems(core)
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
                "problem": problems.get(sub.id),
            }
            sys.stdout.write(json.dumps(row) + "\n")
        return
    table = Table("email", "state", "interests", "timezone", "hour", "top", "channels", "problem")
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
            problems.get(sub.id, ""),
        )
    out.print(table)


@subs_app.command("instruct")
def subscribers_instruct(
    email: str,
    text: Annotated[
        str | None, typer.Argument(help="Plain words about the digest (≤ 500 characters); '' clears.")
    ] = None,
    remove: Annotated[
        str | None, typer.Option(help="Drop one part of the profile by its key (see the listing).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The profile as JSON.")] = False,
) -> None:
    """Steer a digest in plain words ("skip funding news, explain jargon, more contrarian
    takes"): read once into a profile of mutes, boosts and style flags, shown back. Without
    TEXT, shows the current profile."""
    from podsift.subscribers import SubscriberError
    from podsift.subscribers.addresses import AddressError
    from podsift.subscribers.steer import instruct, profile_of, remove_part

    core = load_core()
    try:
        if remove is not None:
            profile = remove_part(core, email, remove)
            words = profile_of(core, email)[0]
        elif text is not None:
            words, profile = text, instruct(core, email, text)
        else:
            words, profile = profile_of(core, email)
    except (SubscriberError, AddressError) as exc:
        fail(str(exc))
        return
    if as_json:
        sys.stdout.write(json.dumps({"instructions": words, "profile": profile.to_json()}) + "\n")
        return
    out.print(f"instructions: {words or '(none)'}", highlight=False)
    out.print(f"understood: {profile.describe()}", highlight=False)
    for group, parts in profile.parts().items():
        for part in parts:
            out.print(f"  {group.lower()}: {part.words}  (key: {part.key})", highlight=False, markup=False)


@subs_app.command("alerts")
def subscribers_alerts(
    email: str,
    add: Annotated[str | None, typer.Option(help='Save a search (words, "a phrase", -left-out, OR).')] = None,
    remove: Annotated[int | None, typer.Option(help="Forget the saved search with this id.")] = None,
) -> None:
    """A subscriber's saved searches: new moments that match go in their digest."""
    from podsift.search import AlertError, add_alert, list_alerts, remove_alert
    from podsift.subscribers import SubscriberError, find_subscriber
    from podsift.subscribers.addresses import AddressError

    core = load_core()
    try:
        sub = find_subscriber(core, email)
        if add is not None:
            add_alert(core, sub.id, add)
        if remove is not None and not remove_alert(core, remove, sub.id):
            fail(f"no saved search {remove} of {sub.email}")
            return
    except (SubscriberError, AddressError, AlertError) as exc:
        fail(str(exc))
        return
    for alert in list_alerts(core, sub.id):
        out.print(f"{alert.id}\t{alert.query}", highlight=False, markup=False)
