"""Loopback server for the feed-scan benchmark: N generated feeds with ETags.

GET /feed/<i>.xml serves feed i (304 when If-None-Match matches); GET /_bump?every=2 adds
one new episode to every second feed. Episode media (audio, transcripts) point back at
this server and answer 404, but the transcripts of the first K feeds (a fixture's VTT).
Run: python bench/feedserver.py PORT N [K]

It serves HTTP/1.1 with keep-alive from one asyncio loop and writes each response in one
send, as a production server would. The first version (http.server, a thread per
connection) measured itself rather than its clients: a kept-alive 200 waited 40 ms for the
client's delayed ACK (Nagle), and 32 connections' threads queued on the GIL (1,000 requests
took 1.5-1.9 s at 32 connections against 0.4 s at 2).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

BASE = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
ITEMS = 20
DESCRIPTION = (
    "In this episode we talk about the state of open models, grid batteries, and why the "
    "interconnection queue matters more than subsidies. Links and show notes below. " * 2
)


def render(i: int, extra: int, media: str) -> bytes:
    items = []
    for n in range(ITEMS + extra):
        number = ITEMS + extra - n
        published = BASE - timedelta(days=n) + timedelta(hours=i % 24)
        items.append(
            f"<item><title>Show {i} episode {number}</title>"
            f'<guid isPermaLink="false">show-{i}-ep-{number}</guid>'
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<link>https://show{i}.example.org/ep/{number}</link>"
            f"<description>{DESCRIPTION}</description>"
            f'<enclosure url="{media}/{i}/{number}.mp3" length="34567890" type="audio/mpeg"/>'
            f"<itunes:duration>00:42:17</itunes:duration>"
            f'<podcast:transcript url="{media}/{i}/{number}.vtt" type="text/vtt"/>'
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
        f"<title>Show {i}</title><link>https://show{i}.example.org/</link>"
        f"<description>Benchmark show {i}</description>{''.join(items)}</channel></rss>"
    ).encode()


REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found"}


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    media = f"http://127.0.0.1:{port}/media"
    # The first K feeds publish transcripts (a real one from the test fixtures).
    with_transcripts = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    transcript = (
        Path(__file__).parents[1] / "tests" / "fixtures" / "transcripts" / "policy-signals-12.vtt"
    ).read_bytes()
    extra = [0] * count
    cache: dict[tuple[int, int], bytes] = {}

    def respond(path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        if path.startswith("/_bump"):
            every = int(path.rsplit("=", 1)[1])
            for i in range(0, count, every):
                extra[i] += 1
            return 200, b"ok", {}
        if not path.startswith("/feed/"):  # media: gone, so no run reaches past loopback
            parts = path.split("/")  # /media/<feed>/<number>.vtt
            if path.endswith(".vtt") and int(parts[2]) < with_transcripts:
                return 200, transcript, {"Content-Type": "text/vtt"}
            return 404, b"not here", {}
        i = int(path.rsplit("/", 1)[1].split(".")[0])
        etag = f'"{i}-{extra[i]}"'
        if headers.get("if-none-match") == etag:
            return 304, b"", {"ETag": etag}
        body = cache.get((i, extra[i])) or cache.setdefault((i, extra[i]), render(i, extra[i], media))
        return 200, body, {"ETag": etag, "Content-Type": "application/rss+xml"}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await reader.readline():
                _, path, version = request.decode("latin-1").split()
                headers = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                status, body, extra_headers = respond(path, headers)
                close = version == "HTTP/1.0" or headers.get("connection", "").lower() == "close"
                lines = [f"HTTP/1.1 {status} {REASONS[status]}", f"Content-Length: {len(body)}"]
                lines += [f"{k}: {v}" for k, v in extra_headers.items()]
                lines.append("Connection: close" if close else "Connection: keep-alive")
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
                if close:
                    break
        except (ConnectionError, ValueError):
            pass  # a client that hung up or spoke nonsense: drop the connection
        finally:
            writer.close()

    async def listen() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(listen())


if __name__ == "__main__":
    main()
