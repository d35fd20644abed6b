"""The quality floor, the faithfulness guard and tolerant parsing: pure functions on text."""

from __future__ import annotations

import json

import pytest

from podsift.insights.llm.faithfulness import unsupported_terms
from podsift.insights.llm.parse import _Insight, parse_items, salvage_items
from podsift.insights.offline import OfflineExtractor
from podsift.insights.passages import claim_text, split_sentences
from podsift.insights.quality import candidate_problem, written_problem
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
    ],
)
def test_the_floor_refuses_what_a_reader_would_cut(passage: str, reason: str) -> None:
    assert candidate_problem(passage, passage, None) == reason


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
    assert candidate_problem(passage, passage, None) is None


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


def test_offline_text_is_whole_sentences_of_the_claim_within_sixty_words() -> None:
    long_turn = (
        "Yeah. So, um, the thing is, you know, batteries are cheaper now. "
        "Texas added nine gigawatts of batteries this year, which means evening prices fell by a third "
        "and two gas peaker plants will close before the summer, according to the grid operator ERCOT. "
        "And honestly the the next two years will be wilder, because storage keeps getting cheaper and "
        "every utility in the state has already filed plans for more of it, from Houston to El Paso."
    )
    transcript = Transcript([Segment(0, 30, long_turn, "Sam Ortiz")], "json")
    found = OfflineExtractor(threshold=0.0).extract(EpisodeInfo(None, None), transcript, 3)
    assert found
    for candidate in found:
        assert candidate.text.startswith("Sam Ortiz: ") and not candidate.text.endswith("…")
        assert len(candidate.text.split()) <= 62  # the name and 60 words
        assert candidate.quote in long_turn  # the quote stays verbatim
        assert candidate.quote.rstrip()[-1] in ".!?"  # whole sentences
        assert "um" not in candidate.text.split() and "the the" not in candidate.text


def test_cleaning_removes_disfluencies_and_never_changes_meaning() -> None:
    assert claim_text(["Retailers pay pay-later firms fees on every sale."], None) == (
        "Retailers pay pay-later firms fees on every sale."
    )
    assert claim_text(["I think that that is wrong."], None) == "I think that that is wrong."
    assert claim_text(["It is kind of slow, but it works."], None) == "It is kind of slow, but it works."
    assert (
        claim_text(["So, um, we we shipped it.", "And it, uh, works."], "Ana")
        == "Ana: We shipped it. It works."
    )


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
