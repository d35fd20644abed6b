"""Transcript parsers: our fixtures, edge cases, and every real transcript in the corpus."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from podsift.transcripts.parsers import TranscriptParseError, detect_format, parse_timestamp, parse_transcript
from tests.conftest import CORPUS, FIXTURES


def test_vtt_voice_tags_bom_crlf_and_short_times() -> None:
    raw = (
        "\ufeffWEBVTT\r\n\r\nNOTE a comment\r\n\r\n1\r\n00:01.500 --> 00:04.000 align:start\r\n"
        "<v Ada Lovelace>The engine <i>weaves</i> patterns &amp; numbers.\r\n\r\n"
        "00:04.000 --> 00:06.250\r\nAnd carries on.\r\n\r\n"
        "1:00:00.000 --> 1:00:02.000\r\n<v.loud Bob>Late &lt;cue&gt;\r\n"
    )
    t = parse_transcript(raw.encode("utf-8"))
    assert t.format == "vtt"
    assert [(s.start, s.end, s.speaker, s.text) for s in t.segments] == [
        (1.5, 4.0, "Ada Lovelace", "The engine weaves patterns & numbers."),
        (4.0, 6.25, "Ada Lovelace", "And carries on."),
        (3600.0, 3602.0, "Bob", "Late <cue>"),
    ]


def test_vtt_cue_times_without_minutes() -> None:
    t = parse_transcript("WEBVTT\n\n0.000 --> 3.480\n<v SPEAKER_1>Hello.\n\n14:05.980 --> 14:07.000\nBye.\n")
    assert [(s.start, s.end) for s in t.segments] == [(0.0, 3.48), (845.98, 847.0)]


def test_srt_name_prefix_carries_to_following_cues() -> None:
    raw = "1\n00:00:00,000 --> 00:00:02,000\nAlban: It is nice\nto show up.\n\n2\n00:00:02,000 --> 00:00:04,500\nAnd record.\n\n3\n00:00:04,500 --> 00:00:05,000\nKevin: Agreed.\n"
    t = parse_transcript(raw, url="https://x/ep.srt")
    assert [(s.speaker, s.text) for s in t.segments] == [
        ("Alban", "It is nice to show up."),
        ("Alban", "And record."),
        ("Kevin", "Agreed."),
    ]


def test_json_word_level_tokens_become_phrases() -> None:
    raw = """{"version":"1.0.0","segments":[
      {"speaker":"A","startTime":0.2,"endTime":0.4,"body":"It's"},
      {"speaker":"A","startTime":0.4,"endTime":0.4,"body":" "},
      {"speaker":"A","startTime":0.5,"endTime":0.9,"body":"Friday"},
      {"speaker":"A","startTime":0.9,"endTime":0.9,"body":"."},
      {"speaker":"B","startTime":1.0,"endTime":1.5,"body":"Yes"}]}"""
    t = parse_transcript(raw)
    assert [(s.speaker, s.text, s.start, s.end) for s in t.segments] == [
        ("A", "It's Friday.", 0.2, 0.9),
        ("B", "Yes", 1.0, 1.5),
    ]


def test_html_cite_time_p() -> None:
    t = parse_transcript((FIXTURES / "transcripts" / "policy-signals-13.html").read_bytes(), "text/html")
    assert t.format == "html"
    assert t.segments[1].speaker == "Amara Lindqvist" and t.segments[1].start == 8.0
    assert t.segments[1].text.startswith("Watermarking AI-generated text will not work at scale")


def test_plain_text_with_line_stamps_and_markdown_speakers() -> None:
    t = parse_transcript("00:00:00 <v Host>Welcome.\n\n00:00:10 <v Guest>Thanks. It works.\n")
    assert [(s.start, s.speaker, s.text) for s in t.segments] == [
        (0.0, "Host", "Welcome."),
        (10.0, "Guest", "Thanks. It works."),
    ]
    md = parse_transcript(
        "**Jane Doe:** First point here. \\[laughs\\]\n\n**John Roe:** \\[01:40\\] Second point.\n"
    )
    assert [(s.speaker, s.text) for s in md.segments] == [
        ("Jane Doe", "First point here."),
        ("John Roe", "Second point."),
    ]
    assert md.segments[1].start == 100.0
    # A news show reading a post aloud: the blockquote marks are not words.
    quoted = parse_transcript(
        "**Jerod Santo:** The commit message:\n\n> > This is a fix.\n>\n> It went smoothly.\n"
    )
    assert " ".join(s.text for s in quoted.segments) == "The commit message: This is a fix. It went smoothly."


def test_format_detection_and_errors() -> None:
    assert detect_format("", "application/x-subrip") == "srt"
    assert detect_format("", None, "https://x/t.vtt?a=1") == "vtt"
    assert detect_format('{"segments": []}') == "json"
    assert parse_timestamp("01:02:03,400") == pytest.approx(3723.4)
    with pytest.raises(TranscriptParseError):
        parse_transcript("WEBVTT\n\n")
    with pytest.raises(TranscriptParseError):
        parse_transcript('{"segments": [{"body": "no times"}]}')


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "transcripts").iterdir()))
def test_fixture_transcripts_have_speakers_and_times(name: str) -> None:
    t = parse_transcript((FIXTURES / "transcripts" / name).read_bytes(), url=name)
    assert len(t.segments) >= 4
    assert all(s.speaker for s in t.segments)
    assert all(s.end >= s.start for s in t.segments)
    assert [s.start for s in t.segments] == sorted(s.start for s in t.segments)


def _corpus_files() -> list[Path]:
    folders = [CORPUS / "transcripts", CORPUS / "longform"]
    return sorted(p for f in folders if f.is_dir() for p in f.iterdir())


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "transcripts").is_dir(), reason="../shared/corpus is absent")
@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p.name)
def test_every_corpus_transcript_parses_into_timed_segments(path: Path) -> None:
    t = parse_transcript(path.read_bytes(), url=path.name)
    assert t.segments, path
    assert all(s.text.strip() for s in t.segments)
    assert all(0 <= s.start <= s.end for s in t.segments)
    starts = [s.start for s in t.segments]
    # Publisher files may repeat a start time, but time never runs backwards by much.
    assert all(b >= a - 1.0 for a, b in itertools.pairwise(starts)), path
    assert t.duration > 0
