"""Exports to Readwise, Notion and Markdown vaults, against loopback servers that speak each
API (tests/notes_services.py), on SQLite and Postgres: once and never twice, updates, limits,
401/429/5xx, a kill between the send and its record, the pages, the API and the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from podsift.delivery.stage import deliver_due
from podsift.exports.stage import due_targets, export_due
from podsift.exports.targets import ExportSetupError, add_target, export_counts, list_targets
from podsift.store import Export, ExportTarget, Feedback, Insight
from podsift.subscribers import add_subscriber, preferences_path
from podsift.workers.plan import due_work
from tests.notes_services import NotesServices
from tests.seed import seed_insights

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RW_TOKEN, NOTION_TOKEN = "rw-secret-token-1234", "secret_notion_abcdef"
SECRET = "test-secret-key-for-exports-0123456789"


@pytest.fixture
def services():  # type: ignore[no-untyped-def]
    notes = NotesServices(RW_TOKEN, NOTION_TOKEN)
    yield notes
    notes.close()


def world(make_core, database_url, services, tmp_path, readers=("ann@example.com",), count=4):  # type: ignore[no-untyped-def]
    """Insights, readers whose digests went out (to the outbox), and the apps' settings."""
    app = make_core(
        database_url,
        readwise_url=services.url,
        notion_url=services.url,
        secret_key=SECRET,
        export_backoff_seconds=0.05,
        outbox=tmp_path / "outbox",
    )
    ids = seed_insights(app, NOW, count=count, show="Grid, Power & Policy")
    with app.session() as s:
        for n, insight in enumerate(s.scalars(sa.select(Insight).order_by(Insight.id))):
            insight.topics = ["Energy storage", "Texas"] if n % 2 == 0 else ["policy"]
        s.commit()
    for email in readers:
        add_subscriber(app, email, hour=0, top=count)
    report = deliver_due(app, NOW)
    assert len(report.sent) == len(readers)
    return app, ids


def test_readwise_gets_each_insight_once_as_documented_and_a_changed_text_as_an_update(  # type: ignore[no-untyped-def]
    make_core, database_url, services, tmp_path
) -> None:
    app, ids = world(make_core, database_url, services, tmp_path)
    target = add_target(app, "readwise", "ann@example.com", RW_TOKEN)
    report = export_due(app, NOW)
    assert sum(report.sent.values()) == len(ids) and not report.failed
    assert services.calls("GET", "/api/v2/auth/") == 1  # the token was checked when added
    highlights = list(services.highlights.values())
    assert len(highlights) == len(ids)
    with app.session() as s:
        first = s.get(Insight, ids[0])
        hl = next(h for h in highlights if h["text"] == first.quote)
        assert hl["note"].startswith(first.text) and hl["note"].endswith(".energy-storage .texas")
        assert (
            hl["title"] == first.episode.title and hl["author"] == f"Grid, Power & Policy · {first.speaker}"
        )
        assert hl["category"] == "podcasts" and hl["location_type"] == "time_offset"
        assert hl["location"] == int(first.start_seconds)
        assert hl["highlight_url"].endswith(f"#t={int(first.start_seconds)}")
        assert hl["source_url"] == first.episode.link
        datetime.fromisoformat(hl["highlighted_at"])
    # A second run sends nothing.
    posts = services.calls("POST", "/api/v2/highlights/")
    assert export_due(app, NOW).sent == {}
    assert services.calls("POST", "/api/v2/highlights/") == posts
    # A changed text is an update of the same highlight, not a second one.
    with app.session() as s:
        s.get(Insight, ids[1]).text = "A rewritten claim about grid batteries and their evening peak."
        s.commit()
    report = export_due(app, NOW)
    assert sum(report.updated.values()) == 1 and not report.sent
    assert len(services.highlights) == len(ids)
    assert any(h["note"].startswith("A rewritten claim") for h in services.highlights.values())
    assert ("readwise", "sent", len(ids) - 1) in export_counts(app)
    assert ("readwise", "updated", 1) in export_counts(app)
    with app.session() as s:
        stored = s.get(ExportTarget, target.id)
        assert stored is not None and RW_TOKEN not in (stored.sealed_token or "")  # encrypted at rest


