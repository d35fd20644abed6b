"""Which addresses podsift may connect to.

Every outgoing fetch (feeds, transcripts, audio) connects through `GuardedResolver`, which
resolves the host itself, refuses any address that is not globally routable
(loopback, private, link-local, cloud metadata, CGNAT, multicast, reserved) unless the
host is in `PODSIFT_ALLOW_HOSTS`, and then connects to the very address it checked, so a
DNS answer that changes between check and connect (rebinding) cannot slip through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddressError(Exception):
    """The destination is not a public address and is not on the allow-list."""


async def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _as_ip(value: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(value.strip("[]").split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    # is_global is False for private, loopback, link-local (incl. 169.254.169.254),
    # unique-local fd00::/8, CGNAT 100.64/10, documentation and reserved ranges.
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    allow_hosts: tuple[str, ...] = ()

    def host_allowed(self, host: str, port: int) -> bool:
        host = host.strip("[]").lower()
        for entry in self.allow_hosts:
            entry = entry.strip().lower()
            if entry.startswith("["):  # [::1]:8080
                name, _, rest = entry[1:].partition("]")
                entry_port = rest.lstrip(":")
            elif entry.count(":") == 1:
                name, _, entry_port = entry.partition(":")
            else:
                name, entry_port = entry, ""
            if name == host and (not entry_port or entry_port == str(port)):
                return True
        return False

    def check(self, host: str, port: int, addresses: Iterable[str]) -> list[str]:
        """Return the addresses that may be used, or raise BlockedAddressError."""
        addresses = list(addresses)
        if not addresses:
            raise BlockedAddressError(f"{host} did not resolve to any address")
        if self.host_allowed(host, port):
            return addresses
        refused = [a for a in addresses if (ip := _as_ip(a)) is None or not is_public(ip)]
        if refused:
            # One non-public answer refuses the host: mixing public and private answers
            # is a classic way to reach an internal service.
            raise BlockedAddressError(
                f"refused to connect to {host}:{port}: {', '.join(refused)} is not a public "
                "address (add the host to PODSIFT_ALLOW_HOSTS to allow it)"
            )
        return addresses


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for every fetch: resolves with `resolver` and applies `policy`.

    aiohttp connects to exactly the addresses this returns, so the address checked is the
    address used. It never sees IP literals (aiohttp skips the resolver for them); the
    client checks those itself with `check_literal` before each request.
    """

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.policy.check(host, port, await self.resolver(host, port))
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    def check_literal(self, host: str, port: int) -> None:
        """Apply the policy to an IP-literal host (a name is checked when resolved)."""
        literal = _as_ip(host)
        if literal is not None:
            self.policy.check(host, port, [str(literal)])

    async def close(self) -> None:
        pass
