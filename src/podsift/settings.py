"""Settings: environment variables over an optional TOML file over defaults.

The TOML file is `$PODSIFT_HOME/podsift.toml` (or `PODSIFT_CONFIG`); its keys are the
field names below (`database_url = "..."`). Environment variables are the same names,
upper-cased and prefixed with `PODSIFT_`. This module holds no logic beyond parsing.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs


class SettingsError(ValueError):
    """A setting has a value podsift cannot use."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str = ""
    smtp_url: str = ""
    from_address: str = "podsift <podsift@localhost>"
    outbox: Path | None = None
    allow_hosts: tuple[str, ...] = ()
    llm: str = "offline"
    asr: str = "faster-whisper:base?device=auto&compute_type=int8&beam_size=5&vad=1"
    max_audio_bytes: int = 1024 * 1024 * 1024
    audio_deadline_seconds: float = 3600.0
    keep_audio: bool = False
    # Speech to text is slow on a CPU (minutes per episode): a run takes at most this many
    # episodes, newest first, and leaves the rest for the next run.
    asr_episodes_per_run: int = 4
    user_agent: str = "podsift/0.1 (+https://github.com/podsift/podsift)"
    # Feeds
    poll_interval_minutes: int = 30
    new_feed_days: int = 7
    new_feed_max_episodes: int = 3
    fetch_timeout_seconds: float = 15.0
    fetch_deadline_seconds: float = 60.0
    max_feed_bytes: int = 20 * 1024 * 1024
    max_transcript_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    fetch_concurrency: int = 16
    backoff_base_minutes: int = 30
    backoff_max_hours: int = 24
    # Selection
    digest_top: int = 5
    lookback_days: int = 7
    insights_per_episode: int = 8
    # A run spends at most this long extracting (a slow local model takes minutes per
    # episode); the rest waits for the next run. 0: no limit.
    extract_budget_seconds: float = 3600.0
    # Delivery (issue 6). With a base URL, emails carry signed unsubscribe, preferences and
    # feedback links to `podsift serve`, and new subscribers must confirm their address.
    base_url: str = ""
    secret_key: str = ""
    send_attempts: int = 5
    suppress_after_bounces: int = 3
    # A run stops sending after this many connection failures in a row (the mail server
    # is down): the rest stay pending for the next run.
    max_connection_failures: int = 3
    # Web app (issue 7): the admin account and podcast directories.
    admin_user: str = "admin"
    # scrypt hash from `podsift admin create` (stored in $PODSIFT_HOME/admin.json otherwise)
    admin_password_hash: str = ""
    itunes_base_url: str = "https://itunes.apple.com"
    podcastindex_base_url: str = "https://api.podcastindex.org/api/1.0"
    podcastindex_key: str = ""
    podcastindex_secret: str = ""
    # Embeddings, clusters, ranking (issue 5; see ranking/score.py for the weights' meaning)
    embeddings: str = "local"
    cluster_window_days: int = 14
    same_story_threshold: float = 0.595
    judge_max_calls: int = 200
    novelty_days: int = 30
    ranking_weights: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'podsift.db'}"

    @property
    def resolved_outbox(self) -> Path:
        return self.outbox or self.home / "outbox"

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from `env` (default `os.environ`), the TOML file and overrides."""
        env = dict(os.environ if env is None else env)
        home = Path(
            overrides.get("home")
            or env.get("PODSIFT_HOME")
            or platformdirs.user_data_dir("podsift", appauthor=False)
        ).expanduser()
        values: dict[str, Any] = {}
        config_file = Path(env.get("PODSIFT_CONFIG") or home / "podsift.toml")
        if config_file.is_file():
            with config_file.open("rb") as fh:
                values.update(_from_toml(config_file, tomllib.load(fh)))
        values.update(_from_env(env))
        values.update({k: v for k, v in overrides.items() if k != "home"})
        return cls(home=home, **values)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in ("home", "extra")}


def _coerce(name: str, raw: Any) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
        if kind == "Path | None":
            return Path(str(raw)).expanduser() if raw else None
        if kind == "tuple[str, ...]":
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(s.strip() for s in items if s.strip())
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r}: cannot use {raw!r} ({exc})") from exc


def _from_env(env: dict[str, str]) -> dict[str, Any]:
    aliases = {"PODSIFT_FROM": "from_address"}
    out: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith("PODSIFT_"):
            continue
        name = aliases.get(key, key.removeprefix("PODSIFT_").lower())
        if name in _FIELDS:
            out[name] = _coerce(name, raw)
    return out


def _from_toml(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in data.items():
        name = {"from": "from_address"}.get(name, name)
        if name not in _FIELDS:
            raise SettingsError(f"{path}: unknown setting {name!r}")
        out[name] = _coerce(name, raw)
    return out
