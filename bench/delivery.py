"""Benchmark: digests per second to a local SMTP server, and the fault-injection figures.

    .venv/bin/python bench/delivery.py [--subscribers 1000]

throughput  N subscribers, a real aiosmtpd server (own process) on loopback, `deliver_due` end to end
            (selection, recording, rendering text + HTML with inlined CSS, SMTP) against a
            baseline in the same run: the same messages built and sent by a plain loop
            over smtplib with no database (what a cron script would do).
faults      the scripted faulty server from the tests (drops, 421s, a 550) over two runs:
            messages expected, delivered, duplicated, lost.
"""

from __future__ import annotations

import argparse
import smtplib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent)]

from tests.seed import seed_insights  # noqa: E402
from tests.test_delivery_faults import FaultySmtp, outcome  # noqa: E402

from podsift.core import make_app  # noqa: E402
from podsift.delivery.message import build_message  # noqa: E402
from podsift.delivery.stage import deliver_due  # noqa: E402
from podsift.digests.records import make_selector, stored_picks  # noqa: E402
from podsift.digests.view import build_view  # noqa: E402
from podsift.settings import Settings  # noqa: E402
from podsift.store import Digest, Subscriber  # noqa: E402

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def sink_process() -> tuple[subprocess.Popen[bytes], int]:
    """A discarding SMTP server in its own process (not competing for this one's GIL)."""
    from tests.conftest import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the SMTP sink did not start")


def subscriber_rows(count: int, now: datetime, interests: str) -> list[dict[str, object]]:
    """`count` confirmed subscribers due at once (UTC, hour 0), every second one with
    `interests`, as rows for one bulk INSERT."""
    return [
        {
            "email": f"reader{n:05d}@example.com",
            "interests": interests if n % 2 else "",
            "timezone": "UTC",
            "send_hour": 0,
            "top_n": 5,
            "active": True,
            "created_at": now,
            "feed_weights": {},
            "channels": [],
            "confirmed": True,
            "paused": False,
            "token_version": 1,
            "email_enabled": True,
            "bounces": 0,
            "suppressed": False,
        }
        for n in range(count)
    ]


def throughput(subscribers: int) -> None:
    server, port = sink_process()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Settings.load(env={}, home=Path(tmp), smtp_url=f"smtp://127.0.0.1:{port}"))
        seed_insights(app, NOW, count=12)
        make_selector(app)  # model load outside the timing
        app.embedder()
        with app.engine.begin() as conn:
            conn.execute(
                Subscriber.__table__.insert(), subscriber_rows(subscribers, NOW, "batteries, heat pumps")
            )
        started = time.perf_counter()
        report = deliver_due(app, NOW)
        podsift = time.perf_counter() - started
        assert len(report.sent) == subscribers, report.failed
        # Baseline: the same digests (already chosen), built and sent in a bare loop.
        with app.session() as session:
            views = [
                build_view(
                    d.subscriber_id and f"again{d.subscriber_id}@example.com",
                    d.local_date,
                    stored_picks(session, d),
                )
                for d in session.query(Digest).all()
            ]
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for view in views:
                smtp.send_message(build_message(view, "podsift <digest@podsift.test>", NOW))
        bare = time.perf_counter() - started
        app.close()
    server.terminate()
    server.wait()
    print(
        f"throughput  {subscribers} digests: podsift {subscribers / podsift:.0f} digests/s ({podsift:.1f} s, "
        f"selection + records + render + SMTP); bare smtplib loop {subscribers / bare:.0f}/s ({bare:.1f} s, "
        f"render + SMTP only); ratio podsift/bare time {podsift / bare:.2f}"
    )


def faults() -> None:
    server = FaultySmtp(
        ["ok"] * 5 + ["drop", "ok", "421", "421"] + ["ok"] * 3 + ["drop", "421"],
        refuse={"bounce@example.com"},
    )
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Settings.load(env={}, home=Path(tmp), smtp_url=server.url))
        seed_insights(app, NOW, count=3)
        from podsift.subscribers import add_subscriber

        emails = [f"reader{n:02d}@example.com" for n in range(15)] + ["bounce@example.com"]
        for email in emails:
            add_subscriber(app, email)
        first = deliver_due(app, NOW)
        second = deliver_due(app, NOW + timedelta(minutes=10))
        app.close()
    server.stop()
    figures = outcome(server, [e for e in emails if e != "bounce@example.com"])
    print(
        f"faults      run 1: {len(first.sent)} sent, {len(first.retry_later)} to retry, {len(first.failed)} failed (550); "
        f"run 2: {len(second.sent)} sent. Messages expected {figures['expected']}, delivered {figures['delivered']}, "
        f"duplicated {figures['duplicated']}, lost {figures['lost']}; the 550 address: failed, not retried"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()
    throughput(args.subscribers)
    faults()


if __name__ == "__main__":
    main()
