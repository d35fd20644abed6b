"""A known secret planted in every secret setting appears in no output: not in `config`, the
run's output and logs, stored error reasons, `feeds list`, `stats`, or the admin pages, even
when the SMTP server, the model server and a directory fail and echo what they were sent."""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa
from typer.testing import CliRunner

from podsift.cli import app as cli
from podsift.store import Base
from podsift.web.auth import create_admin
from tests.conftest import FIXTURES, free_port
from tests.feedgen import Item, rss
from tests.test_web_app import Browser

MARK = "Zq7SECRETx"
NOW = datetime.now(UTC).replace(microsecond=0)


ECHOED: list[str] = []  # what the failing servers sent back: the secrets, for podsift to hide


def echo_headers(h: BaseHTTPRequestHandler) -> None:
    """A directory or model server that fails and echoes every request header in its body."""
    body = json.dumps({"error": "unauthorized", "you_sent": dict(h.headers)}).encode()
    ECHOED.append(body.decode())
    h.send_response(401)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def test_a_planted_secret_appears_in_no_output(  # type: ignore[no-untyped-def]
    http_server, tmp_path, monkeypatch, caplog, web_server
) -> None:
    vtt = (FIXTURES / "transcripts" / "policy-signals-12.vtt").read_bytes()
    http_server.add("/t/1.vtt", vtt, content_type="text/vtt")
    item = Item(
        "Policy", NOW - timedelta(hours=1), guid="p1", transcripts=[(http_server.url("/t/1.vtt"), "text/vtt")]
    )
    http_server.add("/show.xml", rss("Policy Signals", [item]))
    for path in ("/pi/search/byterm", "/pi/episodes/byterm", "/pi/recent/episodes"):
        http_server.routes[path] = echo_headers
    model = EchoServer()
    dead = free_port()  # nothing listens: the SMTP server is down
    port = free_port()
    env = {
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_ALLOW_HOSTS": http_server.host,
        "PODSIFT_SECRET_KEY": f"key-{MARK}-0123456789",
        "PODSIFT_SMTP_URL": f"smtp://mailer:pw-{MARK}@127.0.0.1:{dead}",
        "PODSIFT_LLM": f"openai:gpt-test?base_url={model.url}/v1&api_key=sk-{MARK}&retries=0&timeout=5",
        "PODSIFT_PODCASTINDEX_KEY": f"pik-{MARK}",
        "PODSIFT_PODCASTINDEX_SECRET": f"pis-{MARK}",
        "PODSIFT_PODCASTINDEX_BASE_URL": http_server.url("/pi"),
        "PODSIFT_ITUNES_BASE_URL": http_server.url("/itunes"),
        "PODSIFT_ADMIN_PASSWORD_HASH": f"scrypt$c2FsdA==${MARK}",
        "PODSIFT_BASE_URL": f"http://127.0.0.1:{port}",
        "PODSIFT_ASR": "none",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    outputs = []

    def podsift(*args: str) -> str:
        result = runner.invoke(cli, list(args))
        outputs.append(result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.output

    podsift("feeds", "add", http_server.url("/show.xml"))
    podsift("subscribers", "add", "reader@example.com", "--hour", "0", "--skip-confirm")
    podsift("-v", "run")  # the model server refuses: extraction fails
    assert model.requests and "llm_failed" not in "".join(outputs)
    # Offline now, so that a digest is made and the mail server's failure is recorded too.
    monkeypatch.setenv("PODSIFT_LLM", "offline")
    podsift("episodes", "retry")
    run_output = podsift("-v", "run")
    assert re.search(r"1\s+to\s+retry", run_output), run_output
    monkeypatch.setenv("PODSIFT_LLM", env["PODSIFT_LLM"])
    for command in (
        ("config",),
        ("feeds", "list"),
        ("stats",),
        ("episodes", "failed"),
        ("subscribers", "list", "--json"),
    ):
        podsift(*command)
    listed = json.loads(podsift("subscribers", "list", "--json"))
    assert "connection failed" in listed["problem"]  # why the digest has not arrived, where the admin looks

    # The admin pages, with a discovery search against the echoing directory.
    from podsift.core import make_app
    from podsift.settings import Settings

    app = make_app(Settings.load())
    monkeypatch.delenv("PODSIFT_ADMIN_PASSWORD_HASH")
    create_admin(app, "admin", "correct horse battery")
    web_server(make_app(Settings.load()), port)
    browser = Browser(f"http://127.0.0.1:{port}")
    csrf = browser.csrf("/admin/login")
    browser.go("POST", "/admin/login", {"csrf": csrf, "user": "admin", "password": "correct horse battery"})
    pages = [
        browser.go("GET", path)[1] for path in ("/admin/shows", "/admin/discover?q=policy", "/api/feeds")
    ]
    assert "Policy Signals" in pages[0]
    assert http_server.hits["/pi/search/byterm"] >= 1

    # Everything stored as text: error reasons, request details.
    stored = []
    with app.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                stored.extend(str(v) for v in row if isinstance(v, str))
    logs = [caplog.text]
    everything = "\n".join(outputs + pages + stored + logs)
    assert re.search(r"failed|refused|error", everything, re.I)  # failures were reported...
    assert sum(MARK in body for body in ECHOED) >= 2  # the model server and the directory echoed keys
    assert MARK not in everything  # ...and no secret with them
    app.close()
    model.close()


class EchoServer:
    """A model server that refuses every request and echoes its headers in the body."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.requests.append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                echo_headers(self)

            def do_GET(self) -> None:
                echo_headers(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
