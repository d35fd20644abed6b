"""The baseline: fetch and parse each feed one after another with urllib + feedparser."""

from __future__ import annotations

import sys
import urllib.request

import feedparser


def main() -> None:
    base, count = sys.argv[1], int(sys.argv[2])
    entries = 0
    for i in range(count):
        with urllib.request.urlopen(f"{base}/feed/{i}.xml", timeout=30) as response:
            parsed = feedparser.parse(response.read())
        entries += len(parsed.entries)
    print(f"parsed {entries} entries")


if __name__ == "__main__":
    main()
