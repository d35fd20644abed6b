"""The web app under load: concurrent clients on loopback for a while, mixing sign-ups,
preference changes, votes, unsubscribes and digest pages, while `podsift serve`'s scheduler
delivers digests to subscribers who have none yet.

    .venv/bin/python bench/web_load.py [--clients 200] [--seconds 60] [--db sqlite|postgres]

Each client owns its own subscriber, so the last preference and vote it wrote is what the
database must hold at the end. Prints requests, server errors, lost writes, digests the
scheduler sent during the load, and p50/p99 latency per action.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent)]

import httpx2  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.seed import seed_insights  # noqa: E402

from podsift.clusters.stage import cluster_insights  # noqa: E402
from podsift.core import make_app  # noqa: E402
from podsift.delivery.stage import deliver_due  # noqa: E402
from podsift.settings import Settings  # noqa: E402
from podsift.store import Digest, Feedback, Insight, Subscriber  # noqa: E402
from podsift.subscribers import add_subscriber  # noqa: E402

SECRET = "bench-secret-" + "x" * 32


class Client:
    def __init__(self, base: str, token_prefs: str, token_vote: dict[int, str], token_unsub: str) -> None:
        self.base = base
        self.prefs, self.votes, self.unsub = token_prefs, token_vote, token_unsub
        self.last_interest: str | None = None
        self.last_vote: dict[int, int] = {}
        self.unsubscribed = False


async def run_client(
    client: Client, until: float, latencies: dict[str, list[float]], statuses: dict[str, int]
) -> None:
    # One connection and one cookie jar per client, as one browser has.
    async with httpx2.AsyncClient(timeout=60) as http:
        await _browse(http, client, until, latencies, statuses)


async def _browse(
    http: httpx2.AsyncClient,
    client: Client,
    until: float,
    latencies: dict[str, list[float]],
    statuses: dict[str, int],
) -> None:
    rng = random.Random(id(client))
    n = 0
    while time.monotonic() < until:
        n += 1
        action = rng.choices(["page", "prefs", "vote", "signup", "unsubscribe"], [40, 20, 25, 12, 3])[0]
        started = time.perf_counter()
        if action == "page":
            response = await http.get(f"{client.base}/me/{client.prefs}/today")
        elif action == "prefs":
            interest = f"topic {uuid.uuid4().hex[:6]}"
            form = {
                "interests": interest,
                "timezone": "UTC",
                "send_hour": "0",
                "top_n": "5",
                "all_shows": "1",
                "email_enabled": "1",
            }
            response = await http.post(f"{client.base}/preferences/{client.prefs}", data=form)
            if response.status_code == 200:
                client.last_interest = interest
        elif action == "vote":
            insight_id = rng.choice([k for k in client.votes if k > 0])
            vote = rng.choice([1, -1])
            token = client.votes[insight_id] if vote == 1 else client.votes[-insight_id]
            response = await http.post(f"{client.base}/feedback/{token}")
            if response.status_code == 200:
                client.last_vote[insight_id] = vote
        elif action == "signup":
            page = await http.get(f"{client.base}/signup")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            form = {
                "csrf": csrf.group(1) if csrf else "",
                "email": f"new-{uuid.uuid4().hex[:10]}@example.com",
                "interests": "AI",
                "timezone": "UTC",
                "send_hour": "0",
                "top_n": "5",
            }
            response = await http.post(f"{client.base}/signup", data=form)
        else:
            response = await http.post(f"{client.base}/unsubscribe/{client.unsub}")
            client.unsubscribed = client.unsubscribed or response.status_code == 200
        latencies[action].append(time.perf_counter() - started)
        key = f"{action} {response.status_code}"
        statuses[key] = statuses.get(key, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--waiting", type=int, default=300, help="subscribers the scheduler delivers to during the load"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="podsift-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{home / 'podsift.db'}"
    if args.db == "postgres":
        admin = os.environ["PODSIFT_TEST_POSTGRES_URL"]
        name = f"podsift_load_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        database = sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    env = {
        "PODSIFT_HOME": str(home),
        "PODSIFT_DATABASE_URL": database,
        "PODSIFT_BASE_URL": base,
        "PODSIFT_SECRET_KEY": SECRET,
    }
    app = make_app(Settings.load(env=env))
    now = datetime.now(UTC)
    insight_ids = seed_insights(app, now, count=8)
    clients = []
    for i in range(args.clients):
        sub = add_subscriber(app, f"load{i}@example.com", "batteries", "UTC", 0, skip_confirm=True)
        tokens = app.tokens()
        votes = {}
        for insight_id in insight_ids[:4]:
            votes[insight_id] = tokens.make("feedback", sub.id, sub.token_version, i=insight_id, d=1)
            votes[-insight_id] = tokens.make("feedback", sub.id, sub.token_version, i=insight_id, d=-1)
        leaver = add_subscriber(app, f"leaver{i}@example.com", "", "UTC", 0, skip_confirm=True)
        clients.append(
            Client(
                base,
                tokens.make("preferences", sub.id, sub.token_version),
                votes,
                tokens.make("unsubscribe", leaver.id, leaver.token_version),
            )
        )
    cluster_insights(app, now)
    deliver_due(app, now)  # today's digests for the clients: their pages have content
    for i in range(args.waiting):  # due, no digest yet: the scheduler's work during the load
        add_subscriber(app, f"waiting{i}@example.com", "storage", "UTC", 0, skip_confirm=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "podsift", "serve", "--host", "127.0.0.1", "--port", str(port), "--tick", "5"],
        env={**os.environ, **env, "PYTHONPATH": str(HERE.parent / "src")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.2)
        latencies: dict[str, list[float]] = defaultdict(list)
        statuses: dict[str, int] = {}

        async def load() -> None:
            until = time.monotonic() + args.seconds
            await asyncio.gather(*(run_client(c, until, latencies, statuses) for c in clients))

        started = time.monotonic()
        asyncio.run(load())
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    lost_prefs = lost_votes = kept_subscribed = 0
    with app.session() as s:
        for i, c in enumerate(clients):
            sub = s.scalar(sa.select(Subscriber).where(Subscriber.email == f"load{i}@example.com"))
            if c.last_interest is not None and sub.interests != c.last_interest:
                lost_prefs += 1
            for insight_id, vote in c.last_vote.items():
                stored = s.scalar(
                    sa.select(Feedback.vote).where(
                        Feedback.subscriber_id == sub.id, Feedback.insight_id == insight_id
                    )
                )
                lost_votes += stored != vote
            leaver = s.scalar(sa.select(Subscriber).where(Subscriber.email == f"leaver{i}@example.com"))
            kept_subscribed += c.unsubscribed and leaver.active
        waiting_sent = s.scalar(
            sa.select(sa.func.count())
            .select_from(Digest)
            .join(Subscriber)
            .where(Subscriber.email.like("waiting%"), Digest.state == "sent")
        )
        insights = s.scalar(sa.select(sa.func.count()).select_from(Insight))
    requests = sum(len(v) for v in latencies.values())
    server_errors = sum(n for key, n in statuses.items() if int(key.split()[1]) >= 500)
    print(
        f"{args.clients} clients, {elapsed:.0f} s, {args.db}: {requests} requests ({requests / elapsed:.0f}/s), statuses {dict(sorted(statuses.items()))}"
    )
    print(
        f"server errors: {server_errors}; lost preferences: {lost_prefs}; lost votes: {lost_votes}; unsubscribes not kept: {kept_subscribed}"
    )
    print(
        f"scheduler: {waiting_sent}/{args.waiting} waiting subscribers got their digest during the load ({insights} insights)"
    )
    for action, values in sorted(latencies.items()):
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(
            f"  {action:12} n={len(values):6}  p50 {statistics.median(values) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"
        )
    if server_errors:
        print("server log (last lines):\n" + "\n".join(errors.splitlines()[-30:]))
    app.close()
    if args.db == "postgres":
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
