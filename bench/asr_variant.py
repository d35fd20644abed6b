"""One speech-to-text setting through podsift's backend, for bench/asr_quality.py.

    python bench/asr_variant.py SPEC AUDIO... (SPEC "" = podsift's default)

Prints one JSON line: the spec, the model load time, and per file its audio length, the
seconds transcription took and the text.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from podsift.backends.asr.registry import make_asr
from podsift.settings import Settings


def audio_seconds(path: Path) -> float:
    """The file's length from its container, without decoding it: decoding a whole hour at
    once (230 MB of samples) would be this process's peak memory, not podsift's."""
    import av

    with av.open(str(path)) as container:
        if container.duration is not None:
            return container.duration / av.time_base
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


def main() -> None:
    spec = sys.argv[1] or Settings.model_fields["asr"].default
    settings = Settings.load()
    backend = make_asr(spec, settings.home)
    assert backend is not None, "speech to text is off in this spec"
    started = time.perf_counter()
    backend.model()  # type: ignore[attr-defined]  # faster-whisper: load once, outside the timing
    load = time.perf_counter() - started
    files = []
    for name in sys.argv[2:]:
        started = time.perf_counter()
        transcript = backend.transcribe(Path(name))
        seconds = time.perf_counter() - started
        files.append(
            {
                "file": name,
                "audio_seconds": audio_seconds(Path(name)),
                "seconds": seconds,
                "text": transcript.text,
            }
        )
    print(json.dumps({"spec": spec, "load_seconds": load, "files": files}))


if __name__ == "__main__":
    main()
