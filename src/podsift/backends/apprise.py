"""Chat and push channels through Apprise: the digest as Markdown to any Apprise URL.

Web-hook style URLs (json://, xml://, form:// and their TLS forms) name a host we do not know,
so the address guard checks it first, as for feeds. Service URLs (slack://, tgram://, ntfy://,
discord://...) go to those services' public hosts. Apprise connects by itself after the
check, so a DNS answer that changes between check and connect is not caught (the feed
fetcher, which connects to the address it checked, does not have that gap).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from podsift.backends.mail import SendError
from podsift.net.guard import AddressPolicy, BlockedAddressError, Resolver

WEBHOOK_SCHEMES = {"json": 80, "jsons": 443, "xml": 80, "xmls": 443, "form": 80, "forms": 443}


def check_webhook(url: str, allow_hosts: tuple[str, ...], resolver: Resolver) -> None:
    parts = urlsplit(url)
    default_port = WEBHOOK_SCHEMES.get(parts.scheme.lower())
    if default_port is None:
        return
    host, port = parts.hostname or "", parts.port or default_port
    try:
        addresses = asyncio.run(_resolve(resolver, host, port))
        AddressPolicy(allow_hosts).check(host, port, addresses)
    except BlockedAddressError as exc:
        raise SendError(str(exc), permanent=True) from exc
    except OSError as exc:
        raise SendError(f"cannot resolve {host}: {exc}") from exc


async def _resolve(resolver: Resolver, host: str, port: int) -> list[str]:
    return await resolver(host, port)


def send_apprise(
    url: str, title: str, markdown: str, allow_hosts: tuple[str, ...], resolver: Resolver
) -> str:
    import apprise

    check_webhook(url, allow_hosts, resolver)
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise SendError(f"Apprise does not understand this {url.split('://')[0]}:// URL", permanent=True)
    ok = notifier.notify(title=title, body=markdown, body_format=apprise.NotifyFormat.MARKDOWN)
    if not ok:
        raise SendError(f"{url.split('://')[0]}:// notification was not accepted", connection=True)
    return f"{url.split('://')[0]}://"


def understands(url: str) -> bool:
    """Whether Apprise knows this URL's service (checked when a subscriber adds a channel)."""
    import apprise

    return apprise.Apprise.instantiate(url) is not None
