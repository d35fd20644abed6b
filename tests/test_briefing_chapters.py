"""Briefing chapters and transcript, read back by independent readers: a real MP3 (encoded
with PyAV) tagged by `id3_tag` and read with mutagen, then decoded again; the JSON chapters
through json; the WebVTT through a small parser of our own and webvtt-py when installed."""

from __future__ import annotations

import html
import importlib.util
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from mutagen.id3 import ID3, CTOCFlags

from podsift.briefings.chapters import TITLE_LIMIT, Chapter, Cue, chapters_json, id3_tag, webvtt

RATE = 24000
SECONDS = 3.0
FAMILY = "👩\u200d👩\u200d👧\u200d👦"  # one grapheme of seven code points

CHAPTERS = [
    Chapter(0.0, 1.2, "Opening: today's briefing"),
    Chapter(1.2, 2.25, "Café Society — 日本語のニュース 🎙️", url="https://example.com/ep/42?t=1&x=y"),
    Chapter(2.25, 3.0, "Wrap-up"),
]


def _mp3(seconds: float = SECONDS) -> bytes:
    """A 440 Hz sine as a mono 64 kb/s MP3, like the briefings' encoding, without the
    muxer's own ID3 tag (id3v2_version=0), so that id3_tag's is the file's only one."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3", options={"id3v2_version": "0"}) as out:
        stream = out.add_stream("libmp3lame", rate=RATE, layout="mono")
        stream.bit_rate = 64000
        t = np.arange(int(seconds * RATE)) / RATE
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i, start in enumerate(range(0, len(samples), 4800)):
            frame = av.AudioFrame.from_ndarray(
                samples[None, start : start + 4800], format="flt", layout="mono"
            )
            frame.sample_rate = RATE
            frame.pts = i * 4800
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def test_a_tagged_mp3_reads_back_with_mutagen_and_still_decodes(tmp_path: Path) -> None:
    audio = _mp3()
    tag = id3_tag(
        title="Your briefing — Friday",
        artist="podsift",
        album="Daily briefings for Zoë",
        date="2026-03-13",
        chapters=CHAPTERS,
        comment="Five stories.\nMade by podsift.",
    )
    assert audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0  # an MPEG frame sync, no tag
    tagged = tmp_path / "briefing.mp3"
    tagged.write_bytes(tag + audio)
    plain = tmp_path / "plain.mp3"
    plain.write_bytes(audio)

    tags = ID3(tagged)
    assert tags.version == (2, 4, 0)
    assert tags["TIT2"].text == ["Your briefing — Friday"]
    assert tags["TPE1"].text == ["podsift"]
    assert tags["TALB"].text == ["Daily briefings for Zoë"]
    assert [str(d) for d in tags["TDRC"].text] == ["2026-03-13"]
    (comm,) = tags.getall("COMM")
    assert (comm.lang, comm.desc, comm.text) == ("eng", "", ["Five stories.\nMade by podsift."])

    (toc,) = tags.getall("CTOC")
    assert toc.element_id == "toc"
    assert toc.flags == CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED
    assert toc.child_element_ids == ["ch0", "ch1", "ch2"]
    chaps = tags.getall("CHAP")
    assert sorted(c.element_id for c in chaps) == ["ch0", "ch1", "ch2"]
    expected = [
        (0, 1200, "Opening: today's briefing", None),
        (1200, 2250, CHAPTERS[1].title, CHAPTERS[1].url),
    ]
    expected.append((2250, 3000, "Wrap-up", None))
    for i, (start, end, title, url) in enumerate(expected):
        chap = tags[f"CHAP:ch{i}"]
        assert (chap.start_time, chap.end_time) == (start, end)
        assert (chap.start_offset, chap.end_offset) == (0xFFFFFFFF, 0xFFFFFFFF)
        assert chap.sub_frames["TIT2"].text == [title]
        assert [w.url for w in chap.sub_frames.getall("WXXX")] == ([url] if url else [])

    # FFmpeg's own ID3 reader (through PyAV) finds the same tag and chapters.
    with av.open(str(tagged)) as container:
        assert container.metadata["title"] == "Your briefing — Friday"
        assert container.metadata["date"] == "2026-03-13"
        found = [(c["start"], c["end"], c["metadata"]["title"]) for c in container.chapters()]
    assert found == [(start, end, title) for start, end, title, _ in expected]

    # The tag is skipped by the decoder: the same samples, about 3 s of them, still a sine.
    samples = _decode(tagged)
    assert np.array_equal(samples, _decode(plain))
    assert abs(len(samples) / RATE - SECONDS) < 0.15
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * RATE / len(samples) - 440) < 5


def test_the_tag_header_and_sizes_are_syncsafe() -> None:
    tag = id3_tag(title="t", artist="a", album="b", date="2026-01-02", chapters=CHAPTERS)
    assert tag[:6] == b"ID3\x04\x00\x00"
    assert all(b < 0x80 for b in tag[6:10])
    size = sum(b << (7 * (3 - i)) for i, b in enumerate(tag[6:10]))
    assert size == len(tag) - 10
    assert tag.endswith(b"\x00" * 64)  # padding


def test_feed_text_is_cleaned_and_clipped_in_the_tag(tmp_path: Path) -> None:
    chapters = [
        Chapter(0, 1, "line\x00two\r\nthree\tfour"),
        Chapter(1, 2, "word " * 1000),
        Chapter(2, 3, FAMILY * 100),
        Chapter(3, 4, "日本語" * 100),
        Chapter(4, 5, "bad \udcff surrogate"),
        Chapter(5, 6, "x", url="https://例え.jp/パス?q=é"),
    ]
    path = tmp_path / "t.mp3"
    path.write_bytes(id3_tag(title="T" * 5000, artist="a", album="b", date="2026-01-02", chapters=chapters))
    tags = ID3(path)
    titles = [tags[f"CHAP:ch{i}"].sub_frames["TIT2"].text for i in range(6)]
    assert titles[0] == ["line two three four"]  # a NUL would have made two values
    assert all(len(t) == 1 and len(t[0]) <= TITLE_LIMIT for t in titles)
    assert titles[1][0].endswith("word…")  # cut at a word break
    assert titles[2][0] == FAMILY * ((TITLE_LIMIT - 1) // len(FAMILY)) + "…"  # whole graphemes
    assert titles[3][0] == ("日本語" * 100)[: TITLE_LIMIT - 1] + "…"
    assert titles[4] == ["bad \ufffd surrogate"]
    assert (
        tags["CHAP:ch5"].sub_frames.getall("WXXX")[0].url
        == "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9?q=%C3%A9"
    )
    assert len(tags["TIT2"].text[0]) <= TITLE_LIMIT


@pytest.mark.parametrize("grapheme", [FAMILY, "🇯🇵", "q\u0307", "👍🏽", "é", "日"])
@pytest.mark.parametrize("lead", ["", "x"])
def test_long_titles_are_cut_between_graphemes(grapheme: str, lead: str) -> None:
    (item,) = chapters_json([Chapter(0, 1, lead + grapheme * 300)])["chapters"]
    kept = item["title"].removesuffix("…").removeprefix(lead)
    assert len(item["title"]) <= TITLE_LIMIT and item["title"].endswith("…")
    assert kept == grapheme * (len(kept) // len(grapheme)) and len(kept) > TITLE_LIMIT - 10


BAD_URLS = [
    "javascript:alert(1)",
    "data:text/html,hi",
    "https:///path",
    "https://e.com:99999/",
    "ftp://e.com/x",
]
BAD_URLS += ["https://e.com/\x00", "https://e.com/" + "a" * 3000, ""]


def test_links_other_than_web_links_are_left_out(tmp_path: Path) -> None:
    # Feed links are untrusted: no tappable javascript:, and no lost briefing over one link.
    chapters = [Chapter(i, i + 1, f"c{i}", url=url) for i, url in enumerate(BAD_URLS)]
    path = tmp_path / "t.mp3"
    path.write_bytes(id3_tag(title="t", artist="a", album="b", date="2026-01-02", chapters=chapters))
    tags = ID3(path)
    assert [tags[f"CHAP:ch{i}"].sub_frames.getall("WXXX") for i in range(len(BAD_URLS))] == [[]] * len(
        BAD_URLS
    )
    assert all("url" not in c for c in chapters_json(chapters)["chapters"])


def test_chapters_are_ordered_by_start() -> None:
    tag = id3_tag(title="t", artist="a", album="b", date="2026-01-02", chapters=CHAPTERS[::-1])
    assert tag == id3_tag(title="t", artist="a", album="b", date="2026-01-02", chapters=CHAPTERS)
    assert [c["title"] for c in chapters_json(CHAPTERS[::-1])["chapters"]] == [c.title for c in CHAPTERS]


def test_chapters_json_round_trips() -> None:
    chapters = [Chapter(0, 61.23456, "Intro"), Chapter(61.23456, 125.0004, "Café 🎙️", url="https://e.org/p")]
    doc = json.loads(json.dumps(chapters_json(chapters, title="Briefing — 13 March")))
    assert doc == {
        "version": "1.2.0",
        "title": "Briefing — 13 March",
        "chapters": [
            {"startTime": 0, "endTime": 61.235, "title": "Intro"},
            {"startTime": 61.235, "endTime": 125.0, "title": "Café 🎙️", "url": "https://e.org/p"},
        ],
    }
    assert list(doc["chapters"][1]) == ["startTime", "endTime", "title", "url"]
    assert "title" not in chapters_json(chapters)
    assert chapters_json([]) == {"version": "1.2.0", "chapters": []}


CUES = [
    Cue(65.5, 70.25, "Ann & Bo", "Second: a <b>& tag</b> --> shown as written."),
    Cue(0.0, 4.0, "Narrator", "Good morning. Here is Zoë's briefing — 日本語 too 🎙️"),
    Cue(4.0, 3.0, None, "An end before its start"),
    Cue(5.0, 6.0, "Nobody", "   \n  "),
    Cue(-0.2, 0.5, "Evil>Name<", "line one\n\nline two"),
    Cue(360000.0, 360001.5, None, "hour one hundred"),
]

TIMING = re.compile(r"^(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})$")
VOICE = re.compile(r"^<v ([^>&\n]*(?:&[a-z]+;[^>&\n]*)*)>(.*)$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _parse(vtt: str) -> list[tuple[float, float, str | None, str]]:
    """A strict little WebVTT reader: the header, then blocks of a timing line and one line
    of text with an optional <v> span and only character references for markup."""
    assert vtt.startswith("WEBVTT\n\n") and vtt.endswith("\n")
    cues = []
    for block in vtt.rstrip("\n").split("\n\n")[1:]:
        timing, text = block.split("\n")
        match = TIMING.match(timing)
        assert match, timing
        start, end = _seconds(*match.group(1, 2, 3, 4)), _seconds(*match.group(5, 6, 7, 8))
        assert start <= end
        speaker = None
        if voice := VOICE.match(text):
            speaker, text = html.unescape(voice.group(1)), voice.group(2)
        assert "<" not in text and ">" not in text and "-->" not in text
        assert not re.search(r"&(?!(amp|lt|gt);)", text)  # every & is a reference
        cues.append((start, end, speaker, html.unescape(text)))
    return cues


def test_webvtt_parses_back() -> None:
    vtt = webvtt(CUES)
    assert "<v Ann &amp; Bo>Second: a &lt;b&gt;&amp; tag&lt;/b&gt; --&gt; shown" in vtt
    assert _parse(vtt) == [
        (0.0, 0.5, "EvilName<", "line one line two"),  # clamped at 0, '>' dropped, one line
        (0.0, 4.0, "Narrator", "Good morning. Here is Zoë's briefing — 日本語 too 🎙️"),
        (4.0, 4.0, None, "An end before its start"),
        (65.5, 70.25, "Ann & Bo", "Second: a <b>& tag</b> --> shown as written."),
        (360000.0, 360001.5, None, "hour one hundred"),
    ]
    assert "100:00:00.000 --> 100:00:01.500" in vtt
    assert webvtt([]) == "WEBVTT\n"


@pytest.mark.skipif(importlib.util.find_spec("webvtt") is None, reason="webvtt-py is not installed")
def test_webvtt_py_reads_it() -> None:
    import webvtt as webvtt_py

    captions = webvtt_py.from_buffer(io.StringIO(webvtt(CUES)))
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.000", "00:00:00.500"),
        ("00:00:00.000", "00:00:04.000"),
        ("00:00:04.000", "00:00:04.000"),
        ("00:01:05.500", "00:01:10.250"),
        ("100:00:00.000", "100:00:01.500"),
    ]
    # webvtt-py leaves character references as they are: it found the spans and the text.
    assert [c.voice and html.unescape(c.voice) for c in captions] == [
        "EvilName<",
        "Narrator",
        None,
        "Ann & Bo",
        None,
    ]
    assert [html.unescape(c.text) for c in captions] == [text for *_, text in _parse(webvtt(CUES))]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Chapter(-0.5, 1, "negative start"),
        lambda: Chapter(2, 1, "ends before it starts"),
        lambda: Chapter(0, math.nan, "not a number"),
        lambda: Chapter(0, math.inf, "forever"),
        lambda: Chapter(0, 5e6, "past 49 days"),
        lambda: id3_tag(title="t", artist="a", album="b", date="2026-3-1", chapters=[]),
        lambda: id3_tag(title="t", artist="a", album="b", date="2026-02-30", chapters=[]),
        lambda: id3_tag(title="t", artist="a", album="b", date="20260301", chapters=[]),
        lambda: id3_tag(
            title="t",
            artist="a",
            album="b",
            date="2026-03-01",
            chapters=[Chapter(i, i + 1, "c") for i in range(256)],
        ),
        lambda: webvtt([Cue(math.nan, 1, None, "x")]),
    ],
)
def test_invalid_input_is_a_value_error(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()
