"""Shows that disagree: the offline detector on labelled pairs, the LLM path through a
loopback server speaking the OpenAI wire format, and both end to end through `podsift run`,
the digest and the story page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from podsift.clusters.disagree import camps_of, offline_conflict, quantities, words
from podsift.ranking.pool import CandidatePool
from podsift.ranking.score import RankingWeights
from podsift.ranking.select import Profile, rank
from podsift.store import Disagreement, LLMRequest
from podsift.subscribers import find_subscriber
from podsift.subscribers.links import preferences_path
from tests.conftest import FIXTURES, free_port
from tests.fake_llm import FakeLLM
from tests.stories import serve_story_shows

PAIRS = FIXTURES / "pairs"
NOW = datetime.now(UTC).replace(microsecond=0)


def scores(name: str) -> tuple[float, float, int]:
    rows = [json.loads(line) for line in (PAIRS / name).read_text().splitlines() if line.strip()]
    tp = fp = fn = 0
    for row in rows:
        said = offline_conflict(row["a"], row["b"]) is not None
        truth = row["label"] == "disagree"
        tp += said and truth
        fp += said and not truth
        fn += truth and not said
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), len(rows)


def test_offline_detector_precision_and_recall_on_labelled_pairs() -> None:
    # stance_pairs.jsonl shaped the rules; stance_pairs_heldout.jsonl was written after and
    # first scored 0.80 / 0.40; three general fixes made after reading its misses (a 5 % figure
    # gap, cents, "lower" in two pairs of opposites) brought it to 0.86 / 0.60, so it is no
    # longer clean: the floors below are its first, honest score.
    precision, recall, count = scores("stance_pairs.jsonl")
    held_precision, held_recall, held_count = scores("stance_pairs_heldout.jsonl")
    print(
        f"labelled {count}: P {precision:.2f} R {recall:.2f}; held out {held_count}: "
        f"P {held_precision:.2f} R {held_recall:.2f}"
    )
    assert count >= 40 and held_count >= 20
    assert precision >= 0.9 and recall >= 0.8
    assert held_precision >= 0.8 and held_recall >= 0.4


@pytest.mark.parametrize(
    ("a", "b", "method", "detail"),
    [
        (
            "Battery packs now cost about $60/kWh.",
            "Battery packs still cost around $80/kWh.",
            "figures",
            "$60/kWh against $80/kWh",
        ),
        (
            "The EU AI Act will be enforced from August 2026.",
            "The EU AI Act will be enforced from 2027.",
            "figures",
            "2026 against 2027",
        ),
        (
            "Heat pumps are cheaper to run than gas furnaces.",
            "Heat pumps aren't cheaper to run than gas furnaces.",
            "negation",
            "one says 'cheaper', the other denies it",
        ),
        (
            "Offshore wind costs are rising because of interest rates.",
            "Offshore wind costs are falling as interest rates ease.",
            "opposites",
            "'rising' against 'falling'",
        ),
    ],
)
def test_each_kind_of_conflict_is_found_and_named(a: str, b: str, method: str, detail: str) -> None:
    conflict = offline_conflict(a, b)
    assert conflict is not None and (conflict.method, conflict.detail) == (method, detail)
    assert offline_conflict(b, a) is not None  # order does not matter


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # two quantities, not one: sales and prices
        (
            "Electric vehicle sales in Europe grew 15% in the first half.",
            "Electric vehicle prices in Europe fell 8% in the first half.",
        ),
        # the same figure in other words
        (
            "Battery pack prices fell to $60/kWh this year.",
            "Pack prices dropped to about $60 per kilowatt-hour.",
        ),
        # both deny it
        ("Vertical farms are not profitable at scale.", "Vertical farming still can't make money at scale."),
        # "not just ... but" is no denial
        (
            "Labs restrict API access for security.",
            "Labs restrict API access not just for security but against copying.",
        ),
        # too little in common to be the same claim
        (
            "Remote work lowers productivity for junior engineers.",
            "Office rents fell in big cities this year.",
        ),
    ],
)
def test_claims_that_do_not_conflict_are_left_alone(a: str, b: str) -> None:
    assert offline_conflict(a, b) is None


def test_figures_keep_units_and_scales() -> None:
    found = {
        (q.value, q.unit)
        for q in quantities(words("Prices rose 12 percent to $1.5 billion by 2030, 3 times more"))
    }
    assert found == {(12.0, "%"), (1.5e9, "$"), (2030.0, "in year"), (3.0, "x")}


def test_disagreeing_pairs_read_as_two_camps() -> None:
    pair = lambda a, b: SimpleNamespace(first_id=a, second_id=b, detail="d")  # noqa: E731
    assert camps_of([pair(1, 2), pair(2, 3)]) == [("d", [[1, 3], [2]])]
    # a triangle cannot be split in two: left as its pairs
    assert len(camps_of([pair(1, 2), pair(2, 3), pair(1, 3)])) == 3


def test_a_disputed_story_ranks_above_a_plainly_corroborated_one() -> None:
    row = lambda i, cluster, shows: SimpleNamespace(  # noqa: E731
        id=i,
        text=f"claim {i}",
        cluster_id=cluster,
        feed_id=i,
        episode_id=i,
        score=0.7,
        importance=None,
        confidence=None,
        created_at=NOW,
        published_at=NOW,
        show_count=shows,
        representative_id=i,
    )
    pool = CandidatePool([row(1, 10, 3), row(2, 20, 2)], None, {}, {20: [{"detail": "", "sides": [[], []]}]})
    profile = Profile(NOW.replace(year=NOW.year - 1), [], None, None, {}, set(), set(), None, None, None)
    ranked = rank(pool, profile, RankingWeights(), NOW, 2, 7)
    assert [pool.ids[r.row] for r in ranked] == [2, 1]
    assert "shows disagree" in ranked[0].why and "discussed on 3 shows" in ranked[1].why


# --- end to end -------------------------------------------------------------------------------


def podsift(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "podsift", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def world(tmp_path: Path, http_server, database_url: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_DATABASE_URL": database_url,
        "PODSIFT_ALLOW_HOSTS": http_server.host,
        "PODSIFT_ASR": "none",
        **extra,
    }
    urls = serve_story_shows(http_server, NOW)
    podsift(env, "feeds", "add", *urls.values())
    # send hour 0: due whatever the time of day the test runs
    podsift(env, "subscribers", "add", "reader@example.org", "--interests", "batteries", "--hour", "0")
    return env


def disputes(core_url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(core_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Disagreement.method, Disagreement.detail)).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_shows_that_disagree_end_to_end_offline(
    tmp_path: Path, http_server, database_url: str, make_core, web_server
) -> None:  # type: ignore[no-untyped-def]
    env = world(tmp_path, http_server, database_url)
    ran = podsift(env, "run")
    assert "3 disagreement(s) between shows" in " ".join(ran.split())  # rich wraps lines
    found = sorted(
        (method, " / ".join(sorted(detail.split(" against ")))) for method, detail in disputes(database_url)
    )
    assert found == [
        ("figures", "$60/kWh / $80/kWh"),  # in the order the two were filed
        ("negation", "one says 'beat', the other denies it"),
        ("negation", "one says 'beat', the other denies it"),
    ]
    digest = json.loads(podsift(env, "digest", "reader@example.org", "--format", "json"))
    print(podsift(env, "digest", "reader@example.org", "--format", "text"))
    top, prices, plain = digest["insights"]
    assert "beat gas peakers" in top["text"] and "shows disagree" in top["why"]
    (dispute,) = top["disputes"]
    camps = [sorted((s["show"], s["speaker"]) for s in camp) for camp in dispute["sides"]]
    assert sorted(camps) == [
        [("Grid Talk", "Maya Chen"), ("The Energy Hour", "Priya Nair")],
        [("Power Markets Weekly", "Tom Reilly")],
    ]
    dissent = next(camp[0] for camp in dispute["sides"] if camp[0]["show"] == "Power Markets Weekly")
    assert "won't beat gas peakers" in dissent["quote"] and dissent["link"].endswith(
        "/a/power-markets.mp3#t=6"
    )
    # the price story: each side's figure, speaker and show
    (dispute,) = prices["disputes"]
    assert dispute["detail"] in ("$80/kWh against $60/kWh", "$60/kWh against $80/kWh")
    quotes = sorted((camp[0]["speaker"], camp[0]["quote"][:40]) for camp in dispute["sides"])
    assert quotes == [
        ("Maya Chen", "Utility-scale battery packs now cost abo"),
        ("Tom Reilly", "Utility-scale battery packs still cost a"),
    ]
    # a story one show told alone is no dispute, and ranks below both
    assert "Texas" in plain["text"] and not plain["disputes"]
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        cluster_id = conn.scalar(
            sa.select(Disagreement.cluster_id).where(Disagreement.method == "negation").limit(1)
        )
    engine.dispose()
    core = make_core(database_url)
    server = web_server(core, free_port())
    page = httpx.get(f"{server.base_url}/insight/{cluster_id}")
    assert page.status_code == 200
    assert "Shows disagree" in page.text and "Tom Reilly" in page.text and "Maya Chen" in page.text
    # and the subscriber's own digest page
    token = preferences_path(core, find_subscriber(core, "reader@example.org")).rsplit("/", 1)[1]
    page = httpx.get(f"{server.base_url}/me/{token}/today")
    assert page.status_code == 200 and page.text.count("Shows disagree") == 2
    assert "$80/kWh against $60/kWh" in page.text or "$60/kWh against $80/kWh" in page.text


def pairs_found(url: str) -> list[tuple[str, str, str, str]]:
    """(method, detail, first text, second text) of every recorded disagreement."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT d.method, d.detail, a.text, b.text FROM disagreements d "
                "JOIN insights a ON a.id = d.first_id JOIN insights b ON b.id = d.second_id"
            )
        ).all()
        asked = conn.scalar(sa.select(sa.func.count()).where(LLMRequest.purpose == "stance"))
    engine.dispose()
    return [tuple(r) for r in rows], asked  # type: ignore[return-value]


