"""Find podcasts: the iTunes Search API (no key) and the Podcast Index API (key + secret).

Both go through podsift's guarded HTTP client (deadline, size cap, no private addresses),
so a discovery result can never make the server fetch from inside the network. Base URLs
are settings, so tests point them at a loopback server speaking the same JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from podsift.net.client import FetchError

if TYPE_CHECKING:
    from podsift.core import App

MAX_RESULTS = 25


class DiscoveryError(Exception):
    pass


@dataclass(frozen=True)
class ShowResult:
    title: str
    feed_url: str
    author: str | None
    image: str | None
    source: str  # itunes | podcastindex


@dataclass(frozen=True)
class EpisodeResult:
    title: str
    show: str | None
    feed_url: str | None
    audio_url: str | None
    published: int | None  # unix time
    link: str | None
    description: str = ""


def podcastindex_headers(key: str, secret: str, user_agent: str, now: float | None = None) -> dict[str, str]:
    """The API's auth: X-Auth-Date (unix seconds), X-Auth-Key, Authorization = sha1(key+secret+date)."""
    date = str(int(now if now is not None else time.time()))
    return {
        "User-Agent": user_agent,
        "X-Auth-Date": date,
        "X-Auth-Key": key,
        "Authorization": hashlib.sha1(f"{key}{secret}{date}".encode()).hexdigest(),
    }


async def _get_json(app: App, url: str, headers: dict[str, str] | None = None) -> Any:
    async with app.http_client() as client:
        try:
            result = await client.fetch(url, headers=headers or {}, max_bytes=5 * 1024 * 1024)
        except FetchError as exc:
            raise DiscoveryError(f"{url.split('?')[0]}: {exc}") from exc
    if result.status != 200:
        raise DiscoveryError(f"{url.split('?')[0]} answered {result.status}")
    try:
        return json.loads(result.body)
    except ValueError as exc:
        raise DiscoveryError(f"{url.split('?')[0]} did not answer JSON") from exc


def _web_url(value: object) -> str | None:
    return value if isinstance(value, str) and value.lower().startswith(("https://", "http://")) else None


async def search_itunes(app: App, term: str) -> list[ShowResult]:
    query = urlencode({"term": term, "media": "podcast", "entity": "podcast", "limit": MAX_RESULTS})
    data = await _get_json(app, f"{app.settings.itunes_base_url.rstrip('/')}/search?{query}")
    out = []
    for item in data.get("results", []) if isinstance(data, dict) else []:
        feed = _web_url(item.get("feedUrl"))
        if feed:
            out.append(
                ShowResult(
                    str(item.get("collectionName") or item.get("trackName") or feed),
                    feed,
                    item.get("artistName"),
                    _web_url(item.get("artworkUrl600") or item.get("artworkUrl100")),
                    "itunes",
                )
            )
    return out


async def search_itunes_episodes(app: App, term: str) -> list[EpisodeResult]:
    """Episodes whose metadata matches the term (the Search API's podcastEpisode entity)."""
    query = urlencode({"term": term, "media": "podcast", "entity": "podcastEpisode", "limit": 50})
    data = await _get_json(app, f"{app.settings.itunes_base_url.rstrip('/')}/search?{query}")
    out = []
    for item in data.get("results", []) if isinstance(data, dict) else []:
        if not isinstance(item, dict):
            continue
        out.append(
            EpisodeResult(
                str(item.get("trackName") or ""),
                item.get("collectionName"),
                _web_url(item.get("feedUrl")),
                _web_url(item.get("episodeUrl")),
                _unix(item.get("releaseDate")),
                _web_url(item.get("trackViewUrl")),
                str(item.get("description") or item.get("shortDescription") or ""),
            )
        )
    return out


def _unix(value: object) -> int | None:
    """An ISO 8601 date (iTunes' releaseDate) as unix seconds."""
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _podcastindex_ready(app: App) -> tuple[str, str]:
    key, secret = app.settings.podcastindex_key, app.settings.podcastindex_secret
    if not key or not secret:
        raise DiscoveryError(
            "set PODSIFT_PODCASTINDEX_KEY and PODSIFT_PODCASTINDEX_SECRET (free at podcastindex.org)"
        )
    return key, secret


async def search_podcastindex(app: App, term: str) -> list[ShowResult]:
    key, secret = _podcastindex_ready(app)
    query = urlencode({"q": term, "max": MAX_RESULTS})
    headers = podcastindex_headers(key, secret, app.settings.user_agent)
    data = await _get_json(
        app, f"{app.settings.podcastindex_base_url.rstrip('/')}/search/byterm?{query}", headers
    )
    out = []
    for feed in data.get("feeds", []) if isinstance(data, dict) else []:
        url = _web_url(feed.get("url"))
        if url:
            out.append(
                ShowResult(
                    str(feed.get("title") or url),
                    url,
                    feed.get("author"),
                    _web_url(feed.get("artwork") or feed.get("image")),
                    "podcastindex",
                )
            )
    return out


async def recent_episodes_podcastindex(app: App, topic: str) -> list[EpisodeResult]:
    """Recent episodes whose title or description mentions the topic (the API's
    /recent/episodes, filtered here: it has no topic parameter)."""
    key, secret = _podcastindex_ready(app)
    headers = podcastindex_headers(key, secret, app.settings.user_agent)
    data = await _get_json(
        app, f"{app.settings.podcastindex_base_url.rstrip('/')}/recent/episodes?max=100", headers
    )
    words = [w for w in topic.lower().split() if w]
    out = []
    for item in data.get("items", []) if isinstance(data, dict) else []:
        text = f"{item.get('title', '')} {item.get('description', '')}".lower()
        if all(w in text for w in words):
            out.append(
                EpisodeResult(
                    str(item.get("title") or ""),
                    item.get("feedTitle"),
                    _web_url(item.get("feedUrl")),
                    _web_url(item.get("enclosureUrl")),
                    item.get("datePublished"),
                    _web_url(item.get("link")),
                    str(item.get("description") or ""),
                )
            )
    return out[:MAX_RESULTS]


async def ask_all(calls: Sequence[Awaitable[Any]]) -> tuple[list[Any], list[str]]:
    """Every directory call at once: (each one's answer, or None where it failed; what the
    failures said). A directory that fails does not stop the others; a bug does."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, DiscoveryError):
            raise r
    errors = [str(r) for r in results if isinstance(r, DiscoveryError)]
    return [None if isinstance(r, BaseException) else r for r in results], errors


def discover(app: App, term: str) -> tuple[list[ShowResult], list[EpisodeResult], list[str]]:
    """Shows from both directories (deduplicated by feed URL), episodes on the topic, and
    the errors of any source that failed (the others still answer)."""

    async def gather() -> tuple[list[ShowResult], list[EpisodeResult], list[str]]:
        calls = [
            search_itunes(app, term),
            search_podcastindex(app, term),
            recent_episodes_podcastindex(app, term),
        ]
        results, errors = await ask_all(calls)
        shows: dict[str, ShowResult] = {}
        for batch in results[:2]:
            for show in batch if isinstance(batch, list) else []:
                shows.setdefault(show.feed_url, show)
        episodes = results[2] if isinstance(results[2], list) else []
        return list(shows.values()), episodes, errors

    return asyncio.run(gather())
