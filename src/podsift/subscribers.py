"""Subscribers: who gets a digest, about what, and when."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from podsift.core import App
from podsift.delivery.message import parse_address
from podsift.store import Subscriber


class SubscriberError(ValueError):
    pass


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SubscriberError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from exc
    return name


def add_subscriber(
    app: App,
    email: str,
    interests: str = "",
    timezone: str = "UTC",
    hour: int = 7,
    top: int | None = None,
) -> Subscriber:
    """Add or update a subscriber (re-adding an address updates its settings)."""
    address = parse_address(email)
    validate_timezone(timezone)
    if not 0 <= hour <= 23:
        raise SubscriberError(f"send hour must be 0-23, not {hour}")
    top = top or app.settings.digest_top
    if not 1 <= top <= 50:
        raise SubscriberError(f"--top must be 1-50, not {top}")
    with app.session() as session:
        sub = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
        if sub is None:
            sub = Subscriber(email=address)
            session.add(sub)
        sub.interests, sub.timezone, sub.send_hour, sub.top_n = interests.strip(), timezone, hour, top
        sub.active = True
        session.commit()
        return sub


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
