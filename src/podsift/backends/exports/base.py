"""What every export backend shares: the item sent, the outcome, the errors, and one
HTTP request policy (429 with Retry-After honoured, 5xx and dropped connections retried
with backoff, 401 read as a revoked token)."""

from __future__ import annotations

import email.utils
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx2

MAX_WAIT_SECONDS = 60.0  # a longer Retry-After ends this run's tries: the next run goes on
TRIES = 4  # per request, for 5xx and dropped connections


@dataclass(frozen=True)
class ExportItem:
    """One insight as every notes service gets it."""

    insight_id: int
    cluster_id: int | None
    claim: str
    quote: str
    speaker: str | None
    show: str
    episode: str
    episode_id: int
    episode_url: str | None
    audio_url: str | None
    start: float
    published: str | None  # YYYY-MM-DD
    listen_url: str | None  # the audio (or episode page) at the insight's second
    story_url: str | None  # the story page (with a base URL)
    tags: tuple[str, ...] = ()
    highlighted_at: str = ""  # when the reader got it (ISO 8601)
    speakers: tuple[str, ...] = field(default=(), compare=False)  # everyone quoted in the episode

    def content_hash(self) -> str:
        """Of what a service shows: a changed text is sent again as an update."""
        shown = {k: v for k, v in asdict(self).items() if k not in ("highlighted_at", "speakers")}
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Outgoing:
    item: ExportItem
    remote_id: str | None  # sent before: update this
    # A claim taken over from a process that died mid-send: it may have reached the service.
    recovering: bool = False


@dataclass(frozen=True)
class Sent:
    insight_id: int
    remote_id: str | None
    refused: str | None = None  # the service refused this item for good (why)


class ExportError(Exception):
    """A send that did not go. `revoked`: the token was refused (nothing more is tried with
    it); `permanent`: the service refused the item itself; `retry_after`: seconds the
    service asked us to wait; else transient (tried again next run, with backoff)."""

    def __init__(
        self,
        reason: str,
        *,
        revoked: bool = False,
        permanent: bool = False,
        retry_after: float | None = None,
        insight_id: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.revoked = revoked
        self.permanent = permanent
        self.retry_after = retry_after
        self.insight_id = insight_id


class Exporter(Protocol):
    kind: str
    batch: int

    def send(self, jobs: list[Outgoing]) -> list[Sent]: ...

    def close(self) -> None: ...


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds (RFC 9110: a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


class Requester:
    """Sends a service's requests one at a time, at most `per_second`, with the retry policy
    above. `sleep` is injectable for tests; `secret` is cut from every error reason."""

    def __init__(
        self,
        service: str,
        client: httpx2.Client,
        secret: str,
        per_second: float = 0.0,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service, self.client, self.secret = service, client, secret
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.backoff, self.sleep = backoff, sleep
        self.last = 0.0
        self.requests = 0

    def __call__(self, method: str, path: str, body: Any = None) -> httpx2.Response:
        failure = ""
        for attempt in range(TRIES):
            last = attempt + 1 == TRIES
            self._pace()
            try:
                response = self.client.request(method, path, json=body)
            except httpx2.HTTPError as exc:  # refused, reset, timed out
                failure = f"{self.service} unreachable: {type(exc).__name__}: {exc}"
                wait = self.backoff * 2**attempt
            else:
                if response.status_code < 400:
                    return response
                failure, wait = self._refused(response, attempt, last)
            if not last:
                self.sleep(wait)
        raise ExportError(self._scrub(failure) + f" ({TRIES} tries)")

    def _refused(self, response: httpx2.Response, attempt: int, last: bool) -> tuple[str, float]:
        """Why, and how long to wait before the next try (a 429's Retry-After, a 5xx's
        backoff); raises for what another try now cannot mend."""
        status, detail = response.status_code, self._scrub(_detail(response))
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After")) or self.backoff * 2**attempt
            if wait > MAX_WAIT_SECONDS or last:
                raise ExportError(f"{self.service} is rate limiting (429): {detail}", retry_after=wait)
            return f"{self.service} is rate limiting (429)", wait
        if status >= 500 or status == 409:  # 409: Notion's "try again" conflict
            return f"{self.service} answered {status}: {detail}", self.backoff * 2**attempt
        if status in (401, 403):
            raise ExportError(f"{self.service} refused the token ({status}): {detail}", revoked=True)
        raise ExportError(f"{self.service} refused the request ({status}): {detail}", permanent=True)

    def _pace(self) -> None:
        if self.interval:
            wait = self.last + self.interval - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self.last = time.monotonic()
        self.requests += 1

    def _scrub(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text


def _detail(response: httpx2.Response) -> str:
    """The service's own words for an error, short."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(data, dict):
        for key in ("message", "detail", "error"):
            if data.get(key):
                return str(data[key])[:200]
    return json.dumps(data)[:200]


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
