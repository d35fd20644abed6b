"""Three co-hosted shows (ours, tests/dispute_world.py) on loopback, through `podsift run`:
which of their disagreements are found, as people say them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from podsift.store import Cluster, Disagreement, Episode, Feed, Insight
from tests.conftest import podsift_env
from tests.conftest import run_podsift as podsift
from tests.dispute_world import serve_dispute_shows

NOW = datetime.now(UTC).replace(microsecond=0)


def run_world(tmp_path: Path, http_server, database_url: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    # A lower keep threshold than the shipped one: the selector rates one-sentence claims
    # in one-minute shows low (Energy Hour's Texas claim: 0.18), and this world is about
    # what happens to claims once extracted, not about which are worth extracting.
    env = podsift_env(tmp_path, http_server, database_url, "offline?threshold=0.15")
    urls = serve_dispute_shows(http_server, NOW)
    podsift(env, "feeds", "add", *urls.values())
    podsift(env, "subscribers", "add", "reader@example.org", "--hour", "0")
    podsift(env, "run")
    return env


def test_spoken_figures_and_a_date_against_a_denial_are_flagged_and_an_agreement_is_one_story(
    tmp_path: Path, http_server, sqlite_url: str
) -> None:  # type: ignore[no-untyped-def]
    env = run_world(tmp_path, http_server, sqlite_url)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        tellings = conn.execute(
            sa.select(Insight.text, Insight.cluster_id, Feed.title)
            .join(Episode, Episode.id == Insight.episode_id)
            .join(Feed, Feed.id == Episode.feed_id)
        ).all()
        disputes = conn.execute(
            sa.select(Disagreement.method, Disagreement.detail, Disagreement.cluster_id)
        ).all()
        sizes = dict(conn.execute(sa.select(Cluster.id, Cluster.show_count)).all())
    engine.dispose()
    print("\n".join(f"{t.title}: {t.text} [{t.cluster_id}]" for t in tellings))
    print(disputes)
    details = {d.detail for d in disputes}
    assert (
        "about $45 per kWh against around $70 per kWh" in details
        or "around $70 per kWh against about $45 per kWh" in details
    )
    assert any("2027" in d and "not coming before 2030" in d for d in details)
    # Texas's nine gigawatts, told by two shows in other words: one story of its own, no dispute
    texas = [t for t in tellings if "nine gigawatts" in t.text]
    assert {t.title for t in texas} == {"Grid Talk", "The Energy Hour"}, texas
    (story,) = {t.cluster_id for t in texas}
    assert sizes[story] == 2 and all("Texas" in t.text for t in tellings if t.cluster_id == story)
    assert story not in {d.cluster_id for d in disputes}
    digest = json.loads(podsift(env, "digest", "reader@example.org", "--format", "json"))
    text = podsift(env, "digest", "reader@example.org", "--format", "text")
    print(text)
    assert any(
        d["detail"].startswith(("about $45", "around $70"))
        for item in digest["insights"]
        for d in item["disputes"]
    )
    assert "Shows disagree (about $45 per kWh against around $70 per kWh)" in text or (
        "Shows disagree (around $70 per kWh against about $45 per kWh)" in text
    )


@pytest.mark.xfail(
    strict=True,
    reason="the pair encoder gives 'the workhorse of the grid' against 'a dead end for utilities' "
    "0.72, under its threshold (0.77, chosen for precision 0.9 on validation shows), and the two "
    "claims share too few words to be joined across stories (bench/disagreement.py: held-out "
    "recall 0.47)",
)
def test_a_paraphrased_opposite_stance_is_flagged(tmp_path: Path, http_server, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    run_world(tmp_path, http_server, sqlite_url)
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        details = list(conn.scalars(sa.select(Disagreement.detail)))
    engine.dispose()
    assert any("workhorse" in d and "dead end" in d for d in details), details
