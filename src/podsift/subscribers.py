"""Subscribers: who gets a digest, about what, when and where; and the signed links that
let them confirm, vote, change preferences and leave without an account."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from podsift.core import App
from podsift.delivery.message import parse_address
from podsift.delivery.tokens import TokenError
from podsift.store import Feed, Feedback, Insight, Subscriber, utcnow

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
)


class SubscriberError(ValueError):
    pass


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SubscriberError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from exc
    return name


def validate_channel(url: str) -> str:
    """An Apprise URL (slack://, discord://, tgram://, ntfy://, json://, ...)."""
    url = url.strip()
    if any(c in url for c in "\r\n\0 ") or "://" not in url:
        raise SubscriberError(f"not an Apprise URL: {url!r} (like ntfys://topic or json://host/path)")
    try:
        import apprise
    except ImportError as exc:  # pragma: no cover - apprise is a dependency
        raise SubscriberError("chat channels need the apprise package") from exc
    if apprise.Apprise.instantiate(url) is None:
        raise SubscriberError(f"Apprise does not understand {url.split('://')[0]}:// URLs")
    return url


def channel_key(url: str) -> str:
    """A stable, secret-free name for an Apprise URL (URLs carry tokens)."""
    return f"apprise:{url.split('://', 1)[0]}:{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _check(values: dict[str, Any], default_top: int) -> dict[str, Any]:
    if "timezone" in values:
        validate_timezone(values["timezone"])
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
        sub = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
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
        from podsift.delivery.confirm import send_confirmation

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
        sub = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
        if sub is None:
            raise SubscriberError(f"no subscriber {address}")
        if "feed_weights" in values:  # named shows change; the others keep their weight
            values["feed_weights"] = {**(sub.feed_weights or {}), **values["feed_weights"]}
        for name, value in values.items():
            setattr(sub, name, value)
        session.commit()
        session.refresh(sub)
        return sub


def remove_subscriber(app: App, email: str) -> None:
    """Delete the subscriber and everything about them (digests, votes)."""
    address = parse_address(email)
    with app.session() as session:
        sub = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
        if sub is None:
            raise SubscriberError(f"no subscriber {address}")
        session.delete(sub)
        session.commit()


def list_subscribers(app: App) -> list[Subscriber]:
    with app.session() as session:
        return list(session.scalars(sa.select(Subscriber).order_by(Subscriber.id)))


def find_subscriber(app: App, email: str) -> Subscriber:
    address = parse_address(email)
    with app.session() as session:
        sub = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
    if sub is None:
        raise SubscriberError(f"no subscriber {address}")
    return sub


# --- signed links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberLinks:
    unsubscribe: str
    preferences: str
    feed: str
    web: str  # today's digest and the archive in the browser

    def vote(self, app: App, sub: Subscriber, insight_id: int, vote: int) -> str:
        token = app.tokens().make("feedback", sub.id, sub.token_version, i=insight_id, d=vote)
        return f"{app.settings.base_url.rstrip('/')}/feedback/{token}"


def links_for(app: App, sub: Subscriber) -> SubscriberLinks | None:
    base = app.settings.base_url.rstrip("/")
    if not base:
        return None
    tokens = app.tokens()
    return SubscriberLinks(
        unsubscribe=f"{base}/unsubscribe/{tokens.make('unsubscribe', sub.id, sub.token_version)}",
        preferences=f"{base}/preferences/{tokens.make('preferences', sub.id, sub.token_version)}",
        feed=f"{base}/feed/{tokens.make('feed', sub.id, sub.token_version)}.atom",
        web=f"{base}/me/{tokens.make('preferences', sub.id, sub.token_version)}/today",
    )


def confirm_link(app: App, sub: Subscriber) -> str:
    token = app.tokens().make("confirm", sub.id, sub.token_version)
    return f"{app.settings.base_url.rstrip('/')}/confirm/{token}"


def subscriber_for(app: App, purpose: str, token: str) -> tuple[Subscriber, dict[str, Any]]:
    """The subscriber a token names, if it is genuine and current; else TokenError."""
    data = app.tokens().read(purpose, token)
    with app.session() as session:
        sub = session.get(Subscriber, data["s"])
    if sub is None or sub.token_version != data["v"]:
        raise TokenError("this link is no longer valid")
    return sub, data


def unsubscribe(app: App, token: str) -> Subscriber:
    """Idempotent: a second POST with the same link changes nothing more."""
    sub, _ = subscriber_for(app, "unsubscribe", token)
    with app.session() as session:
        session.execute(
            sa.update(Subscriber)
            .where(Subscriber.id == sub.id, Subscriber.token_version == sub.token_version, Subscriber.active)
            .values(active=False, unsubscribed_at=utcnow())
        )
        session.commit()
        return session.get(Subscriber, sub.id)  # type: ignore[return-value]


def confirm(app: App, token: str) -> Subscriber:
    sub, _ = subscriber_for(app, "confirm", token)
    with app.session() as session:
        session.execute(
            sa.update(Subscriber)
            .where(Subscriber.id == sub.id, Subscriber.confirmed.is_(False))
            .values(confirmed=True, confirmed_at=utcnow())
        )
        session.commit()
        return session.get(Subscriber, sub.id)  # type: ignore[return-value]


def record_vote(app: App, token: str) -> tuple[Subscriber, int, int]:
    """(subscriber, insight id, vote). A second vote on one insight replaces the first."""
    sub, data = subscriber_for(app, "feedback", token)
    insight_id, vote = data.get("i"), data.get("d")
    if not isinstance(insight_id, int) or vote not in (1, -1):
        raise TokenError("this link is not valid")
    with app.session() as session:
        if session.get(Insight, insight_id) is None:
            raise TokenError("that insight no longer exists")
        row = session.scalar(
            sa.select(Feedback).where(Feedback.subscriber_id == sub.id, Feedback.insight_id == insight_id)
        )
        if row is None:
            session.add(Feedback(subscriber_id=sub.id, insight_id=insight_id, vote=vote))
        else:
            row.vote, row.created_at = vote, utcnow()
        session.commit()
    return sub, insight_id, vote
