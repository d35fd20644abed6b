"""Real parts for tests: a loopback HTTP server, an SMTP server, SQLite and Postgres."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from podsift.core import App, make_app
from podsift.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

RouteFn = Callable[[BaseHTTPRequestHandler], None]


def podsift_env(tmp_path: Path, http_server: LoopbackServer, database_url: str, llm: str) -> dict[str, str]:
    """The environment of a `podsift` subprocess in a world of shows on `http_server`: its
    own home and database, loopback allowed, no speech to text, extraction by `llm`."""
    return {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_DATABASE_URL": database_url,
        "PODSIFT_ALLOW_HOSTS": http_server.host,
        "PODSIFT_ASR": "none",
        "PODSIFT_LLM": llm,
    }


def run_podsift(env: dict[str, str], *args: str) -> str:
    """`podsift ARGS` in a subprocess; its stdout, or the test fails with its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "podsift", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackServer:
    """Serves registered routes on 127.0.0.1 and counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteFn] = {}
        self.hits: Counter[str] = Counter()
        self.request_headers: dict[str, list[dict[str, str]]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.hits[path] += 1
                server.request_headers.setdefault(path, []).append(dict(self.headers))
                route = server.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def add(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "application/rss+xml",
        status: int = 200,
        etag: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body

        def route(h: BaseHTTPRequestHandler) -> None:
            if etag and h.headers.get("If-None-Match") == etag:
                h.send_response(304)
                h.send_header("ETag", etag)
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(data)))
            if etag:
                h.send_header("ETag", etag)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)

        self.routes[path] = route

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.routes[path] = route

    def stream(
        self,
        path: str,
        chunk: bytes,
        count: int,
        delay: float = 0.0,
        length: int | None = None,
        content_type: str = "application/rss+xml",
    ) -> None:
        """Send `chunk` `count` times, sleeping `delay` between (slow or huge bodies)."""

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            if length is not None:
                h.send_header("Content-Length", str(length))
            h.send_header("Connection", "close")
            h.end_headers()
            for _ in range(count):
                h.wfile.write(chunk)
                if delay:
                    time.sleep(delay)
            h.close_connection = True

        self.routes[path] = route

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
                content = envelope.original_content or envelope.content  # type: ignore[attr-defined]
                sink.messages.append(message_from_bytes(content, policy=policy.default))  # type: ignore[arg-type]
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", free_port()).start()
    yield sink
    sink.stop()


def _postgres_admin_url() -> str | None:
    return os.environ.get("PODSIFT_TEST_POSTGRES_URL") or None


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'podsift.db'}"
        return
    yield from _new_postgres_database()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty Postgres database (for what runs on Postgres only: workers)."""
    yield from _new_postgres_database()


def _new_postgres_database() -> Iterator[str]:
    admin = _postgres_admin_url()
    if admin is None:
        pytest.skip("PODSIFT_TEST_POSTGRES_URL is not set")
    name = f"podsift_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    yield url
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'podsift.db'}"


@pytest.fixture
def make_core(tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def factory(database_url: str | None = None, **overrides: object) -> App:
        settings = Settings.load(
            env={},
            home=tmp_path / "home",
            database_url=database_url or f"sqlite:///{tmp_path / 'podsift.db'}",
            **overrides,
        )
        app = make_app(settings)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


def corpus_dir(name: str) -> Path:
    folder = CORPUS / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is not available")
    return folder


@dataclass
class WebServer:
    base_url: str
    server: object


@pytest.fixture
def web_server() -> Iterator[Callable[..., WebServer]]:
    """`start(core)` serves `podsift serve`'s web app for `core` on 127.0.0.1 (real uvicorn)."""
    import uvicorn

    from podsift.web.app import create_web_app

    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(core: App, port: int) -> WebServer:
        config = uvicorn.Config(create_web_app(core), host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        running.append((server, thread))
        return WebServer(f"http://127.0.0.1:{port}", server)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(5)
