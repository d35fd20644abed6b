"""Real transcripts for the selection benchmark, read from public repositories by reference.

No transcript text is stored in this repository: `episodes.json` names each episode by
repository, commit and path, and this module reads it from a local copy of that repository
(a clone, or the bare snapshot the `fetch` tool makes). Point PODSIFT_TRANSCRIPT_REPOS at a
folder holding them as `owner+name/repo` or `owner/name` (default: ../.mirror beside the
project); `python bench/selection/sources.py --check` lists what is missing and how to get
it (`git clone https://github.com/OWNER/NAME` then `git -C NAME checkout COMMIT`).

Each repository writes its transcripts its own way; the readers below turn them into
podsift's `Transcript` (timed segments with speakers), the form every extractor reads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from podsift.transcripts.parsers import parse_timestamp, parse_transcript  # noqa: E402
from podsift.types import Segment, Transcript  # noqa: E402

EPISODES = Path(__file__).with_name("episodes.json")
WORDS_PER_SECOND = 2.6


@dataclass(frozen=True)
class SourceEpisode:
    id: str  # "jsparty-349": show key and episode
    show: str
    kind: str  # interview, panel, co-hosted, solo-news, news-roundup
    asr: bool  # made by speech to text, punctuation as the machine wrote it
    split: str  # "tune" (features and rules may be written reading it) or "heldout"
    repo: str  # owner/name on GitHub
    commit: str
    path: str
    form: str  # how the repository writes it: see READERS
    title: str = ""


def repos_root() -> Path:
    return Path(os.environ.get("PODSIFT_TRANSCRIPT_REPOS", ROOT.parent / ".mirror"))


def repo_dir(repo: str) -> Path | None:
    owner, name = repo.split("/")
    for candidate in (repos_root() / f"{owner}+{name}" / "repo", repos_root() / owner / name):
        if candidate.exists():
            return candidate
    return None


def _git(repo: str, commit: str, *args: str) -> bytes:
    where = repo_dir(repo)
    if where is None:
        raise FileNotFoundError(
            f"{repo} is not under {repos_root()}: git clone https://github.com/{repo} and check out {commit}"
        )
    return subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True).stdout


@cache
def read_source(repo: str, commit: str, path: str) -> str:
    return _git(repo, commit, "show", f"{commit}:{path}").decode("utf-8", errors="replace")


def repo_files(repo: str, commit: str = "HEAD") -> list[str]:
    """Every file's path in the repository at `commit`."""
    return _git(repo, commit, "ls-tree", "-r", "--name-only", commit).decode().split()


def episodes(split: str | None = None) -> list[SourceEpisode]:
    rows = [SourceEpisode(**row) for row in json.loads(EPISODES.read_text())]
    return [e for e in rows if split is None or e.split == split]


def load(episode: SourceEpisode) -> Transcript:
    text = read_source(episode.repo, episode.commit, episode.path)
    return READERS[episode.form](text, episode.path)


# --- readers, one per repository's way of writing --------------------------------------


def _front_matter(text: str) -> str:
    """The body after a leading YAML block."""
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end > 0:
            return text[end + 4 :]
    return text


def read_publisher(text: str, path: str) -> Transcript:
    """Formats podsift reads from feeds: Changelog's Markdown, WebVTT, SRT."""
    return parse_transcript(text, url=path)


_OXIDE = re.compile(r"^\[([^\]]+)\]\s+\[(\d{1,2}:\d{2}(?::\d{2})?)\]\s*(.*)$")


def read_oxide(text: str, path: str) -> Transcript:
    """`[Bryan Cantrill] [01:01:14] words…`: Whisper's text, one line a cue."""
    rows = []
    for line in text.splitlines():
        if match := _OXIDE.match(line.strip()):
            rows.append((parse_timestamp(match.group(2)), match.group(1).strip(), match.group(3).strip()))
    return _segments(rows)


