"""Real `podsift run` processes: killed with SIGKILL mid-delivery, and four at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from podsift.subscribers import add_subscriber
from tests.seed import seed_insights
from tests.test_delivery_faults import FaultySmtp

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def run_env(tmp_path: Path, database_url: str, smtp_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_DATABASE_URL": database_url,
        "PODSIFT_SMTP_URL": smtp_url,
        "PODSIFT_FROM": "podsift <digest@podsift.test>",
    }


def start_run(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Logs go to a file: a pipe nobody reads while waiting would fill and block the child.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process object)
    proc = subprocess.Popen(
        [sys.executable, "-m", "podsift", "run", "--now", NOW.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def log_of(proc: subprocess.Popen[bytes]) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read().decode(errors="replace")[-3000:]  # type: ignore[attr-defined]


def test_kill_9_mid_delivery_then_rerun_loses_nobody(make_core, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    server = FaultySmtp(delay=0.05)  # 50 ms per message: slow enough to land kills mid-run
    try:
        app = make_core(database_url)
        seed_insights(app, NOW, count=6)
        emails = [f"reader{n:02d}@example.com" for n in range(50)]
        for email in emails:
            add_subscriber(app, email, hour=0)
        env = run_env(tmp_path, database_url, server.url)
        kills = 0
        for kill_at in (5, 20, 35):
            proc = start_run(env)
            deadline = time.monotonic() + 90
            while len(server.messages) < kill_at and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert proc.poll() is None, f"run ended before {kill_at} messages: {log_of(proc)}"  # type: ignore[union-attr]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        final = start_run(env)
        assert final.wait(timeout=120) == 0, log_of(final)  # type: ignore[union-attr]
        per_address = Counter(to for to, _ in server.messages)
        assert set(per_address) == set(emails)  # nobody without a digest
        duplicates = sum(n - 1 for n in per_address.values())
        print(
            f"kill -9 x{kills}: {len(emails)} expected, {len(per_address)} delivered, {duplicates} duplicated, {len(set(emails) - set(per_address))} lost"
        )
        # At most the one message in flight at each kill goes out twice (same Message-ID).
        assert duplicates <= kills, per_address
        ids = {to: {mid for t, mid in server.messages if t == to} for to in emails}
        assert all(len(v) == 1 for v in ids.values())
    finally:
        server.stop()


def test_four_runs_at_once_send_one_message_each(make_core, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    server = FaultySmtp(delay=0.01)
    try:
        app = make_core(database_url)
        seed_insights(app, NOW, count=6)
        emails = [f"reader{n:02d}@example.com" for n in range(30)]
        for email in emails:
            add_subscriber(app, email, hour=0)
        env = run_env(tmp_path, database_url, server.url)
        procs = [start_run(env) for _ in range(4)]
        for proc in procs:
            assert proc.wait(timeout=180) == 0, log_of(proc)  # type: ignore[union-attr]
        per_address = Counter(to for to, _ in server.messages)
        assert per_address == Counter({e: 1 for e in emails})
    finally:
        server.stop()
