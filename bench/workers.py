"""Benchmark: a mixed day on Postgres with 1, 2 and 4 `podsift worker` processes against
`podsift run` alone.

    PODSIFT_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/workers.py [--feeds 1000] [--episodes 200] [--subscribers 10000]

The day: 1,000 new feeds on loopback (bench/feedserver.py), the newest episode of each
queued; 200 of them publish a transcript (the rest wait for speech to text, off here);
10,000 subscribers whose send hour has come; a counting SMTP server in its own process.
Each set-up gets a new database and runs until every subscriber has one message. Figures:
seconds until the 200 episodes are extracted (scan and transcripts included) and episodes/s;
digests/s from the first message to the last; any subscriber with no message or two.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent)]

from bench.delivery import subscriber_rows  # noqa: E402
from bench.feed_scan import feed_server, free_port, ready  # noqa: E402
from podsift.core import make_app  # noqa: E402
from podsift.settings import Settings  # noqa: E402
from podsift.store import Episode, EpisodeState, Subscriber, utcnow  # noqa: E402

TARGET_DIGESTS_SECONDS = 60.0


def new_database(admin: str) -> tuple[str, sa.Engine]:
    name = f"podsift_bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return sa.make_url(admin).set(database=name).render_as_string(hide_password=False), engine


def day(setup: str, admin: str, feeds_port: int, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    url, admin_engine = new_database(admin)
    counts = tmp / f"smtp-{setup}.json"
    smtp_port = free_port()
    smtp = ready([sys.executable, str(HERE / "smtp_counter.py"), str(smtp_port), str(counts)])
    env = {
        **os.environ,
        "PODSIFT_HOME": str(tmp / f"home-{setup}"),
        "PODSIFT_DATABASE_URL": url,
        "PODSIFT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "PODSIFT_ALLOW_HOSTS": f"127.0.0.1:{feeds_port}",
        "PODSIFT_ASR": "none",
        "PODSIFT_LLM": "offline",
        "PODSIFT_NEW_FEED_MAX_EPISODES": "1",
        "PODSIFT_NEW_FEED_DAYS": "60",
        "PODSIFT_WORKER_PLAN_CRON": "* * * * * */5",
        "PODSIFT_WORKER_DELIVERY_BATCH": "100",
        "PODSIFT_WORKER_DELIVERY_PATIENCE_MINUTES": "1440",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        app = make_app(Settings.load(env=env))
        opml = tmp / "feeds.opml"
        outlines = "".join(
            f'<outline xmlUrl="http://127.0.0.1:{feeds_port}/feed/{i}.xml"/>' for i in range(args.feeds)
        )
        opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
        subprocess.run(
            [sys.executable, "-m", "podsift", "feeds", "import", str(opml)],
            env=env,
            check=True,
            capture_output=True,
        )
        with app.engine.begin() as conn:
            conn.execute(
                Subscriber.__table__.insert(), subscriber_rows(args.subscribers, utcnow(), "AI policy")
            )
        podsift = [sys.executable, "-m", "podsift"]
        start = time.perf_counter()
        if setup == "run":
            procs = [
                subprocess.Popen(
                    [*podsift, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            ]
        else:
            procs = [
                subprocess.Popen(
                    [*podsift, "worker", "--name", f"w{n}"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for n in range(int(setup))
            ]
        extracted_at = first_message_at = last_message_at = None
        deadline = start + args.timeout
        while time.perf_counter() < deadline:
            time.sleep(0.25)
            now = time.perf_counter() - start
            if extracted_at is None:
                with app.session() as session:
                    done = session.scalar(
                        sa.select(sa.func.count())
                        .select_from(Episode)
                        .where(Episode.state == EpisodeState.EXTRACTED)
                    )
                if done and done >= args.episodes:
                    extracted_at = now
            seen = json.loads(counts.read_text()) if counts.exists() else {}
            if seen and first_message_at is None:
                first_message_at = now
            if len(seen) >= args.subscribers:
                last_message_at = now
                break
        seen = json.loads(counts.read_text()) if counts.exists() else {}
        app.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        smtp.terminate()
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)')
    admin_engine.dispose()
    return {
        "extracted_s": extracted_at or float("nan"),
        "episodes_per_s": args.episodes / extracted_at if extracted_at else 0.0,
        "digests_s": (last_message_at - first_message_at)
        if last_message_at and first_message_at
        else float("nan"),
        "digests_per_s": len(seen) / (last_message_at - first_message_at)
        if last_message_at and first_message_at and last_message_at > first_message_at
        else 0.0,
        "total_s": last_message_at or float("nan"),
        "missing": args.subscribers - len(seen),
        "twice": sum(1 for n in seen.values() if n > 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--setups", default="run,1,2,4")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    admin = os.environ.get("PODSIFT_TEST_POSTGRES_URL")
    if not admin:
        raise SystemExit("set PODSIFT_TEST_POSTGRES_URL (workers run on Postgres only)")
    server, feeds_port = feed_server(args.feeds, args.episodes)
    rows = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for setup in args.setups.split(","):
                rows[setup] = day(setup, admin, feeds_port, args, Path(tmp))
                print(f"{setup}: {rows[setup]}", flush=True)
    finally:
        server.terminate()
    print(
        f"feeds {args.feeds}, episodes with transcripts {args.episodes}, subscribers {args.subscribers}; "
        f"{os.cpu_count()} CPUs, Postgres"
    )
    print(
        f"{'set-up':14} {'extracted s':>11} {'episodes/s':>10} {'digests s':>9} {'digests/s':>9} {'x run':>6} {'total s':>8} {'missing':>7} {'twice':>5}"
    )
    base = rows.get("run", {}).get("digests_per_s") or 0.0
    for setup, r in rows.items():
        label = "podsift run" if setup == "run" else f"{setup} worker(s)"
        ratio = r["digests_per_s"] / base if base else float("nan")
        print(
            f"{label:14} {r['extracted_s']:11.1f} {r['episodes_per_s']:10.2f} {r['digests_s']:9.1f} "
            f"{r['digests_per_s']:9.0f} {ratio:6.2f} {r['total_s']:8.1f} {r['missing']:7d} {r['twice']:5d}"
        )
    if "4" in rows:
        seconds = rows["4"]["digests_s"]
        verdict = "OK" if seconds <= TARGET_DIGESTS_SECONDS and not rows["4"]["missing"] else "MISSED"
        print(
            f"target {args.subscribers} digests to SMTP in <= {TARGET_DIGESTS_SECONDS:g} s with 4 workers: {seconds:.1f} s {verdict}"
        )


if __name__ == "__main__":
    main()
