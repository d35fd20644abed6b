"""The LLM path against real model servers on loopback: llama.cpp's llama-server and
llama-cpp-python's server, serving GGUF models that ship in PyPI packages (tests/llm_server.py).

A small instruct model (0.5B) for behaviour, the Gemma 3 270M base model for robustness
(it answers badly, which is the point). Each test runs the real pipeline: loopback feed,
publisher transcript, extraction, grounding, the quality floor, the request log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from podsift.insights.quality import written_problem
from podsift.pipeline import run
from podsift.sources.scan import add_feeds
from podsift.store import Episode, Insight, LLMRequest
from tests.feedgen import Item, rss
from tests.llm_server import ModelUnavailable, llama_cpp_python_server, llama_server, packaged_gguf

pytestmark = pytest.mark.llm_server
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LINES = [
    ("Lena Park", "Welcome back to Grid Notes, I'm Lena Park, and with me is Sam Ortiz."),
    ("Sam Ortiz", "Thanks for having me, it's great to be here."),
    ("Lena Park", "This episode is brought to you by Voltly. Sign up today at voltly.com for a free trial."),
    (
        "Sam Ortiz",
        "Texas added nine gigawatts of grid batteries this year, which means evening power prices fell by a third.",
    ),
    (
        "Sam Ortiz",
        "Two gas peaker plants will close before the summer, because batteries now undercut them on cost at the evening peak.",
    ),
    ("Lena Park", "What does that mean for the rest of the country?"),
    (
        "Sam Ortiz",
        "Transmission permits still take about ten years, so most of the solar planned today will wait until the next decade.",
    ),
    ("Sam Ortiz", "I studied electrical engineering and I have worked at three utilities over my career."),
]


def vtt() -> str:
    cues = ["WEBVTT", ""]
    for n, (who, line) in enumerate(LINES):
        cues += [f"00:00:{n * 7:02d}.000 --> 00:00:{n * 7 + 6:02d}.500", f"<v {who}>{line}", ""]
    return "\n".join(cues)


def serve(http_server) -> str:  # type: ignore[no-untyped-def]
    http_server.add("/t/grid.vtt", vtt(), content_type="text/vtt")
    item = Item(
        "Batteries beat peakers",
        NOW - timedelta(hours=2),
        guid="gn-1",
        audio="https://cdn.example.org/gn.mp3",
        transcripts=[(http_server.url("/t/grid.vtt"), "text/vtt")],
        persons=["Sam Ortiz"],
    )
    http_server.add("/grid.xml", rss("Grid Notes", [item]))
    return http_server.url("/grid.xml")


def extract_with(http_server, make_core, llm: str, feed: str | None = None):  # type: ignore[no-untyped-def]
    """The whole pipeline on the loopback feed with this PODSIFT_LLM; (app, run report)."""
    app = make_core(allow_hosts=(http_server.host,), asr="none", llm=llm)
    add_feeds(app, [feed or serve(http_server)])
    return app, run(app, NOW)


def model_or_skip(name: str) -> None:
    try:
        packaged_gguf(name)
    except ModelUnavailable as exc:
        pytest.skip(str(exc))


def requests_logged(app) -> list[tuple[str, str, int, int]]:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return [
            tuple(r)
            for r in s.execute(
                sa.select(
                    LLMRequest.purpose, LLMRequest.outcome, LLMRequest.tokens_in, LLMRequest.tokens_out
                ).order_by(LLMRequest.id)
            )
        ]


def episode_state(app) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return tuple(s.execute(sa.select(Episode.state, Episode.error_reason)).one())  # type: ignore[return-value]


def stored(app) -> list[Insight]:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return list(s.scalars(sa.select(Insight)))


def test_refine_mode_on_llama_server_with_a_small_instruct_model(
    http_server, make_core, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model_or_skip("qwen-0.5b")
    with llama_server("qwen-0.5b", tmp_path, context=4096) as url:
        app, report = extract_with(http_server, make_core, f"openai:qwen?base_url={url}&batch=3")
        assert app.extractor.client.context_window() == 4096  # read from the server's /props
    assert episode_state(app) == ("extracted", None), report.insights.failed
    found = stored(app)
    assert found, "the three claims give at least one insight"
    for insight in found:
        print(f"{insight.speaker}: {insight.text}  <- {insight.quote[:60]}")
        assert written_problem(insight.text) is None
        assert insight.speaker == "Sam Ortiz"  # from the transcript's labels
        assert "Ortiz" in insight.text  # the model's text names him, or the offline text does
        assert "passage" not in insight.text.lower() and "geopolitic" not in insight.text.lower()
        for junk in ("Voltly", "Welcome", "studied", "Thanks for having me"):
            assert junk not in insight.quote
    logged = requests_logged(app)
    assert logged and all(p in ("refine", "guard") for p, *_ in logged)
    assert all(tokens_in > 200 for p, _, tokens_in, _ in logged if p == "refine")


def test_llama_cpp_python_server_refuses_json_schema_and_the_client_falls_back(
    http_server, make_core, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model_or_skip("gemma-270m")
    with llama_cpp_python_server("gemma-270m", tmp_path, context=4096) as url:
        # A base model: whatever it answers, the run completes.
        app, _ = extract_with(
            http_server, make_core, f"openai:gemma?base_url={url}&context=4096&max_tokens=400"
        )
        assert app.extractor.client.mode == "json_object"  # json_schema got HTTP 500, then json_object worked
    state, reason = episode_state(app)
    logged = requests_logged(app)
    assert state in ("extracted", "llm_failed") and logged, (state, reason)
    assert any(
        outcome in ("ok", "truncated", "invalid") for _, outcome, *_ in logged
    )  # answered, not refused
    for insight in stored(app):
        assert written_problem(insight.text) is None  # nothing below the floor, whatever the model wrote


def test_a_cut_off_answer_is_known_and_not_re_asked_with_a_longer_prompt(
    http_server, make_core, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model_or_skip("gemma-270m")
    with llama_server("gemma-270m", tmp_path, context=4096) as url:
        app, report = extract_with(
            http_server, make_core, f"openai:gemma?base_url={url}&max_tokens=24&batch=3"
        )
    logged = requests_logged(app)
    refine = [row for row in logged if row[0] == "refine"]
    assert refine and all(outcome == "truncated" and out <= 24 for _, outcome, _, out in refine)
    first_prompt = refine[0][2]
    assert all(tokens_in <= first_prompt * 1.5 for _, _, tokens_in, _ in refine)  # no ever-longer re-asks
    state, reason = episode_state(app)
    assert state == "llm_failed" and "cut off at max_tokens" in (reason or "")
    assert list(report.insights.failed) == [1]


def test_a_timed_out_request_is_recorded_and_not_sent_again(http_server, make_core, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model_or_skip("qwen-0.5b")
    with llama_server("qwen-0.5b", tmp_path, context=4096) as url:
        app, _ = extract_with(
            http_server, make_core, f"openai:qwen?base_url={url}&timeout=0.3&batch=3&retries=3"
        )
    logged = requests_logged(app)
    batches = len([row for row in logged if row[0] == "refine"])
    assert batches >= 1 and all(outcome == "timeout" for _, outcome, *_ in logged)
    assert all(tokens_in > 200 for _, _, tokens_in, _ in logged)  # counted though unanswered
    with app.session() as s:
        episode = s.scalars(sa.select(Episode)).one()
    assert episode.state == "llm_failed" and episode.retry_at is not None and episode.attempts == 1


def test_full_mode_sizes_chunks_and_answers_to_the_servers_context(
    http_server, make_core, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model_or_skip("qwen-0.5b")
    cues, t = ["WEBVTT", ""], 0
    for round_ in range(8):  # ~1,700 tokens of talk: more than one chunk in a 2,048-token context
        for who, line in LINES[3:]:
            cues += [
                f"00:{t // 60:02d}:{t % 60:02d}.000 --> 00:{(t + 6) // 60:02d}:{(t + 6) % 60:02d}.500",
                f"<v {who}>{line} (Round {round_ + 1}.)",
                "",
            ]
            t += 7
    http_server.add("/t/long.vtt", "\n".join(cues), content_type="text/vtt")
    item = Item(
        "Four rounds",
        NOW - timedelta(hours=1),
        guid="gn-long",
        audio="https://cdn.example.org/l.mp3",
        transcripts=[(http_server.url("/t/long.vtt"), "text/vtt")],
    )
    http_server.add("/long.xml", rss("Grid Notes", [item]))
    with llama_server("qwen-0.5b", tmp_path, context=2048) as url:
        llm = f"openai:qwen?base_url={url}&mode=full"
        app, _ = extract_with(http_server, make_core, llm, http_server.url("/long.xml"))
    logged = [row for row in requests_logged(app) if row[0] == "extract"]
    assert len(logged) >= 2  # chunked to fit 2,048 tokens
    assert all(tokens_in + tokens_out <= 2048 for _, _, tokens_in, tokens_out in logged)
    state, reason = episode_state(app)
    assert state in ("extracted", "llm_failed"), reason
    for insight in stored(app):
        assert written_problem(insight.text) is None and insight.speaker in ("Sam Ortiz", "Lena Park")


def test_stance_judge_on_llama_server_with_a_small_instruct_model(make_core, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The disagreement question against a real model: a valid answer (the server holds it to
    the JSON schema), logged, cached (the same pair is not asked twice)."""
    from podsift.backends.judge import STANCES

    model_or_skip("qwen-0.5b")
    with llama_server("qwen-0.5b", tmp_path, context=2048) as url:
        app = make_core(llm=f"openai:qwen?base_url={url}", asr="none")
        assert app.story_judge is not None
        judge = app.story_judge()
        a = "Utility-scale battery packs now cost about $60/kWh."
        b = "Utility-scale battery packs still cost around $80/kWh."
        first = judge.stance(a, b)
        again = app.story_judge().stance(b, a)  # a new judge, the pair the other way round
    print(f"qwen-0.5b says {first!r}")
    assert first is not None and first[0] in STANCES and again == first
    assert [(p, o) for p, o, *_ in requests_logged(app)] == [("stance", "ok")]


