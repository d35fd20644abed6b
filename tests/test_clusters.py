"""Same-story clustering on real MiniLM embeddings (the packaged all-MiniLM-L6-v2)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa

from podsift.backends import parse_spec
from podsift.backends.calls import CachedCall, CallStore
from podsift.backends.embeddings import make_embedder
from podsift.backends.embeddings.vectors import from_blob, to_blob
from podsift.backends.judge import LLMStoryJudge
from podsift.backends.llm import OpenAIChat
from podsift.clusters.evaluate import FAMILIES, cross_validate, evaluate, featurise, load_pairs
from podsift.clusters.index import ClusterIndex
from podsift.clusters.signals import SameStoryModel, pair_features, signature, story_text, strip_speaker
from podsift.clusters.stage import cluster_insights
from podsift.store import Cluster, Episode, Feed, Insight
from tests.conftest import FIXTURES
from tests.fake_llm import FakeLLM

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PAIRS = FIXTURES / "pairs" / "same_story_pairs.jsonl"


@pytest.fixture(scope="module")
def minilm():  # type: ignore[no-untyped-def]
    return make_embedder("local")


def test_packaged_minilm_gives_normalised_384_dim_vectors(minilm) -> None:  # type: ignore[no-untyped-def]
    vectors = minilm.embed(["Nuclear power is back.", "Reactors are restarting.", "I like jazz."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    # float16 storage keeps cosines within 1e-3
    assert (
        abs(from_blob(to_blob(vectors[0])) @ from_blob(to_blob(vectors[1])) - vectors[0] @ vectors[1]) < 1e-3
    )


def test_paraphrases_from_different_shows_share_a_cluster_and_other_claims_do_not(minilm) -> None:  # type: ignore[no-untyped-def]
    story = [
        "Microsoft signed a twenty-year deal to restart Three Mile Island, putting 835 megawatts back on the grid by 2028 for its data centers.",
        "Constellation will bring the Three Mile Island plant back online by 2028 and sell all 835 megawatts to Microsoft's AI data centers.",
        "The Three Mile Island reactor is coming back to life for Microsoft, which will buy its entire 835 megawatt output from 2028.",
    ]
    same_topic = [
        "Amazon bought a data center campus next to the Susquehanna nuclear plant in Pennsylvania for 650 million dollars.",
        "Google ordered small modular reactors from Kairos Power, with the first one due to run by 2030.",
        "Germany switched off its last three nuclear reactors in April 2023.",
    ]
    texts = story + same_topic
    index = ClusterIndex(384)
    counter = itertools.count(1)
    result = index.assign(minilm.embed(texts), texts, lambda: next(counter))
    ids = [a.cluster_id for a in result]
    assert ids[0] == ids[1] == ids[2]
    assert len({ids[0], *ids[3:]}) == 4  # each different story stands alone


def test_shipped_model_on_labelled_pairs_beats_cosine_alone(minilm) -> None:  # type: ignore[no-untyped-def]
    pairs = load_pairs(PAIRS)
    labels = [bool(p["same"]) for p in pairs]
    assert len(pairs) >= 120 and 0.4 < sum(labels) / len(labels) < 0.6
    features = featurise(pairs, minilm)
    shipped = evaluate(SameStoryModel(), features, labels)
    assert shipped.precision >= 0.88 and shipped.recall >= 0.85, shipped
    held_cosine = cross_validate(features, labels, FAMILIES["cosine only"])
    held_combined = cross_validate(features, labels, FAMILIES["cosine + entities + figures + terms"])
    assert held_combined.f1 > held_cosine.f1, (held_combined, held_cosine)


def test_figures_that_disagree_mark_different_stories() -> None:
    a = signature("Nvidia's quarterly revenue rose to 35 billion dollars.")
    b = signature("Nvidia's quarterly revenue rose to 57 billion dollars.")
    c = signature("Nvidia's revenue for the quarter reached $35 billion.")
    assert a.numbers == {"35"} and c.numbers == {"35"}
    from podsift.clusters.signals import pair_features

    assert pair_features(0.9, a, b).number_clash and not pair_features(0.9, a, c).number_clash


def test_a_number_spelled_over_several_words_is_one_figure() -> None:
    """ "one hundred and fifty" is 150: read word by word it was 100 and 50, which matched
    "a hundred hours" in another claim and joined two stories."""
    price = signature(
        "I remember when people were thrilled about one hundred and fifty. Texas added nine gigawatts."
    )
    duration = signature("Iron-air batteries store power for a hundred hours.")
    assert price.numbers == {"150", "9"} and duration.numbers == {"100"}
    assert pair_features(0.5, price, duration).number_clash
    assert signature("two thousand and twenty seven").numbers == {"2027"}
    assert signature("about forty five dollars").numbers == {"45"}


class MemoryStore(CallStore):
    def __init__(self) -> None:
        self.rows: dict[str, CachedCall] = {}
        self.logged: list[object] = []

    def get(self, key: str) -> CachedCall | None:
        return self.rows.get(key)

    def put(
        self, key: str, episode_id: int | None, model: str, call: CachedCall, cost: float, version: str
    ) -> None:
        self.rows[key] = call

    def log_request(self, entry) -> None:  # type: ignore[no-untyped-def]
        self.logged.append(entry)


def test_borderline_pairs_go_to_the_llm_judge_once(minilm) -> None:  # type: ignore[no-untyped-def]
    llm = FakeLLM()
    try:
        llm.judge = lambda a, b: "Chinese" in a and "Chinese" in b
        spec = parse_spec(f"openai:judge-model?base_url={llm.base_url}")
        judge = LLMStoryJudge(OpenAIChat(spec), MemoryStore(), "openai:judge-model")
        texts = [
            "Top US AI labs are collaborating to detect adversarial distillation by Chinese firms.",
            "Despite rivalry, OpenAI, Anthropic and Google work together to stop Chinese companies copying their models.",
        ]
        vectors = minilm.embed(texts)
        # The pair scores about 0.37: below the shipped band, so widen it to show the path.
        model = SameStoryModel(band=0.25)
        counter = itertools.count(1)
        first = ClusterIndex(384, model).assign(vectors, texts, lambda: next(counter), judge)
        assert first[1].joined and first[1].via_judge and first[1].cluster_id == first[0].cluster_id
        assert len(llm.judge_requests) == 1
        (logged,) = judge.store.logged  # type: ignore[attr-defined]
        assert (logged.purpose, logged.outcome) == (
            "judge",
            "ok",
        ) and logged.tokens_in > 0  # counted in stats
        again = ClusterIndex(384, model).assign(vectors, texts, lambda: next(counter), judge)
        assert again[1].via_judge and len(llm.judge_requests) == 1 and judge.cached == 1
        # Without a judge the same pair stays two stories.
        alone = ClusterIndex(384, model).assign(vectors, texts, lambda: next(counter))
        assert not alone[1].joined
    finally:
        llm.close()


def test_numpy_minilm_gives_sentence_transformers_vectors(minilm) -> None:  # type: ignore[no-untyped-def]
    """The default engine runs the packaged MiniLM in numpy; its vectors are
    sentence-transformers' own, so it keeps the same embedder name."""
    from podsift.backends.embeddings.local import NumpyBertEmbedder, SentenceTransformerEmbedder

    torch_engine = make_embedder("local?engine=torch")
    assert isinstance(minilm, NumpyBertEmbedder) and isinstance(torch_engine, SentenceTransformerEmbedder)
    assert minilm.name == torch_engine.name == "local:all-MiniLM-L6-v2"
    texts = [
        "Frontier AI labs restrict API access to stop distillation into cheap copies.",
        "Die Batterie speichert billigen Mittagsstrom – für den Abend.",
        "hi",
        "",
        "grid " * 400,  # longer than the model's 256 tokens: truncated by both
        *(f"Claim {i}: interconnection queues hold {i * 10} GW of solar." for i in range(40)),
    ]
    ours, theirs = minilm.embed(texts), torch_engine.embed(texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    assert float((ours * theirs).sum(axis=1).min()) > 0.99999
    assert minilm.embed([]).shape == (0, 384)


def test_numpy_minilm_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from podsift.backends.embeddings import make_embedder\n"
        "vectors = make_embedder('local').embed(['Nuclear power is back.'])\n"
        "print(vectors.shape, 'torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "(1, 384) False", out.stderr[-2000:]


def test_openai_compatible_embeddings_endpoint() -> None:
    llm = FakeLLM()
    try:
        embedder = make_embedder(f"openai:nomic-embed-text?base_url={llm.base_url}&batch_size=2")
        vectors = embedder.embed(["one fish", "two fish", "red fish", "blue fish", "five"])
        assert vectors.shape == (5, 64) and embedder.dimensions == 64
        assert len(llm.embedding_requests) == 3  # batches of two
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    finally:
        llm.close()


def _episodes_of_shows(session, count: int) -> list[Episode]:  # type: ignore[no-untyped-def]
    """One episode each of `count` shows, added to the session."""
    feeds = [Feed(url=f"https://show{i}.example.org/rss", title=f"Show {i}") for i in range(count)]
    episodes = [
        Episode(feed=f, key=f"e{i}", fallback_key=f"f{i}", title=f"Ep {i}", published_at=NOW)
        for i, f in enumerate(feeds)
    ]
    session.add_all(episodes)
    return episodes


def _insight(session, episode: Episode, text: str, n: int) -> Insight:  # type: ignore[no-untyped-def]
    insight = Insight(
        episode=episode,
        text=text,
        quote=text,
        quote_hash=f"{episode.id}-{n}",
        speaker=None,
        start_seconds=10.0 * n,
        end_seconds=10.0 * n + 8,
        score=0.7,
        extractor="offline",
        created_at=NOW,
    )
    session.add(insight)
    return insight


def test_stage_embeds_once_clusters_incrementally_and_counts_shows(make_core) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    tellings = [
        "Microsoft signed a twenty-year deal to restart Three Mile Island, putting 835 megawatts back on the grid by 2028.",
        "Constellation will bring Three Mile Island back online by 2028 and sell all 835 megawatts to Microsoft.",
        "The Three Mile Island reactor returns for Microsoft, which buys its whole 835 megawatt output from 2028.",
    ]
    with app.session() as session:
        episodes = _episodes_of_shows(session, 3)
        _insight(session, episodes[0], tellings[0], 1)
        _insight(
            session,
            episodes[0],
            "Heat pumps outsold gas furnaces in the United States for the third year running.",
            2,
        )
        session.commit()
    first = cluster_insights(app, NOW)
    assert (first.embedded, first.clustered, first.started) == (2, 2, 2)
    with app.session() as session:
        _insight(session, session.get(Episode, 2), tellings[1], 1)
        _insight(session, session.get(Episode, 3), tellings[2], 1)
        session.commit()
    second = cluster_insights(app, NOW)
    assert (second.embedded, second.clustered, second.joined) == (2, 2, 2)
    with app.session() as session:
        clusters = session.scalars(sa.select(Cluster).order_by(Cluster.size.desc())).all()
        assert [c.size for c in clusters] == [3, 1] and clusters[0].show_count == 3
        assert sorted(clusters[0].feed_ids) == [1, 2, 3]
        assert session.get(Insight, clusters[0].representative_id).cluster_id == clusters[0].id
    again = cluster_insights(app, NOW)
    assert (again.embedded, again.clustered) == (0, 0)


def test_a_telling_whose_text_is_its_lead_in_still_joins_its_story(make_core) -> None:  # type: ignore[no-untyped-def]
    """Same-story matching reads what was said (the quote), not the text chosen from it: a
    text that is only the lead-in must not split the story into two digest items."""
    app = make_core()
    lead_in = "Ben Okafor: What struck me this week is the battery pricing."
    spoken = (
        "What struck me this week is the battery pricing. Battery packs fell to about 115 dollars a "
        "kilowatt hour, which means a four-hour battery now undercuts a gas peaker on cost."
    )
    other = (
        "Battery packs dropped to roughly 115 dollars per kilowatt hour this year, so four-hour storage "
        "is now cheaper than building a gas peaker plant."
    )
    with app.session() as session:
        episodes = _episodes_of_shows(session, 2)
        first = _insight(session, episodes[0], lead_in, 1)
        first.quote = spoken
        _insight(session, episodes[1], other, 1)
        session.commit()
    report = cluster_insights(app, NOW)
    assert (report.clustered, report.joined) == (2, 1), report
    with app.session() as session:
        (cluster,) = session.scalars(sa.select(Cluster)).all()
        assert cluster.size == 2 and cluster.show_count == 2
    # The text alone would not have matched: the quote is what joined them.
    minilm = make_embedder("local")
    text_only, told, theirs = minilm.embed([strip_speaker(lead_in), story_text(lead_in, spoken), other])
    model = SameStoryModel()
    by_text = pair_features(float(text_only @ theirs), signature(lead_in), signature(other))
    by_story = pair_features(float(told @ theirs), signature(story_text(lead_in, spoken)), signature(other))
    assert model.decide(by_text) != "same" and model.decide(by_story) == "same"
