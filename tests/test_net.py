"""The guarded HTTP client: address policy, redirects, caps and deadlines."""

from __future__ import annotations

import gzip

import pytest

from podsift.net import AddressPolicy, BlockedAddressError, FetchError, HttpClient
from podsift.net.guard import GuardedResolver


def stub_resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    return resolve


REFUSED = [
    ["10.1.2.3"],
    ["172.16.0.9"],
    ["192.168.1.1"],
    ["127.0.0.1"],
    ["169.254.169.254"],  # cloud metadata
    ["100.64.0.7"],  # carrier-grade NAT
    ["0.0.0.0"],
    ["fd00::1"],  # unique local
    ["fe80::1"],  # link-local
    ["::1"],
    ["::ffff:10.0.0.1"],  # IPv4-mapped private
    ["fd00:ec2::254"],  # AWS IPv6 metadata
    ["224.0.0.1"],  # multicast
    ["93.184.216.34", "10.0.0.1"],  # one private answer among public ones
]


@pytest.mark.parametrize("answers", REFUSED, ids=lambda a: ",".join(a))
async def test_guard_refuses_non_public_addresses(answers: list[str]) -> None:
    resolver = GuardedResolver(AddressPolicy(), stub_resolver({"feeds.example.com": answers}))
    with pytest.raises(BlockedAddressError, match="not a public address"):
        await resolver.resolve("feeds.example.com", 443)


