"""Score the offline instruction parser against labelled profiles.

    .venv/bin/python -m bench.instructions.score bench/instructions/dev.jsonl [--show-misses]

Each profile is a set of parts (side, facet, value); a part found counts when the labelled
profile has it (topics and people match when one's words contain the other's, case and
plurals folded: "open-source models" matches "open source models"). Prints micro precision,
recall and F1 over parts, per facet, and the share of instructions read exactly.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from podsift.subscribers.instructions import parse_instructions
from podsift.subscribers.profile import ReaderProfile
from podsift.words import singular

SHOWS = [
    "The Changelog",
    "JS Party",
    "Go Time",
    "Practical AI",
    "Ship It!",
    "Founders Talk",
    "Changelog & Friends",
    "Brain Science",
    "Away From Keyboard",
    "Lenny's Podcast",
    "Oxide and Friends",
    "Chaincode Podcast",
    "Talk Python To Me",
    "Podnews Weekly Review",
    "Buzzcast",
    "Lex Fridman Podcast",
    "Hard Fork",
    "Acquired",
    "The Daily",
    "All-In",
]

Part = tuple[str, str, str]


def parts(profile: ReaderProfile) -> list[Part]:
    out: list[Part] = [("style", "style", flag) for flag in profile.style]
    for side, targets in (("mute", profile.mute), ("boost", profile.boost)):
        for facet in ("topics", "shows", "people", "kinds"):
            out.extend((side, facet, v) for v in targets.values(facet))
    return out


def _words(value: str) -> set[str]:
    return {singular(w) for w in re.findall(r"[a-z0-9]+", value.lower())}


def same(a: Part, b: Part) -> bool:
    if a[:2] != b[:2]:
        return False
    if a[1] in ("topics", "people"):
        wa, wb = _words(a[2]), _words(b[2])
        return bool(wa and wb) and (wa <= wb or wb <= wa)
    return a[2].lower() == b[2].lower()


def score(path: Path, show_misses: bool = False) -> dict[str, float]:
    found_total = gold_total = hit_total = exact = 0
    per_facet: Counter[str] = Counter()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        gold = parts(ReaderProfile.from_json(row["profile"]))
        found = parts(parse_instructions(row["text"], SHOWS))
        hits = [f for f in found if any(same(f, g) for g in gold)]
        recalled = [g for g in gold if any(same(f, g) for f in found)]
        found_total += len(found)
        gold_total += len(gold)
        hit_total += len(hits)
        for g in gold:
            per_facet[f"{g[1]} gold"] += 1
            per_facet[f"{g[1]} recalled"] += g in recalled
        for f in found:
            per_facet[f"{f[1]} found"] += 1
            per_facet[f"{f[1]} right"] += f in hits
        if len(hits) == len(found) and len(recalled) == len(gold):
            exact += 1
        elif show_misses:
            print(json.dumps(row["text"]))
            print("   extra:  ", [f for f in found if f not in hits])
            print("   missing:", [g for g in gold if g not in recalled])
    precision = hit_total / found_total if found_total else 1.0
    recall = sum(per_facet[f"{f} recalled"] for f in ("style", "topics", "shows", "people", "kinds")) / max(
        gold_total, 1
    )
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    result = {
        "instructions": len(rows),
        "parts": gold_total,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "exact": round(exact / len(rows), 3),
    }
    for facet in ("style", "topics", "shows", "people", "kinds"):
        result[f"{facet} P"] = round(per_facet[f"{facet} right"] / max(per_facet[f"{facet} found"], 1), 3)
        result[f"{facet} R"] = round(per_facet[f"{facet} recalled"] / max(per_facet[f"{facet} gold"], 1), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    print(json.dumps(score(args.path, args.show_misses), indent=1))


if __name__ == "__main__":
    main()
