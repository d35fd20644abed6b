"""Speed, memory and word error rate of podsift's speech-to-text settings, in one run.

    .venv/bin/python bench/asr_quality.py [--minutes 5] [--variants default,beam1,...]

Each variant is a PODSIFT_ASR spec run through podsift's own backend (five-minute windows,
VAD) in a process of its own, on: espeak-ng speech made from a corpus transcript (the
reference is the text spoken), and the corpus's real recordings with references (JFK's
inaugural excerpt; the two-speaker stereo sample, one sentence per channel). Speed is audio
seconds per second of transcription (model load excluded, shown apart); memory is the
process's peak RSS from wait4(); WER is jiwer's over lower-cased words. The first variant
(the old default, beam 5, one window at a time) is the baseline every other is compared to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from asr import script_words  # noqa: E402
from feed_scan import timed  # noqa: E402

AUDIO = HERE.parent.parent / "shared" / "corpus" / "audio"
BASE = "faster-whisper:base?device=cpu&compute_type=int8&vad=1"
VARIANTS = {
    "beam5": f"{BASE}&beam_size=5",
    "beam1": f"{BASE}&beam_size=1",
    "beam5-batch8": f"{BASE}&beam_size=5&batch=8",
    "beam1-batch8": f"{BASE}&beam_size=1&batch=8",
    "beam1-batch16": f"{BASE}&beam_size=1&batch=16",
    "beam5-batch8-w120": f"{BASE}&beam_size=5&batch=8&window=120",
    "beam3-batch8-w120": f"{BASE}&beam_size=3&batch=8&window=120",
    "beam2-batch8-w120": f"{BASE}&beam_size=2&batch=8&window=120",
    "beam5-batch4-w120": f"{BASE}&beam_size=5&batch=4&window=120",
    "beam1-batch8-w120": f"{BASE}&beam_size=1&batch=8&window=120",
    "beam5-batch8-w180": f"{BASE}&beam_size=5&batch=8&window=180",
    "beam5-batch6-w120": f"{BASE}&beam_size=5&batch=6&window=120",
    "beam4-batch8-w120": f"{BASE}&beam_size=4&batch=8&window=120",
    "beam5-nofallback": f"{BASE}&beam_size=5&fallback=0",
    "beam3-nofallback": f"{BASE}&beam_size=3&fallback=0",
    "beam5-batch8-w120-nofallback": f"{BASE}&beam_size=5&batch=8&window=120&fallback=0",
    # Two intra-op threads, as many as this machine has cores (CTranslate2's default is 4).
    "beam5-t2": f"{BASE}&beam_size=5&threads=2",
    "beam5-nofallback-t2": f"{BASE}&beam_size=5&fallback=0&threads=2",
    "beam3-nofallback-t2": f"{BASE}&beam_size=3&fallback=0&threads=2",
    "beam2-nofallback-t2": f"{BASE}&beam_size=2&fallback=0&threads=2",
    "beam1-t2": f"{BASE}&beam_size=1&threads=2",
    "beam5-batch8-t2": f"{BASE}&beam_size=5&batch=8&threads=2",
    "beam5-batch4-t2": f"{BASE}&beam_size=5&batch=4&threads=2",
    "beam3-batch8-t2": f"{BASE}&beam_size=3&batch=8&threads=2",
    "beam2-batch8-t2": f"{BASE}&beam_size=2&batch=8&threads=2",
    "default": "",  # whatever podsift's default is now
}
TARGET_SPEED, TARGET_MIB, TARGET_WER_POINTS = 15.0, 1024, 1.0


def synthesize(minutes: float, folder: Path) -> tuple[Path, str]:
    """espeak-ng at 150 wpm, 120 words a paragraph, until `minutes` of audio exist."""
    from tests.speech import encode_mp3, espeak

    words, parts, spoken, total, i, rate = script_words(), [], [], 0, 0, 22050
    target = int(minutes * 60 * rate)
    while total < target:
        text = " ".join(words[i % len(words) : i % len(words) + 120])
        samples, rate = espeak(text, wpm=150)
        if total + len(samples) > target:
            break  # whole paragraphs only: the reference is exactly what was spoken
        parts.append(samples)
        spoken.append(text)
        total += len(samples)
        i += 120
    path = folder / f"speech-{minutes:g}min.mp3"
    path.write_bytes(encode_mp3(np.concatenate(parts), rate))
    return path, " ".join(spoken)


def corpus_recordings() -> list[tuple[Path, str]]:
    out = []
    jfk = AUDIO / "whisper_jfk.flac"
    if jfk.is_file():
        out.append((jfk, (AUDIO / "whisper_jfk.reference.txt").read_text()))
    stereo = AUDIO / "fasterwhisper_stereo_diarization.wav"
    if stereo.is_file():
        lines = (AUDIO / "fasterwhisper_stereo_diarization.reference.txt").read_text().splitlines()
        out.append((stereo, " ".join(line for line in lines if not line.startswith("["))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    from tests.speech import wer

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        speech, reference = synthesize(args.minutes, workdir)
        print(f"synthesized {args.minutes:g} min of speech in {time.perf_counter() - started:.0f} s")
        recordings = corpus_recordings()
        files = [(speech, reference), *recordings]
        rows = []
        for name in names:
            env = {**os.environ, "PODSIFT_HOME": str(workdir / "home")}
            cmd = [sys.executable, str(HERE / "asr_variant.py"), VARIANTS[name], *(str(f) for f, _ in files)]
            _, mib, out = timed(cmd, env)
            result = json.loads(out.splitlines()[-1])
            spoken = result["files"][0]
            corpus_wer = [
                wer(ref, r["text"]) for (_, ref), r in zip(recordings, result["files"][1:], strict=True)
            ]
            rows.append(
                {
                    "name": name,
                    "spec": result["spec"],
                    "load": result["load_seconds"],
                    "speed": spoken["audio_seconds"] / spoken["seconds"],
                    "mib": mib,
                    "wer": wer(reference, spoken["text"]),
                    "corpus_wer": sum(corpus_wer) / len(corpus_wer) if corpus_wer else float("nan"),
                }
            )
    print(
        f"audio: {args.minutes:g} min of espeak speech + {len(recordings)} corpus recordings; {os.cpu_count()} CPUs"
    )
    print(
        f"{'variant':15} {'x real time':>11} {'peak MiB':>9} {'WER espeak':>10} {'WER corpus':>10} {'load s':>7}  spec"
    )
    for r in rows:
        print(
            f"{r['name']:15} {r['speed']:11.1f} {r['mib']:9.0f} {r['wer'] * 100:9.2f}% {r['corpus_wer'] * 100:9.2f}% "
            f"{r['load']:7.1f}  {r['spec']}"
        )
    base = rows[0]
    for r in rows[1:]:
        points = (r["wer"] - base["wer"]) * 100
        ok = r["speed"] >= TARGET_SPEED and r["mib"] <= TARGET_MIB and points <= TARGET_WER_POINTS
        print(
            f"{r['name']}: {r['speed'] / base['speed']:.2f}x the speed of {base['name']}, WER {points:+.2f} points "
            f"(target >= {TARGET_SPEED:g}x real time, <= {TARGET_MIB} MiB, <= +{TARGET_WER_POINTS:g} point): "
            f"{'OK' if ok else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
