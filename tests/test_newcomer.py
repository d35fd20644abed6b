"""A newcomer's first ten minutes: the README's first command from a fresh copy of the
repository installs only what runs; a run with failing feeds says each problem once;
`--version`; the time-zone field; episode titles without the show's name again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from importlib import metadata
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from podsift.cli import app as cli
from podsift.sources.titles import episode_title
from podsift.store import Episode
from podsift.subscribers import SubscriberError, add_subscriber, find_subscriber, validate_timezone
from tests.conftest import free_port
from tests.seed import seed_insights
from tests.test_end_to_end import DAY1, serve_shows
from tests.test_web_app import NOW, Browser

ROOT = Path(__file__).resolve().parents[1]
# The default path never imports these; the daily command's venv must not hold them.
NEVER_INSTALLED = ("torch", "transformers", "sentence_transformers", "sympy", "networkx", "scipy", "sklearn")
VENV_LIMIT_BYTES = 900 * 1024 * 1024


def fresh_copy(target: Path) -> Path:
    """What `git clone` of this checkout gives: the tracked files (and new ones not yet
    committed, so the test runs on the working tree), no .venv, no caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def size_of(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_the_readme_first_command_installs_only_what_runs(tmp_path: Path, http_server) -> None:  # type: ignore[no-untyped-def]
    """./scripts/podsift-daily from a fresh copy, against three shows on a loopback server:
    insights and stories come out (MiniLM in numpy), and the venv holds no torch."""
    readme = (ROOT / "README.md").read_text().splitlines()
    assert readme[3].strip().startswith("./scripts/podsift-daily"), readme[:6]
    serve_shows(http_server)
    opml = tmp_path / "shows.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        + "".join(
            f'<outline type="rss" text="{n}" xmlUrl="{http_server.url(f"/{n}.xml")}"/>'
            for n in ("policy", "weights", "grid")
        )
        + "</body></opml>"
    )
    repo = fresh_copy(tmp_path / "clone")
    venv = tmp_path / "venv"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PODSIFT_", "VIRTUAL_ENV"))},
        "PODSIFT_VENV": str(venv),
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_OPML": str(opml),
        "PODSIFT_ALLOW_HOSTS": http_server.host,
        "PODSIFT_ASR": "none",
    }
    started = time.monotonic()
    done = subprocess.run(
        ["./scripts/podsift-daily", "--now", (DAY1 + timedelta(hours=1)).isoformat()],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"first run, install included: {seconds:.1f} s; venv {size_of(venv) / 2**20:.0f} MiB")
    insights = re.search(r"insights: (\d+) from (\d+) episode", done.stdout)
    stories = re.search(r"stories: (\d+) insight\(s\) filed", done.stdout)
    assert insights and int(insights.group(1)) >= 6 and int(insights.group(2)) == 3, done.stdout
    assert stories and int(stories.group(1)) >= 6 and "embeddings failed" not in done.stdout, done.stdout
    assert "runs without word vectors" not in (tmp_path / "home" / "podsift.log").read_text()
    # Nothing the default path never imports is installed, so nothing on it imported torch.
    probe = "import importlib.util, json; print(json.dumps([m for m in %r if importlib.util.find_spec(m)]))"
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe % (NEVER_INSTALLED,)], capture_output=True, text=True
    )
    assert json.loads(found.stdout) == [], found.stdout + found.stderr
    assert size_of(venv) <= VENV_LIMIT_BYTES
    # A setting that needs a left-out SDK is refused at start-up, saying how to install it.
    podsift = str(venv / "bin" / "podsift")
    refused = subprocess.run(
        [podsift, "run"], env={**env, "PODSIFT_LLM": "openai:some-model"}, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "pip install 'podsift[llm]'" in refused.stderr, refused.stderr
    version = subprocess.run([podsift, "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"podsift {metadata.version('podsift')}"


def test_a_run_with_failing_feeds_says_each_problem_once(tmp_path: Path, http_server) -> None:  # type: ignore[no-untyped-def]
    """From cron (no terminal): the summary and one line per failed feed, no log records;
    those go to the log file, and to stderr with -v."""
    http_server.add("/gone.xml", b"not found", status=404)
    http_server.add("/broken.xml", b"upstream down", status=503)
    env = {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_ALLOW_HOSTS": http_server.host,
        "PODSIFT_ASR": "none",
    }

    def podsift(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "podsift", *args], env=env, capture_output=True, text=True, timeout=120
        )

    feeds = [http_server.url("/gone.xml"), http_server.url("/broken.xml")]
    assert podsift("feeds", "add", *feeds).returncode == 0
    done = podsift("run")
    assert done.returncode == 0, done.stderr  # failed feeds: the rest of the run is done, as before
    printed = done.stdout + done.stderr
    for url in feeds:
        lines = [line for line in printed.splitlines() if url in line]
        assert len(lines) == 1, printed
    assert "failed, the rest done: 2 feeds" in done.stderr
    assert not re.search(r"\b(?:INFO|WARNING|ERROR) podsift\.", printed), printed
    log = (tmp_path / "home" / "podsift.log").read_text()
    assert all(f"feed {url} failed" in log for url in feeds), log
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()  # past the failed feeds' backoff
    verbose = podsift("-v", "run", "--now", later)
    assert re.search(r"WARNING podsift\.sources\.scan feed \S+/gone\.xml failed", verbose.stderr), (
        verbose.stderr
    )


def test_version_from_the_package_metadata() -> None:
    runner = CliRunner()
    expected = f"podsift {metadata.version('podsift')}"
    for args in (["--version"], ["version"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0 and result.output.strip() == expected, result.output


def test_time_zones_are_iana_names_spelled_the_canonical_way() -> None:
    assert validate_timezone(" europe/berlin ") == "Europe/Berlin"
    assert validate_timezone("America/Argentina/Buenos_Aires") == "America/Argentina/Buenos_Aires"
    with pytest.raises(
        SubscriberError, match=r"unknown time zone 'Europe/Berln' \(did you mean Europe/Berlin"
    ):
        validate_timezone("Europe/Berln")
    with pytest.raises(SubscriberError, match="use an IANA name like Europe/Berlin"):
        validate_timezone("Mars/Olympus Mons")


def test_the_time_zone_field_offers_the_zones_without_javascript(make_core, web_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    app = make_core(base_url=f"http://127.0.0.1:{port}")
    web_server(app, port)
    browser = Browser(f"http://127.0.0.1:{port}")
    sub = add_subscriber(app, "zone@example.com", timezone="UTC", skip_confirm=True)
    token = app.tokens().make("preferences", sub.id, sub.token_version)
    page = browser.go("GET", f"/preferences/{token}")[1]
    field = re.search(r'<input id="timezone"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert 'list="time-zones"' in field and 'value="UTC"' in field
    zones = re.search(r'<datalist id="time-zones">(.*?)</datalist>', page, re.S).group(1)  # type: ignore[union-attr]
    options = re.findall(r'<option value="([^"]+)">', zones)
    assert {"Europe/Berlin", "Pacific/Auckland", "America/New_York", "UTC"} <= set(options)
    assert len(options) > 400 and options == sorted(options)
    assert "data-detect-timezone" in browser.go("GET", "/signup")[1]  # new readers: the browser's zone

    status, page, _ = browser.go(
        "POST", f"/preferences/{token}", {"timezone": "Europe/Berln", "send_hour": "7"}
    )
    assert status == 400 and "unknown time zone &#39;Europe/Berln&#39; (did you mean Europe/Berlin" in page
    assert find_subscriber(app, "zone@example.com").timezone == "UTC"
    status, page, _ = browser.go(
        "POST", f"/preferences/{token}", {"timezone": "asia/tokyo", "send_hour": "7"}
    )
    assert status == 200 and find_subscriber(app, "zone@example.com").timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("title", "show", "shown"),
    [
        ("Grid Weekly: this week in storage", "Grid Weekly", "This week in storage"),
        ("Storage costs | Grid Weekly", "Grid Weekly", "Storage costs"),
        ("Storage costs - Grid Weekly", "Grid Weekly", "Storage costs"),
        ("grid weekly — Batteries", "Grid Weekly", "Batteries"),
        ("The Changelog 652: Go fast", "The Changelog", "652: Go fast"),
        ("JS Party #345 - React in 2026", "JS Party", "#345 - React in 2026"),
        ("Grid Weekly", "Grid Weekly", "Grid Weekly"),  # nothing would be left
        ("Grid Weekly-ish thoughts", "Grid Weekly", "Grid Weekly-ish thoughts"),  # another phrase
        ("Why Grid Weekly changed", "Grid Weekly", "Why Grid Weekly changed"),  # in the middle
        ("Batteries", None, "Batteries"),
    ],
)
def test_episode_titles_without_the_show_name(title: str, show: str | None, shown: str) -> None:
    assert episode_title(title, show) == shown


def test_a_digest_names_the_show_once(make_core) -> None:  # type: ignore[no-untyped-def]
    from podsift.clusters.stage import cluster_insights
    from podsift.delivery.stage import deliver_due

    app = make_core()
    seed_insights(app, NOW, count=3, show="Grid Weekly")
    with app.session() as s:
        for episode in s.scalars(sa.select(Episode)):
            episode.title = f"Grid Weekly: {episode.title.lower()}"
        s.commit()
    add_subscriber(app, "once@example.com", hour=0, top=3, skip_confirm=True)
    cluster_insights(app, NOW)
    assert deliver_due(app, NOW).sent == ["once@example.com"]
    (eml,) = sorted(app.settings.resolved_outbox.rglob("once@example.com.eml"))
    mail = message_from_string(eml.read_text(), policy=policy.default)
    (page,) = sorted(app.settings.resolved_outbox.rglob("once@example.com.html"))
    for text in (mail.get_body(("plain",)).get_content(), page.read_text()):  # type: ignore[union-attr]
        assert "Grid Weekly: Grid Weekly" not in text and "Grid Weekly</em>: Grid Weekly" not in text
        assert re.search(r"Grid Weekly(?:</em>)?: Episode 1", text), text[:2000]
