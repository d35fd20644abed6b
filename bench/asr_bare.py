"""Bare faster-whisper on a file: the baseline for bench/asr.py."""

from __future__ import annotations

import sys

from faster_whisper import BatchedInferencePipeline, WhisperModel


def main() -> None:
    model_dir, audio, beam, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    model = WhisperModel(model_dir, device="auto", compute_type="int8", local_files_only=True)
    if batch:
        segments, _ = BatchedInferencePipeline(model=model).transcribe(
            audio, beam_size=beam, vad_filter=True, batch_size=batch
        )
    else:
        segments, _ = model.transcribe(audio, beam_size=beam, vad_filter=True)
    words = sum(len(s.text.split()) for s in segments)
    print(f"{words} words")


if __name__ == "__main__":
    main()
