"""Transcripts cut into passages for search: a speaker's consecutive segments, split at a
pause or a change of speaker, about MIN_SECONDS to MAX_SECONDS long (pure, and the one write
every transcript store path calls in its own transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.store.models import Passage

MIN_SECONDS = 20.0
MAX_SECONDS = 60.0
PAUSE_SECONDS = 2.0
MAX_CHARS = 4000


def passages_of(segments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """[{start, end, speaker, text}]: consecutive segments joined while the speaker stays and
    no pause comes, a passage closed past MAX_SECONDS; one shorter than MIN_SECONDS ends only
    at a change of speaker or a pause (a short answer is its own moment)."""
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for seg in segments:
        text = " ".join(str(seg.get("text") or "").split())
        if not text:
            continue
        start, end = float(seg.get("start") or 0.0), float(seg.get("end") or 0.0)
        speaker = seg.get("speaker") or None
        if current is not None:
            paused = start - current["end"] > PAUSE_SECONDS
            long_enough = current["end"] - current["start"] >= MIN_SECONDS
            too_long = max(end, current["end"]) - current["start"] > MAX_SECONDS
            if (
                speaker != current["speaker"]
                or paused
                or too_long
                or (long_enough and len(current["text"]) > MAX_CHARS)
            ):
                out.append(current)
                current = None
        if current is None:
            current = {"start": start, "end": max(end, start), "speaker": speaker, "text": text}
        else:
            current["end"] = max(current["end"], end)
            current["text"] = f"{current['text']} {text}"
    if current is not None:
        out.append(current)
    for passage in out:
        passage["text"] = passage["text"][:MAX_CHARS]
    return out


def passage_rows(episode_id: int, segments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The `passages` rows of an episode's transcript segments."""
    return [
        {
            "episode_id": episode_id,
            "start_seconds": p["start"],
            "end_seconds": p["end"],
            "speaker": p["speaker"],
            "text": p["text"],
        }
        for p in passages_of(segments)
    ]


def index_transcript(session: Session, episode_id: int, segments: Iterable[Mapping[str, Any]]) -> int:
    """Replace the episode's passages with those of `segments`, in the caller's transaction
    (the database's full-text index follows by itself); how many were written."""
    rows = passage_rows(episode_id, segments)
    session.execute(sa.delete(Passage).where(Passage.episode_id == episode_id))
    if rows:
        session.execute(sa.insert(Passage), rows)
    return len(rows)
