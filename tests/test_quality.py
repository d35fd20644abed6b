"""The quality floor, the faithfulness guard and tolerant parsing: pure functions on text."""

from __future__ import annotations

import json

import pytest

from podsift.insights.llm.faithfulness import unsupported_terms
from podsift.insights.llm.parse import _Insight, parse_items, salvage_items
from podsift.insights.offline import OfflineExtractor
from podsift.insights.passages import split_sentences
from podsift.insights.quality import candidate_problem, passage_problem, written_problem
from podsift.insights.registry import EpisodeInfo
from podsift.types import Segment, Transcript
from tests.fake_llm import answer


@pytest.mark.parametrize(
    ("passage", "reason"),
    [
        (
            "Thanks to the tools at Adobe Podcast, I no longer sound like this. It's Friday the 17th of March.",
            "greeting",
        ),
        (
            "It also works with Python [unintelligible 00:16:38.07] and the rest of the toolchain we use.",
            "artefact",
        ),
        (
            "Maybe there'll be some winners there, because the market will sort out the weak players.",
            "dangling",
        ),
        ("It matters because the grid cannot add capacity fast enough for the new data centers.", "dangling"),
        ("I have studied two master's degrees and I hold 30 certifications in cloud security.", "biography"),
        (
            "Permission is hereby granted, free of charge, to any person obtaining a copy of this software.",
            "boilerplate",
        ),
        ("This episode is brought to you by Sentry. Use code TALKPYTHON for three months free.", "sponsor"),
        (
            "Make sure to subscribe and leave us a review, it really helps the show grow every week.",
            "housekeeping",
        ),
        ("So tell us what you think will happen to open source maintainers over the next year?", "prompt"),
        (
            "I was reading this thing about a workout program and it is three and a half hours a night.",
            "about-the-speaker",
        ),
    ],
)
def test_the_floor_refuses_what_a_reader_would_cut(passage: str, reason: str) -> None:
    assert passage_problem(passage) == reason


@pytest.mark.parametrize(
    "passage",
    [
        "The U.S. grid grew about 1.2% in the last 20 years, so it is not growing fast enough to serve AI workloads.",
        "Gen 3 reactors cost significantly more per kilowatt than Gen 2, because so much capital goes to safety.",
        "Open-weight models trail the best closed models by about six months, which changes how startups buy.",
        "Podcast apps that render show notes as HTML are exposed, because a tag in them runs in the listener's app.",
    ],
)
def test_the_floor_keeps_claims(passage: str) -> None:
    assert passage_problem(passage) is None


def test_written_text_must_be_a_claim_not_a_name() -> None:
    assert written_problem("Jeff Smith") == "too-short"
    assert written_problem("Jeff Smith Jeff Smith is the host of the podcast.") == "biography"
    assert (
        written_problem("Jeff Smith is the host of the podcast and founder and CEO at Chrp.") == "biography"
    )
    assert written_problem("Greg Osuri argues that the U.S. grid grew only 1.2% in twenty years.") is None
    # A model may quote from mid-sentence: only the quote's kind counts, its text is judged.
    assert (
        candidate_problem(
            "Greg Osuri argues that the grid grew only 1.2% in 20 years.", "grid grew about 1.2%", None
        )
        is None
    )


def test_sentences_keep_decimals_versions_and_abbreviations_whole() -> None:
    text = "Downloaded 1.5 billion times. Podcasting 2.0 is open. Dr. Smith said so, e.g. here. Done"
    spans = [text[a:b] for a, b in split_sentences(text, 0, len(text))]
    assert spans == [
        "Downloaded 1.5 billion times.",
        "Podcasting 2.0 is open.",
        "Dr. Smith said so, e.g. here.",
        "Done",
    ]


def test_a_solo_shows_sponsor_read_ends_where_the_read_ends() -> None:
    """One speaker, one turn: the read must not swallow the two claims that follow it."""
    lines = [
        "Welcome back to Grid Notes, I'm Lena.",
        "This episode is brought to you by Voltly.",
        "Voltly helps teams track every kilowatt with a free trial at voltly.com.",
        "Sign up today and get your first month free.",
        "Texas added nine gigawatts of batteries this year, which means evening prices fell by a third.",
        "Two gas peaker plants will close before the summer because batteries now undercut them on cost.",
        "Transmission permits still take ten years, so the next wave of solar will wait until 2030.",
    ]
    transcript = Transcript(
        [Segment(i * 6.0, i * 6.0 + 5.9, line, "Lena") for i, line in enumerate(lines)], "json"
    )
    found = OfflineExtractor(min_words=10).extract(EpisodeInfo("Grid Notes", "Batteries"), transcript, 3)
    quotes = " ".join(c.quote for c in found)
    assert "nine gigawatts" in quotes and "peaker plants" in quotes
    assert "Voltly" not in quotes and "Welcome" not in quotes
    assert all(c.text.startswith("Lena: ") for c in found)