def test_reader_instructions_and_their_write_up_on_llama_server(make_core, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real small model reads a reader's words under the profile schema and rewrites their
    five in their style: what it proposes is kept only where the parser vouches for it, and
    each rewrite is kept only where the faithfulness guard passes it; logged either way."""
    from podsift.delivery.stage import deliver_due
    from podsift.digests.style import rewrite_faults
    from podsift.ranking.select import Pick
    from podsift.store import DigestItem
    from podsift.subscribers import add_subscriber
    from podsift.subscribers.steer import instruct
    from tests.seed import seed_insights

    model_or_skip("qwen-0.5b")
    text = "skip funding news please, and I'd enjoy more on heat pumps. Keep every text short."
    with llama_server("qwen-0.5b", tmp_path, context=4096) as url:
        app = make_core(llm=f"openai:qwen?base_url={url}", asr="none")
        seed_insights(app, NOW, count=5)
        add_subscriber(app, "reader@example.com", hour=0)
        profile = instruct(app, "reader@example.com", text, NOW)
        report = deliver_due(app, NOW)
    print(f"qwen-0.5b profile: {profile.describe()}")
    assert profile.mute.kinds == ["funding"] and "short_texts" in profile.style  # the parser's reading stands
    words = set(re.findall(r"[a-z]+", text.lower()))
    for value in profile.boost.topics + profile.mute.topics:
        assert set(re.findall(r"[a-z]+", value.lower())) <= words  # nothing the reader did not write
    assert report.sent == ["reader@example.com"], report
    logged = requests_logged(app)
    with app.session() as s:
        print(f"requests: {logged}; {s.scalars(sa.select(LLMRequest.detail)).all()}")
    assert [p for p, *_ in logged] == ["profile", "style"] and all(t_in > 100 for _, _, t_in, _ in logged)
    with app.session() as s:
        items = list(s.scalars(sa.select(DigestItem).order_by(DigestItem.rank)))
        for item in items:
            pick = Pick(item.insight, item.score, item.why, glossary=item.glossary)
            print(f"  {item.insight.text}\n  -> {item.styled_text}")
            if item.styled_text:
                # a model's rewrite or the offline cut: either way nothing the quote lacks
                assert not [f for f in rewrite_faults(item.styled_text, pick) if "long" not in f]


def test_ask_on_llama_server_with_the_packaged_qwen_1_5b(make_core, http_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A real model answers from the moments: what it says is kept only with citations that
    exist and facts the cited moments hold; a question they do not answer is not answered."""
    from podsift.search.ask import NOT_DISCUSSED, ask
    from tests.test_instructions import NOW as DAY
    from tests.test_instructions import world

    model_or_skip("qwen-1.5b")
    offline = world(make_core, http_server)
    run(offline, DAY)
    offline.close()
    with llama_server("qwen-1.5b", tmp_path, context=4096) as url:
        app = make_core(llm=f"openai:qwen?base_url={url}", asr="none")
        answer = ask(app, "What did they say about heat pumps?")
        japan = ask(app, "What did they say about heat pump prices in Japan?")
    print(f"qwen-1.5b: {answer.text!r}\n  japan: {japan.text!r}")
    assert answer.moments and answer.moments[0].show == "Green Grid"
    for sentence in answer.sentences:
        assert sentence.cites and all(1 <= n <= len(answer.moments) for n in sentence.cites)
    assert "Japan" not in japan.text  # nothing the moments lack, whatever the model wrote
    assert japan.answered or japan.text == NOT_DISCUSSED
    logged = requests_logged(app)
    assert [p for p, *_ in logged] == ["ask", "ask"] and all(t_in > 150 for _, _, t_in, _ in logged)