def test_readwise_waits_for_429_retries_5xx_and_stops_for_good_on_a_revoked_token(  # type: ignore[no-untyped-def]
    make_core, services, tmp_path, sqlite_url
) -> None:
    app, ids = world(
        make_core, sqlite_url, services, tmp_path, readers=("ann@example.com", "bob@example.com")
    )
    ann = add_target(app, "readwise", "ann@example.com", RW_TOKEN)
    services.readwise_tokens.add("bobs-token-5678")
    add_target(app, "readwise", "bob@example.com", "bobs-token-5678")
    services.faults.extend([(429, {"Retry-After": "1"}), (503, {})])
    started = time.monotonic()
    report = export_due(app, NOW)
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert sum(report.sent.values()) == 2 * len(ids) and not report.failed
    # Ann revokes her token; a new insight reaches her digest the next day.
    services.readwise_tokens.discard(RW_TOKEN)
    seed_insights(app, NOW + timedelta(days=1), count=1, show="Later Show", start=50)
    deliver_due(app, NOW + timedelta(days=1))
    report = export_due(app, NOW + timedelta(days=1))
    assert [label for label in report.revoked] == [f"readwise #{ann.id} (ann@example.com)"]
    assert sum(report.sent.values()) == 1  # Bob's went
    assert RW_TOKEN not in str(report.failed)
    requests = len(services.requests)
    report = export_due(app, NOW + timedelta(days=1, hours=1))
    assert len(services.requests) == requests and not report.failed  # never retried in a loop
    (info,) = [t for t in list_targets(app) if t.id == ann.id]
    assert info.state == "revoked" and "refused the token (401)" in (info.error or "")
    assert info.waiting == 1  # kept, not lost: it goes once a new token is given
    services.readwise_tokens.add("anns-new-token")
    add_target(app, "readwise", "ann@example.com", "anns-new-token")
    assert sum(export_due(app, NOW + timedelta(days=1, hours=2)).sent.values()) == 1


def test_a_refused_item_fails_alone_and_a_token_is_checked_when_added(  # type: ignore[no-untyped-def]
    make_core, services, tmp_path, sqlite_url
) -> None:
    app, ids = world(make_core, sqlite_url, services, tmp_path)
    with pytest.raises(ExportSetupError, match="did not accept"):
        add_target(app, "readwise", "ann@example.com", "wrong-token")
    with app.session() as s:
        s.get(Insight, ids[2]).quote = ""  # Readwise requires a text: 400 for this one only
        s.commit()
    add_target(app, "readwise", "ann@example.com", RW_TOKEN)
    report = export_due(app, NOW)
    assert sum(report.sent.values()) == len(ids) - 1
    assert len(report.refused) == 1 and "(400)" in next(iter(report.refused.values()))
    assert ("readwise", "failed", 1) in export_counts(app)


def test_notion_rows_respect_its_limits_and_pace_and_a_text_change_updates_the_row(  # type: ignore[no-untyped-def]
    make_core, database_url, services, tmp_path
) -> None:
    app, ids = world(make_core, database_url, services, tmp_path, count=5)
    long_claim = "Batteries shift solar power into the evening. " * 100  # 4,600 characters
    with app.session() as s:
        s.get(Insight, ids[0]).text = long_claim
        s.commit()
    link = f"https://www.notion.so/workspace/{services.notion_db}?v=abc"
    add_target(app, "notion", "ann@example.com", NOTION_TOKEN, database_id=link)
    report = export_due(app, NOW)
    assert sum(report.sent.values()) == 5 and not report.failed and not report.refused
    assert services.notion_too_fast == 0  # never over 3 requests a second
    assert {"Quote", "Speaker", "Show", "Listen", "Tags", "Podsift ID"} <= set(services.notion_properties)
    pages = {int(p["Podsift ID"]["number"]): p for p in services.pages.values()}
    assert set(pages) == set(ids)
    assert len(pages[ids[0]]["Name"]["title"]) == 3  # 4,600 characters in pieces of 2,000
    assert services.text_of(pages[ids[0]], "Name") == long_claim
    assert pages[ids[1]]["Show"]["select"]["name"] == "Grid  Power & Policy"  # no commas in options
    assert pages[ids[1]]["Listen"]["url"] == "https://cdn.example.org/ep.mp3#t=62"
    with app.session() as s:
        s.get(Insight, ids[3]).text = "A corrected claim."
        s.commit()
    report = export_due(app, NOW)
    assert sum(report.updated.values()) == 1 and len(services.pages) == 5
    assert services.text_of(pages[ids[3]], "Name") == "A corrected claim."


