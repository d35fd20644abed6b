"""One bad input never stops the daily job: a feed URL the HTTP library itself rejects, a
stage that fails outright, a database that is not there."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from podsift.cli import app as cli
from podsift.pipeline import run
from podsift.sources.feeds import feed_overview
from podsift.sources.scan import add_feeds
from podsift.subscribers import add_subscriber
from tests.conftest import FIXTURES, free_port
from tests.feedgen import Item, rss
from tests.hostile import NOW


def healthy_show(http_server) -> str:  # type: ignore[no-untyped-def]
    http_server.add(
        "/t/ps.vtt",
        (FIXTURES / "transcripts" / "policy-signals-12.vtt").read_bytes(),
        content_type="text/vtt",
    )
    item = Item(
        "Who audits the models?",
        NOW - timedelta(hours=2),
        guid="ps",
        transcripts=[(http_server.url("/t/ps.vtt"), "text/vtt")],
    )
    http_server.add("/policy.xml", rss("Policy Signals", [item]))
    return http_server.url("/policy.xml")


def test_an_octal_feed_url_fails_alone_and_everyone_gets_their_digest(
    http_server, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PODSIFT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PODSIFT_ALLOW_HOSTS", http_server.host)
    runner = CliRunner()
    good = healthy_show(http_server)
    for url in (good, "http://0177.0.0.1:8080/feed"):
        assert runner.invoke(cli, ["feeds", "add", url]).exit_code == 0
    assert runner.invoke(cli, ["subscribers", "add", "you@example.com", "--hour", "0"]).exit_code == 0
    result = runner.invoke(cli, ["run", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    output = re.sub(r"\s+", " ", result.output)
    assert "1 sent" in output and "failed, the rest done: 1 feed" in output
    assert "Traceback" not in result.output
    listed = runner.invoke(cli, ["feeds", "list", "--json"]).stdout
    assert "invalid URL: 0177.0.0.1 - is not a canonical IPv4 address" in listed  # where the admin looks


def test_a_stage_that_fails_outright_skips_nothing_after_it(http_server, make_core, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import podsift.pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the story index is corrupt")

    monkeypatch.setattr(podsift.pipeline, "cluster_insights", broken)
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [healthy_show(http_server)])
    add_subscriber(app, "you@example.com", hour=0)
    report = run(app, NOW)
    assert report.stage_errors == {"stories": "RuntimeError: the story index is corrupt"}
    assert report.insights.insights > 0 and report.delivery.sent == ["you@example.com"]
    assert feed_overview(app)[0].error is None


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://podsift:pw-hidden@127.0.0.1:{port}/podsift",
        "sqlite:///{tmp}/a-file/podsift.db",
    ],
)
def test_no_database_is_one_clear_line_and_exit_2(url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PODSIFT_HOME", str(tmp_path / "home"))
    (tmp_path / "a-file").write_text("a file where a folder should be")
    monkeypatch.setenv("PODSIFT_DATABASE_URL", url.format(port=free_port(), tmp=tmp_path))
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 2
    assert result.output.startswith("error: cannot open the database") and "Traceback" not in result.output
    assert "pw-hidden" not in result.output
