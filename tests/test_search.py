"""Search over what the shows said, on SQLite (FTS5) and Postgres (tsvector): moments, not
episodes; passages indexed with their transcript; hostile queries answered with a message."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.pipeline import run
from podsift.search import QueryError, SearchFilters, parse_query, search_moments
from podsift.store import Episode, Feed, Insight, Passage, Transcript
from podsift.store.passages import passages_of
from tests.test_instructions import NOW, world


def test_a_transcript_is_cut_into_speaker_passages_at_pauses() -> None:
    segments = [
        {"start": 0, "end": 8, "speaker": "Ann", "text": "Welcome back."},
        {"start": 8, "end": 30, "speaker": "Ann", "text": "Today: batteries."},
        {"start": 30, "end": 50, "speaker": "Ann", "text": "Prices fell."},
        {"start": 50, "end": 75, "speaker": "Ann", "text": "Again in May."},  # past 60 s: a new one
        {"start": 75, "end": 80, "speaker": "Bo", "text": "Really?"},  # a new speaker
        {"start": 90, "end": 95, "speaker": "Bo", "text": "After a pause."},  # a pause
        {"start": 95, "end": 96, "speaker": "Bo", "text": "   "},  # nothing said
    ]
    assert [(p["start"], p["end"], p["speaker"], p["text"]) for p in passages_of(segments)] == [
        (0.0, 50.0, "Ann", "Welcome back. Today: batteries. Prices fell."),
        (50.0, 75.0, "Ann", "Again in May."),
        (75.0, 80.0, "Bo", "Really?"),
        (90.0, 95.0, "Bo", "After a pause."),
    ]


def test_hostile_queries_get_a_message_or_a_safe_search() -> None:
    for raw in ("", "   ", "\x00\x00", '"', "-excluded -only", "()*^:"):
        with pytest.raises(QueryError):
            parse_query(raw)
    with pytest.raises(QueryError, match="at most 300 characters"):
        parse_query("battery " * 1300)  # 10 kB
    # FTS5 syntax is quoted into plain terms, never run as operators.
    assert (
        parse_query("NEAR(heat pumps) text:grid").fts5()
        == '("NEAR" AND "heat" AND "pumps" AND "text" AND "grid")'
    )
    assert parse_query('"heat pumps" -gas OR furnaces').fts5() == '("furnaces" OR "heat pumps") NOT "gas"'
    assert parse_query("heat\x00pumps").text == "heat pumps"


def test_moments_by_words_and_meaning_with_filters(make_core, http_server, database_url) -> None:  # type: ignore[no-untyped-def]
    app = world(make_core, http_server, database_url)
    run(app, NOW)
    with app.session() as session:
        passages = session.scalars(sa.select(Passage)).all()
        transcripts = session.scalar(sa.select(sa.func.count()).select_from(Transcript))
    # Each episode is the host's welcome then one claim, 30 s of one speaker: one passage.
    assert transcripts >= 9 and len(passages) == transcripts
    heat = search_moments(app, "heat pumps")
    top = heat[0]
    assert top.kind == "insight" and top.show == "Green Grid" and top.speaker == "Lena Park"
    assert "<mark>Heat</mark> <mark>pumps</mark>" in top.snippet and top.story and top.start > 0
    assert top.audio and top.audio.endswith(f"#t={int(top.start)}")
    assert "words" in top.matched_by
    # A passage no insight came from: the hosts' welcomes.
    welcome = search_moments(app, '"here is what happened"', SearchFilters(show="money"))
    assert welcome and all(m.kind == "passage" and m.show == "Money Matters" for m in welcome)
    assert all("<mark>" in m.snippet for m in welcome)
    assert search_moments(app, '"here is what happened"', SearchFilters(insights_only=True)) == []
    # Meaning: words the moment does not use.
    storage = search_moments(
        app, "home heating appliances replacing furnaces", SearchFilters(insights_only=True)
    )
    assert storage and "Heat pumps" in storage[0].text and "meaning" in storage[0].matched_by
    only_omar = search_moments(app, "models OR podcast OR grid", SearchFilters(speaker="omar"))
    assert only_omar and {m.speaker for m in only_omar} == {"Omar Reyes"}
    assert search_moments(app, "heat pumps", SearchFilters(since=NOW + timedelta(days=1))) == []
    assert search_moments(app, "zebra quagga") == []
    # Hostile input reaches the database as plain words on both engines.
    for raw in (
        "NEAR(heat pumps)",
        'heat" OR "1"="1',
        "text:grid*",
        "pumps)) --",
        "'; DROP TABLE passages; --",
    ):
        search_moments(app, raw)
    with app.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Passage)) == len(passages)


def test_search_from_the_command_line_and_the_api(make_core, http_server, sqlite_url, web_server) -> None:  # type: ignore[no-untyped-def]
    import httpx2
    from typer.testing import CliRunner

    from podsift.cli import app as cli
    from podsift.subscribers import add_subscriber, preferences_path
    from tests.conftest import free_port

    app = world(make_core, http_server, sqlite_url)
    run(app, NOW)
    env = {"PODSIFT_HOME": str(app.settings.home), "PODSIFT_DATABASE_URL": sqlite_url}
    runner = CliRunner()
    found = runner.invoke(cli, ["search", "heat pumps", "--show", "green", "--json"], env=env)
    assert found.exit_code == 0, found.output
    first = json.loads(found.output.splitlines()[0])
    assert first["show"] == "Green Grid" and first["speaker"] == "Lena Park" and "<mark>" in first["snippet"]
    shown = runner.invoke(cli, ["search", "heat pumps"], env=env)
    assert "**Heat** **pumps**" in shown.output and "Green Grid" in shown.output
    bad = runner.invoke(cli, ["search", "x" * 400], env=env)
    assert bad.exit_code == 2 and "at most 300 characters" in bad.output
    sub = add_subscriber(app, "reader@example.com", hour=0)
    token = preferences_path(app, sub).rsplit("/", 1)[1]
    server = web_server(app, free_port())
    with httpx2.Client(base_url=server.base_url) as web:
        hits = web.get("/api/search", params={"q": "heat pumps", "token": token})
        assert hits.status_code == 200 and hits.json()["moments"][0]["show"] == "Green Grid"
        assert web.get("/api/search", params={"q": "heat pumps"}).status_code == 401
        assert web.get("/api/search", params={"q": "heat pumps", "token": "forged"}).status_code == 403
        for raw in ("", "\x00", "y" * 10_000, '"'):
            refused = web.get("/api/search", params={"q": raw, "token": token})
            assert refused.status_code == 422 and refused.json()["detail"], raw
        page = web.get(f"/me/{token}/search", params={"q": "heat pumps"})
        assert page.status_code == 200 and "<mark>Heat</mark> <mark>pumps</mark>" in page.text
        assert 'action="/me/' in web.get(f"/me/{token}/today").text  # the box on every reader page
        assert web.get(f"/me/{token}/search", params={"q": "\x00"}).status_code == 400
        assert web.get("/admin/search", params={"q": "heat"}, follow_redirects=False).status_code == 303


def test_the_migration_indexes_the_transcripts_already_stored(make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    """A database at 0015 with a transcript and an insight: upgraded, both are searchable."""
    from podsift.store import make_engine, migrate

    engine = make_engine(database_url)
    migrate(engine, "0015")
    segments = [
        {"start": 0.0, "end": 12.0, "speaker": "Ann", "text": "Sodium batteries skip lithium entirely."},
        {"start": 12.5, "end": 20.0, "speaker": "Bo", "text": "And they work in the cold."},
    ]
    with Session(engine) as session:  # the tables as 0015 has them
        feed = Feed(url="https://example.org/cells.xml", title="Cells")
        session.add(feed)
        session.flush()
        episode = Episode(feed_id=feed.id, key="k", fallback_key="f", title="Sodium", state="extracted")
        session.add(episode)
        session.flush()
        session.add(
            Transcript(
                episode_id=episode.id, source="publisher", format="vtt", content_hash="h", segments=segments
            )
        )
        session.add(
            Insight(
                episode_id=episode.id,
                text="Ann: Sodium batteries skip lithium entirely.",
                quote="Sodium batteries skip lithium entirely.",
                quote_hash="q",
                speaker="Ann",
                start_seconds=0.0,
                end_seconds=12.0,
                score=0.9,
                extractor="offline",
            )
        )
        session.commit()
    migrate(engine)
    engine.dispose()
    app = make_core(database_url)
    cold = search_moments(app, "cold", SearchFilters(show="cells"))
    assert [(m.kind, m.speaker, m.start) for m in cold] == [("passage", "Bo", 12.5)]
    sodium = search_moments(app, "sodium lithium")
    assert sodium[0].kind == "insight" and "<mark>Sodium</mark>" in sodium[0].snippet
    with Session(make_engine(database_url)) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Passage)) == 2  # Ann's, then Bo's


def test_saved_searches_put_new_mentions_in_every_format_once(make_core, http_server, database_url) -> None:  # type: ignore[no-untyped-def]
    from podsift.digests.read import preview, recorded_digests
    from podsift.digests.view import render
    from podsift.search import AlertError, add_alert, list_alerts
    from podsift.sources.scan import add_feeds
    from podsift.subscribers import add_subscriber
    from tests.feedgen import Item, rss
    from tests.test_ranking import vtt

    app = world(make_core, http_server, database_url)
    sub = add_subscriber(app, "alerts@example.com", hour=0, top=2)
    other = add_subscriber(app, "other@example.com", hour=0, top=2)
    add_alert(app, sub.id, "heat pumps")
    add_alert(app, sub.id, '"here is what happened"')  # every welcome: more than three moments
    with pytest.raises(AlertError, match="already have"):
        add_alert(app, sub.id, "heat   pumps")
    with pytest.raises(AlertError):
        add_alert(app, sub.id, "-only -excluded")
    assert [a.query for a in list_alerts(app, sub.id)] == ["heat pumps", '"here is what happened"']
    run(app, NOW)
    day1 = preview(app, "alerts@example.com", None, NOW)
    groups = {g["query"]: g["moments"] for g in day1.mentions}
    assert [m["speaker"] for m in groups["heat pumps"]] == ["Lena Park"]
    assert len(groups['"here is what happened"']) == 3  # at most three a search
    assert preview(app, "other@example.com", None, NOW).mentions == []  # theirs alone
    heat = groups["heat pumps"][0]
    for fmt in ("text", "md", "html"):
        rendered = render(day1, fmt)
        assert (
            "New mentions" in rendered and "Lena Park" in rendered and f"at {heat['timestamp']}" in rendered
        ), fmt
    assert "«Heat» «pumps»" in render(day1, "text") and "<mark>Heat</mark>" in render(day1, "html")
    assert json.loads(render(day1, "json"))["mentions"][0]["moments"][0]["id"] == heat["id"]
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in app.settings.resolved_outbox.rglob("*.eml")
    ]
    sent = [m for m in mails if m["To"] and "alerts@example.com" in m["To"]]
    assert sent and "New mentions" in sent[0].get_body(("plain",)).get_content()
    assert recorded_digests(app, sub)[0].view.mentions == day1.mentions  # the Atom feed's and the API's

    # The next day: a new episode says it again; only the new moment is mentioned.
    day2 = NOW + timedelta(days=1)
    line = "Heat pumps now heat a third of new homes in Norway, because electricity there is cheap and clean."
    http_server.add("/t/heat-1.vtt", vtt("Ida Berg", [line]).encode(), content_type="text/vtt")
    http_server.add(
        "/heat.xml",
        rss(
            "Heat Weekly",
            [
                Item(
                    "Norway",
                    day2 - timedelta(hours=2),
                    guid="heat-1",
                    audio=http_server.url("/a/h.mp3"),
                    transcripts=[(http_server.url("/t/heat-1.vtt"), "text/vtt")],
                )
            ],
        ),
    )
    add_feeds(app, [http_server.url("/heat.xml")])
    run(app, day2, force_scan=True)
    mentions = {g["query"]: g["moments"] for g in preview(app, "alerts@example.com", None, day2).mentions}
    assert [m["speaker"] for m in mentions["heat pumps"]] == ["Ida Berg"]
    seen = {(m["kind"], m["id"]) for g in day1.mentions for m in g["moments"]}
    assert not seen & {(m["kind"], m["id"]) for ms in mentions.values() for m in ms}
    assert other.id != sub.id


def ask_model(prompt: str) -> str:
    """A loopback model for ask prompts: an answer from moment 1, a sentence citing a moment that
    does not exist, one with a figure no moment has, and one from its own knowledge."""
    from tests.fake_llm import honest_model

    if "<question>" not in prompt:
        return honest_model(prompt)
    import re as _re

    moments = dict(_re.findall(r'<moment n="(\d+)"[^>]*>(.*?)</moment>', prompt, _re.S))
    if "Japan" in prompt:
        return json.dumps({"supported": False, "sentences": []})
    first = " ".join(moments["1"].split(": ", 1)[-1].split()[:14]).rstrip(".,")
    return json.dumps(
        {
            "supported": True,
            "sentences": [
                {"text": f"{first}.", "cites": [1]},
                {"text": "Heat pumps explode in cold weather.", "cites": [9]},
                {"text": f"{first} in 87 percent of homes.", "cites": [1]},
                {"text": "Gas furnaces were invented by Alice Parker in 1919.", "cites": [1]},
            ],
        }
    )


def test_ask_answers_from_moments_with_citations_or_says_it_was_not_discussed(
    make_core, http_server, database_url, web_server
) -> None:  # type: ignore[no-untyped-def]
    import httpx2

    from podsift.search.ask import NOT_DISCUSSED, ask
    from podsift.subscribers import add_subscriber, preferences_path
    from tests.conftest import free_port
    from tests.fake_llm import FakeLLM

    offline = world(make_core, http_server, database_url)
    run(offline, NOW)
    alone = ask(offline, "What did they say about heat pumps?")
    assert alone.offline and not alone.answered and alone.moments[0].show == "Green Grid"
    offline.close()

    llm = FakeLLM(ask_model)
    try:
        app = make_core(
            database_url, llm=f"openai:test-model?base_url={llm.base_url}", allow_hosts=(http_server.host,)
        )
        answer = ask(app, "What did they say about heat pumps?")
        assert answer.answered and [s.cites for s in answer.sentences] == [[1]]  # the rest refused
        cited = answer.moments[0]
        assert answer.sentences[0].text.split()[:3] == cited.text.split(": ", 1)[-1].split()[:3]
        assert answer.text.endswith("[1]") and "87" not in answer.text and "Alice" not in answer.text
        # Moments found, but they do not answer it: the model says so, and so does podsift.
        japan = ask(app, "What do heat pumps cost in Japan?")
        assert japan.moments and not japan.answered and japan.text == NOT_DISCUSSED
        # Nothing in the shows: no model request at all.
        before = len(llm.requests)
        mars = ask(app, "volcanoes on Mars?")
        assert mars.moments == [] and mars.text == NOT_DISCUSSED and len(llm.requests) == before
        sub = add_subscriber(app, "asker@example.com", hour=0)
        token = preferences_path(app, sub).rsplit("/", 1)[1]
        server = web_server(app, free_port())
        with httpx2.Client(base_url=server.base_url) as web:
            api = web.get(
                "/api/ask", params={"q": "What did they say about heat pumps?", "token": token}
            ).json()
            assert api["answered"] and api["sentences"][0]["cites"] == [1] and api["moments"][0]["n"] == 1
            page = web.get(f"/me/{token}/ask", params={"q": "What did they say about heat pumps?"})
            assert page.status_code == 200 and 'href="#moment-1">[1]</a>' in page.text
            assert (
                "Not discussed in your shows."
                in web.get(f"/me/{token}/ask", params={"q": "volcanoes on Mars?"}).text
            )
    finally:
        llm.close()


def test_passages_are_embedded_a_budget_a_run_and_found_by_meaning(
    make_core, http_server, sqlite_url
) -> None:  # type: ignore[no-untyped-def]
    from podsift.search.embed import embed_passages

    app = world(make_core, http_server, sqlite_url, search_embed_passages=4)
    run(app, NOW)

    def embedded() -> list[int]:
        with app.session() as session:
            return list(
                session.scalars(
                    sa.select(Passage.id).where(Passage.embedding.is_not(None)).order_by(Passage.id)
                )
            )

    with app.session() as session:
        newest = list(session.scalars(sa.select(Passage.id).order_by(Passage.id.desc()).limit(4)))
        total = session.scalar(sa.select(sa.func.count()).select_from(Passage))
    assert embedded() == sorted(newest)  # the run's budget, newest first
    while embed_passages(app):
        pass
    assert len(embedded()) == total and embed_passages(app) == 0
    with app.session() as session:  # vectors of another embedder are made again with this one
        session.execute(
            sa.update(Passage).where(Passage.id == newest[0]).values(embedding_model="other:model")
        )
        session.commit()
    assert embed_passages(app) == 1 and embed_passages(app) == 0
    # Words the moment does not use; no insight was made of it: the passage, by meaning.
    hits = search_moments(app, "fewer people use voice assistants at home for audio shows")
    top = hits[0]
    assert top.kind == "passage" and "smart speakers" in top.text and top.matched_by == ["meaning"]
    assert top.speaker == "Omar Reyes" and top.audio


def test_the_workers_plan_embeds_passages_while_some_wait(make_core, http_server, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    from podsift.search.embed import embed_passages
    from podsift.workers.plan import due_work
    from podsift.workers.tasks import TASKS

    app = world(make_core, http_server, sqlite_url, search_embed_passages=0)
    run(app, NOW)  # nothing embedded by the run (no budget)
    assert not [u for u in due_work(app, NOW) if u.task == "embed_passages"]  # off: no unit
    app = make_core(sqlite_url, allow_hosts=(http_server.host,), search_embed_passages=3)  # on
    (unit,) = [u for u in due_work(app, NOW) if u.task == "embed_passages"]
    assert unit.task in TASKS and unit.lock == "passages"
    while embed_passages(app):
        pass
    assert not [u for u in due_work(app, NOW) if u.task == "embed_passages"]


def test_the_vector_index_finds_what_a_full_product_finds() -> None:
    import numpy as np

    from podsift.search.ann import VectorIndex

    rng = np.random.default_rng(7)
    # Sentence vectors lie near topics: 300 topics, each vector a topic plus its own detail.
    topics = rng.standard_normal((300, 384)).astype(np.float32)
    vectors = topics[rng.integers(0, 300, 60_000)] + 0.6 * rng.standard_normal((60_000, 384)).astype(
        np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex.build(np.arange(60_000, dtype=np.int64) + 1, vectors)
    assert index.low is not None  # past EXACT_BELOW: the shortlist path
    found = []
    for q in vectors[rng.choice(60_000, 50, replace=False)] + 0.05:
        q = q / np.linalg.norm(q)
        ids, sims = index.nearest(q, 20)
        exact = set((np.argsort(-(vectors @ q))[:20] + 1).tolist())
        found.append(len(exact & set(ids.tolist())) / 20)
        assert list(sims) == sorted(sims, reverse=True)
    assert np.mean(found) >= 0.9, np.mean(found)
    # A row added after the build is searched too (exactly), until the next build.
    new = vectors[:1] * -1
    index.add(np.array([10**6]), new)
    assert index.nearest(new[0], 1)[0][0] == 10**6 and index.max_id() == 10**6
