"""The one HTTP client every fetch goes through.

Redirects are followed by hand (at most `max_redirects`, each hop re-checked by the address
guard at connect time), bodies are streamed with a cap on decoded bytes, and each fetch has
a wall-clock deadline on top of the per-operation timeouts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Self

import httpx2

from podsift.net.guard import AddressPolicy, BlockedAddressError, GuardedNetworkBackend, Resolver
from podsift.net.guard import system_resolver as _system_resolver

REDIRECT_CODES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECT_CODES = {301, 308}


class FetchError(Exception):
    """A fetch failed; `reason` is short and safe to store and show."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


@dataclass
class FetchResult:
    url: str
    status: int
    headers: httpx2.Headers
    body: bytes = b""
    # (status, location) of each redirect hop, in order.
    redirects: list[tuple[int, str]] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def permanent_target(self) -> str | None:
        """The final URL when every hop was a permanent redirect, else None."""
        if self.redirects and all(s in PERMANENT_REDIRECT_CODES for s, _ in self.redirects):
            return self.url
        return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


class HttpClient:
    def __init__(
        self,
        *,
        allow_hosts: tuple[str, ...] = (),
        user_agent: str = "podsift",
        timeout: float = 15.0,
        deadline: float = 60.0,
        max_redirects: int = 5,
        max_connections: int = 32,
        resolver: Resolver = _system_resolver,
        network_backend: object | None = None,
    ) -> None:
        self.policy = AddressPolicy(tuple(allow_hosts))
        self.backend = GuardedNetworkBackend(self.policy, resolver, network_backend)  # type: ignore[arg-type]
        transport = httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            trust_env=False,
        )
        # httpx builds its own pool; point it at the guarded backend so no connection
        # (redirect hops included) bypasses the address check.
        transport._pool._network_backend = self.backend
        self.deadline = deadline
        self.max_redirects = max_redirects
        self._client = httpx2.AsyncClient(
            transport=transport,
            timeout=httpx2.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int = 20 * 1024 * 1024,
        deadline: float | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects; raise FetchError on any failure but 304."""
        try:
            async with asyncio.timeout(deadline or self.deadline):
                return await self._fetch(url, headers or {}, max_bytes)
        except TimeoutError:
            raise FetchError(f"gave up after {deadline or self.deadline:g} s (deadline)") from None
        except BlockedAddressError as exc:
            raise FetchError(str(exc)) from None
        except httpx2.TimeoutException as exc:
            raise FetchError(f"timed out ({type(exc).__name__})") from None
        except httpx2.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        except OSError as exc:  # anything the transport did not wrap
            raise FetchError(f"network error: {exc}") from None

    async def _fetch(self, url: str, headers: dict[str, str], max_bytes: int) -> FetchResult:
        redirects: list[tuple[int, str]] = []
        seen = {url}
        while True:
            target = httpx2.URL(url)
            if target.scheme not in ("http", "https"):
                raise FetchError(f"refused to fetch {target.scheme!r} URL")
            async with self._client.stream("GET", target, headers=headers) as response:
                if response.status_code in REDIRECT_CODES or response.status_code == 304:
                    # Drain the (small) body so the connection goes back to the pool.
                    await _read_capped(response, 64 * 1024)
                if response.status_code in REDIRECT_CODES and "location" in response.headers:
                    url = str(target.join(response.headers["location"]))
                    redirects.append((response.status_code, url))
                    if len(redirects) > self.max_redirects:
                        raise FetchError(f"more than {self.max_redirects} redirects")
                    if url in seen:
                        raise FetchError(f"redirect loop at {url}")
                    seen.add(url)
                    continue
                if response.status_code == 304:
                    return FetchResult(url, 304, response.headers, b"", redirects)
                if response.status_code >= 400:
                    raise FetchError(
                        f"HTTP {response.status_code}",
                        status=response.status_code,
                        retry_after=_retry_after(response.headers.get("retry-after")),
                    )
                declared = response.headers.get("content-length", "")
                if (
                    declared.isdigit()
                    and int(declared) > max_bytes
                    and not response.headers.get("content-encoding")
                ):
                    raise FetchError(f"body of {int(declared)} bytes is over the {max_bytes}-byte cap")
                body = await _read_capped(response, max_bytes)
                return FetchResult(url, response.status_code, response.headers, body, redirects)


async def _read_capped(response: httpx2.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():  # decoded: caps gzip bombs too
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"body is over the {max_bytes}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)
