"""Dedup across shows, no repeats, diversity and personal interests, on real MiniLM vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from podsift.clusters.stage import cluster_insights
from podsift.delivery.stage import deliver_due
from podsift.digests.read import preview
from podsift.digests.records import make_selector
from podsift.digests.view import render
from podsift.pipeline import run
from podsift.ranking import select as select_module
from podsift.ranking.score import RankingWeights
from podsift.ranking.select import Selector
from podsift.sources.scan import add_feeds
from podsift.store import DigestItem, Episode, Feed, Insight, Subscriber
from podsift.subscribers import add_subscriber
from tests.feedgen import Item, rss

DAY1 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)

TMI = {
    "Grid Weekly": "Microsoft signed a twenty-year deal to restart the Three Mile Island Unit 1 reactor, which will put 835 megawatts back on the grid by 2028, all of it bought to power Microsoft's data centers.",
    "Tech Dispatch": "Constellation will bring the shuttered Three Mile Island plant back online by 2028, and every one of its 835 megawatts will go to Microsoft under a twenty-year power purchase agreement for its AI data centers.",
    "Energy Hour": "The nuclear reactor at Three Mile Island is coming back to life for Microsoft, which agreed to buy its entire 835 megawatt output for twenty years starting in 2028 to feed its data centers.",
}
OTHER = {
    "Grid Weekly": [
        "Heat pumps outsold gas furnaces in the United States for the third year running, because installers now quote them below the price of a replacement furnace in most states.",
        "Transmission lines take on average ten years to permit in America, which means most of the clean power planned today will wait until the next decade to reach customers.",
    ],
    "Tech Dispatch": [
        "Apple Podcasts now generates transcripts automatically for every new episode, which means publishers who never paid for transcription suddenly have searchable shows.",
        "The European Commission fined Apple five hundred million euros under the Digital Markets Act, because it stopped app developers from telling users about cheaper offers.",
    ],
    "Energy Hour": [
        "Battery storage in Texas now covers the evening peak on most summer days, because more than ten gigawatts of grid batteries were installed in just three years.",
        "Offshore wind auctions in Denmark drew no bids this year, which means the government will have to offer subsidies again to meet its climate targets.",
    ],
}
DAY2_LINES = {
    "Tech Dispatch": [
        "Microsoft's deal to restart Three Mile Island means 835 megawatts of nuclear power will flow to its data centers from 2028 under a twenty-year contract.",
        "Spotify now pays video podcasters based on how many Premium subscribers watch their shows, which shifts money toward creators who film their recordings.",
        "Podcast advertising in the United States will reach two point six billion dollars this year, because brands are moving their budgets away from radio.",
    ]
}
HOSTS = {"Grid Weekly": "Lena Park", "Tech Dispatch": "Priya Nair", "Energy Hour": "Tom Becker"}


def vtt(host: str, lines: list[str]) -> str:
    cues, t = ["WEBVTT", ""], 0
    for line in [f"Welcome to the show, I'm {host}, and here is what happened this week.", *lines]:
        cues += [
            f"00:{t // 60:02d}:{t % 60:02d}.000 --> 00:{(t + 14) // 60:02d}:{(t + 14) % 60:02d}.000",
            f"<v {host}>{line}",
            "",
        ]
        t += 15
    return "\n".join(cues)


def serve(server, day2: bool = False) -> None:  # type: ignore[no-untyped-def]
    for n, show in enumerate(TMI):
        slug = show.lower().replace(" ", "-")
        items = []
        episodes = [(f"{slug}-1", DAY1 - timedelta(hours=3 + n), [TMI[show], *OTHER[show]])]
        if day2 and show in DAY2_LINES:
            episodes.append((f"{slug}-2", DAY2 - timedelta(hours=3), DAY2_LINES[show]))
        for guid, published, lines in episodes:
            server.add(f"/t/{guid}.vtt", vtt(HOSTS[show], lines).encode(), content_type="text/vtt")
            items.append(
                Item(
                    f"Episode {guid}",
                    published,
                    guid=guid,
                    audio=server.url(f"/a/{guid}.mp3"),
                    link=f"https://{slug}.example.org/{guid}",
                    transcripts=[(server.url(f"/t/{guid}.vtt"), "text/vtt")],
                )
            )
        server.add(f"/{slug}.xml", rss(show, items[::-1]))


def test_a_story_on_three_shows_is_sent_once_then_never_again(make_core, http_server) -> None:  # type: ignore[no-untyped-def]
    serve(http_server)
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url(f"/{s.lower().replace(' ', '-')}.xml") for s in TMI])
    add_subscriber(app, "nuclear@example.com", interests="nuclear power, data centers", hour=0)
    add_subscriber(app, "anyone@example.com", hour=0)
    report = run(app, DAY1)
    assert report.clusters.clustered >= 6 and report.clusters.joined == 2, report.clusters
    assert sorted(report.delivery.sent) == ["anyone@example.com", "nuclear@example.com"]
    for email in ("nuclear@example.com", "anyone@example.com"):
        day1 = preview(app, email, "2026-11-20", DAY1).to_json()["insights"]
        tmi = [e for e in day1 if "Three Mile Island" in e["text"]]
        assert len(tmi) == 1, [e["text"] for e in day1]  # the story once, not three near-copies
        also = {o["show"] for o in tmi[0]["also_on"]}
        assert also == set(TMI) - {tmi[0]["podcast"]}
        assert all(o["link"].startswith("http://127.0.0.1") for o in tmi[0]["also_on"])  # audio at the second
        assert "discussed on 3 shows" in tmi[0]["why"]
    first = preview(app, "nuclear@example.com", "2026-11-20", DAY1).to_json()["insights"][0]
    assert "Three Mile Island" in first["text"] and "matches your interest" in first["why"]

    serve(http_server, day2=True)
    run(app, DAY2, force_scan=True)
    for email in ("nuclear@example.com", "anyone@example.com"):
        day2 = preview(app, email, "2026-11-21", DAY2).to_json()["insights"]
        assert day2, "the new Spotify claim is still news"
        assert not [e for e in day2 if "Three Mile Island" in e["text"]]  # already received
        assert all(e["episode"] == "Episode tech-dispatch-2" for e in day2)  # only what is new
    with app.session() as session:
        retold = session.query(Insight).filter(Insight.text.contains("restart Three Mile Island means")).one()
        assert retold.cluster.size == 4 and retold.cluster.show_count == 3


def test_a_widely_told_story_names_a_few_shows_and_counts_the_rest(
    make_core, http_server, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # A story on 200 shows names ALSO_ON_NAMED (8) of them; here one, of the two others.
    monkeypatch.setattr(select_module, "ALSO_ON_NAMED", 1)
    serve(http_server)
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url(f"/{s.lower().replace(' ', '-')}.xml") for s in TMI])
    add_subscriber(app, "anyone@example.com", hour=0)
    assert run(app, DAY1).delivery.sent == ["anyone@example.com"]
    view = preview(app, "anyone@example.com", "2026-11-20", DAY1)  # the recorded digest
    (tmi,) = [e for e in view.insights if "Three Mile Island" in e.text]
    assert len(tmi.also_on) == 1 and tmi.also_on_more == 1
    named = tmi.also_on[0]["show"]
    assert named in set(TMI) - {tmi.podcast}
    assert "discussed on 3 shows" in tmi.why  # ranking still counts every show
    text, html, md = (render(view, fmt) for fmt in ("text", "html", "md"))
    assert f"Also discussed on: {named} (" in text and ") and 1 more show\n" in text
    assert f">{named}</a> and 1 more show</p>" in html
    assert f"Also discussed on: [{named}](" in md and ") and 1 more show" in md
    assert '"also_on_more": 1' in render(view, "json")
    with app.session() as session:
        items = session.scalars(sa.select(DigestItem)).all()
        assert {i.also_on_more for i in items if len(i.also_on) == 1} == {1}


THEMES = {
    "chips": [
        "Nvidia's new Rubin GPUs will ship in the second half of next year, a year earlier than planned.",
        "TSMC will build a third fab in Arizona producing 2-nanometer chips by 2028.",
        "Intel delayed its Ohio chip factory to 2030 because demand for its processors is weak.",
        "AMD's MI400 accelerators doubled memory bandwidth to compete with Nvidia in AI training.",
        "Samsung's HBM4 memory passed Nvidia's qualification tests after a year of delays.",
        "The US added more Chinese AI chip firms to its export blacklist this week.",
        "Google's seventh-generation TPU delivers four times the performance per watt of the previous one.",
        "Apple's M5 chip brings neural accelerators into every GPU core of the MacBook Pro.",
    ],
    "space": [
        "SpaceX caught the Super Heavy booster with the launch tower's arms for the first time.",
        "Europe's Ariane 6 rocket completed its first commercial launch carrying a French military satellite.",
    ],
    "health": [
        "A weekly GLP-1 pill cut body weight by 14 percent in a 72-week trial.",
        "Measles cases in the United States reached their highest level since 1992.",
    ],
    "energy": [
        "Battery storage in Texas now covers the evening peak on most summer days.",
        "Wind and solar generated more electricity than fossil fuels in the EU for the first time.",
    ],
}


@pytest.fixture
def themed_day(make_core):  # type: ignore[no-untyped-def]
    """Fourteen insights, eight on chips (rated higher), each in its own episode, clustered."""
    app = make_core()
    with app.session() as session:
        feeds = {
            theme: Feed(url=f"https://{theme}.example.org/rss", title=f"{theme.title()} Show")
            for theme in THEMES
        }
        for theme, lines in THEMES.items():
            for n, line in enumerate(lines):
                episode = Episode(
                    feed=feeds[theme],
                    key=f"{theme}{n}",
                    fallback_key=f"{theme}{n}",
                    title=f"{theme} {n}",
                    published_at=DAY1 - timedelta(hours=2),
                )
                session.add(
                    Insight(
                        episode=episode,
                        text=line,
                        quote=line,
                        quote_hash=f"{theme}{n}",
                        start_seconds=30.0,
                        end_seconds=40.0,
                        score=0.9 if theme == "chips" else 0.6,
                        extractor="offline",
                        created_at=DAY1,
                    )
                )
        session.add(Subscriber(email="space@example.com", interests="space exploration, rockets"))
        session.add(Subscriber(email="energy@example.com", interests="energy storage; renewables"))
        session.add(Subscriber(email="general@example.com"))
        session.commit()
    assert cluster_insights(app, DAY1).started == 14  # fourteen different stories
    return app


def themes_of(picks) -> list[str]:  # type: ignore[no-untyped-def]
    return [next(t for t, lines in THEMES.items() if p.insight.text in lines) for p in picks]


def pick(app, email: str, selector: Selector | None = None):  # type: ignore[no-untyped-def]
    selector = selector or make_selector(app)
    with app.session() as session:
        sub = session.query(Subscriber).filter_by(email=email).one()
        return selector.pick(session, sub, "2026-11-20", DAY1)


def test_top_five_spans_themes_even_when_one_theme_dominates(themed_day) -> None:  # type: ignore[no-untyped-def]
    picks = pick(themed_day, "general@example.com")
    assert len(picks) == 5
    assert len(set(themes_of(picks))) >= 3, themes_of(picks)
    # Without the diversity term the same day gives five chip stories: MMR is what spreads them.
    plain = make_selector(themed_day)
    plain.weights = RankingWeights(diversity=0.0, same_show=0.0)
    assert set(themes_of(pick(themed_day, "general@example.com", plain))) == {"chips"}


def test_interests_steer_the_pick(themed_day) -> None:  # type: ignore[no-untyped-def]
    space = pick(themed_day, "space@example.com")
    energy = pick(themed_day, "energy@example.com")
    assert themes_of(space)[:2] == ["space", "space"], [p.insight.text for p in space]
    assert themes_of(energy)[:2] == ["energy", "energy"], [p.insight.text for p in energy]
    assert [p.insight.id for p in space] != [p.insight.id for p in energy]
    assert ("matches your interest" in space[0].why and "space" in space[0].why) or "rocket" in space[0].why


def test_votes_move_insights_down_and_up(themed_day) -> None:  # type: ignore[no-untyped-def]
    from podsift.store import Feedback

    before = pick(themed_day, "general@example.com")
    disliked = [p.insight.id for p in before if p.insight.text in THEMES["chips"]]
    assert disliked
    with themed_day.session() as session:
        sub = session.query(Subscriber).filter_by(email="general@example.com").one()
        liked = session.query(Insight).filter(Insight.text.startswith("Measles")).one()
        session.add_all(Feedback(subscriber_id=sub.id, insight_id=i, vote=-1) for i in disliked)
        session.add(Feedback(subscriber_id=sub.id, insight_id=liked.id, vote=1))
        session.commit()
        liked_id = liked.id
    after = pick(themed_day, "general@example.com")
    assert not {p.insight.id for p in after} & set(disliked)
    assert after[0].insight.id == liked_id and "close to insights you liked" in after[0].why


def test_subscriber_with_no_vectors_still_gets_a_digest(themed_day) -> None:  # type: ignore[no-untyped-def]
    selector = make_selector(themed_day)
    selector.embedder = None  # an embedding backend that failed to load
    picks = pick(themed_day, "space@example.com", selector)
    assert len(picks) == 5 and themes_of(picks)[0] == "space"
    assert deliver_due(themed_day, DAY1 + timedelta(hours=8)).sent


def test_interest_phrases_are_embedded_once_across_runs(themed_day) -> None:  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []
    first = make_selector(themed_day)
    real = first.embedder

    class Counting:
        name, dimensions = real.name, real.dimensions

        def embed(self, texts):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            return real.embed(texts)

    first.embedder = Counting()
    first.warm(["space exploration, rockets", "energy storage; renewables", "rockets"])
    assert sorted(calls[0]) == ["energy storage", "renewables", "rockets", "space exploration"]
    later = make_selector(themed_day)  # the next run
    later.embedder = Counting()
    later.warm(["rockets, heat pumps"])
    assert calls[1:] == [["heat pumps"]]  # only the new phrase
    assert abs(float(later._phrases["rockets"] @ first._phrases["rockets"]) - 1.0) < 1e-3


def test_a_strong_on_topic_second_claim_from_one_episode_beats_a_weak_off_topic_one() -> None:
    """One insight per episode is a penalty, not a rule."""
    import numpy as np

    from podsift.ranking.score import RankingWeights
    from podsift.ranking.select import _diverse

    w = RankingWeights()
    # Two strong on-topic claims from episode 1, one weak off-topic claim from episode 2.
    scores = np.array([0.9, 0.85, 0.35])
    vectors = np.eye(3, dtype=np.float32)  # unrelated claims: no diversity penalty between them
    episodes, feeds = np.array([1, 1, 2]), np.array([1, 1, 2])
    assert _diverse([0, 1, 2], scores, vectors, episodes, feeds, w, 2) == [0, 1]
    # A close call still goes to the other episode: the penalty is real.
    scores = np.array([0.9, 0.6, 0.5])
    assert _diverse([0, 1, 2], scores, vectors, episodes, feeds, w, 2) == [0, 2]