def test_offline_text_is_the_claim_within_sixty_words() -> None:
    long_turn = (
        "Yeah. So, um, the thing is, you know, batteries are cheaper now. "
        "Texas added nine gigawatts of batteries this year, which means evening prices fell by a third "
        "and two gas peaker plants will close before the summer, according to the grid operator ERCOT."
    )
    transcript = Transcript([Segment(0, 30, long_turn, "Sam Ortiz")], "json")
    (candidate,) = OfflineExtractor(min_words=10).extract(EpisodeInfo(None, None), transcript, 1)
    assert candidate.text.startswith("Sam Ortiz: Texas added nine gigawatts")
    assert len(candidate.text.split()) <= 62 and "um" not in candidate.text.split()
    assert candidate.quote in long_turn  # the quote stays verbatim


def test_faithfulness_guard_finds_numbers_names_and_terms_not_in_the_passage() -> None:
    passage = (
        "Greg Osuri said the U.S. grid grew about 1.2% in the last 20 years, and Gartner predicts trouble."
    )
    ok = "Greg Osuri warns the U.S. grid grew only 1.2% in 20 years. Gartner expects shortages."
    assert unsupported_terms(ok, [passage]) == []
    bad = "Greg Osuri says OpenAI will need 5 gigawatts by 2030 to train 'frontier' models."
    assert unsupported_terms(bad, [passage]) == ["2030", "5", "OpenAI", "'frontier'"]
    assert unsupported_terms("Five new plants will open, says Greg Osuri.", ["five plants, Greg Osuri"]) == []


def test_a_bad_item_is_dropped_not_the_answer_and_errors_name_every_reason() -> None:
    good = answer()
    bad = {**good, "claim": "Jeff Smith", "topics": ["a", "b", "c", "d"]}
    parsed = parse_items(json.dumps({"insights": [good, bad]}), "insights", _Insight)
    assert [i.claim for i in parsed.items] == [good["claim"]]
    assert "insights[1]: claim" in parsed.errors[0] and "topics" in parsed.errors[0]


def test_a_cut_off_answer_keeps_its_complete_items() -> None:
    raw = '{"insights": [{"a": 1}, {"b": [2, 3]}, {"c": "cut off mid-str'
    assert salvage_items(raw, "insights") == [{"a": 1}, {"b": [2, 3]}]
    assert salvage_items("no json here", "insights") == []


def test_guard_catches_words_lifted_from_the_style_example_and_talk_about_the_passage() -> None:
    from podsift.insights.llm.faithfulness import written_faults
    from podsift.insights.llm.refine import EXAMPLE

    passage = [
        "Texas added nine gigawatts of grid batteries this year, which means evening prices fell.",
        "Sam Ortiz",
    ]
    lifted = (
        "The passage highlights the need for more restrictive, geopolitically motivated access to batteries."
    )
    faults = written_faults(lifted, passage, "Sam Ortiz", EXAMPLE)
    assert any("style example" in f for f in faults) and any("talks about the passage" in f for f in faults)
    assert any("does not name the speaker" in f for f in faults)
    good = "Sam Ortiz says Texas added nine gigawatts of grid batteries this year, so evening prices fell."
    assert written_faults(good, passage, "Sam Ortiz", EXAMPLE) == []


def test_guard_catches_a_text_written_for_another_passage() -> None:
    """Qwen 1.5B on the corpus wrote one passage's insight under another's quote."""
    from podsift.insights.llm.faithfulness import written_faults
    from podsift.insights.llm.refine import EXAMPLE

    quote = (
        '60% of people listening to the song "Happy" will feel happy. And then you\'ll get that extra 20%, 30% '
        "accuracy because of your individualizing it."
    )
    context = [
        quote,
        "Music, like AI, artificial intelligence, it's limited inputs, exponential outputs.",
        "Jeff Smith",
    ]
    mixed = "Jeff Smith explains that music, like AI, is limited inputs, exponential outputs."
    assert "is not about what the <quote> says" in " ".join(
        written_faults(mixed, context, "Jeff Smith", EXAMPLE, quote)
    )
    own = "Jeff Smith says 60% of people feel happy listening to Happy, and individual tuning adds 20-30% accuracy."
    assert written_faults(own, context, "Jeff Smith", EXAMPLE, quote) == []


def test_guard_refuses_echoes_of_the_instructions() -> None:
    from podsift.insights.llm.faithfulness import written_faults
    from podsift.insights.llm.refine import EXAMPLE

    quote = "If you do every single episode by itself, scheduling takes more time than recording it."
    echo = "Travis says scheduling every single episode by itself takes more time, which is a self-contained insight."
    faults = written_faults(echo, [quote, "Travis"], "Travis", EXAMPLE, quote)
    assert any("the task" in f for f in faults)
