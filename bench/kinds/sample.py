"""Draw more speaker turns for kind labels from tuning shows of The Changelog's transcripts.

    .venv/bin/python -m bench.kinds.sample OUT.jsonl --n 200 --seed 6 --prefix Y

Only shows that no held-out set uses (the selection benchmark's held-out shows and the kind
model's held-out shows are left out), only episodes no labelled set has read. Two thirds of
the turns carry a cue of a kind (money, release, advice, a contrarian turn, a prediction),
spread evenly over the kinds; one third are drawn at random. Text is read from a local copy
of https://github.com/thechangelog/transcripts (CC BY-SA 4.0), as bench/selection/sources.py
finds it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from bench.selection.sources import episodes, read_source, repo_files

HERE = Path(__file__).resolve().parent
REPO = "thechangelog/transcripts"
SHOWS = (
    "podcast",
    "gotime",
    "practicalai",
    "shipit",
    "founderstalk",
    "friends",
    "rfc",
    "bigtent",
    "backstage",
)
CUES = {
    "funding": r"\b(raised|raise|funding|valuation|acquir\w+|revenue|series [abc]|ipo|investors?|layoffs?|laid off|profitab\w+|sponsor\w*)\b",
    "launch": r"\b(released?|launch\w*|announc\w+|shipped|shipping|1\.0|v\d|new version|open[- ]sourced|shut(ting)? down|deprecat\w+)\b",
    "advice": r"\b(you should|my advice|tip|recommend\w*|make sure|don't|try to|the lesson|best practice)\b",
    "contrarian": r"\b(overrated|everyone (thinks|says)|i disagree|unpopular|myth|actually wrong|the opposite|people think|conventional|controversial|hot take)\b",
    "prediction": r"\b(will be|going to (be|happen|change)|in (five|ten|\d+) years|future|predict\w*|eventually|i bet|by 20\d\d)\b",
}
TURN = re.compile(r"^\*\*(?P<who>[^*]{2,60}):\*\*\s*(?P<text>.+)$")


def used_episodes() -> set[str]:
    seen = set()
    for path in HERE.glob("items-*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                seen.add(json.loads(line)["episode"])
    for episode in episodes():
        seen.add(episode.path.removesuffix(".md"))
    return seen


def turns(path: str) -> list[str]:
    out = []
    for line in read_source(REPO, "HEAD", path).splitlines():
        match = TURN.match(line.strip())
        if not match:
            continue
        words = match["text"].split()
        if len(words) < 35:
            continue
        # A long turn is cut at a sentence end near 110 words: an item a labeller can judge.
        body = " ".join(words[:140])
        cut = max(body.rfind(". ", 0, 900), body.rfind("? ", 0, 900))
        body = body[: cut + 1] if len(body) > 900 and cut > 200 else body
        out.append(f"{match['who'].strip()}: {body}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--prefix", default="Y")
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seen = used_episodes()
    listing = repo_files(REPO)
    files = [
        p
        for p in listing
        if p.split("/")[0] in SHOWS and p.endswith(".md") and p.removesuffix(".md") not in seen
    ]
    rng.shuffle(files)
    per_kind = {kind: args.n * 2 // 3 // len(CUES) for kind in CUES}
    random_left = args.n - sum(per_kind.values())
    chosen: list[tuple[str, str]] = []
    for path in files:
        if not (random_left or any(per_kind.values())):
            break
        pool = turns(path)
        rng.shuffle(pool)
        taken = 0
        for turn in pool:
            if taken >= 2:  # at most two turns an episode: many voices
                break
            kind = next((k for k, cue in CUES.items() if per_kind[k] and re.search(cue, turn, re.I)), None)
            if kind is not None:
                per_kind[kind] -= 1
            elif random_left and rng.random() < 0.3:
                random_left -= 1
            else:
                continue
            chosen.append((path.removesuffix(".md"), turn))
            taken += 1
    rng.shuffle(chosen)
    with args.out.open("w") as out:
        for n, (episode, text) in enumerate(chosen):
            out.write(
                json.dumps(
                    {"id": f"{args.prefix}{args.start + n}", "episode": episode, "text": text},
                    ensure_ascii=False,
                )
                + "\n"
            )
    print(f"{len(chosen)} items from {len({e for e, _ in chosen})} episodes -> {args.out}")


if __name__ == "__main__":
    main()
