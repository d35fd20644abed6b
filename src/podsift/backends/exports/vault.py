"""A Markdown vault (Obsidian, or any folder of notes): a file per episode,
`Podsift/{Show}/{date} {Episode}.md`, YAML front matter for Obsidian's views, a block per
insight (quote, speaker, listen link, story link, tags, a `^podsift-<id>` block id).

podsift rewrites a file only while it is what podsift last wrote (its hash, kept in the
database). A file the reader edited is theirs: new insights are appended at its end, and
nothing in it is changed. Files are replaced atomically, and the hash about to be written
is recorded first, so a crash mid-write is never mistaken for the reader's edit.

Templates (`episode.md.j2`, `insight.md.j2`) can be overridden by files of the same names
in PODSIFT_EXPORT_TEMPLATES.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from podsift.backends.exports.base import ExportItem, Outgoing, Sent
from podsift.net.links import format_timestamp

TEMPLATES = Path(__file__).parent / "templates"
_UNSAFE = re.compile(r'[\\/:*?"<>|#^\[\]\x00-\x1f]+')


@dataclass
class FileRecord:
    written_hash: str | None
    writing_hash: str | None
    edited: bool


class FileRecords(Protocol):
    """Where the hashes of what podsift wrote are kept (the database's `export_files`)."""

    def get(self, path: str) -> FileRecord | None: ...

    def writing(self, path: str, digest: str) -> None: ...

    def written(self, path: str, digest: str, edited: bool) -> None: ...


def safe_name(text: str, limit: int = 80) -> str:
    name = " ".join(_UNSAFE.sub(" ", text).split()).strip(". ")
    return name[:limit].rstrip(". ") or "Untitled"


def episode_path(item: ExportItem) -> str:
    """Relative, always inside the vault (no separators or dots can come from a title)."""
    return f"Podsift/{safe_name(item.show)}/{item.published or 'undated'} {safe_name(item.episode)}.md"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _heading(text: str) -> str:
    """A claim's first sentence, short, as a heading."""
    first = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    return first if len(first) <= 120 else first[:119].rstrip() + "…"


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())


class VaultRenderer:
    def __init__(self, overrides: Path | None = None) -> None:
        loaders = [FileSystemLoader(overrides)] if overrides else []
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(TEMPLATES)]),
            autoescape=False,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        # JSON strings and lists are valid YAML: quotes and colons in titles are safe.
        self.env.filters["yaml"] = lambda v: json.dumps(v, ensure_ascii=False)
        self.env.filters["heading"] = _heading
        self.env.filters["quoted"] = _quoted
        self.env.filters["timestamp"] = format_timestamp

    def episode(self, items: list[ExportItem]) -> str:
        items = sorted(items, key=lambda i: (i.start, i.insight_id))
        first = items[0]
        speakers = list(dict.fromkeys([*first.speakers, *(i.speaker for i in items if i.speaker)]))
        return self.env.get_template("episode.md.j2").render(
            show=first.show,
            episode=first.episode,
            date=first.published,
            speakers=speakers,
            tags=sorted({"podsift", *(t for i in items for t in i.tags)}),
            audio_url=first.audio_url,
            episode_url=first.episode_url,
            episode_id=first.episode_id,
            insight_ids=[i.insight_id for i in items],
            items=items,
        )

    def block(self, item: ExportItem) -> str:
        return self.env.get_template("insight.md.j2").render(item=item)


def marker(insight_id: int) -> str:
    return f"^podsift-{insight_id}"


class VaultExporter:
    kind = "vault"
    batch = 200

    def __init__(
        self,
        root: Path,
        records: FileRecords,
        episode_items: Callable[[int], list[ExportItem]],
        overrides: Path | None = None,
    ) -> None:
        self.root, self.records, self.episode_items = root, records, episode_items
        self.renderer = VaultRenderer(overrides)

    def send(self, jobs: list[Outgoing]) -> list[Sent]:
        by_episode: dict[int, list[ExportItem]] = defaultdict(list)
        for job in jobs:
            by_episode[job.item.episode_id].append(job.item)
        sent: list[Sent] = []
        for episode_id, new in by_episode.items():
            path = episode_path(new[0])
            # What the file holds already (sent before), with these items' new versions.
            items = {i.insight_id: i for i in self.episode_items(episode_id)}
            items.update((i.insight_id, i) for i in new)
            self._write(path, list(items.values()), new)
            sent += [Sent(i.insight_id, path) for i in new]
        return sent

    def _write(self, path: str, items: list[ExportItem], new: list[ExportItem]) -> None:
        target = self.root / path
        record = self.records.get(path)
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        ours = (
            record is not None
            and not record.edited
            and sha256(current or "")
            in (
                record.written_hash,
                record.writing_hash,
            )
        )
        if current is None or ours:
            text, edited = self.renderer.episode(items), False
        else:  # the reader's file now: append what it lacks, change nothing
            missing = [i for i in sorted(new, key=lambda i: i.start) if marker(i.insight_id) not in current]
            text = current.rstrip("\n") + "\n\n" + "\n".join(self.renderer.block(i) for i in missing)
            text, edited = (text if missing else current), True
        digest = sha256(text)
        if text != current:
            self.records.writing(path, digest)
            _replace(target, text)
        self.records.written(path, digest, edited)

    def close(self) -> None:
        pass


def _replace(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.podsift-tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def vault_zip(items: Iterable[ExportItem], overrides: Path | None = None) -> bytes:
    """The vault as a zip (the preferences page's download): every file rendered whole."""
    renderer = VaultRenderer(overrides)
    by_episode: dict[int, list[ExportItem]] = defaultdict(list)
    for item in items:
        by_episode[item.episode_id].append(item)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for episode_items in by_episode.values():
            archive.writestr(episode_path(episode_items[0]), renderer.episode(episode_items))
    return buffer.getvalue()
