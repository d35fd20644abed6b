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
        from faster_whisper import decode_audio

        length = len(decode_audio(name)) / 16000
        files.append({"file": name, "audio_seconds": length, "seconds": seconds, "text": transcript.text})
    print(json.dumps({"spec": spec, "load_seconds": load, "files": files}))


if __name__ == "__main__":
    main()
