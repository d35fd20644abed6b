"""A world for crash tests: shows on a loopback HTTP server, subscribers, a real SMTP server,
and `podsift run` killed with SIGKILL at chosen points (tests/killpoints.py), then run again.

Embeddings come from a loopback server speaking OpenAI's /embeddings format
(tests/fake_llm.py), so each of the hundreds of runs does not spend seconds loading MiniLM;
the stages, the database and the processes are the real ones.

Used by tests/test_crash_consistency.py (a sample in CI) and bench/crash_consistency.py (200+).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from podsift.core import make_app
from podsift.settings import Settings
from podsift.sources.scan import add_feeds
from podsift.store import Base, Delivery, Digest, Episode, Insight, Subscriber, Transcript
from podsift.subscribers import add_subscriber
from tests.conftest import FIXTURES, LoopbackServer, SmtpSink, free_port
from tests.fake_llm import FakeLLM
from tests.feedgen import Item, rss

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TRANSCRIPTS = [
    ("policy-signals-12.vtt", "text/vtt"),
    ("open-weights-40.srt", "application/x-subrip"),
    ("grid-power-7.json", "application/json"),
    ("policy-signals-13.html", "text/html"),
]
INTERESTS = ["AI policy", "open weights", "grid batteries", "energy prices", "regulation", ""]
SETTLED = {"extracted", "skipped", "failed", "archived", "llm_failed"}
ASR_SPEC = "faster-whisper:base?device=cpu&compute_type=int8&beam_size=1&vad=1"


@dataclass
class Outcome:
    point: str
    n: int
    when: str
    killed: bool  # the run died at its point (False: the point came too late)
    subscribers: int = 0
    digests: int = 0  # subscribers with exactly one sent digest for the day
    delivered: int = 0  # subscribers who received at least one message
    duplicated: int = 0  # messages beyond the first, over all subscribers
    lost: int = 0  # subscribers who received nothing
    stuck: int = 0  # episodes left in an intermediate state after the re-run
    duplicate_rows: int = 0  # transcripts or insights stored twice
    integrity: str = "ok"

    @property
    def good(self) -> bool:
        return (
            self.digests == self.subscribers
            and self.lost == 0
            and self.duplicated <= 1
            and self.stuck == 0
            and self.duplicate_rows == 0
            and self.integrity == "ok"
        )


@dataclass
class World:
    home: Path
    http: LoopbackServer
    mail: SmtpSink
    template: str  # database URL of the prepared world (nothing run yet)
    subscribers: int
    asr: bool
    postgres_admin: str | None = None
    made: list[str] = field(default_factory=list)
    embeddings: FakeLLM = field(default_factory=FakeLLM)

    def env(self, database_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "PODSIFT_HOME": str(self.home),
            "PODSIFT_DATABASE_URL": database_url,
            "PODSIFT_SMTP_URL": self.mail.url,
            "PODSIFT_ALLOW_HOSTS": self.http.host,
            "PODSIFT_ASR": ASR_SPEC if self.asr else "none",
            "PODSIFT_EMBEDDINGS": f"openai:hashed?base_url={self.embeddings.base_url}",
            "PODSIFT_FROM": "podsift <digest@podsift.example>",
            "KILLPOINTS_NOW": NOW.isoformat(),
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        }

    def fresh_database(self) -> str:
        """A copy of the prepared world."""
        if self.postgres_admin is None:
            source = Path(sa.make_url(self.template).database or "")
            copy = source.with_name(f"run-{uuid.uuid4().hex[:8]}.db")
            shutil.copy(source, copy)
            return f"sqlite:///{copy}"
        name = f"podsift_crash_{uuid.uuid4().hex[:10]}"
        template = sa.make_url(self.template).database
        engine = sa.create_engine(self.postgres_admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        engine.dispose()
        self.made.append(name)
        return sa.make_url(self.postgres_admin).set(database=name).render_as_string(hide_password=False)

    def drop(self, database_url: str) -> None:
        if self.postgres_admin is None:
            Path(sa.make_url(database_url).database or "").unlink(missing_ok=True)
            return
        name = sa.make_url(database_url).database
        engine = sa.create_engine(self.postgres_admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()

    def close(self) -> None:
        for url in [self.template]:
            if self.postgres_admin is not None:
                self.drop(url)
        for name in self.made:
            self.drop(
                sa.make_url(self.postgres_admin or "")
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        self.http.close()
        self.mail.stop()
        self.embeddings.close()


def build_world(
    folder: Path, shows: int = 10, subscribers: int = 50, asr: bool = False, postgres_admin: str | None = None
) -> World:
    folder.mkdir(parents=True, exist_ok=True)
    http = LoopbackServer()
    for name, mime in TRANSCRIPTS:
        http.add(f"/t/{name}", (FIXTURES / "transcripts" / name).read_bytes(), content_type=mime)
    feeds = []
    for s in range(shows):
        items = []
        for e in range(2):
            name, mime = TRANSCRIPTS[(s + e) % len(TRANSCRIPTS)]
            items.append(
                Item(
                    f"Show {s} episode {e}",
                    NOW - timedelta(hours=2 + e),
                    guid=f"s{s}e{e}",
                    transcripts=[(http.url(f"/t/{name}"), mime)],
                )
            )
        http.add(f"/show{s}.xml", rss(f"Show {s}", items))
        feeds.append(http.url(f"/show{s}.xml"))
    if asr:
        from tests.speech import speak

        http.add("/audio/solar.wav", speak().wav(), content_type="audio/x-wav")
        item = Item(
            "Solar, spoken", NOW - timedelta(hours=1), guid="audio1", audio=http.url("/audio/solar.wav")
        )
        http.add("/audio.xml", rss("Audio Only", [item]))
        feeds.append(http.url("/audio.xml"))
    mail = SmtpSink("127.0.0.1", free_port()).start()
    if postgres_admin is None:
        template = f"sqlite:///{folder / 'template.db'}"
    else:
        name = f"podsift_crash_t_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(postgres_admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        template = sa.make_url(postgres_admin).set(database=name).render_as_string(hide_password=False)
    world = World(folder / "home", http, mail, template, subscribers, asr, postgres_admin)
    app = make_app(Settings.load(env=world.env(template)))
    _, problems = add_feeds(app, feeds)
    assert not problems, problems
    for i in range(subscribers):
        add_subscriber(
            app, f"reader{i}@example.com", INTERESTS[i % len(INTERESTS)], "UTC", 0, skip_confirm=True
        )
    app.close()
    return world


def count_calls(world: World) -> dict[str, int]:
    """How often each kill point is reached in one whole run of the world."""
    database = world.fresh_database()
    counts = world.home.parent / "counts.json"
    _podsift(world, database, ["--count", str(counts)])
    world.mail.messages.clear()
    world.drop(database)
    return {k: int(v) for k, v in json.loads(counts.read_text()).items()}


def kill_and_recover(world: World, point: str, n: int, when: str) -> Outcome:
    database = world.fresh_database()
    world.mail.messages.clear()
    killed = _podsift(world, database, [point, str(n), when]) == -9
    assert _podsift(world, database, None) == 0, "the run after the kill failed"
    outcome = check(world, database, Outcome(point, n, when, killed))
    world.drop(database)
    return outcome


def _podsift(world: World, database: str, killpoint: list[str] | None) -> int:
    command = (
        [sys.executable, "-m", "tests.killpoints", *killpoint]
        if killpoint
        else [sys.executable, "-m", "podsift", "run", "--now", NOW.isoformat()]
    )
    done = subprocess.run(
        command, cwd=ROOT, env=world.env(database), capture_output=True, text=True, timeout=600
    )
    if done.returncode not in (0, -9):
        raise RuntimeError(f"{' '.join(command[2:])} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.returncode


def check(world: World, database: str, outcome: Outcome) -> Outcome:
    engine = sa.create_engine(database)
    day = NOW.date().isoformat()
    with engine.connect() as conn:
        subs = conn.execute(sa.select(Subscriber.id, Subscriber.email)).all()
        sent = dict(
            conn.execute(
                sa.select(Digest.subscriber_id, sa.func.count())
                .where(Digest.local_date == day, Digest.state == "sent")
                .group_by(Digest.subscriber_id)
            ).all()
        )
        unsent = conn.scalar(sa.select(sa.func.count()).select_from(Delivery).where(Delivery.state != "sent"))
        states = Counter(conn.scalars(sa.select(Episode.state)))
        transcripts = conn.execute(
            sa.select(Transcript.episode_id).group_by(Transcript.episode_id).having(sa.func.count() > 1)
        ).all()
        insights = conn.execute(
            sa.select(Insight.episode_id, Insight.quote_hash)
            .group_by(Insight.episode_id, Insight.quote_hash)
            .having(sa.func.count() > 1)
        ).all()
        outcome.integrity = _integrity(conn, engine.dialect.name)
    engine.dispose()
    received = Counter(
        str(m["To"]) for m in world.mail.messages if m["Subject"].startswith("Your podsift digest")
    )
    outcome.subscribers = len(subs)
    outcome.digests = sum(1 for sid, _ in subs if sent.get(sid) == 1) if not unsent else 0
    outcome.delivered = sum(1 for _, email in subs if received[email] >= 1)
    outcome.lost = outcome.subscribers - outcome.delivered
    outcome.duplicated = sum(max(0, c - 1) for c in received.values())
    outcome.stuck = sum(n for state, n in states.items() if state not in SETTLED)
    outcome.duplicate_rows = len(transcripts) + len(insights)
    return outcome


def _integrity(conn: sa.Connection, dialect: str) -> str:
    problems = []
    if dialect == "sqlite":
        result = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
        if result != "ok":
            problems.append(f"integrity_check: {result}")
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            column, parent = fk.parent, fk.column
            orphans = conn.scalar(
                sa.select(sa.func.count())
                .select_from(table)
                .where(column.is_not(None), column.not_in(sa.select(parent)))
            )
            if orphans:
                problems.append(f"{orphans} {table.name}.{column.name} without {parent.table.name}")
    return "; ".join(problems) or "ok"


def spread(counts: dict[str, int], total: int) -> list[tuple[str, int, str]]:
    """`total` kill points spread over every point that a run reaches, before and after calls."""
    reached = [(p, c) for p, c in counts.items() if c > 0]
    plan: list[tuple[str, int, str]] = []
    i = 0
    while len(plan) < total and reached:
        point, count = reached[i % len(reached)]
        round_ = i // len(reached)
        n = 1 + (round_ * 7919 + i) % count  # walk through the calls, not just the first
        plan.append((point, n, "before" if round_ % 2 == 0 else "after"))
        i += 1
    return plan
