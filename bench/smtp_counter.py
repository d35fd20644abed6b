"""A discarding SMTP server that counts messages per recipient: python bench/smtp_counter.py PORT FILE

Every half second it writes {recipient: messages} as JSON to FILE (atomically)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections import Counter
from typing import Any

from aiosmtpd.controller import Controller


class Counting:
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()  # the server runs in a thread of its own

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.seen.update(envelope.rcpt_tos)
        return "250 OK"

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.seen)


async def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    while True:
        await asyncio.sleep(0.5)
        with open(path + ".tmp", "w") as fh:
            json.dump(handler.snapshot(), fh)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    asyncio.run(main())