async def test_guard_hands_aiohttp_the_addresses_it_checked() -> None:
    resolver = GuardedResolver(
        AddressPolicy(), stub_resolver({"feeds.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    )
    answers = await resolver.resolve("feeds.example.com", 443)
    assert [(a["host"], a["port"]) for a in answers] == [("93.184.216.34", 443), ("2606:2800:220:1::1", 443)]


async def test_ip_literals_are_refused_without_resolving_or_connecting() -> None:
    async def no_dns(host: str, port: int) -> list[str]:
        pytest.fail("an IP literal must not be resolved")

    other = LoopbackOther()
    async with HttpClient(resolver=no_dns) as client:
        for url in (
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/feed",
            "http://[fd00::1]/feed",
            f"http://127.0.0.1:{other.port}/feed",
        ):
            with pytest.raises(FetchError, match="not a public address"):
                await client.fetch(url)
    assert other.connections == 0
    other.close()


def test_policy_decisions() -> None:
    policy = AddressPolicy(("127.0.0.1:8080", "intranet.local", "[::1]:9000"))
    assert policy.check("example.com", 443, ["93.184.216.34"]) == ["93.184.216.34"]
    assert policy.check("example.com", 443, ["2606:2800:220:1::1"]) == ["2606:2800:220:1::1"]
    assert policy.check("127.0.0.1", 8080, ["127.0.0.1"]) == ["127.0.0.1"]
    assert policy.check("intranet.local", 1234, ["10.0.0.5"]) == ["10.0.0.5"]
    assert policy.check("::1", 9000, ["::1"]) == ["::1"]
    for host, port, ips in [("127.0.0.1", 8081, ["127.0.0.1"]), ("::1", 9001, ["::1"]), ("x", 1, [])]:
        with pytest.raises(BlockedAddressError):
            policy.check(host, port, ips)


async def test_client_refuses_private_dns_answer_and_never_connects() -> None:
    other = LoopbackOther()
    answers = {"internal.example.com": ["10.0.0.8"], "rebound.example.com": ["127.0.0.1"]}
    async with HttpClient(resolver=stub_resolver(answers)) as client:
        with pytest.raises(FetchError, match=r"10\.0\.0\.8 is not a public address"):
            await client.fetch("http://internal.example.com/feed.xml")
        with pytest.raises(FetchError, match=r"127\.0\.0\.1 is not a public address"):
            await client.fetch(f"http://rebound.example.com:{other.port}/feed.xml")
    assert other.connections == 0
    other.close()


async def test_loopback_needs_allow_list(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/feed", "<rss/>")
    async with HttpClient() as client:
        with pytest.raises(FetchError, match="not a public address"):
            await client.fetch(http_server.url("/feed"))
    assert http_server.hits["/feed"] == 0
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        result = await client.fetch(http_server.url("/feed"))
    assert result.status == 200 and result.body == b"<rss/>"


async def test_redirect_to_other_loopback_port_is_refused(http_server) -> None:  # type: ignore[no-untyped-def]
    other = LoopbackOther()
    http_server.redirect("/feed", f"http://127.0.0.1:{other.port}/feed")
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        with pytest.raises(FetchError, match=f"127.0.0.1:{other.port}"):
            await client.fetch(http_server.url("/feed"))
    assert other.connections == 0
    other.close()


class LoopbackOther:
    """A listening socket that counts connections (none may arrive)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


async def test_redirects_are_followed_and_recorded(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.redirect("/a", "/b", 301)
    http_server.redirect("/b", "/c", 308)
    http_server.add("/c", "ok")
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        result = await client.fetch(http_server.url("/a"))
    assert result.body == b"ok"
    assert [s for s, _ in result.redirects] == [301, 308]
    assert result.permanent_target == http_server.url("/c")


async def test_temporary_redirect_is_not_a_move(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.redirect("/a", "/b", 302)
    http_server.add("/b", "ok")
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        result = await client.fetch(http_server.url("/a"))
    assert result.permanent_target is None


async def test_redirect_loop_and_too_many_redirects(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.redirect("/loop1", "/loop2")
    http_server.redirect("/loop2", "/loop1")
    for i in range(7):
        http_server.redirect(f"/r{i}", f"/r{i + 1}")
    http_server.add("/r7", "end")
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        with pytest.raises(FetchError, match="redirect loop"):
            await client.fetch(http_server.url("/loop1"))
        with pytest.raises(FetchError, match="more than 5 redirects"):
            await client.fetch(http_server.url("/r0"))


async def test_non_http_redirect_is_refused(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.redirect("/a", "file:///etc/passwd")
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        with pytest.raises(FetchError, match="'file'"):
            await client.fetch(http_server.url("/a"))


async def test_body_cap_declared_and_streamed(http_server) -> None:  # type: ignore[no-untyped-def]
    mib = b"x" * (1024 * 1024)
    http_server.stream("/declared", mib, 50, length=50 * len(mib))
    http_server.stream("/undeclared", mib, 50)
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        with pytest.raises(FetchError, match="over the 20971520-byte cap"):
            await client.fetch(http_server.url("/declared"), max_bytes=20 * 1024 * 1024)
        with pytest.raises(FetchError, match="over the 20971520-byte cap"):
            await client.fetch(http_server.url("/undeclared"), max_bytes=20 * 1024 * 1024)


async def test_gzip_bomb_is_capped_on_decoded_size(http_server) -> None:  # type: ignore[no-untyped-def]
    bomb = gzip.compress(b"\0" * (30 * 1024 * 1024))  # ~30 KB on the wire
    http_server.add("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        with pytest.raises(FetchError, match="cap"):
            await client.fetch(http_server.url("/bomb"), max_bytes=1024 * 1024)


async def test_slow_body_hits_the_deadline(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.stream("/slow", b"<rss>", 100, delay=0.1)
    async with HttpClient(allow_hosts=(http_server.host,), deadline=0.5) as client:
        with pytest.raises(FetchError, match="deadline"):
            await client.fetch(http_server.url("/slow"))


async def test_http_errors_carry_status_and_retry_after(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/gone", "", status=410)
    http_server.add("/busy", "", status=429, headers={"Retry-After": "120"})
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        with pytest.raises(FetchError) as gone:
            await client.fetch(http_server.url("/gone"))
        with pytest.raises(FetchError) as busy:
            await client.fetch(http_server.url("/busy"))
    assert gone.value.status == 410
    assert busy.value.status == 429 and busy.value.retry_after == 120.0


async def test_conditional_get_gets_304(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/feed", "<rss/>", etag='"v1"')
    async with HttpClient(allow_hosts=(http_server.host,)) as client:
        first = await client.fetch(http_server.url("/feed"))
        second = await client.fetch(
            http_server.url("/feed"), headers={"If-None-Match": first.headers["etag"]}
        )
    assert first.status == 200 and second.not_modified and second.body == b""


async def test_connections_to_one_host_are_capped() -> None:
    """A host that serves many feeds sees at most `max_per_host` connections at once."""
    import asyncio

    open_now = most = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            while await reader.readline() not in (b"\r\n", b""):
                pass
            await asyncio.sleep(0.05)  # slow enough for the requests to pile up
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        finally:
            open_now -= 1
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, HttpClient(allow_hosts=(f"127.0.0.1:{port}",), max_per_host=3) as client:
        results = await asyncio.gather(*(client.fetch(f"http://127.0.0.1:{port}/f{i}") for i in range(12)))
    assert [r.body for r in results] == [b"ok"] * 12
    assert most == 3


async def test_error_answers_keep_the_connection() -> None:
    """404s (a first run's missing transcripts) reuse one kept-alive connection: the client
    reads their small bodies (aiohttp closes a connection whose body was left unread)."""
    import asyncio

    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while await reader.readline():
                while await reader.readline() not in (b"\r\n", b""):
                    pass
                # The error page follows its headers a moment later, as from a busy origin.
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
                writer.write(b"not here.")
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, HttpClient(allow_hosts=(f"127.0.0.1:{port}",)) as client:
        for i in range(10):
            with pytest.raises(FetchError) as missing:
                await client.fetch(f"http://127.0.0.1:{port}/t{i}.vtt")
            assert missing.value.status == 404 and missing.value.permanent
    assert connections == 1
