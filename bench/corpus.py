"""The corpus's long transcripts (../shared/corpus), for the benchmarks that read them."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CORPUS = ROOT.parent / "shared" / "corpus"
EPISODES = [
    "longform/changelog_practical-ai-288.md",
    "longform/changelog_practical-ai-300.md",
    "longform/changelog_the-changelog-652.md",
    "longform/changelog_the-changelog-664.md",
    "longform/changelog_founders-talk-96.md",
    "longform/changelog_changelog--friends-30.md",
    "longform/talkpython_550.txt",
    "transcripts/talkpython_552-astral-joins-openai.vtt",
    "transcripts/transcriptator_buzzcast.srt",
    "transcripts/podcastnamespace_example.srt",
    "transcripts/transcriptator_podnews_weekly_review_2024-01-19.vtt",
]

from podsift.transcripts.parsers import parse_transcript  # noqa: E402
from podsift.types import Transcript  # noqa: E402


def load_transcript(name: str) -> Transcript:
    path = CORPUS / name
    return parse_transcript(path.read_bytes(), url=path.name)
