"""`podsift serve` as a real process: the web app answers and its scheduler delivers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime

from podsift.subscribers import add_subscriber
from tests.conftest import free_port
from tests.seed import seed_insights


def test_serve_answers_and_its_scheduler_delivers(make_core, tmp_path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = make_core(smtp_url=smtp_server.url)
    seed_insights(app, datetime.now(UTC), count=3)
    add_subscriber(app, "early@example.com", hour=0)  # due at any hour of the day
    port = free_port()
    env = {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_DATABASE_URL": app.settings.resolved_database_url,
        "PODSIFT_SMTP_URL": smtp_server.url,
    }
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "podsift", "serve", "--port", str(port), "--tick", "1"],
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 90
            while (
                not smtp_server.to("early@example.com")
                and time.monotonic() < deadline
                and proc.poll() is None
            ):
                time.sleep(0.2)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert r.read() == b"ok"
            time.sleep(2.5)  # more ticks: still one digest
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.seek(0)
            output = log.read().decode(errors="replace")
    assert len(smtp_server.to("early@example.com")) == 1, output[-3000:]
