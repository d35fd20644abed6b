"""podsift's whole ASR path for one audio-only feed: scan, download, decode, transcribe, store."""

from __future__ import annotations

import sys

from podsift.core import make_app
from podsift.sources.scan import add_feeds, scan_feeds
from podsift.transcripts.speech import transcribe_pending
from podsift.transcripts.stage import fetch_transcripts


def main() -> None:
    app = make_app()
    add_feeds(app, [sys.argv[1]])
    scan_feeds(app)
    fetch_transcripts(app)
    report = transcribe_pending(app)
    if report.failed or report.transcribed != 1:
        raise SystemExit(f"transcription failed: {report}")
    print(f"{report.audio_seconds:.0f} s of audio transcribed")


if __name__ == "__main__":
    main()
