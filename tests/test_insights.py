"""The offline extractor and grounding, on our fixtures and on long real transcripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from podsift.insights.grounding import ground, locate
from podsift.insights.offline import OfflineExtractor
from podsift.insights.passages import clean_disfluencies
from podsift.insights.registry import EpisodeInfo, ExtractorConfigError, make_extractor
from podsift.transcripts.parsers import parse_transcript
from tests.conftest import CORPUS, FIXTURES

INFO = EpisodeInfo(show="Show", title="Episode")


def extract(path: Path, limit: int = 5):  # type: ignore[no-untyped-def]
    transcript = parse_transcript(path.read_bytes(), url=path.name)
    return transcript, OfflineExtractor().extract(INFO, transcript, limit)


def test_locate_exact_then_tolerant_of_asr_punctuation_and_case() -> None:
    text = "So, the grid is Full. Batteries, now, discharge more power than coal!"
    assert locate("the grid is Full.", text) == (4, 21)
    span = locate("batteries now discharge more power than coal", text)
    assert span is not None and text[span[0] : span[1]] == "Batteries, now, discharge more power than coal"
    assert locate("batteries discharge less power", text) is None
    assert locate("", text) is None


def test_ground_maps_quote_to_segment_times() -> None:
    t = parse_transcript((FIXTURES / "transcripts" / "policy-signals-12.vtt").read_bytes())
    grounded = ground("compute thresholds are a poor proxy for risk", t)
    assert grounded is not None
    assert grounded.quote == "Compute thresholds are a poor proxy for risk"
    assert (grounded.start, grounded.end) == (36.0, 50.0)
    assert ground("a fabricated claim nobody made", t) is None


def test_offline_picks_claims_not_intros_ads_or_banter() -> None:
    transcript, candidates = extract(FIXTURES / "transcripts" / "policy-signals-12.vtt", limit=4)
    quotes = [c.quote for c in candidates]
    # Four claims, each one long sentence: the selector, trained on speech where a claim
    # takes a few sentences, keeps at least three above its threshold and nothing else.
    assert len(candidates) >= 3
    assert all(q in transcript.text for q in quotes)
    joined = " ".join(quotes)
    for junk in ("Welcome back", "promo code", "how are you feeling", "That's wild", "Subscribe"):
        assert junk not in joined
    assert all(c.speaker == "Daniel Reyes" for c in candidates)
    assert all(0.5 <= c.score <= 1 for c in candidates)
    assert [c.score for c in candidates] == sorted((c.score for c in candidates), reverse=True)


def test_disfluencies_are_removed_from_the_insight_text() -> None:
    cleaned = clean_disfluencies(
        "So, um, the the thing is, you know, batteries are, uh, cheaper now. and it works"
    )
    assert cleaned == "The thing is batteries are cheaper now. It works"


def test_registry_knows_offline_and_rejects_unknown_backends() -> None:
    assert make_extractor("offline").name == "offline"
    with pytest.raises(ExtractorConfigError, match="unknown PODSIFT_LLM backend 'nope'"):
        make_extractor("nope:model")


# Passages in the corpus that are sponsor reads or intros (labelled by hand by reading them).
SPONSOR_LABELS = {
    # 00:01:31 and 00:11:51 "brought to you by Sentry", 00:33:13 the courses read, 01:03:36 thanks.
    "talkpython_552-astral-joins-openai.vtt": [
        "brought to you by",
        "Sentry",
        "talkpython.fm/",
        "Thank you to our sponsors",
    ],
    # 00:17:23 "brought to you by Agentfield", 01:01:15 "Thank you to our sponsors".
    "talkpython_550.txt": ["brought to you by", "Agentfield", "Thank you to our sponsors"],
    # "**Break:**" pseudo-speaker at 18:05 and 35:28: the mid-roll ads.
    "changelog_practical-ai-288.md": ["Break"],
}
INTRO_LABELS = ["Welcome to", "welcome back to", "Thanks for listening", "see you next time"]


def _corpus_episodes() -> list[Path]:
    names = [
        "longform/changelog_practical-ai-288.md",
        "longform/changelog_practical-ai-300.md",
        "longform/changelog_the-changelog-664.md",
        "longform/talkpython_550.txt",
        "transcripts/talkpython_552-astral-joins-openai.vtt",
        "transcripts/transcriptator_buzzcast.srt",
        "transcripts/podcastnamespace_example.srt",
    ]
    return [CORPUS / n for n in names]


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "longform").is_dir(), reason="../shared/corpus is absent")
@pytest.mark.parametrize("path", _corpus_episodes(), ids=lambda p: p.name)
def test_offline_on_real_episodes_is_grounded_and_skips_ads(path: Path) -> None:
    transcript, candidates = extract(path)
    assert len(candidates) == 5
    for c in candidates:
        grounded = ground(c.quote, transcript)
        assert grounded is not None and grounded.quote == c.quote
        assert 0 <= grounded.start <= grounded.end <= transcript.duration
        assert 15 <= len(c.quote.split()) <= 90
        assert not c.quote.rstrip().endswith("?")
        assert (c.speaker or "").lower() != "break"
        for marker in [*SPONSOR_LABELS.get(path.name, []), *INTRO_LABELS]:
            assert marker.lower() not in c.quote.lower(), (marker, c.quote)
    # Spread over the episode, not clustered in one place.
    starts = sorted(ground(c.quote, transcript).start for c in candidates)  # type: ignore[union-attr]
    assert starts[-1] - starts[0] > transcript.duration * 0.2
