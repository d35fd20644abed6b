"""Each subscriber gets one digest per local day at their hour, across DST changes;
after downtime, one late digest for today and no burst of missed days."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from podsift.delivery.stage import deliver_due
from podsift.scheduler import Scheduler
from podsift.store import Delivery, Digest, Subscriber
from podsift.subscribers import add_subscriber
from tests.seed import seed_insights

ZONES = ["Pacific/Auckland", "Europe/Berlin", "America/Los_Angeles"]


def sent_digests(app) -> dict[str, list[tuple[str, datetime]]]:  # type: ignore[no-untyped-def]
    out: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    with app.session() as s:
        rows = s.execute(
            sa.select(
                Subscriber.email, Subscriber.timezone, Digest.local_date, Delivery.sent_at, Digest.created_at
            )
            .join(Digest, Digest.subscriber_id == Subscriber.id)
            .join(Delivery, Delivery.digest_id == Digest.id)
            .where(Delivery.state == "sent")
            .order_by(Digest.local_date)
        )
        for email, zone, day, _, created in rows:
            out[email].append((day, created.astimezone(ZoneInfo(zone))))
    return out


def hourly(app, start: datetime, hours: int, seed_every: int = 6) -> None:  # type: ignore[no-untyped-def]
    for h in range(hours):
        now = start + timedelta(hours=h)
        if h % seed_every == 0:  # something new to send every day
            seed_insights(app, now, count=2, show=f"Show {h}", start=(h // seed_every) * 2)
        deliver_due(app, now)


def test_one_digest_per_local_day_at_seven_across_dst(make_core) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    for zone in ZONES:
        add_subscriber(app, f"{zone.split('/')[1].lower()}@example.com", timezone=zone, hour=7)
    # 2026-10-22 .. 2026-11-04: Berlin leaves summer time on Oct 25, Los Angeles on Nov 1.
    hourly(app, datetime(2026, 10, 22, 0, 0, tzinfo=UTC), 14 * 24)
    got = sent_digests(app)
    for zone in ZONES:
        days = got[f"{zone.split('/')[1].lower()}@example.com"]
        dates = [d for d, _ in days]
        assert len(dates) == len(set(dates)) >= 13, dates  # one per local day
        # at 07:00 local; the first day may start late (the clock starts at 00:00 UTC)
        assert all(local.hour == 7 and local.minute == 0 for _, local in days[1:]), days
    berlin = dict(got["berlin@example.com"])
    assert berlin["2026-10-24"].utcoffset() == timedelta(hours=2)
    assert berlin["2026-10-26"].utcoffset() == timedelta(hours=1)
    la = dict(got["los_angeles@example.com"])
    assert la["2026-10-31"].utcoffset() == timedelta(hours=-7) and la["2026-11-02"].utcoffset() == timedelta(
        hours=-8
    )


def test_auckland_spring_forward(make_core) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    add_subscriber(app, "kiwi@example.com", timezone="Pacific/Auckland", hour=2)
    # 2026-09-27 02:00 NZST does not exist (clocks jump to 03:00 NZDT): that day's digest goes at 03:00.
    hourly(app, datetime(2026, 9, 24, 0, 0, tzinfo=UTC), 6 * 24)
    days = dict(sent_digests(app)["kiwi@example.com"])
    assert days["2026-09-27"].hour == 3 and days["2026-09-28"].hour == 2
    assert len(days) >= 5


def test_downtime_sends_today_once_not_the_missed_days(make_core) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    add_subscriber(app, "berlin@example.com", timezone="Europe/Berlin", hour=7)
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    hourly(app, start, 24)
    for day in range(1, 4):  # three days of insights while the server is down
        seed_insights(app, start + timedelta(days=day), count=2, show=f"Down {day}", start=10 + day * 2)
    clock = [start + timedelta(days=3, hours=15)]
    scheduler = Scheduler(app, clock=lambda: clock[0])
    scheduler.next_pipeline = clock[0] + timedelta(hours=1)  # deliver only
    scheduler.tick()
    clock[0] += timedelta(minutes=1)
    scheduler.tick()
    days = [d for d, _ in sent_digests(app)["berlin@example.com"]]
    assert days == ["2026-03-02", "2026-03-05"]  # today's, late and once; no burst for 3 and 4
