"""Who holds a claim on a row (a delivery, an export): host:pid, and whether that process
is gone (a claim of a dead process of this host is taken over at once, any other only
when stale)."""

from __future__ import annotations

import os
import socket

CLAIMER = f"{socket.gethostname()}:{os.getpid()}"


def claimer_is_gone(claimed_by: str | None) -> bool:
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
