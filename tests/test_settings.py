"""Settings: typed fields convert environment and TOML text; secrets never show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podsift.cli import app as cli
from podsift.settings import Settings, SettingsError

SECRETS = {
    "PODSIFT_SECRET_KEY": "k-0123456789abcdef-SECRET",
    "PODSIFT_SMTP_URL": "smtps://mailer:pw-SECRET@127.0.0.1:465",
    "PODSIFT_DATABASE_URL": "postgresql+psycopg://podsift:db-SECRET@127.0.0.1:5432/podsift",
    "PODSIFT_LLM": "openai:gpt-4o-mini?base_url=http://127.0.0.1:8080/v1&api_key=sk-SECRET&mode=refine",
    "PODSIFT_PODCASTINDEX_KEY": "pi-key-SECRET",
    "PODSIFT_PODCASTINDEX_SECRET": "pi-secret-SECRET",
    "PODSIFT_ADMIN_PASSWORD_HASH": "scrypt$c2FsdA==$SECRET",
}


def test_environment_text_becomes_typed_values(tmp_path: Path) -> None:
    env = {
        "PODSIFT_ALLOW_HOSTS": "127.0.0.1, ::1,",
        "PODSIFT_KEEP_AUDIO": "yes",
        "PODSIFT_MAX_REDIRECTS": "3",
        "PODSIFT_SAME_STORY_THRESHOLD": "0.7",
        "PODSIFT_OUTBOX": str(tmp_path / "out"),
        "PODSIFT_FROM": "news <news@example.org>",
        "PODSIFT_UNRELATED": "ignored",
    }
    s = Settings.load(env=env, home=tmp_path)
    assert s.allow_hosts == ("127.0.0.1", "::1")
    assert s.keep_audio is True and s.max_redirects == 3 and s.same_story_threshold == 0.7
    assert s.outbox == tmp_path / "out" and s.from_address == "news <news@example.org>"
    assert Settings.load(env={"PODSIFT_OUTBOX": ""}, home=tmp_path).resolved_outbox == tmp_path / "outbox"


def test_toml_file_under_environment(tmp_path: Path) -> None:
    (tmp_path / "podsift.toml").write_text('digest_top = 7\nlookback_days = 3\nfrom = "a@example.org"\n')
    s = Settings.load(env={"PODSIFT_LOOKBACK_DAYS": "9"}, home=tmp_path)
    assert (s.digest_top, s.lookback_days, s.from_address) == (7, 9, "a@example.org")
    (tmp_path / "podsift.toml").write_text("digest_tpo = 7\n")
    with pytest.raises(SettingsError, match="unknown setting 'digest_tpo'"):
        Settings.load(env={}, home=tmp_path)


def test_a_bad_value_is_a_clear_error_that_never_echoes_a_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"setting 'max_redirects'.*integer.*'many'"):
        Settings.load(env={"PODSIFT_MAX_REDIRECTS": "many"}, home=tmp_path)
    (tmp_path / "podsift.toml").write_text('secret_key = ["sk-SECRET"]\n')
    with pytest.raises(SettingsError, match="setting 'secret_key'") as caught:
        Settings.load(env={}, home=tmp_path)
    assert "SECRET" not in str(caught.value)


def test_settings_know_their_secret_fields() -> None:
    secret = Settings.secret_fields()
    assert {"secret_key", "podcastindex_key", "podcastindex_secret", "admin_password_hash"} <= set(secret)
    assert secret["smtp_url"] and secret["llm"] and secret["database_url"]  # hidden inside
    assert "base_url" not in secret and "user_agent" not in secret


def test_redacted_hides_every_secret_and_keeps_the_rest(tmp_path: Path) -> None:
    shown = Settings.load(env=SECRETS, home=tmp_path).redacted()
    assert "SECRET" not in json.dumps(shown)
    assert shown["smtp_url"] == "smtps://mailer:***@127.0.0.1:465"
    assert shown["llm"] == "openai:gpt-4o-mini?base_url=http://127.0.0.1:8080/v1&api_key=***&mode=refine"
    assert shown["database_url"] == "postgresql+psycopg://podsift:***@127.0.0.1:5432/podsift"
    assert shown["secret_key"] == shown["podcastindex_secret"] == "***"
    assert shown["digest_top"] == "5" and shown["outbox"] == str(tmp_path / "outbox")


def test_podsift_config_prints_settings_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODSIFT_HOME", str(tmp_path))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert "SECRET" not in result.output
    assert printed["podcastindex_key"] == "***" and printed["home"] == str(tmp_path)


def test_log_lines_and_tracebacks_lose_their_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from podsift.cli.common import scrub_logs

    caplog.set_level(logging.INFO)
    scrub_logs(Settings.load(env=SECRETS, home=tmp_path))
    log = logging.getLogger("podsift.test")
    log.warning("connecting with key %s", "sk-SECRET")
    try:
        raise RuntimeError(f"refused {SECRETS['PODSIFT_PODCASTINDEX_SECRET']}")
    except RuntimeError:
        log.exception("directory failed")
    assert "sk-SECRET" not in caplog.text and SECRETS["PODSIFT_PODCASTINDEX_SECRET"] not in caplog.text
    assert "key ***" in caplog.text and "refused ***" in caplog.text
