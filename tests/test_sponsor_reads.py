"""Sponsor reads end where the read ends: the claim said right after one, by the same
speaker in the same turn or the next cue, is the show again and can become an insight."""

from __future__ import annotations

import pytest

from podsift.insights.offline import OfflineExtractor
from podsift.insights.passages import turn_sentences
from podsift.insights.registry import EpisodeInfo
from podsift.types import Segment, Transcript

CLAIM = (
    "Texas added nine gigawatts of grid batteries this year, which means evening power prices fell by a "
    "third and two gas peaker plants will close before the summer."
)
BANTER = [
    ("Ana Ruiz", "Good to be back, it has been a long week for both of us."),
    ("Ben Okafor", "It really has, and there is a lot to get through today."),
]

# Each shape: (turns as (speaker, [cue texts]) in order, the sentences of the read).
SHAPES = {
    "mid-roll by a co-host": [
        *[(who, [line]) for who, line in BANTER],
        (
            "Ben Okafor",
            [
                "This episode is brought to you by Voltly.",
                "Voltly helps energy teams track every kilowatt, and you can start a free trial at voltly.com.",
                "Sign up today and your first month is free.",
                CLAIM,
            ],
        ),
        ("Ana Ruiz", ["Right, and that changes the whole market for the evening peak."]),
    ],
    "pre-roll by the host": [
        (
            "Ana Ruiz",
            [
                "Before we start, thanks to our sponsor Gridwise.",
                "Gridwise forecasts your plant's output, and listeners get a discount with the promo code GRID.",
                CLAIM,
            ],
        ),
        *[(who, [line]) for who, line in BANTER],
    ],
    "a solo host": [
        (
            "Ana Ruiz",
            [
                "Welcome back to Grid Notes.",
                "Today's show is sponsored by Kilo, the meter data platform.",
                "Kilo plans start at ten dollars, and you can try it free today at kilo.io.",
                CLAIM,
                "Transmission permits still take ten years in America, so the next wave of solar farms will "
                "wait until 2030 to reach customers.",
            ],
        )
    ],
    "a read with no brought to you by": [
        *[(who, [line]) for who, line in BANTER],
        (
            "Ben Okafor",
            [
                "Our friends at Fieldbook make site surveys painless for solar installers.",
                "Head over to fieldbook.dev/grid and use the code GRID for three months free.",
                CLAIM,
            ],
        ),
        ("Ana Ruiz", ["That is a huge number for one state in one year."]),
    ],
}
READS = {
    "mid-roll by a co-host": ("Voltly", "Sign up today"),
    "pre-roll by the host": ("Gridwise",),
    "a solo host": ("Kilo",),
    "a read with no brought to you by": ("Fieldbook",),
}


def transcript(turns: list[tuple[str, list[str]]]) -> Transcript:
    segments, t = [], 0.0
    for speaker, cues in turns:
        for cue in cues:  # a cue a sentence, no pause between them: the speaker goes straight on
            length = len(cue.split()) / 2.6
            segments.append(Segment(t, t + length, cue, speaker))
            t += length
    return Transcript(segments, "json")


@pytest.mark.parametrize("shape", SHAPES)
def test_the_read_is_marked_and_the_claim_after_it_is_not(shape: str) -> None:
    sentences = turn_sentences(transcript(SHAPES[shape]))
    read = [s for s in sentences if s.sponsor]
    assert read, "the read was not found"
    assert all(any(word in s.text for s in read) for word in READS[shape])
    claim = next(s for s in sentences if s.text.startswith("Texas added nine gigawatts"))
    assert not claim.sponsor
    assert all(not s.sponsor for s in sentences if s.time > claim.time)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_claim_after_a_read_becomes_an_insight_and_the_read_does_not(shape: str) -> None:
    # No threshold: whatever the selector thinks of these few lines, no part of the read may
    # be chosen, and the claim, free of the read, must be the best of what is left.
    extractor = OfflineExtractor(threshold=0.0)
    found = extractor.extract(EpisodeInfo("Grid Notes", "Batteries"), transcript(SHAPES[shape]), 3)
    assert "nine gigawatts" in found[0].quote
    quotes = " ".join(c.quote for c in found)
    assert "nine gigawatts" in quotes
    for word in READS[shape]:
        assert word not in quotes
