"""Shows that disagree: precision and recall of the disagreement detectors on labelled pairs.

    .venv/bin/python bench/disagreement.py                      # offline signs only
    .venv/bin/python bench/disagreement.py --model qwen-1.5b    # and the LLM stance judge

Pairs: tests/fixtures/pairs/stance_pairs.jsonl (45, which shaped the offline rules) and
stance_pairs_heldout.jsonl (24, written after them), each labelled disagree / agree /
different. "Positive" is disagree. With --model, a llama.cpp server on loopback serves a
packaged GGUF model (tests/llm_server.py) and each pair is asked once through podsift's
own judge (the same prompt, schema and parsing as a run); "+offline (a run)" is what a run
does: the offline signs, and the model's "disagree" for the pairs they pass.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from podsift.backends.calls import CachedCall, CallStore  # noqa: E402
from podsift.backends.judge import LLMStoryJudge  # noqa: E402
from podsift.backends.llm import chat_model  # noqa: E402
from podsift.backends.spec import parse_spec  # noqa: E402
from podsift.clusters.disagree import judge_pair, offline_conflict  # noqa: E402

PAIRS = ROOT / "tests" / "fixtures" / "pairs"
SETS = ("stance_pairs.jsonl", "stance_pairs_heldout.jsonl")


class MemoryStore(CallStore):
    """Answers kept for the run, so the "a run" row asks nothing twice."""

    def __init__(self) -> None:
        self.calls: dict[str, CachedCall] = {}

    def get(self, key: str) -> CachedCall | None:
        return self.calls.get(key)

    def put(
        self, key: str, episode_id: int | None, model: str, call: CachedCall, cost: float, version: str
    ) -> None:
        self.calls[key] = call


def load(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (PAIRS / name).read_text().splitlines() if line.strip()]


def report(label: str, pairs: list[dict[str, str]], said: list[bool]) -> None:
    truth = [p["label"] == "disagree" for p in pairs]
    tp = sum(s and t for s, t in zip(said, truth, strict=True))
    fp = sum(s and not t for s, t in zip(said, truth, strict=True))
    fn = sum(t and not s for s, t in zip(said, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    print(f"  {label:28} P {precision:.2f}  R {recall:.2f}  (tp {tp}, fp {fp}, fn {fn})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="packaged model for the stance judge: qwen-0.5b, qwen-1.5b")
    args = parser.parse_args()
    judge_of: Callable[[], LLMStoryJudge | None] = lambda: None  # noqa: E731
    server = None
    if args.model:
        from tests.llm_server import llama_server

        server = llama_server(args.model, Path(tempfile.mkdtemp()), context=2048)
        url = server.__enter__()
        client = chat_model(parse_spec(f"openai:{args.model}?base_url={url}&timeout=120"))
        assert client is not None
        judge_of = lambda: LLMStoryJudge(client(), MemoryStore(), args.model, 0, 10_000)  # noqa: E731
    try:
        for name in SETS:
            pairs = load(name)
            counts = {k: sum(p["label"] == k for p in pairs) for k in ("disagree", "agree", "different")}
            print(f"{name}: {len(pairs)} pairs {counts}")
            report("offline", pairs, [offline_conflict(p["a"], p["b"]) is not None for p in pairs])
            judge = judge_of()
            if judge is None:
                continue
            started = time.perf_counter()
            stances = [judge.stance(p["a"], p["b"]) for p in pairs]
            seconds = time.perf_counter() - started
            answered = sum(s is not None for s in stances)
            print(f"  {args.model}: {answered}/{len(pairs)} answered, {seconds / len(pairs):.1f} s a pair")
            report(f"{args.model} alone", pairs, [s is not None and s[0] == "disagree" for s in stances])
            both = [judge_pair(judge, p["a"], p["b"]) is not None for p in pairs]  # cached: no new calls
            report(f"{args.model}+offline (a run)", pairs, both)
    finally:
        if server is not None:
            server.__exit__(None, None, None)


if __name__ == "__main__":
    main()