def test_a_notion_database_not_shared_is_the_targets_problem_not_the_others(  # type: ignore[no-untyped-def]
    make_core, services, tmp_path, sqlite_url
) -> None:
    app, ids = world(make_core, sqlite_url, services, tmp_path)
    add_target(app, "notion", "ann@example.com", NOTION_TOKEN, database_id="f" * 32)
    add_target(app, "readwise", "ann@example.com", RW_TOKEN)
    report = export_due(app, NOW)
    (label,) = report.failed
    assert label.startswith("notion") and "(404)" in report.failed[label] and not report.revoked
    assert sum(report.sent.values()) == len(ids)  # Readwise went
    assert not services.pages


def test_vault_writes_a_file_per_episode_and_never_overwrites_what_the_reader_edited(  # type: ignore[no-untyped-def]
    make_core, services, tmp_path, database_url
) -> None:
    app, _ids = world(make_core, database_url, services, tmp_path, count=3)
    vault = tmp_path / "vault"
    add_target(app, "vault", None, folder=str(vault))
    assert sum(export_due(app, NOW).sent.values()) == 3
    files = sorted(vault.rglob("*.md"))
    assert len(files) == 3 and all(f.parent == vault / "Podsift" / "Grid, Power & Policy" for f in files)
    text = files[0].read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert (
        front["show"] == "Grid, Power & Policy"
        and front["date"] == (NOW - timedelta(hours=1)).date().isoformat()
    )
    assert isinstance(front["speakers"], list) and "podsift" in front["tags"]
    assert front["podsift_insight_ids"] and front["audio"].startswith("https://")
    with app.session() as s:
        first = s.get(Insight, front["podsift_insight_ids"][0])
        assert f"> {first.quote}" in text and f"^podsift-{first.id}" in text and "#t=" in text
        episode_id = first.episode_id
        # A second insight in that episode; the reader has edited the file meanwhile.
        s.add(
            Insight(
                episode_id=episode_id,
                text="Second thought on storage.",
                quote="a second quote",
                quote_hash="x2",
                speaker="Sam",
                start_seconds=300,
                end_seconds=310,
                extractor="offline",
                created_at=NOW - timedelta(hours=1),
            )
        )
        s.commit()
    edited = text + "\nMy own note: check this against ERCOT data.\n"
    files[0].write_text(edited)
    # Another file, unedited, whose insight's text changes: rewritten in place.
    other = yaml.safe_load(files[1].read_text().split("---\n")[1])["podsift_insight_ids"][0]
    with app.session() as s:
        s.get(Insight, other).text = "A sharper claim."
        s.commit()
    report = export_due(app, NOW)
    assert sum(report.sent.values()) == 1 and sum(report.updated.values()) == 1
    after = files[0].read_text()
    assert after.startswith(edited.rstrip("\n")) and "a second quote" in after  # appended, nothing lost
    assert "A sharper claim." in files[1].read_text()
    # Run again: the edited file is left as it is.
    export_due(app, NOW + timedelta(hours=2))
    assert files[0].read_text() == after


def test_vault_templates_can_be_overridden(make_core, services, tmp_path, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "insight.md.j2").write_text(
        "- {{ item.claim }} ({{ item.speaker }}) ^podsift-{{ item.insight_id }}\n"
    )
    app, _ids = world(make_core, sqlite_url, services, tmp_path, count=1)
    app.settings = app.settings.model_copy(update={"export_templates": templates})
    add_target(app, "vault", None, folder=str(tmp_path / "vault"))
    export_due(app, NOW)
    (file,) = (tmp_path / "vault").rglob("*.md")
    assert "\n- " in file.read_text() and "[!quote]" not in file.read_text()


