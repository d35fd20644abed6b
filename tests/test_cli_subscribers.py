"""`podsift subscribers add/set/list/remove` through the real CLI code (Typer's runner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from podsift.cli import app as cli
from podsift.core import make_app
from podsift.settings import Settings
from podsift.store import Feed


@pytest.fixture
def env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PODSIFT_HOME", str(tmp_path / "home"))
    core = make_app(Settings.load())
    with core.session() as s:
        s.add_all(
            [Feed(url="https://a.example/rss", title="A"), Feed(url="https://b.example/rss", title="B")]
        )
        s.commit()
    core.close()
    return CliRunner()


def listed(runner: CliRunner) -> dict[str, dict[str, object]]:
    result = runner.invoke(cli, ["subscribers", "list", "--json"])
    assert result.exit_code == 0, result.output
    return {row["email"]: row for row in map(json.loads, result.stdout.splitlines())}


def test_subscribers_lifecycle(env) -> None:  # type: ignore[no-untyped-def]
    runner = env
    result = runner.invoke(
        cli,
        [
            "subscribers",
            "add",
            "Ada@Example.com",
            "--interests",
            "batteries",
            "--timezone",
            "Europe/Berlin",
            "--hour",
            "6",
            "--top",
            "3",
            "--shows",
            "2",
            "--channel",
            "ntfys://podsift-test",
        ],
    )
    assert result.exit_code == 0, result.output
    row = listed(runner)["ada@example.com"]
    assert (row["state"], row["timezone"], row["send_hour"], row["top"], row["shows"]) == (
        "active",
        "Europe/Berlin",
        6,
        3,
        [2],
    )
    assert row["channels"][0].startswith("apprise:ntfys:")
    assert "podsift-test" not in json.dumps(row)  # channel URLs carry secrets: never listed

    result = runner.invoke(
        cli,
        [
            "subscribers",
            "set",
            "ada@example.com",
            "--pause",
            "--shows",
            "all",
            "--weight",
            "1=0",
            "--weight",
            "2=2.5",
        ],
    )
    assert result.exit_code == 0, result.output
    row = listed(runner)["ada@example.com"]
    assert row["state"] == "paused" and row["shows"] is None
    result = runner.invoke(
        cli, ["subscribers", "set", "ada@example.com", "--resume", "--no-email", "--channel", ""]
    )
    assert result.exit_code == 0, result.output
    row = listed(runner)["ada@example.com"]
    assert (row["state"], row["email_enabled"], row["channels"]) == ("active", False, [])

    for bad, message in (
        (["--timezone", "Mars/Base"], "unknown time zone"),
        (["--hour", "25"], "0-23"),
        (["--shows", "99"], "no feeds with ids [99]"),
        (["--channel", "not a url"], "not an Apprise URL"),
        (["--weight", "1=50"], "between 0"),
        (["--weight", "x"], "FEED_ID=WEIGHT"),
    ):
        result = runner.invoke(cli, ["subscribers", "set", "ada@example.com", *bad])
        assert result.exit_code == 2 and message in result.output, (bad, result.output)

    core = make_app(Settings.load())
    from podsift.subscribers import find_subscriber

    assert find_subscriber(core, "ada@example.com").feed_weights == {"1": 0.0, "2": 2.5}
    core.close()
    assert runner.invoke(cli, ["subscribers", "remove", "ada@example.com"]).exit_code == 0
    assert listed(runner) == {}
    assert runner.invoke(cli, ["subscribers", "remove", "ada@example.com"]).exit_code == 1
