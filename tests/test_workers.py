"""`podsift worker` on the real Postgres: four workers deliver one digest per subscriber, a
worker killed with SIGKILL mid-task has its task retried by another, and a task that keeps
failing ends in a recorded failure instead of a loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa

import podsift.workers.tasks as worker_tasks
from podsift.store import Digest, Episode, EpisodeState, Insight, utcnow
from podsift.subscribers import add_subscriber
from podsift.workers.plan import due_work
from podsift.workers.run import job_conninfo, run_worker
from tests.feedgen import Item, rss
from tests.test_delivery_faults import FaultySmtp

TRANSCRIPTS = Path(__file__).parent / "fixtures" / "transcripts"
SHOWS = [
    ("Policy Signals", "policy-signals-12.vtt", "text/vtt"),
    ("Open Weights Weekly", "open-weights-40.srt", "application/x-subrip"),
    ("Grid & Power", "grid-power-7.json", "application/json"),
    ("Policy Signals Extra", "policy-signals-13.html", "text/html"),
]


def serve_world(server) -> list[str]:  # type: ignore[no-untyped-def]
    """Four shows, each with an episode published two hours ago and its publisher transcript."""
    urls = []
    published = utcnow() - timedelta(hours=2)
    for n, (show, name, mime) in enumerate(SHOWS):
        server.add(f"/t/{name}", (TRANSCRIPTS / name).read_bytes(), content_type=mime)
        item = Item(
            f"{show} episode",
            published - timedelta(minutes=n),
            guid=f"w-{n}",
            audio=server.url(f"/a/{n}.mp3"),
            transcripts=[(server.url(f"/t/{name}"), mime)],
        )
        server.add(f"/feed/{n}.xml", rss(show, [item]))
        urls.append(server.url(f"/feed/{n}.xml"))
    return urls


def worker_env(tmp_path: Path, database_url: str, smtp_url: str, host: str) -> dict[str, str]:
    return {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_DATABASE_URL": database_url,
        "PODSIFT_SMTP_URL": smtp_url,
        "PODSIFT_ALLOW_HOSTS": host,
        "PODSIFT_ASR": "none",
        "PODSIFT_LLM": "offline",
        "PODSIFT_WORKER_PLAN_CRON": "* * * * * */2",
        "PODSIFT_WORKER_STALLED_SECONDS": "4",
        "PODSIFT_WORKER_RETRY_SECONDS": "1",
        "PODSIFT_WORKER_DELIVERY_BATCH": "5",
        "PODSIFT_WORKER_DELIVERY_PATIENCE_MINUTES": "600",
    }


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process object)
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def log_of(proc: subprocess.Popen[bytes]) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read().decode(errors="replace")  # type: ignore[attr-defined]


def worker(env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-m", "podsift", "-v", "worker", "--name", name], env)


def wait_for(condition, seconds: float, procs: list[subprocess.Popen[bytes]]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n---\n".join(log_of(p)[-2500:] for p in procs)
            raise AssertionError(f"timed out; worker logs:\n{logs}")
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def world(make_core, http_server, database_url: str, readers: int) -> tuple[object, list[str]]:  # type: ignore[no-untyped-def]
    app = make_core(database_url, allow_hosts=(http_server.host,), asr="none")
    from podsift.sources.scan import add_feeds

    add_feeds(app, serve_world(http_server))
    emails = [f"reader{n:02d}@example.com" for n in range(readers)]
    for email in emails:
        add_subscriber(app, email, "AI policy, batteries", hour=0)
    return app, emails


def test_four_workers_deliver_exactly_one_digest_per_subscriber(  # type: ignore[no-untyped-def]
    make_core, http_server, tmp_path, postgres_url
) -> None:
    server = FaultySmtp(delay=0.01)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        app, emails = world(make_core, http_server, postgres_url, 40)
        env = worker_env(tmp_path, postgres_url, server.url, http_server.host)
        procs = [worker(env, f"w{n}") for n in range(4)]
        wait_for(lambda: len({to for to, _ in server.messages}) == len(emails), 240, procs)
        time.sleep(4)  # two more plan ticks: nothing may go out again
        stop(procs)
        per_address = Counter(to for to, _ in server.messages)
        assert per_address == Counter({e: 1 for e in emails})
        with app.session() as s:  # type: ignore[attr-defined]
            states = Counter(s.scalars(sa.select(Episode.state)))
            assert states == Counter({EpisodeState.EXTRACTED: len(SHOWS)}), states
            assert (
                s.scalar(sa.select(sa.func.count()).select_from(Insight).where(Insight.cluster_id.is_(None)))
                == 0
            )
            assert s.scalar(sa.select(sa.func.count()).select_from(Digest)) == len(emails)
        # The work was spread: more than one worker ran tasks.
        busy = [p for p in procs if "podsift.workers.tasks" in log_of(p) or "Job " in log_of(p)]
        assert len(busy) >= 2, [log_of(p)[-500:] for p in procs]
    finally:
        stop(procs)
        server.stop()


def test_a_worker_killed_mid_delivery_has_its_task_retried_by_another(  # type: ignore[no-untyped-def]
    make_core, http_server, tmp_path, postgres_url
) -> None:
    server = FaultySmtp(delay=0.02)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _, emails = world(make_core, http_server, postgres_url, 30)
        env = worker_env(tmp_path, postgres_url, server.url, http_server.host)
        # The doomed worker works alone at first and kills itself (SIGKILL) right after its
        # third message went out, before marking it sent: its task is left `doing`.
        doomed = start(
            [sys.executable, "-m", "tests.killpoints", "send", "3", "after"],
            {**env, "KILLPOINTS_ARGS": "worker --name doomed"},
        )
        procs = [doomed]
        wait_for(lambda: doomed.poll() is not None, 180, procs)
        assert doomed.returncode == -signal.SIGKILL, log_of(doomed)[-2000:]
        sent_before = len(server.messages)
        procs += [worker(env, f"w{n}") for n in range(2)]
        wait_for(lambda: {to for to, _ in server.messages} == set(emails), 240, procs)
        time.sleep(3)
        stop(procs)
        per_address = Counter(to for to, _ in server.messages)
        duplicates = sum(n - 1 for n in per_address.values())
        print(
            f"killed after {sent_before} messages; {len(per_address)}/{len(emails)} delivered, {duplicates} twice"
        )
        assert set(per_address) == set(emails)
        assert duplicates <= 1  # at most the one message in flight
        ids = {to: {mid for t, mid in server.messages if t == to} for to in emails}
        assert all(len(v) == 1 for v in ids.values())  # a resend carries the same Message-ID
        logs = "".join(log_of(p) for p in procs[1:])
        assert "its worker stopped" in logs  # the stalled task was retried, not just re-planned
    finally:
        stop(procs)
        server.stop()


def test_a_task_that_keeps_failing_ends_in_a_recorded_failure(  # type: ignore[no-untyped-def]
    make_core, http_server, postgres_url, monkeypatch
) -> None:
    app, _ = world(make_core, http_server, postgres_url, 1)
    app = make_core(
        postgres_url,
        allow_hosts=(http_server.host,),
        asr="none",
        worker_attempts=3,
        worker_retry_seconds=0,
        worker_delivery_patience_minutes=600,
    )
    calls = Counter[int]()

    def broken(app, now=None, only=None):  # type: ignore[no-untyped-def]
        calls.update(only or [])
        raise RuntimeError("the extractor fell over")

    monkeypatch.setattr(worker_tasks, "extract_insights", broken)
    run_worker(app, once=True)
    with app.session() as s:
        episodes = list(s.scalars(sa.select(Episode)))
    assert len(episodes) == len(SHOWS)
    for episode in episodes:
        assert episode.state == EpisodeState.FAILED
        assert episode.error_reason is not None
        assert "worker: failed 3 times: RuntimeError: the extractor fell over" in episode.error_reason
    assert calls == Counter({e.id: 3 for e in episodes})  # three tries each, then it stops
    with psycopg.connect(job_conninfo(postgres_url)) as conn:
        failed = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'extract_episode' AND status = 'failed'"
        ).fetchone()
    assert failed is not None and failed[0] == len(SHOWS)
    # Nothing is planned for them again: a failed episode is no longer due.
    assert not [u for u in due_work(app, utcnow()) if u.task == "extract_episode"]
    run_worker(app, once=True)
    assert sum(calls.values()) == 3 * len(SHOWS)


def test_workers_refuse_sqlite_with_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "PODSIFT_HOME": str(tmp_path / "home")}
    env.pop("PODSIFT_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "podsift", "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "workers need Postgres" in done.stderr and "Traceback" not in done.stderr
