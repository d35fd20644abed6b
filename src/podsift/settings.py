"""Settings: environment variables over an optional TOML file over defaults.

The TOML file is `$PODSIFT_HOME/podsift.toml` (or `PODSIFT_CONFIG`); its keys are the
field names below (`database_url = "..."`). Environment variables are the same names,
upper-cased and prefixed with `PODSIFT_`. Each field's type converts and checks its value;
fields marked `Secret` are hidden wherever settings are shown (`podsift config`, logs).
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import platformdirs
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

# Backend spec options that carry credentials (`openai:gpt-4o?api_key=...`).
SECRET_OPTIONS = ("api_key", "key", "token", "secret", "password")
# How a yes is written, in settings and in backend spec options.
TRUE_WORDS = ("1", "true", "yes", "on")


class SettingsError(ValueError):
    """A setting has a value podsift cannot use."""


class _SecretMark:
    """Marks a field that is never shown whole: a secret, or (`inside`) a URL or backend spec
    whose password and credential options are hidden."""

    def __init__(self, inside: bool = False) -> None:
        self.inside = inside


def _split_hosts(raw: object) -> object:
    if isinstance(raw, str):
        return tuple(s.strip() for s in raw.split(",") if s.strip())
    return raw


def _optional_path(raw: object) -> object:
    if raw in ("", None):
        return None
    return Path(str(raw)).expanduser()


def _flag(raw: object) -> object:
    if isinstance(raw, str):
        return raw.strip().lower() in TRUE_WORDS
    return raw


Secret = Annotated[str, _SecretMark()]
WithSecrets = Annotated[str, _SecretMark(inside=True)]
Hosts = Annotated[tuple[str, ...], BeforeValidator(_split_hosts)]
OptionalPath = Annotated[Path | None, BeforeValidator(_optional_path)]
Flag = Annotated[bool, BeforeValidator(_flag)]


class Settings(BaseModel):
    # Numbers in the TOML file are accepted for text fields, as before.
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    home: Path
    database_url: WithSecrets = ""
    smtp_url: WithSecrets = ""
    from_address: str = "podsift <podsift@localhost>"
    outbox: OptionalPath = None
    # Where log records go without -v (default: podsift.log in the home folder).
    log_file: OptionalPath = None
    allow_hosts: Hosts = ()
    llm: WithSecrets = "offline"
    # On a GPU, a bigger model and batched decoding are one setting away, e.g.
    # faster-whisper:large-v3?device=cuda&compute_type=float16&batch=16 (docs/scaling.md).
    # Batched (4 pieces of ~30 s at once, word times): 2.2x the speed of one piece after
    # another at beam 5 on 2 cores, and no worse a WER (bench/asr_quality.py).
    asr: WithSecrets = "faster-whisper:base?device=auto&compute_type=int8&beam_size=5&vad=1&batch=4"
    max_audio_bytes: int = 1024 * 1024 * 1024
    audio_deadline_seconds: float = 3600.0
    keep_audio: Flag = False
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
    # Connections open at once to one host: a few hosts serve thousands of feeds each, and
    # a polite crawler does not hit one with every connection it has.
    fetch_per_host: int = 6
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
    secret_key: Secret = ""
    send_attempts: int = 5
    suppress_after_bounces: int = 3
    # A run stops sending after this many connection failures in a row (the mail server
    # is down): the rest stay pending for the next run.
    max_connection_failures: int = 3
    # Web app (issue 7): the admin account and podcast directories.
    admin_user: str = "admin"
    # scrypt hash from `podsift admin create` (stored in $PODSIFT_HOME/admin.json otherwise)
    admin_password_hash: Secret = ""
    itunes_base_url: str = "https://itunes.apple.com"
    podcastindex_base_url: str = "https://api.podcastindex.org/api/1.0"
    podcastindex_key: Secret = ""
    podcastindex_secret: Secret = ""
    # Topics that find their own shows: each topic's directories are searched this often;
    # a show is proposed when this many of its episodes from the last topic_recent_days
    # mention the topic. With auto-follow (the admin's choice) the best proposals are
    # followed, at most topic_follow_cap a topic; those that give no digest insight in
    # topic_drop_days are dropped again.
    topic_search_hours: int = 24
    topic_recent_days: int = 30
    topic_min_matches: int = 1
    topics_auto_follow: bool = False
    topic_follow_cap: int = 3
    topic_drop_days: int = 30
    # Embeddings, clusters, ranking (issue 5; see ranking/score.py for the weights' meaning)
    embeddings: WithSecrets = "local"
    cluster_window_days: int = 14
    same_story_threshold: float = 0.595
    judge_max_calls: int = 200
    # Pairs of one story's tellings (across shows) whose stance the LLM judges a run; the
    # rest, and every pair without an LLM, are judged by the offline signs.
    stance_max_calls: int = 100
    novelty_days: int = 30
    ranking_weights: str = ""
    # Workers (`podsift worker`, Postgres only; docs/scaling.md). A task that fails is
    # retried this many times in all, waiting base * 2^n seconds between tries.
    worker_attempts: int = 4
    worker_retry_seconds: int = 30
    # A worker whose heartbeat is older than this is taken for dead; its tasks run elsewhere.
    worker_stalled_seconds: int = 60
    # Subscribers per delivery task (each is still chosen, recorded and sent on its own).
    worker_delivery_batch: int = 50
    # With transcripts or extractions still queued at a subscriber's send hour, their
    # digest waits at most this long for them.
    worker_delivery_patience_minutes: int = 30
    # When `plan` looks for due work besides after tasks that made some (cron; a sixth
    # field is seconds).
    worker_plan_cron: str = "* * * * *"

    # Exports to notes tools (podsift exports): the services' addresses (tests point them at
    # loopback servers), the admin's vault folder (`exports add vault` defaults to it),
    # templates that override the vault's own, and the first wait between retries.
    readwise_url: str = "https://readwise.io"
    notion_url: str = "https://api.notion.com"
    export_dir: OptionalPath = None
    export_templates: OptionalPath = None
    export_backoff_seconds: float = 1.0
    export_attempts: int = 8
    # Model requests spent on one reader's own words a local day (reading their instructions
    # into a profile, writing their five in their style) and the tokens those may use; past
    # either, the offline parser and the usual texts serve.
    # Passages embedded for search by meaning each run (newest first; 0: none).
    search_embed_passages: int = 3000
    reader_model_requests: int = 3
    reader_model_tokens: int = 6000
    # The audio briefing (podsift/briefings): the narrator (`auto`: Piper's packaged voice,
    # else espeak-ng; `openai:tts-1?base_url=...&voice=...&api_key=...` a hosted one); the
    # enclosures it cuts clips from are cached up to this size and age; each subscriber's
    # feed keeps this many briefings; clips are checked against their quote with the
    # packaged Whisper (dynamic ad insertion moves audio) unless switched off.
    narrator: WithSecrets = "auto"
    briefing_cache_bytes: int = 2 * 1024 * 1024 * 1024
    briefing_cache_days: float = 7.0
    briefing_keep: int = 14
    briefing_check_clips: Flag = True
    briefing_attempts: int = 3

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'podsift.db'}"

    @property
    def resolved_outbox(self) -> Path:
        return self.outbox or self.home / "outbox"

    @property
    def resolved_log_file(self) -> Path:
        return self.log_file or self.home / "podsift.log"

    @classmethod
    def secret_fields(cls) -> dict[str, bool]:
        """Secret fields: name -> True when only the secrets inside (URL passwords, keys) are hidden."""
        return {
            name: mark.inside
            for name, f in cls.model_fields.items()
            for mark in f.metadata
            if isinstance(mark, _SecretMark)
        }

    def redacted(self) -> dict[str, str]:
        """Every setting as text, with secrets hidden: for `podsift config` and logs."""
        secret = self.secret_fields()
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            text = ",".join(value) if isinstance(value, tuple) else str(value if value is not None else "")
            if name in secret:
                text = hide_secrets(text) if secret[name] else ("***" if text else "")
            out[name] = text
        out["database_url"] = hide_secrets(self.resolved_database_url)
        out["outbox"] = str(self.resolved_outbox)
        out["log_file"] = str(self.resolved_log_file)
        return out

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds: whole secret fields, URL passwords and
        credential options of backend specs. Longest first, for `scrub`; worked out once,
        since `scrub` runs on every log line."""
        return list(_secret_values(self))

    def _find_secret_values(self) -> tuple[str, ...]:
        found: set[str] = set()
        for name, inside in self.secret_fields().items():
            value = str(getattr(self, name) or "")
            if not inside:
                found.add(value)
                continue
            found.add(urlsplit(value).password or "")
            query = value.partition("?")[2]
            found.update(v for k, v in parse_qsl(query, keep_blank_values=True) if k in SECRET_OPTIONS)
        return tuple(sorted((v for v in found if len(v) >= 4), key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """`text` (an error reason, a log line) with every secret of these settings replaced by ***."""
        for secret in self.secret_values():
            text = text.replace(secret, "***")
        return text

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
        try:
            return cls(home=home, **values)
        except ValidationError as exc:
            raise SettingsError("; ".join(_problem(e) for e in exc.errors())) from exc


@lru_cache(maxsize=16)
def _secret_values(settings: Settings) -> tuple[str, ...]:
    """Settings are frozen (and hashable): their secrets are worked out once."""
    return settings._find_secret_values()


def _problem(error: Any) -> str:
    name = ".".join(str(p) for p in error["loc"])
    shown = "" if name in Settings.secret_fields() else f" (got {error.get('input')!r})"
    return f"setting {name!r}: {error['msg']}{shown}"


_FIELDS = frozenset(Settings.model_fields) - {"home"}


def hide_secrets(text: str) -> str:
    """A URL or backend spec with its password and credential options replaced by ***."""
    parts = urlsplit(text)
    shown = text
    if parts.password:
        shown = shown.replace(f":{parts.password}@", ":***@")
    head, sep, query = shown.partition("?")
    if sep:
        options = [
            (k, "***" if k in SECRET_OPTIONS else v) for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        shown = head + "?" + urlencode(options, safe=":/,*")
    return shown


def _from_env(env: dict[str, str]) -> dict[str, Any]:
    aliases = {"PODSIFT_FROM": "from_address"}
    out: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith("PODSIFT_"):
            continue
        name = aliases.get(key, key.removeprefix("PODSIFT_").lower())
        if name in _FIELDS:
            out[name] = raw
    return out


def _from_toml(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in data.items():
        name = {"from": "from_address"}.get(name, name)
        if name not in _FIELDS:
            raise SettingsError(f"{path}: unknown setting {name!r}")
        out[name] = raw
    return out
