"""espeak-ng, the Debian program (GPL-3.0: run as a program, never linked):
`espeak:en-us?speed=165&timeout=60`. Robotic but everywhere, and fast."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from podsift.backends.narrator.registry import (
    NARRATOR_BACKENDS,
    NarrationError,
    Speech,
    decode_wav,
    spoken_text,
)
from podsift.backends.spec import BackendConfigError, BackendSpec

BINARY = "espeak-ng"
_VOICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+.\-/]*$")  # en-us, en-us+f3, mb/mb-en1


class EspeakNarrator:
    def __init__(self, spec: BackendSpec) -> None:
        self.voice = spec.option("voice") or spec.target or "en-us"
        if not _VOICE.match(self.voice):
            raise BackendConfigError(f"espeak voice {self.voice!r} is not a voice name")
        self.speed = int(spec.number("speed", 165))  # words a minute; espeak-ng's own is 175
        if not 80 <= self.speed <= 450:  # espeak-ng's range
            raise BackendConfigError(f"espeak speed={self.speed}: words a minute, 80 to 450")
        self.timeout = spec.number("timeout", 60)
        self.name = f"espeak:{self.voice}?speed={self.speed}"

    def speak(self, text: str) -> Speech:
        text = spoken_text(text)
        binary = shutil.which(BINARY)
        if binary is None:
            raise NarrationError(f"{BINARY} is not installed (apt-get install espeak-ng)")
        with tempfile.TemporaryDirectory(prefix="podsift-espeak-") as folder:
            out = Path(folder) / "speech.wav"
            # The text comes on stdin (never an argument that could read as an option), as
            # UTF-8 (-b 1); a file, not --stdout, so the WAV header states the true length.
            command = [binary, "-b", "1", "-v", self.voice, "-s", str(self.speed), "-w", str(out), "--stdin"]
            try:
                done = subprocess.run(command, input=text.encode(), capture_output=True, timeout=self.timeout)
            except subprocess.TimeoutExpired as exc:
                raise NarrationError(f"{self.name}: no speech after {self.timeout:g} s") from exc
            except OSError as exc:
                raise NarrationError(f"{self.name}: {BINARY} did not run: {exc}") from exc
            said = done.stderr.decode(errors="replace").strip()[-300:]
            if done.returncode != 0 or not out.is_file():
                raise NarrationError(f"{self.name}: {BINARY} exited {done.returncode}: {said}")
            try:
                return decode_wav(out.read_bytes())
            except NarrationError as exc:
                raise NarrationError(f"{self.name}: {exc}") from exc


@NARRATOR_BACKENDS.register("espeak")
def _make(spec: BackendSpec) -> EspeakNarrator:
    return EspeakNarrator(spec)
