"""The audio a clip is cut from: the very file the transcript's times refer to.

Speech to text kept its file (`keep_audio`): that one. Otherwise (a publisher transcript,
or the file was deleted) the enclosure, through the guarded client: for an MP3 whose host
serves HTTP ranges, only the minutes around the clip (one Range request, placed by the
file's own bit rate or table of contents); else the whole file (size cap, content check,
resume after a dropped connection). Both go to a cache kept under a size limit and an age
limit, least recently used out first."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from podsift.briefings.mp3seek import id3_size, layout
from podsift.net.client import FetchError, HttpClient
from podsift.transcripts.speech import audio_suffix, refuse_non_audio

log = logging.getLogger(__name__)


HEAD_BYTES = 64 * 1024  # enough for the first frames after a modest ID3 tag
MARGIN = 5.0  # seconds fetched beyond the window asked for (a VBR guess is not exact)


@dataclass(frozen=True)
class EpisodeAudio:
    episode_id: int
    url: str | None
    content_type: str | None


@dataclass(frozen=True)
class ClipAudio:
    """A file holding the clip's neighbourhood; `base` is the episode second its first
    sample stands for (0 for a whole file)."""

    path: Path
    base: float = 0.0
    ranged: bool = False


class EnclosureCache:
    def __init__(self, home: Path, max_bytes: int, max_age_days: float, audio_cap: int, deadline: float):
        self.folder = home / "cache" / "enclosures"
        self.asr_folder = home / "audio"  # where speech to text keeps files (keep_audio)
        self.max_bytes = max_bytes
        self.max_age = max_age_days * 86400
        self.audio_cap = audio_cap
        self.deadline = deadline
        self.failures: dict[str, str] = {}  # url -> why (one try a build)

    def kept_by_speech_to_text(self, episode: EpisodeAudio) -> Path | None:
        if episode.url is None:
            return None
        path = (
            self.asr_folder / f"episode-{episode.episode_id}{audio_suffix(episode.url, episode.content_type)}"
        )
        return path if path.is_file() else None

    async def clip_audio(
        self, client: HttpClient, episode: EpisodeAudio, start: float, end: float
    ) -> ClipAudio | None:
        """Audio covering [start, end) of the episode: a window by Range request where the
        host and the format allow it, else the whole file; None with the reason in `failures`."""
        kept = self.kept_by_speech_to_text(episode)
        if kept is not None:
            return ClipAudio(kept)
        if not episode.url or episode.url in self.failures:
            return None
        whole = self._cached(episode)
        if whole is not None:
            return ClipAudio(whole)
        if self._is_mp3(episode):
            window = await self._window(client, episode.url, start, end)
            if window is not None:
                return window
        path = await self._download(client, episode, episode.url)
        return ClipAudio(path) if path is not None else None

    def _is_mp3(self, episode: EpisodeAudio) -> bool:
        return audio_suffix(episode.url or "", episode.content_type) == ".mp3" or (
            episode.content_type or ""
        ).startswith("audio/mpeg")

    def _whole_path(self, episode: EpisodeAudio, url: str) -> Path:
        return self._path(url, audio_suffix(url, episode.content_type))

    def _cached(self, episode: EpisodeAudio) -> Path | None:
        path = self._whole_path(episode, episode.url or "")
        if path.is_file():
            path.touch()  # recently used: evicted last
            return path
        return None

    def _path(self, url: str, suffix: str, part: str = "") -> Path:
        return self.folder / f"{hashlib.sha256(url.encode()).hexdigest()[:32]}{part}{suffix}"

    async def _window(self, client: HttpClient, url: str, start: float, end: float) -> ClipAudio | None:
        start, end = max(start - MARGIN, 0.0), end + MARGIN
        # Named by its window: a file found under that name starts where `start` lies.
        path = self._path(url, ".mp3", f"-{int(start * 1000)}-{int(end * 1000)}")
        if path.is_file():
            path.touch()
            return ClipAudio(path, start, True)
        try:
            head = await client.fetch_range(
                url, 0, HEAD_BYTES - 1, max_bytes=HEAD_BYTES, deadline=self.deadline
            )
            if not head.partial or head.total is None:
                return None  # no ranges here: the whole file it is
            tag = id3_size(head.data)
            if tag + 4096 > len(head.data):  # a big tag (cover art): read past it
                after = await client.fetch_range(
                    url, tag, tag + HEAD_BYTES - 1, max_bytes=HEAD_BYTES, deadline=self.deadline
                )
                found = layout(after.data, head.total, tag) if after.partial else None
            else:
                found = layout(head.data, head.total)
            if found is None:
                return None
            first, last = found.offset(start), found.offset(end) + 4096
            if last - first > self.audio_cap:
                return None
            body = await client.fetch_range(
                url, first, last, max_bytes=self.audio_cap, deadline=self.deadline
            )
        except FetchError as exc:
            log.info("briefing: no range read of %s (%s); fetching the whole file", url, exc.reason)
            return None
        if not body.partial or not body.data:
            return None
        # The window's first byte is where `start` lies (exact at a constant bit rate).
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(body.data)
        tmp.replace(path)
        self.evict(keep=path)
        return ClipAudio(path, start, True)

    async def _download(self, client: HttpClient, episode: EpisodeAudio, url: str) -> Path | None:
        """The whole enclosure into the cache, or None (the reason is in `failures`)."""
        path = self._whole_path(episode, url)
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        try:
            await client.download(
                url,
                partial,
                max_bytes=self.audio_cap,
                deadline=self.deadline,
                accept=refuse_non_audio,
            )
        except FetchError as exc:
            partial.unlink(missing_ok=True)
            self.failures[url] = exc.reason
            log.warning("briefing: no audio for episode %s: %s", episode.episode_id, exc.reason)
            return None
        partial.replace(path)
        self.evict(keep=path)
        return path

    def evict(self, keep: Path | None = None) -> int:
        """Drop files past the age limit, then the least recently used past the size limit."""
        if not self.folder.is_dir():
            return 0
        now, dropped = time.time(), 0
        files = sorted(
            (p for p in self.folder.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True
        )
        total = 0
        for path in files:
            stat = path.stat()
            old = now - stat.st_mtime > self.max_age
            total += stat.st_size
            if path != keep and (old or total > self.max_bytes):
                path.unlink(missing_ok=True)
                total -= stat.st_size
                dropped += 1
        return dropped
