"""Benchmark: the packaged MiniLM in numpy (the default engine) against sentence-transformers.

    .venv/bin/python bench/embed_engines.py [--texts 2000]

Each engine runs in a process of its own: load the model, then embed the texts of
tests/fixtures/pairs/same_story_pairs.jsonl, repeated and numbered up to --texts (claims of
20-60 words, as insights are). Prints load and embed seconds, the whole process's wall time
and peak RSS, and how close the two engines' vectors are. Same-story precision/recall:
bench/cluster_pairs.py --embeddings local (numpy) and --embeddings 'local?engine=torch'.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from bench.feed_scan import timed  # noqa: E402

CHILD = """
import json, sys, time
import numpy as np
started = time.perf_counter()
from podsift.backends.embeddings import make_embedder
embedder = make_embedder(sys.argv[1])
loaded = time.perf_counter()
texts = json.loads(open(sys.argv[2]).read())
vectors = embedder.embed(texts)
done = time.perf_counter()
np.save(sys.argv[3], vectors)
print(json.dumps({"name": embedder.name, "load": loaded - started, "embed": done - loaded}))
"""


def texts(count: int) -> list[str]:
    pairs = HERE.parent / "tests" / "fixtures" / "pairs" / "same_story_pairs.jsonl"
    rows = [json.loads(line) for line in pairs.read_text().splitlines() if line.strip()]
    claims = [row[side] for row in rows for side in ("a", "b")]
    return [f"{claims[i % len(claims)]} ({i // len(claims)})" for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "texts.json"
        source.write_text(json.dumps(texts(args.texts)))
        rows = {}
        for engine, spec in (("numpy", "local?engine=numpy"), ("torch", "local?engine=torch")):
            out = Path(tmp) / f"{engine}.npy"
            seconds, mib, stdout = timed(
                [sys.executable, "-c", CHILD, spec, str(source), str(out)], dict(os.environ)
            )
            rows[engine] = {
                **json.loads(stdout.splitlines()[-1]),
                "wall": seconds,
                "mib": mib,
                "vectors": np.load(out),
            }
    print(f"{args.texts} texts, {os.cpu_count()} CPUs")
    print(f"{'engine':8} {'load s':>7} {'embed s':>8} {'process s':>10} {'peak MiB':>9}  name")
    for engine, r in rows.items():
        print(f"{engine:8} {r['load']:7.2f} {r['embed']:8.2f} {r['wall']:10.2f} {r['mib']:9.0f}  {r['name']}")
    cosines = (rows["numpy"]["vectors"] * rows["torch"]["vectors"]).sum(axis=1)
    print(f"cosine numpy vs torch: min {cosines.min():.7f}, mean {cosines.mean():.7f}")
    print(
        f"numpy / torch: process {rows['numpy']['wall'] / rows['torch']['wall']:.2f}x, "
        f"embedding alone {rows['numpy']['embed'] / rows['torch']['embed']:.2f}x, "
        f"peak memory {rows['numpy']['mib'] / rows['torch']['mib']:.2f}x"
    )


if __name__ == "__main__":
    main()
