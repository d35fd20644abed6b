"""Subscriber accounts: who gets a digest, about what, when and where."""

from __future__ import annotations

import difflib
import hashlib
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.backends.apprise import understands
from podsift.store import Feed, Subscriber, utcnow
from podsift.subscribers.addresses import parse_address
from podsift.subscribers.confirm import send_confirmation

if TYPE_CHECKING:
    from podsift.core import App

# Signing up again re-sends the confirmation email at most this often per address.
CONFIRM_RESEND = timedelta(minutes=15)
EDITABLE = (
    "interests",
    "timezone",
    "send_hour",
    "top_n",
    "paused",
    "feed_ids",
    "channels",
    "email_enabled",
    "feed_weights",
    "briefing",
)


class SubscriberError(ValueError, LookupError):
    """A subscriber's values cannot be used, or there is no such subscriber."""


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """The IANA zone names a reader can pick, sorted (tzdata's, less its technical entries)."""
    technical = ("posix/", "right/", "posixrules", "Factory", "localtime")
    return tuple(sorted(z for z in available_timezones() if not z.startswith(technical)))


def validate_timezone(name: str) -> str:
    """The IANA zone `name` spelled the canonical way ("europe/berlin" is Europe/Berlin), or a
    clear error that suggests the nearest names."""
    name = name.strip()
    canonical = {z.lower(): z for z in time_zones()}.get(name.lower())
    if canonical:
        return canonical
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        near = difflib.get_close_matches(name, time_zones(), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(near)}?" if near else "use an IANA name like Europe/Berlin"
        raise SubscriberError(f"unknown time zone {name[:80]!r} ({hint})") from exc
    return name


def validate_channel(url: str) -> str:
    """An Apprise URL (slack://, discord://, tgram://, ntfy://, json://, ...)."""
    url = url.strip()
    if any(c in url for c in "\r\n\0 ") or "://" not in url:
        raise SubscriberError(f"not an Apprise URL: {url!r} (like ntfys://topic or json://host/path)")
    if not understands(url):
        raise SubscriberError(f"Apprise does not understand {url.split('://')[0]}:// URLs")
    return url


def channel_key(url: str) -> str:
    """A stable, secret-free name for an Apprise URL (URLs carry tokens)."""
    return f"apprise:{url.split('://', 1)[0]}:{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _check(values: dict[str, Any], default_top: int) -> dict[str, Any]:
    if "timezone" in values:
        values["timezone"] = validate_timezone(values["timezone"])
    if "send_hour" in values and not 0 <= int(values["send_hour"]) <= 23:
        raise SubscriberError(f"send hour must be 0-23, not {values['send_hour']}")
    if "top_n" in values:
        values["top_n"] = int(values["top_n"] or default_top)
        if not 1 <= values["top_n"] <= 50:
            raise SubscriberError(f"--top must be 1-50, not {values['top_n']}")
    if "channels" in values:
        values["channels"] = [validate_channel(u) for u in values["channels"] if u.strip()]
    if "interests" in values:
        values["interests"] = (values["interests"] or "").strip()[:2000]
    if "feed_weights" in values:
        weights = {str(int(k)): float(v) for k, v in (values["feed_weights"] or {}).items()}
        if any(not 0 <= w <= 10 for w in weights.values()):
            raise SubscriberError("show weights must be between 0 (mute) and 10")
        values["feed_weights"] = weights
    return values


