"""Refine mode's judge-only setting (write=0) with the packaged Qwen 1.5B on the held-out
shows, against the learned selector alone: which items it sends, and its time.

    .venv/bin/python bench/selection/refine_judge.py   # needs the llm-bench extra and llama-server

The model judges the selector's first proposals of each episode (keep, score) and the kept
ones are sent with the selector's own text, so most of its items were already judged blind
for the selector (blind-items.jsonl); the ones that were not are listed for judging.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import sources  # noqa: E402
from blind import BLIND, ITEMS  # noqa: E402
from tests.llm_server import llama_server  # noqa: E402

from podsift.backends import parse_spec  # noqa: E402
from podsift.backends.llm import chat_model  # noqa: E402
from podsift.insights.llm.extractor import LLMExtractor  # noqa: E402
from podsift.insights.registry import EpisodeInfo  # noqa: E402

OUT = HERE / "refine-judge-items.jsonl"


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--per-show", type=int, default=0, help="only each show's N shortest episodes (0: all)"
    )
    args = parser.parse_args()
    episodes = sources.episodes("heldout")
    if args.per_show:
        by_show: dict[str, list] = {}
        for episode in episodes:
            by_show.setdefault(episode.show, []).append(episode)
        episodes = [
            e
            for show in by_show.values()
            for e in sorted(show, key=lambda e: sources.load(e).duration)[: args.per_show]
        ]
    items = [json.loads(line) for line in ITEMS.read_text().splitlines() if line]
    verdicts = {}
    for row in map(json.loads, BLIND.read_text().splitlines()):
        verdicts.setdefault(row["id"], row["verdict"])
    by_text = {(i["episode"], i["text"]): i["id"] for i in items}
    hours = seconds = 0.0
    rows = []
    with llama_server("qwen-1.5b", Path(tempfile.mkdtemp()), context=4096) as url:
        spec = parse_spec(f"openai:local?base_url={url}&mode=refine&write=0&candidates=6&timeout=300")
        extractor = LLMExtractor(spec, chat_model(spec))  # type: ignore[arg-type]
        for episode in episodes:
            transcript = sources.load(episode)
            started = time.perf_counter()
            found = extractor.extract(EpisodeInfo(episode.show, None, key=episode.id), transcript, 5)
            seconds += time.perf_counter() - started
            hours += transcript.duration / 3600
            for rank, c in enumerate(found, 1):
                item = by_text.get((episode.id, c.text))
                rows.append(
                    {
                        "episode": episode.id,
                        "rank": rank,
                        "text": c.text,
                        "item": item,
                        "verdict": verdicts.get(item),
                    }
                )
            print(
                f"{episode.id}: {len(found)} sent, {seconds / max(hours, 1e-9):.0f} s per episode-hour so far",
                flush=True,
            )
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    judged = [r for r in rows if r["verdict"]]
    keep = sum(r["verdict"] == "keep" for r in judged)
    print(
        f"{len(rows)} items sent over {len(episodes)} episodes; {len(judged)} already judged blind: keep rate {keep / max(len(judged), 1):.0%}"
    )
    print(
        f"{seconds:.0f} s for {hours:.1f} episode-hours: {seconds / hours:.0f} s per episode-hour (wall, 2 cores)"
    )
    print(f"not judged yet: {len(rows) - len(judged)}")


if __name__ == "__main__":
    main()