_LENNY = re.compile(r"^(?:(.{1,60}?)\s+)?\((\d{1,2}:\d{2}(?::\d{2})?)\):\s*$")


def read_lenny(text: str, path: str) -> Transcript:
    """`Marty Cagan (00:00:00):` then a paragraph; `(00:01:43):` continues that speaker."""
    rows, speaker, stamp = [], None, None
    for line in _front_matter(text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if match := _LENNY.match(line):
            speaker = match.group(1) or speaker
            stamp = parse_timestamp(match.group(2))
            continue
        if stamp is not None:
            rows.append((stamp, speaker, line))
    return _segments(rows)


_BTC_TURN = re.compile(
    r"^([A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3})\s*[:–-]?\s*(\d{1,2}:\d{2}:\d{2})?\s*:?\s*$"
)
# "Gloria Zhao [4:30]: Yeah, exactly." or "Stephan Livera: Yeah, sure.": a turn on one line.
_BTC_INLINE = re.compile(
    r"^([A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3})(?: \[(\d{1,2}:\d{2}(?::\d{2})?)\])?:\s+(\S.*)$"
)


def read_btctranscripts(text: str, path: str) -> Transcript:
    """`Stephan 00:02:50:`, `Casey Rodarmor – 00:03:18:`, `Mark Erhardt: 00:00:00` or `Stephan:` on a line of its own,
    then paragraphs, or `Gloria Zhao [4:30]: words…` on one line; times are interpolated
    between the stamps given."""
    pieces: list[tuple[float | None, str | None, str]] = []
    speaker: str | None = None
    stamp: float | None = None
    for line in _front_matter(text).splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line == "---":
            continue
        if (match := _BTC_TURN.match(line)) and (match.group(2) or line.endswith(":")):
            speaker = match.group(1)
            stamp = parse_timestamp(match.group(2)) if match.group(2) else None
            continue
        if match := _BTC_INLINE.match(line):
            speaker, line = match.group(1), match.group(3)
            stamp = parse_timestamp(match.group(2)) if match.group(2) else None
        pieces.append((stamp, speaker, line))
        stamp = None
    return _interpolated(pieces)


def read_conduit(text: str, path: str) -> Transcript:
    """Whisper's text with no speakers or times, a paragraph a line."""
    pieces: list[tuple[float | None, str | None, str]] = [
        (None, None, line.strip()) for line in _front_matter(text).splitlines() if line.strip()
    ]
    return _interpolated(pieces)


def _segments(rows: list[tuple[float, str | None, str]]) -> Transcript:
    segments = []
    for i, (start, speaker, body) in enumerate(rows):
        end = rows[i + 1][0] if i + 1 < len(rows) else start + len(body.split()) / WORDS_PER_SECOND
        segments.append(Segment(start, max(end, start), body, speaker))
    return Transcript(segments, format="text")


def _interpolated(pieces: list[tuple[float | None, str | None, str]]) -> Transcript:
    """Known stamps where given, else the previous start plus its words at speaking pace."""
    rows: list[tuple[float, str | None, str]] = []
    clock = 0.0
    for stamp, speaker, body in pieces:
        start = stamp if stamp is not None and stamp >= clock else clock
        rows.append((start, speaker, body))
        clock = start + len(body.split()) / WORDS_PER_SECOND
    transcript = _segments(rows)
    transcript.approximate_times = True
    return transcript


READERS = {
    "publisher": read_publisher,
    "oxide": read_oxide,
    "lenny": read_lenny,
    "btctranscripts": read_btctranscripts,
    "conduit": read_conduit,
}


def main() -> None:
    missing = 0
    for episode in episodes():
        try:
            transcript = load(episode)
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            missing += 1
            print(f"MISSING {episode.id}: {exc}")
            continue
        speakers = {s.speaker for s in transcript.segments}
        words = len(transcript.text.split())
        print(f"{episode.split:8} {episode.id:40} {words:6} words {len(speakers):2} speakers {episode.show}")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