def add_subscriber(
    app: App,
    email: str,
    interests: str = "",
    timezone: str = "UTC",
    hour: int = 7,
    top: int | None = None,
    *,
    channels: list[str] | None = None,
    feed_ids: list[int] | None = None,
    skip_confirm: bool = False,
) -> Subscriber:
    """Add a subscriber, or update one (re-adding an unsubscribed address subscribes it again
    and invalidates its old links). With a base URL set and no `skip_confirm`, a new address
    gets a confirmation email and receives nothing until it is confirmed."""
    address = parse_address(email)
    values = _check(
        {
            "interests": interests,
            "timezone": timezone,
            "send_hour": hour,
            "top_n": top or app.settings.digest_top,
        },
        app.settings.digest_top,
    )
    if channels is not None:
        values["channels"] = _check({"channels": channels}, 0)["channels"]
    if feed_ids is not None:
        values["feed_ids"] = _known_feeds(app, feed_ids)
    needs_confirmation = bool(app.settings.base_url) and not skip_confirm
    with app.session() as session:
        sub = _by_address(session, address)
        if sub is None:
            sub = Subscriber(email=address, confirmed=not needs_confirmation)
            session.add(sub)
        elif not sub.active:  # coming back: old links must not unsubscribe the new subscription
            sub.token_version += 1
            sub.unsubscribed_at = None
            sub.confirmed = not needs_confirmation
        if skip_confirm and not sub.confirmed:
            sub.confirmed = True
        if sub.confirmed and sub.confirmed_at is None:
            sub.confirmed_at = utcnow()
        for name, value in values.items():
            setattr(sub, name, value)
        sub.active = True
        session.commit()
        session.refresh(sub)
    if not sub.confirmed:
        send_confirmation(app, sub)
    return sub


def _known_feeds(app: App, feed_ids: list[int]) -> list[int]:
    with app.session() as session:
        known = set(session.scalars(sa.select(Feed.id).where(Feed.id.in_(feed_ids))))
    unknown = sorted(set(feed_ids) - known)
    if unknown:
        raise SubscriberError(f"no feeds with ids {unknown} (see `podsift feeds list`)")
    return sorted(known)


def update_subscriber(app: App, email: str, **values: Any) -> Subscriber:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise SubscriberError(f"cannot set {', '.join(sorted(unknown))}")
    values = _check(values, app.settings.digest_top)
    if values.get("feed_ids") is not None:
        values["feed_ids"] = _known_feeds(app, values["feed_ids"]) or None
    address = parse_address(email)
    with app.session() as session:
        sub = _existing(session, address)
        if "feed_weights" in values:  # named shows change; the others keep their weight
            values["feed_weights"] = {**(sub.feed_weights or {}), **values["feed_weights"]}
        for name, value in values.items():
            setattr(sub, name, value)
        session.commit()
        session.refresh(sub)
        return sub


def remove_subscriber(app: App, email: str) -> None:
    """Delete the subscriber and everything about them (digests, votes)."""
    with app.session() as session:
        session.delete(_existing(session, parse_address(email)))
        session.commit()


def list_subscribers(app: App) -> list[Subscriber]:
    with app.session() as session:
        return list(session.scalars(sa.select(Subscriber).order_by(Subscriber.id)))


def find_subscriber(app: App, email: str) -> Subscriber:
    """The subscriber with this address; SubscriberError (a LookupError) when there is none."""
    with app.session() as session:
        return _existing(session, parse_address(email))


def count_subscribers(app: App) -> int:
    with app.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) or 0


def sign_up(app: App, email: str, interests: str, timezone: str, hour: int, top: int) -> None:
    """The public sign-up. Subscribes a new or former address (it must confirm when a base
    URL is set); re-sends the confirmation to an address that never confirmed, at most once
    per CONFIRM_RESEND; leaves a subscribed address alone. The page says the same in every
    case, so the form does not reveal who subscribes."""
    address = parse_address(email)
    with app.session() as session:
        existing = _by_address(session, address)
    if existing is None or not existing.active:
        add_subscriber(app, address, interests, timezone, hour, top)
        return
    if existing.confirmed or not app.settings.base_url:
        return
    last = existing.confirmation_sent_at
    if last is None or utcnow() - last >= CONFIRM_RESEND:  # stored datetimes come back aware
        send_confirmation(app, existing)


def state_of(sub: Subscriber) -> str:
    if not sub.active:
        return "unsubscribed"
    if not sub.confirmed:
        return "unconfirmed"
    return "paused" if sub.paused else "active"


def _by_address(session: Session, address: str) -> Subscriber | None:
    return session.scalar(sa.select(Subscriber).where(Subscriber.email == address))


def _existing(session: Session, address: str) -> Subscriber:
    sub = _by_address(session, address)
    if sub is None:
        raise SubscriberError(f"no subscriber {address}")
    return sub
