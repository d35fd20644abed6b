"""Delivery under faults, against a real SMTP server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import sqlalchemy as sa

from podsift.delivery.stage import deliver_due
from podsift.store import Delivery, Subscriber
from podsift.subscribers import add_subscriber
from tests.conftest import free_port
from tests.seed import seed_insights

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class FaultySmtp:
    """aiosmtpd with a script: per incoming RCPT, in order, 'ok', 'drop' (hang up) or '421';
    and a fixed 550 for some addresses. Records every accepted message."""

    def __init__(
        self, script: list[str] | None = None, refuse: set[str] | None = None, delay: float = 0.0
    ) -> None:
        from aiosmtpd.controller import Controller

        self.script = list(script or [])
        self.refuse = refuse or set()
        self.delay = delay
        self.messages: list[tuple[str, str]] = []  # (to, Message-ID)
        self.lock = threading.Lock()
        outer = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
                if address in outer.refuse:
                    return "550 5.1.1 no such user"
                with outer.lock:
                    step = outer.script.pop(0) if outer.script else "ok"
                if step == "drop":
                    server.transport.close()
                    return "421 4.4.2 connection dropped"
                if step == "421":
                    return "421 4.7.0 try again later"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                if outer.delay:
                    await asyncio.sleep(outer.delay)
                message = message_from_bytes(
                    envelope.original_content or envelope.content, policy=policy.default
                )
                with outer.lock:
                    outer.messages.extend((to, str(message["Message-ID"])) for to in envelope.rcpt_tos)
                return "250 Message accepted"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.controller.stop()


def outcome(server: FaultySmtp, expected: list[str]) -> dict[str, int]:
    by_id = Counter(mid for _, mid in server.messages)
    per_address = Counter(to for to, _ in server.messages)
    return {
        "expected": len(expected),
        "delivered": sum(1 for a in expected if per_address[a] >= 1),
        "duplicated": sum(n - 1 for n in by_id.values()),
        "lost": sum(1 for a in expected if per_address[a] == 0),
    }


def test_drops_421s_and_a_550_end_with_one_message_each(make_core) -> None:  # type: ignore[no-untyped-def]
    # 5 accepted; a dropped connection (retried at once); 421 twice in a row for one message
    # (its immediate retry fails too: it waits for the next run); later a drop and a 421.
    server = FaultySmtp(
        ["ok"] * 5 + ["drop", "ok", "421", "421"] + ["ok"] * 3 + ["drop", "421"],
        refuse={"bounce@example.com"},
    )
    try:
        app = make_core(smtp_url=server.url)
        seed_insights(app, NOW)
        emails = [f"reader{n:02d}@example.com" for n in range(15)] + ["bounce@example.com"]
        for email in emails:
            add_subscriber(app, email)
        first = deliver_due(app, NOW)
        assert set(first.failed) == {"bounce@example.com"}
        assert first.retry_later  # the 421s and the drop+421 wait for the next run
        assert not deliver_due(app, NOW + timedelta(seconds=30)).sent  # backoff not over yet
        second = deliver_due(app, NOW + timedelta(minutes=10))
        assert set(second.sent) == set(first.retry_later)
        third = deliver_due(app, NOW + timedelta(hours=1))
        assert not third.sent and third.already_sent == 15
        good = [e for e in emails if e != "bounce@example.com"]
        figures = outcome(server, good)
        assert figures == {"expected": 15, "delivered": 15, "duplicated": 0, "lost": 0}, figures
        per_address = Counter(to for to, _ in server.messages)
        assert all(per_address[e] == 1 for e in good) and per_address["bounce@example.com"] == 0
        ids = {to: mid for to, mid in server.messages}
        assert len(set(ids.values())) == 15  # one Message-ID per subscriber and day
        with app.session() as s:
            bounce = s.scalar(sa.select(Subscriber).where(Subscriber.email == "bounce@example.com"))
            state, reason = s.execute(
                sa.select(Delivery.state, Delivery.error_reason)
                .join(Delivery.digest)
                .where(sa.text(f"digests.subscriber_id = {bounce.id}"))
            ).one()
            assert bounce.bounces == 1 and not bounce.suppressed
            assert state == "failed" and "550" in reason
    finally:
        server.stop()


def test_repeated_550s_suppress_the_address(make_core) -> None:  # type: ignore[no-untyped-def]
    server = FaultySmtp(refuse={"gone@example.com"})
    try:
        app = make_core(smtp_url=server.url, suppress_after_bounces=2)
        add_subscriber(app, "gone@example.com")
        for day in range(3):
            seed_insights(app, NOW + timedelta(days=day), start=day * 3)
            deliver_due(app, NOW + timedelta(days=day))
        with app.session() as s:
            sub = s.scalar(sa.select(Subscriber).where(Subscriber.email == "gone@example.com"))
            attempts = s.scalar(
                sa.select(sa.func.count()).select_from(Delivery).where(Delivery.channel == "email")
            )
        assert sub.suppressed and sub.bounces == 2
        assert attempts == 2  # the third day made no email delivery for a suppressed address
    finally:
        server.stop()


def test_a_dead_mail_server_stops_the_run_early(make_core) -> None:  # type: ignore[no-untyped-def]
    app = make_core(smtp_url=f"smtp://127.0.0.1:{free_port()}", max_connection_failures=3)
    seed_insights(app, NOW)
    for n in range(10):
        add_subscriber(app, f"r{n}@example.com")
    report = deliver_due(app, NOW)
    assert len(report.retry_later) == 3 and report.deferred == 7 and not report.sent
    with app.session() as s:
        states = Counter(s.scalars(sa.select(Delivery.state)))
    assert states == Counter({"pending": 3})  # the other seven were not even started
