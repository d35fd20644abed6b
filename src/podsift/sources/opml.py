"""OPML import and export (defusedxml: subscription files come from anywhere)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException


class OPMLError(ValueError):
    pass


@dataclass(frozen=True)
class OPMLEntry:
    url: str
    title: str | None = None


def parse_opml(data: bytes | str) -> list[OPMLEntry]:
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise OPMLError(f"invalid OPML: {type(exc).__name__} (entities/DTDs are refused)") from exc
    except ET.ParseError as exc:
        raise OPMLError(f"invalid OPML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise OPMLError(f"invalid OPML: root element is <{root.tag}>, not <opml>")
    entries: dict[str, OPMLEntry] = {}
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in entries:
            entries[url] = OPMLEntry(url, outline.get("title") or outline.get("text"))
    return list(entries.values())


def build_opml(entries: list[OPMLEntry], title: str = "podsift subscriptions") -> str:
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = ET.SubElement(opml, "body")
    for entry in entries:
        name = entry.title or entry.url
        ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=entry.url)
    ET.indent(opml)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"