def _cli_env(app, services) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **os.environ,
        "PODSIFT_HOME": str(app.settings.home),
        "PODSIFT_DATABASE_URL": app.settings.resolved_database_url,
        "PODSIFT_READWISE_URL": services.url,
        "PODSIFT_NOTION_URL": services.url,
        "PODSIFT_SECRET_KEY": SECRET,
        "PODSIFT_EXPORT_BACKOFF_SECONDS": "0.05",
        "PODSIFT_OUTBOX": str(app.settings.resolved_outbox),
        "KILLPOINTS_ARGS": "exports run",
    }


def test_a_kill_between_send_and_record_sends_nothing_twice(
    make_core, database_url, services, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    app, ids = world(make_core, database_url, services, tmp_path, count=5)
    add_target(app, "readwise", "ann@example.com", RW_TOKEN)
    add_target(app, "notion", "ann@example.com", NOTION_TOKEN, database_id=services.notion_db)
    env = _cli_env(app, services)
    # Killed right after Readwise answered, then right after Notion answered (its first 10).
    for kill_at in (1, 2):
        proc = subprocess.run(
            [sys.executable, "-m", "tests.killpoints", "export-send", str(kill_at), "after"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == -9, proc.stderr[-2000:]
    final = subprocess.run(
        [sys.executable, "-m", "podsift", "exports", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert final.returncode == 0, final.stderr[-2000:]
    texts = [h["text"] for h in services.highlights.values()]
    notion_ids = sorted(int(p["Podsift ID"]["number"]) for p in services.pages.values())
    print(
        f"2 kills at the send point: Readwise {len(texts)} highlights for {len(ids)}, Notion {len(notion_ids)} rows"
    )
    assert sorted(texts) == sorted(set(texts)) and len(texts) == len(ids)  # 0 lost, 0 twice
    assert notion_ids == sorted(ids)
    assert services.calls("POST", "/v1/databases/") >= 1  # the takeover looked its rows up first
    with app.session() as s:
        assert set(s.scalars(sa.select(Export.state))) == {"sent"}
    for proc_out in (final.stdout, final.stderr):
        assert RW_TOKEN not in proc_out and NOTION_TOKEN not in proc_out


def test_two_runs_at_once_send_each_insight_once(make_core, database_url, services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, ids = world(make_core, database_url, services, tmp_path, count=6)
    add_target(app, "notion", "ann@example.com", NOTION_TOKEN, database_id=services.notion_db)
    env = _cli_env(app, services)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "podsift", "exports", "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for proc in procs:
        proc.wait(timeout=120)
    assert sorted(int(p["Podsift ID"]["number"]) for p in services.pages.values()) == sorted(ids)


def test_liked_scope_exports_only_thumbs_up_and_the_plan_queues_a_task(
    make_core, services, tmp_path, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    app, ids = world(make_core, sqlite_url, services, tmp_path)
    target = add_target(app, "readwise", "ann@example.com", RW_TOKEN, scope="liked")
    assert due_targets(app, NOW) == [target.id]  # never looked at yet
    with app.session() as s:
        s.add(Feedback(subscriber_id=1, insight_id=ids[2], vote=1))
        s.add(Feedback(subscriber_id=1, insight_id=ids[1], vote=-1))
        s.commit()
    units = [u for u in due_work(app, NOW) if u.task == "export_notes"]
    assert units and units[0].kwargs == {"target_ids": [target.id]}
    export_due(app, NOW)
    assert [h["text"] for h in services.highlights.values()] == ["quote 2"]  # the 👍 only, not the 👎
    assert due_targets(app, NOW) == []  # nothing new, looked at just now


def test_preferences_page_api_and_zip(make_core, services, tmp_path, sqlite_url, web_server) -> None:  # type: ignore[no-untyped-def]
    import httpx2

    from tests.conftest import free_port

    app, ids = world(make_core, sqlite_url, services, tmp_path)
    port = free_port()
    server = web_server(app, port)
    with app.session() as s:
        from podsift.store import Subscriber

        sub = s.scalar(sa.select(Subscriber))
        path = preferences_path(app, sub)
    with httpx2.Client(base_url=server.base_url, follow_redirects=False) as web:
        page = web.post(
            f"{path}/exports", data={"kind": "readwise", "access_token": RW_TOKEN, "scope": "received"}
        )
        assert page.status_code == 200 and "connected" in page.text and RW_TOKEN not in page.text
        bad = web.post(
            f"{path}/exports", data={"kind": "notion", "access_token": NOTION_TOKEN, "database_id": "nope"}
        )
        assert bad.status_code == 400 and "32 hexadecimal digits" in bad.text
        token = path.rsplit("/", 1)[1]
        api = web.post(
            f"/api/exports/{token}",
            json={"kind": "notion", "token": NOTION_TOKEN, "database_id": services.notion_db},
        )
        assert api.status_code == 201 and {e["kind"] for e in api.json()} == {"readwise", "notion"}
        assert NOTION_TOKEN not in api.text
        assert web.get("/api/exports/forged-token").status_code == 403
        export_due(app, NOW)
        listed = web.get(f"/api/exports/{token}").json()
        assert all(e["sent"] == len(ids) for e in listed)
        services.notion_tokens.clear()  # Notion refuses the token from now on
        seed_insights(app, NOW + timedelta(days=1), count=1, show="Later Show", start=60)
        deliver_due(app, NOW + timedelta(days=1))
        export_due(app, NOW + timedelta(days=1))
        page = web.get(path)
        assert "Notion refused the token" in page.text
        zipped = web.get(f"{path}/vault.zip")
        assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
        assert len(names) == len(ids) + 1 and all(n.startswith("Podsift/") for n in names)
        notion_id = next(e["id"] for e in listed if e["kind"] == "notion")
        assert web.delete(f"/api/exports/{token}/{notion_id}").status_code == 204
        assert [e["kind"] for e in web.get(f"/api/exports/{token}").json()] == ["readwise"]


def test_cli_sets_up_lists_runs_and_counts_without_printing_a_token(
    make_core, services, tmp_path, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    app, ids = world(make_core, sqlite_url, services, tmp_path)
    env = {**_cli_env(app, services), "RW": RW_TOKEN, "COLUMNS": "200"}

    def podsift(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "podsift", *args],
            env=env,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=120,
        )

    added = podsift("exports", "add", "readwise", "--subscriber", "ann@example.com", "--token-env", "RW")
    assert added.returncode == 0 and "export target 1" in added.stdout, added.stderr
    piped = podsift(
        "exports",
        "add",
        "notion",
        "--subscriber",
        "ann@example.com",
        "--database",
        services.notion_db,
        stdin=NOTION_TOKEN + "\n",
    )
    assert piped.returncode == 0, piped.stderr
    wrong = podsift("exports", "add", "readwise", "--subscriber", "ann@example.com", "--token-env", "NOPE")
    assert wrong.returncode == 2 and "NOPE is empty" in wrong.stderr
    ran = podsift("run", "--now", NOW.isoformat())
    assert ran.returncode == 0, ran.stderr
    assert f"exported: {len(ids)} new, 0 updated -> readwise #1 (ann@example.com)" in ran.stdout
    listed = podsift("exports", "list")
    assert "readwise" in listed.stdout and "notion" in listed.stdout
    stats = podsift("stats")
    assert "export target" in stats.stdout and "readwise" in stats.stdout
    log = Path(app.settings.home / "podsift.log")
    everything = (
        added.stdout
        + added.stderr
        + ran.stdout
        + ran.stderr
        + listed.stdout
        + stats.stdout
        + (log.read_text() if log.exists() else "")
    )
    assert RW_TOKEN not in everything and NOTION_TOKEN not in everything
    assert podsift("exports", "remove", "2").returncode == 0
    assert podsift("exports", "remove", "2").returncode == 2


def test_a_worker_runs_the_export_task_the_plan_queued(make_core, services, tmp_path, postgres_url) -> None:  # type: ignore[no-untyped-def]
    app, ids = world(make_core, postgres_url, services, tmp_path)
    add_target(app, "readwise", "ann@example.com", RW_TOKEN)
    env = _cli_env(app, services)
    proc = subprocess.run(
        [sys.executable, "-m", "podsift", "-v", "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "export_notes" in proc.stderr
    assert sorted(h["text"] for h in services.highlights.values()) == sorted(
        f"quote {n}" for n in range(len(ids))
    )
    assert RW_TOKEN not in proc.stderr
