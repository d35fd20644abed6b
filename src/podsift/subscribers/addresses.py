"""Email addresses as podsift keeps them: one bare, valid, lower-cased mailbox per subscriber."""

from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr


class AddressError(ValueError):
    pass


def parse_address(value: str) -> str:
    """A bare, valid mailbox address; raises AddressError (no CR/LF can get through)."""
    if any(c in value for c in "\r\n\0"):
        raise AddressError("address contains line breaks")
    name, addr = parseaddr(value.strip())
    if not addr or name or addr.count("@") != 1 or value.strip() != addr:
        raise AddressError(f"not a plain email address: {value!r}")
    local, domain = addr.rsplit("@", 1)
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise AddressError(f"not a plain email address: {value!r}")
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise AddressError(f"not a valid email address: {value!r} ({exc})") from exc
    # Lower-cased whole: mailbox local parts are case-insensitive in practice, and
    # "Ada@x.org" and "ada@x.org" must be one subscriber.
    return addr.lower()
