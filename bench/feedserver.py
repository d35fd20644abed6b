"""Loopback server for the feed-scan benchmark: N generated feeds with ETags.

GET /feed/<i>.xml serves feed i (304 when If-None-Match matches); GET /_bump?every=2 adds
one new episode to every second feed. Episode media (audio, transcripts) point back at
this server and answer 404, but the transcripts of the first K feeds (a fixture's VTT).
Run: python bench/feedserver.py PORT N [K]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.startswith("/_bump"):
                every = int(self.path.rsplit("=", 1)[1])
                for i in range(0, count, every):
                    extra[i] += 1
                self._send(200, b"ok", {})
                return
            if not self.path.startswith("/feed/"):  # media: gone, so no run reaches past loopback
                parts = self.path.split("/")  # /media/<feed>/<number>.vtt
                if self.path.endswith(".vtt") and int(parts[2]) < with_transcripts:
                    self._send(200, transcript, {"Content-Type": "text/vtt"})
                else:
                    self._send(404, b"not here", {})
                return
            i = int(self.path.rsplit("/", 1)[1].split(".")[0])
            etag = f'"{i}-{extra[i]}"'
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", {"ETag": etag})
                return
            body = cache.get((i, extra[i])) or cache.setdefault((i, extra[i]), render(i, extra[i], media))
            self._send(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