def test_an_llm_judge_adds_disagreements_the_offline_signs_miss(
    tmp_path: Path, http_server, sqlite_url: str
) -> None:  # type: ignore[no-untyped-def]
    llm = FakeLLM()
    llm.stance = lambda a, b: "disagree"  # a model that disagrees with whatever it is asked
    try:
        env = world(
            tmp_path, http_server, sqlite_url, PODSIFT_LLM=f"openai:test-model?base_url={llm.base_url}"
        )
        podsift(env, "run")
        found, logged = pairs_found(sqlite_url)
        by_model = [(a, b) for method, _, a, b in found if method == "llm"]
        by_text = [(a, b) for method, _, a, b in found if method != "llm"]
        print(found)
        # the model was asked only about the pairs the offline signs passed, and each answer
        # became a disagreement carrying the conflict it named
        assert by_model and by_text
        assert len(llm.stance_requests) == logged == len(by_model)
        assert all(offline_conflict(a, b) is None for a, b in by_model)
        assert all(offline_conflict(a, b) is not None for a, b in by_text)
        assert {d for m, d, _, _ in found if m == "llm"} == {"what one says the other denies"}
        digest = json.loads(podsift(env, "digest", "reader@example.org", "--format", "json"))
        assert "shows disagree" in digest["insights"][0]["why"]
        podsift(env, "run")  # a second run asks nothing again
        assert len(llm.stance_requests) == logged
    finally:
        llm.close()


