"""What a reader gets from the corpus's long transcripts: offline top 5 before and after,
and how well the quality floor separates what a reader would cut from what they would keep.

    .venv/bin/python bench/insights.py                 # offline figures (seconds)
    .venv/bin/python bench/insights.py --pool > pool.jsonl   # passages to label by hand
    .venv/bin/python bench/insights_llm.py             # refine/full on the real Qwen 1.5B

"Before" is the offline extractor as it stood at --before (a git revision, loaded from git
so both run in one process). Labels: tests/fixtures/passages/labels.jsonl, one passage a
line, located in the transcript by its first and last words (no corpus text is copied), with
`label` = keep or the kind of cut (filler, greeting, biography, sponsor, housekeeping,
prompt, dangling, artefact, about-the-speaker, boilerplate), labelled by reading them, and
`set`: tuning (the floor's rules were written while reading these: in-sample), top5-final
(the final extractor's top 5s, labelled afterwards), held-out (40 random passages labelled
after the rules were frozen: the honest precision/recall).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
CORPUS = ROOT.parent / "shared" / "corpus"
LABELS = ROOT / "tests/fixtures/passages/labels.jsonl"
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

from podsift.insights.offline import OfflineExtractor  # noqa: E402
from podsift.insights.quality import passage_problem  # noqa: E402
from podsift.insights.registry import Candidate, EpisodeInfo  # noqa: E402
from podsift.transcripts.parsers import parse_transcript  # noqa: E402
from podsift.types import Transcript  # noqa: E402


@dataclass
class Labelled:
    file: str
    quote: str
    label: str
    set: str  # tuning: the floor's rules were written reading these; held-out: labelled after


def load_transcript(name: str) -> Transcript:
    path = CORPUS / name
    return parse_transcript(path.read_bytes(), url=path.name)


def extractor_at(revision: str) -> OfflineExtractor:
    """The offline extractor as it was at `revision` (its module loaded from git)."""
    from podsift.insights import registry

    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:src/podsift/insights/offline.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    saved = dict(registry.EXTRACTORS._factories)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("offline_before", handle.name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["offline_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    registry.EXTRACTORS._factories.update(saved)  # its @register must not replace today's
    return module.OfflineExtractor()  # type: ignore[no-any-return]


def locate(text: str, begins: str, ends: str) -> str | None:
    at = text.find(begins)
    if at < 0:
        return None
    end = text.find(ends, at)
    return None if end < 0 else text[at : end + len(ends)]


def load_labels() -> list[Labelled]:
    out, texts = [], {}
    for line in LABELS.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["file"] not in texts:
            texts[row["file"]] = load_transcript(row["file"]).text
        quote = locate(texts[row["file"]], row["begins"], row["ends"])
        if quote is None:
            raise SystemExit(f"label not found in {row['file']}: {row['begins']!r}")
        out.append(Labelled(row["file"], quote, row["label"], row.get("set", "tuning")))
    return out


def top(extractor: OfflineExtractor, name: str, n: int = 5) -> list[Candidate]:
    return extractor.extract(EpisodeInfo(show=None, title=None), load_transcript(name), n)


def pool(before: OfflineExtractor, after: OfflineExtractor, seed: int = 7) -> None:
    """Every before/after top-5 passage plus three random windows per episode, to label."""
    rng = random.Random(seed)
    for name in EPISODES:
        transcript = load_transcript(name)
        quotes = [c.quote for c in top(before, name)] + [c.quote for c in top(after, name)]
        segments = transcript.segments
        for _ in range(3):
            i = rng.randrange(len(segments) - 3)
            quotes.append(" ".join(s.text for s in segments[i : i + 3]))
        for quote in dict.fromkeys(quotes):
            words = quote.split()
            print(
                json.dumps(
                    {
                        "file": name,
                        "begins": " ".join(words[:10]),
                        "ends": " ".join(words[-6:]),
                        "quote": quote,
                    }
                )
            )


def floor_figures(all_labels: list[Labelled]) -> None:
    for name in ("tuning", "held-out"):
        floor_figures_of(name, [item for item in all_labels if item.set == name])


def floor_figures_of(name: str, labels: list[Labelled]) -> None:
    cut = [item for item in labels if item.label != "keep"]
    flagged = [item for item in labels if passage_problem(item.quote)]
    hits = [item for item in flagged if item.label != "keep"]
    precision = len(hits) / max(len(flagged), 1)
    recall = len(hits) / max(len(cut), 1)
    print(f"\nQuality floor, {name} set: {len(labels)} labelled passages ({len(cut)} a reader would cut):")
    print(
        f"  flagged {len(flagged)}, of which truly cut {len(hits)}: precision {precision:.2f}, recall {recall:.2f}"
    )
    kinds: dict[str, list[int]] = {}
    for item in cut:
        kinds.setdefault(item.label, [0, 0])
        kinds[item.label][0] += 1
        kinds[item.label][1] += bool(passage_problem(item.quote))
    print("  recall by kind: " + ", ".join(f"{k} {c}/{n}" for k, (n, c) in sorted(kinds.items())))
    wrong = [item for item in flagged if item.label == "keep"]
    for item in wrong:
        print(f"  kept by the reader but flagged {passage_problem(item.quote)}: {item.quote[:100]}…")


def side_by_side(before: OfflineExtractor, after: OfflineExtractor, labels: list[Labelled]) -> None:
    verdict = {(item.file, item.quote): item.label for item in labels}
    totals = {"before": [0, 0, 0], "after": [0, 0, 0]}  # cut, labelled, items
    for name in EPISODES:
        print(f"\n=== {Path(name).name}")
        columns = {"before": top(before, name), "after": top(after, name)}
        for which, items in columns.items():
            for c in items:
                label = verdict.get((name, c.quote))
                totals[which][2] += 1
                if label is not None:
                    totals[which][1] += 1
                    totals[which][0] += label != "keep"
        for k in range(5):
            row = []
            for which in ("before", "after"):
                items = columns[which]
                if k < len(items):
                    label = verdict.get((name, items[k].quote), "?")
                    row.append(f"[{label}] {items[k].text}")
                else:
                    row.append("-")
            left = textwrap.wrap(row[0][:300], 60) or [""]
            right = textwrap.wrap(row[1][:300], 60) or [""]
            for i in range(max(len(left), len(right))):
                print(f"  {left[i] if i < len(left) else '':60} | {right[i] if i < len(right) else ''}")
            print()
    print("Items a reader would cut, of the labelled top-5 items:")
    for which, (cut, labelled, items) in totals.items():
        print(
            f"  {which:6}: {cut}/{labelled} ({cut / max(labelled, 1):.0%}); {items} items, {items - labelled} unlabelled"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="559178f", help="git revision of the baseline extractor")
    parser.add_argument("--pool", action="store_true", help="print passages to label, as JSON lines")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"{CORPUS} is absent")
    before, after = extractor_at(args.before), OfflineExtractor()
    if args.pool:
        pool(before, after)
        return
    labels = load_labels()
    side_by_side(before, after, labels)
    floor_figures(labels)


if __name__ == "__main__":
    main()
