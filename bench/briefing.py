"""What building one audio briefing costs: a 5-insight briefing, narrated by Piper, its
clips cut from five 10-minute MP3 episodes on disk (no download), each clip checked by ear
with the packaged Whisper. Prints the CPU seconds and the peak memory of a fresh process that
builds it, against a fresh process that only imports what it imports (the floor).

    .venv/bin/python bench/briefing.py [--minutes 10] [--no-check]

Targets (issue 28): <= 20 s of CPU and <= 500 MB for the build, cold narration cache."""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

CLAIMS = [
    (
        "Maya Chen",
        "Grid Talk",
        "Home batteries are now cheaper than a new roof, which means most families with solar panels will soon store their own power.",
    ),
    (
        "Tom Reilly",
        "Power Markets Weekly",
        "Offshore wind auctions failed in three countries this year, because turbine prices rose faster than the prices governments would pay.",
    ),
    (
        "Priya Nair",
        "Storage Notes",
        "Heat pumps outsold gas furnaces in America for the third year in a row, because installers now quote them below a replacement furnace.",
    ),
    (
        "Adam Stacoviak",
        "The Changelog",
        "Most open source maintainers now review more code written by machines than by people, so review time has become the scarce resource.",
    ),
    (
        "Daniel Whitenack",
        "Practical AI",
        "Small local models are good enough for most summaries, which means teams can keep private recordings off other people's servers.",
    ),
]


def make_episodes(folder: Path, minutes: float) -> list[dict[str, object]]:
    """Five MP3 episodes of `minutes`, each saying its claim two thirds of the way in."""
    from podsift.backends.narrator.registry import make_narrator
    from podsift.briefings.audio import RATE, encode_mp3, resample, silence

    voice = make_narrator("piper:joe", folder / "world-voice")
    filler_text = (
        "And that is the background you need before we get to the interesting part of today's story."
    )
    filler = voice.speak(filler_text)
    filler_audio = resample(filler.samples, filler.rate)
    out = []
    for k, (speaker, show, claim) in enumerate(CLAIMS):
        said = voice.speak(claim)
        clip = resample(said.samples, said.rate)
        at = minutes * 60 * 2 / 3
        before = np.tile(
            np.concatenate([filler_audio, silence(0.5)]), int(at * RATE / (filler_audio.size + RATE // 2)) + 1
        )
        before = before[: int(at * RATE)]
        after = silence(minutes * 60 - at - clip.size / RATE)
        path = folder / f"episode-{k}.mp3"
        path.write_bytes(encode_mp3(np.concatenate([before, clip, after])))
        end = at + clip.size / RATE
        segment = {"start": at, "end": end, "text": claim, "speaker": speaker}
        out.append(
            {
                "path": path,
                "speaker": speaker,
                "show": show,
                "claim": claim,
                "start": at,
                "end": end,
                "segments": [segment],
            }
        )
    return out


def install_model(home: Path) -> dict[str, float]:
    from podsift.backends.asr.packaged import install_whisper_base

    install_whisper_base(home / "models")  # built once, as the first speech to text does
    return {}


def build(episodes: list[dict[str, object]], home: Path, check: bool) -> dict[str, float]:
    """In a fresh process: the briefing built, its CPU seconds and peak memory."""
    start_cpu = time.process_time()
    from podsift.backends.asr.words import WordSpotter
    from podsift.backends.narrator.registry import make_narrator
    from podsift.briefings.build import BriefingItem, BriefingPlan, assemble
    from podsift.briefings.clips import ClipSource, cut_clip
    from podsift.briefings.sources import ClipAudio

    narrator = make_narrator("piper:joe", home / "voice")
    spotter = WordSpotter(home / "models") if check else None
    items, files = [], {}
    for k, e in enumerate(episodes):
        source = ClipSource(
            k + 1,
            k + 1,
            str(e["claim"]),
            str(e["speaker"]),
            str(e["show"]),
            None,
            None,
            float(e["start"]),
            float(e["end"]),
            "en",
            list(e["segments"]),
        )  # type: ignore[call-overload]
        files[k + 1] = ClipAudio(Path(str(e["path"])))
        items.append(BriefingItem(k + 1, str(e["claim"]), [source]))
    plan = BriefingPlan(1, 1, "2026-12-05", items)
    wall = time.perf_counter()
    # As the stage does: the clips (and Whisper) first, then the narration (and Piper).
    clips = {s.insight_id: cut_clip(files[s.episode_id], s, spotter) for i in items for s in i.sources}
    after_clips = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if spotter is not None:
        spotter.release()
    built = assemble(plan, narrator, lambda s: clips[s.insight_id])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"  (peak after the clips: {after_clips:.0f} MB)", file=sys.stderr)
    return {
        "cpu": time.process_time() - start_cpu,
        "wall": time.perf_counter() - wall,
        "peak_mb": usage.ru_maxrss / 1024,
        "duration": built.duration,
        "clips": built.clips_played,
        "bytes": len(built.mp3),
    }


def floor() -> dict[str, float]:
    """The same imports and model loads, nothing built: what a process costs to stand up."""
    start_cpu = time.process_time()
    import av  # noqa: F401
    import ctranslate2  # noqa: F401
    import onnxruntime  # noqa: F401

    import podsift.briefings.build  # noqa: F401

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": time.process_time() - start_cpu, "peak_mb": usage.ru_maxrss / 1024}


def _child(target: str, args: tuple[object, ...], queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(globals()[target](*args))


def in_fresh_process(target: str, *args: object) -> Any:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--no-check", action="store_true", help="skip the clips' check by ear")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="podsift-bench-briefing-") as tmp:
        folder = Path(tmp)
        print(f"making 5 episodes of {args.minutes:g} min (not measured)...", file=sys.stderr)
        # In processes of their own: a child's peak memory counts its parent's before exec,
        # so this process stays small.
        episodes = in_fresh_process("make_episodes", folder, args.minutes)
        in_fresh_process("install_model", folder / "home")
        base = in_fresh_process("floor")
        result = in_fresh_process("build", episodes, folder / "home", not args.no_check)
    print(
        f"briefing: {result['clips']:.0f} clips, {result['duration']:.1f} s of audio, {result['bytes'] / 1e6:.2f} MB\n"
        f"build:    {result['cpu']:.1f} s CPU ({result['wall']:.1f} s wall), peak {result['peak_mb']:.0f} MB"
        f"  [targets: <= 20 s CPU, <= 500 MB]\n"
        f"floor:    {base['cpu']:.1f} s CPU, peak {base['peak_mb']:.0f} MB (imports only)\n"
        f"ratio:    {result['cpu'] / max(base['cpu'], 1e-9):.1f}x the floor's CPU, "
        f"{result['peak_mb'] / max(base['peak_mb'], 1e-9):.2f}x its memory"
    )


if __name__ == "__main__":
    main()