def test_a_judge_saying_agree_leaves_what_the_figures_show(
    tmp_path: Path, http_server, sqlite_url: str
) -> None:  # type: ignore[no-untyped-def]
    llm = FakeLLM()
    llm.stance = lambda a, b: "agree"
    try:
        env = world(
            tmp_path,
            http_server,
            sqlite_url,
            PODSIFT_LLM=f"openai:test-model?base_url={llm.base_url}",
            PODSIFT_STANCE_MAX_CALLS="1",
        )
        podsift(env, "run")
        found, logged = pairs_found(sqlite_url)
        assert found and {m for m, *_ in found} <= {"figures", "negation", "opposites"}
        assert len(llm.stance_requests) == logged == 1  # the budget: one question a run
    finally:
        llm.close()


def test_without_a_usable_stance_answer_the_offline_signs_decide(
    tmp_path: Path, http_server, sqlite_url: str
) -> None:  # type: ignore[no-untyped-def]
    llm = FakeLLM()
    llm.stance = lambda a, b: "maybe"  # not an allowed answer
    try:
        env = world(
            tmp_path, http_server, sqlite_url, PODSIFT_LLM=f"openai:test-model?base_url={llm.base_url}"
        )
        podsift(env, "run")
        found, logged = pairs_found(sqlite_url)
        assert found and {m for m, *_ in found} <= {"figures", "negation", "opposites"}
        assert len(llm.stance_requests) == logged > 0
        engine = sa.create_engine(sqlite_url)
        with engine.connect() as conn:
            outcomes = set(conn.scalars(sa.select(LLMRequest.outcome).where(LLMRequest.purpose == "stance")))
        engine.dispose()
        assert outcomes == {"invalid"}
    finally:
        llm.close()
