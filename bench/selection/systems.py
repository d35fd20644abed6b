"""The extractors being compared, each run on the same transcripts.

- `before-559178f` and `before-d3a8604`: the offline extractor as it stood at those
  revisions, its whole `src/podsift` taken from git into a temporary folder and run in a
  process of its own (so its rules, its sentence splitter and its quality floor are all its
  own, not today's);
- `selector`: today's offline extractor (the learned selector);
- `labeller`: the five spans the primary labeller picked, written by today's text builder
  (a human reference for how far the top can go).

Every system gets the transcript as today's parser reads it (segments as JSON), so only the
extraction differs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

BEFORE = ("559178f", "d3a8604")
RUNNER = """
import json, sys
from podsift.insights.offline import OfflineExtractor
from podsift.insights.registry import EpisodeInfo
try:
    from podsift.types import Transcript
except ImportError:  # before the transcript model moved
    from podsift.transcripts.model import Transcript
out = []
for line in sys.stdin:
    job = json.loads(line)
    transcript = Transcript.from_json(job["segments"], "json")
    found = OfflineExtractor().extract(EpisodeInfo(show=job["show"], title=None), transcript, job["limit"])
    out.append([{"text": c.text, "quote": c.quote, "speaker": c.speaker, "score": c.score} for c in found])
print(json.dumps(out))
"""


@dataclass
class Item:
    system: str
    episode: str
    rank: int
    text: str
    quote: str
    speaker: str | None
    score: float | None = None


@cache
def _tree(revision: str) -> Path:
    """`src/` of a revision, unpacked once into a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"podsift-{revision}-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def run_revision(revision: str, jobs: list[dict], limit: int = 5) -> list[list[dict]]:
    """The offline extractor of `revision` on each job ({"segments", "show"})."""
    payload = "".join(json.dumps({**job, "limit": limit}) + "\n" for job in jobs)
    env = {"PYTHONPATH": str(_tree(revision)), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER], input=payload, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise RuntimeError(f"the extractor at {revision} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


FLOOR = """
import json, sys
from podsift.insights.quality import passage_problem
print(json.dumps([passage_problem(line.rstrip("\\n")) for line in sys.stdin]))
"""


def floor_verdicts(revision: str, passages: list[str]) -> list[str | None]:
    """The quality floor of `revision` on each passage: the reason it refuses it, or None.
    (559178f had no floor: its extractor only scored passages.)"""
    env = {"PYTHONPATH": str(_tree(revision)), "PATH": "/usr/bin:/bin"}
    payload = "".join(p.replace("\n", " ") + "\n" for p in passages)
    done = subprocess.run(
        [sys.executable, "-c", FLOOR], input=payload, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise RuntimeError(f"the floor at {revision} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def shipped_name(card: dict) -> str:
    """The shipped selector's name in the blind pool: its weights (the card's training date and
    code revision) and, where the choice of spans changed since, that change's name."""
    name = f"selector@{card.get('trained')}@{card.get('code_revision')}"
    return f"{name}+{card['chooser']}" if card.get("chooser") else name


def items_for(episodes: list, limit: int = 5, systems: tuple[str, ...] = ()) -> list[Item]:
    """Each system's top `limit` on each episode (sources.SourceEpisode), best first."""
    import dataset
    import sources

    from podsift.insights.offline import OfflineExtractor
    from podsift.insights.passages import claim_text
    from podsift.insights.registry import EpisodeInfo

    wanted = systems or (*(f"before-{r}" for r in BEFORE), "selector", "labeller")
    transcripts = {e.id: sources.load(e) for e in episodes}
    jobs = [{"segments": transcripts[e.id].to_json(), "show": e.show} for e in episodes]
    out: list[Item] = []
    for revision in BEFORE:
        if f"before-{revision}" not in wanted:
            continue
        for episode, found in zip(episodes, run_revision(revision, jobs, limit), strict=True):
            out.extend(
                Item(f"before-{revision}", episode.id, k, c["text"], c["quote"], c["speaker"], c["score"])
                for k, c in enumerate(found, 1)
            )
    if "selector" in wanted:
        extractor = OfflineExtractor()
        for episode in episodes:
            found = extractor.extract(EpisodeInfo(episode.show, None), transcripts[episode.id], limit)
            out.extend(
                Item("selector", episode.id, k, c.text, c.quote, c.speaker, c.score)
                for k, c in enumerate(found, 1)
            )
    if "labeller" in wanted:
        data = {ep.episode.id: ep for ep in dataset.load(episodes[0].split)}
        for episode in episodes:
            ep = data.get(episode.id)
            if ep is None:
                continue
            sentences = ep.prepared.sentences
            text = transcripts[episode.id].text
            primary = sorted((p for p in ep.picks if p.labeller.startswith("primary")), key=lambda p: p.rank)
            for pick in primary[:limit]:
                a, b = pick.span
                speaker = sentences[a].speaker
                out.append(
                    Item(
                        "labeller",
                        episode.id,
                        pick.rank,
                        claim_text([s.text for s in sentences[a : b + 1]], speaker),
                        text[sentences[a].start : sentences[b].end],
                        speaker,
                    )
                )
    return out
