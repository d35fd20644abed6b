"""Digest delivery: outbox, SMTP, failures, one digest per local day, message format."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from podsift.delivery.message import message_id
from podsift.delivery.stage import deliver_due
from podsift.digests.records import local_date
from podsift.net.links import listen_link
from podsift.store import Delivery, Digest, Episode, Feed, Insight, Subscriber
from podsift.subscribers import SubscriberError, add_subscriber
from podsift.subscribers.addresses import AddressError, parse_address
from tests.conftest import free_port

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def seed_insights(
    app, n: int = 3, show: str = "Show <b>&</b>", audio: str = "https://cdn.example.org/ep.mp3"
) -> None:  # type: ignore[no-untyped-def]
    with app.session() as s:
        feed = Feed(url=f"https://example.org/{show}.xml", title=show)
        s.add(feed)
        s.flush()
        for e in range(n):
            ep = Episode(
                feed_id=feed.id,
                key=f"k{e}",
                fallback_key=f"f{e}",
                title=f"Episode {e}",
                audio_url=audio,
                published_at=NOW - timedelta(hours=e + 1),
                state="extracted",
            )
            s.add(ep)
            s.flush()
            s.add(
                Insight(
                    episode_id=ep.id,
                    text=f"Claim {e} about batteries <script>x</script>",
                    quote=f"quote {e}",
                    quote_hash=f"h{e}",
                    speaker="Sam",
                    start_seconds=61.5 + e,
                    end_seconds=70.0 + e,
                    score=1.0 - e / 10,
                    extractor="offline",
                    created_at=NOW - timedelta(hours=1),
                )
            )
        s.commit()


def digests(app) -> list[Digest]:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return list(s.scalars(sa.select(Digest).order_by(Digest.id)))


def test_outbox_gets_eml_and_html_when_no_mail_server(make_core, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    seed_insights(app)
    add_subscriber(app, "reader@example.com", "batteries", "UTC", 7)
    report = deliver_due(app, NOW)
    eml = app.settings.resolved_outbox / "2026-03-10" / "reader@example.com.eml"
    assert report.locations == {"reader@example.com": str(eml)}
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "reader@example.com" and msg["Subject"].startswith(
        "Your podsift digest for 2026-03-10: 3 insights"
    )
    html = (eml.parent / "reader@example.com.html").read_text()
    assert "&lt;script&gt;" in html and "<script>" not in html  # feed text is escaped
    assert "Show &lt;b&gt;&amp;&lt;/b&gt;" in html
    assert 'style="' in html  # CSS inlined for mail clients
    assert "https://cdn.example.org/ep.mp3#t=61" in html
    text = msg.get_body(("plain",)).get_content()
    assert "Listen at 1:01: https://cdn.example.org/ep.mp3#t=61" in text
    # Re-running the same local day writes nothing new.
    assert deliver_due(app, NOW + timedelta(hours=3)).already_sent == 1
    assert [d.state for d in digests(app)] == ["sent"]


def test_not_due_before_local_hour_and_one_per_local_day(make_core, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = make_core(smtp_url=smtp_server.url)
    seed_insights(app)
    add_subscriber(app, "kiwi@example.com", "", "Pacific/Auckland", 7)
    # 2026-03-10 12:00 UTC is 01:00 on 11 March in Auckland (NZDT, UTC+13): not yet.
    assert local_date(app_sub(app, "kiwi@example.com"), NOW) == ("2026-03-11", 1)
    assert deliver_due(app, NOW).not_due == 1
    report = deliver_due(app, NOW + timedelta(hours=6))  # 07:00 local
    assert report.sent == ["kiwi@example.com"]
    deliver_due(app, NOW + timedelta(hours=10))
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["Message-ID"] == message_id(
        "kiwi@example.com", "2026-03-11", app.settings.from_address
    )


def app_sub(app, email: str) -> Subscriber:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return s.scalars(sa.select(Subscriber).where(Subscriber.email == email)).one()


def test_nothing_new_sends_nothing_and_records_nothing(make_core, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = make_core(smtp_url=smtp_server.url)
    add_subscriber(app, "empty@example.com")
    assert deliver_due(app, NOW).empty == 1
    assert smtp_server.messages == [] and digests(app) == []


class RefusingSmtp:
    """aiosmtpd server that answers 550 for some recipients and 421 for others."""

    def __init__(self, refuse: dict[str, str]) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[str] = []
        outer = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
                if address in refuse:
                    return refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                outer.received.extend(envelope.rcpt_tos)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def test_permanent_and_transient_smtp_failures(make_core) -> None:  # type: ignore[no-untyped-def]
    server = RefusingSmtp(
        {"bounce@example.com": "550 5.1.1 no such user", "later@example.com": "421 4.7.0 try later"}
    )
    try:
        app = make_core(smtp_url=f"smtp://127.0.0.1:{server.port}")
        seed_insights(app)
        for email in ("bounce@example.com", "later@example.com", "fine@example.com"):
            add_subscriber(app, email)
        report = deliver_due(app, NOW)
        assert report.sent == ["fine@example.com"]
        assert set(report.failed) == {"bounce@example.com"}
        assert set(report.retry_later) == {"later@example.com"}
        states = {
            app_sub_email(app, d.digest.subscriber_id): (d.state, d.error_reason) for d in deliveries(app)
        }
        assert states["bounce@example.com"][0] == "failed" and "550" in states["bounce@example.com"][1]
        assert states["later@example.com"][0] == "pending"  # transient: retried by the next run
        assert server.received == ["fine@example.com"]
    finally:
        server.stop()


def deliveries(app) -> list[Delivery]:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return list(s.scalars(sa.select(Delivery).options(joinedload(Delivery.digest))))


def app_sub_email(app, subscriber_id: int) -> str:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return s.get_one(Subscriber, subscriber_id).email


def test_transient_failure_is_retried_with_the_same_digest(make_core, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = make_core(smtp_url=f"smtp://127.0.0.1:{free_port()}")  # nobody listening
    seed_insights(app)
    add_subscriber(app, "retry@example.com")
    report = deliver_due(app, NOW)
    assert "connection failed" in report.retry_later["retry@example.com"]
    (pending,) = digests(app)
    assert pending.state == "pending"
    seed_insights(app, show="Later show")  # new insights arrive before the retry
    app.settings = app.settings.__class__(**{**app.settings.__dict__, "smtp_url": smtp_server.url})
    assert deliver_due(app, NOW + timedelta(minutes=30)).sent == ["retry@example.com"]
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "Later show" not in body  # the digest fixed before the first try is what is sent


def test_concurrent_deliveries_send_one_message(make_core, smtp_server, database_url) -> None:  # type: ignore[no-untyped-def]
    apps = [make_core(database_url, smtp_url=smtp_server.url) for _ in range(4)]
    seed_insights(apps[0])
    for n in range(10):
        add_subscriber(apps[0], f"user{n}@example.com")
    barrier = threading.Barrier(len(apps))

    def work(app) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        deliver_due(app, NOW)

    threads = [threading.Thread(target=work, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recipients = sorted(str(m["To"]) for m in smtp_server.messages)
    assert recipients == sorted(f"user{n}@example.com" for n in range(10))


@pytest.mark.parametrize(
    "bad", ["a@b", "no-at-sign", "x@y.com\r\nBcc: evil@z.com", "Name <x@y.com>", "x@y.com, z@w.com", "@y.com"]
)
def test_addresses_are_parsed_strictly(bad: str) -> None:
    with pytest.raises(AddressError):
        parse_address(bad)


def test_subscriber_validation(make_core) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    with pytest.raises(SubscriberError, match="time zone"):
        add_subscriber(app, "a@example.com", timezone="Mars/Olympus")
    with pytest.raises(SubscriberError, match="0-23"):
        add_subscriber(app, "a@example.com", hour=24)
    sub = add_subscriber(app, "A@Example.COM", "x", "Europe/Berlin", 6, 3)
    again = add_subscriber(app, "a@example.com", "y", "Europe/Berlin", 8, 4)
    assert sub.id == again.id and again.email == "a@example.com"
    assert (again.interests, again.send_hour, again.top_n) == ("y", 8, 4)


def test_listen_links_only_for_web_urls() -> None:
    assert (
        listen_link("https://cdn.example.org/a.mp3#old", None, 75.9) == "https://cdn.example.org/a.mp3#t=75"
    )
    assert listen_link("javascript:alert(1)", "https://example.org/ep", 5) == "https://example.org/ep"
    assert listen_link(None, "data:text/html,x", 5) is None


def test_a_digest_recorded_without_its_deliveries_is_still_sent(make_core, smtp_server) -> None:  # type: ignore[no-untyped-def]
    # A run killed between recording the day's digest and adding its delivery rows: the
    # next run must not take the digest for sent.
    from podsift.digests.records import choose_digest, make_selector

    app = make_core(smtp_url=smtp_server.url)
    seed_insights(app)
    add_subscriber(app, "late@example.com", "", "UTC", 0)
    sub = app_sub(app, "late@example.com")
    with app.session() as session:
        digest = choose_digest(make_selector(app), session, sub, NOW.date().isoformat(), NOW)
        assert digest is not None
        assert session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    report = deliver_due(app, NOW)
    assert report.sent == ["late@example.com"] and len(smtp_server.messages) == 1
    again = deliver_due(app, NOW + timedelta(hours=1))
    assert again.already_sent == 1 and not again.sent and len(smtp_server.messages) == 1
