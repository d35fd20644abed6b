"""The LLM extractor: refine offline candidates (default) or read the whole transcript.

`PODSIFT_LLM=openai:MODEL?base_url=...&mode=refine|full&context=8192&timeout=600&max_tokens=1024`
or `anthropic:MODEL?...`.

- `mode=refine` (the default): the offline extractor proposes a few grounded passages per
  episode with their neighbouring sentences; the model judges each (a self-contained,
  non-obvious claim? a score with a reason) and writes the insight in the target style. A
  written insight must pass the faithfulness guard (numbers, names, quoted terms all in
  what the model saw): otherwise one re-ask, then the offline text. Costs a fixed few
  thousand tokens per episode, whatever its length.
- `mode=full`: the transcript in chunks sized to the server's context, the model finds the
  insights and quotes them. For strong models.

Every request is logged with its outcome (`podsift stats`); good answers are cached by
(episode, transcript hash, prompt version, model, chunk), so a re-run makes no call. A bad
item is dropped, not the answer; a bad chunk or batch, not the episode; the episode fails
(and is retried on a later run) only when no request of it got an answer.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from podsift.backends.calls import CachedCall, CallStore, RequestEntry
from podsift.backends.llm import ChatClient, ChatError, ChatResult, ChatTimeout, prompt_tokens
from podsift.backends.spec import BackendSpec, Lazy
from podsift.insights.llm.faithfulness import NO_SPEAKER, written_faults
from podsift.insights.llm.parse import InvalidAnswer, Parsed, _Insight, parse_items, to_candidates
from podsift.insights.llm.prompt import (
    PROMPT_VERSION,
    TOKENS_PER_INSIGHT,
    build_messages,
    chunk_segments,
    insight_schema,
    reask_message,
)
from podsift.insights.llm.refine import (
    EXAMPLE,
    REFINE_VERSION,
    Proposal,
    Refined,
    guard_message,
    refine_messages,
    refine_schema,
)
from podsift.insights.offline import OfflineExtractor, threshold_option
from podsift.insights.quality import written_problem
from podsift.insights.registry import BudgetExhausted, Candidate, EpisodeInfo, ExtractionError
from podsift.types import Transcript

log = logging.getLogger(__name__)
PROMPT_OVERHEAD = 700  # tokens of instructions and metadata around a chunk
MIN_SCORE = 0.35  # a refined candidate the model scores lower is not an insight


@dataclass
class Usage:
    calls: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0
    guard_trips: int = 0
    guard_fallbacks: int = 0
    failed_requests: int = 0
    dropped_unsafe: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Question:
    """One thing to ask the model, and how to read the answer."""

    purpose: str  # extract | refine
    messages: list[dict[str, str]]
    schema: dict[str, Any]
    max_tokens: int
    field_name: str  # the answer's array: "insights" or "items"
    model: type[BaseModel]
    episode: EpisodeInfo


class RequestFailed(Exception):
    """One chunk or batch got no usable answer; the rest of the episode goes on."""


class LLMExtractor:
    def __init__(self, spec: BackendSpec, chat: Lazy[ChatClient], store: CallStore | None = None) -> None:
        self.spec = spec
        self._chat = chat
        self.model = spec.target
        self.name = f"{spec.scheme}:{spec.target}"
        self.mode = spec.option("mode") or "refine"
        if self.mode not in ("refine", "full"):
            raise ValueError(f"mode={self.mode!r}: use refine or full")
        self.chunk_tokens = int(spec.number("chunk_tokens", 6000))
        self.overlap_tokens = int(spec.number("overlap_tokens", 300))
        self.max_tokens = int(spec.number("max_tokens", 1024))
        # Refine mode judges this many offline proposals per episode (a digest needs a few
        # strong ones, not the stage's insights_per_episode): the cost per episode is fixed.
        self.candidates = int(spec.number("candidates", 6))
        self.batch = max(1, int(spec.number("batch", 3)))
        # write=0: the model only judges (keep, score); the offline text is kept. For small
        # local models whose writing fails the guard more often than not.
        self.write = spec.flag("write", True)
        self.price_in = spec.number("price_in", 0.0) / 1e6  # USD per token
        self.price_out = spec.number("price_out", 0.0) / 1e6
        self.budget_tokens = int(spec.number("budget_tokens", 2_000_000))
        self.budget_usd = spec.number("budget_usd", 0.0)  # 0: no cost cap
        self.store = store or CallStore()
        self.usage = Usage()
        # Refine mode's proposals: the learned selector's best, above its keep threshold
        # unless `threshold=` moves it (the model judges what is proposed).
        self.offline = OfflineExtractor(threshold_option(spec))

    @property
    def client(self) -> ChatClient:
        return self._chat()

    def extract(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]:
        if self.mode == "full":
            return self._full(episode, transcript, limit)
        return self._refine(episode, transcript, limit)

    # -- refine mode ----------------------------------------------------------------------

    def _refine(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]:
        proposals = [
            Proposal(i + 1, candidate, before, after)
            for i, (candidate, before, after) in enumerate(
                self.offline.propose(episode, transcript, self.candidates)
            )
        ]
        out: list[Candidate] = []
        answered, failures = 0, []
        for start in range(0, len(proposals), self.batch):
            batch = proposals[start : start + self.batch]
            try:
                judged = self._judge(episode, transcript, batch)
                answered += 1
            except RequestFailed as exc:
                log.warning(
                    "%s: a refine batch of %s failed (%s); offline texts kept", self.name, episode.key, exc
                )
                failures.append(str(exc))
                judged = {p.id: None for p in batch}
            out.extend(self._written(episode, batch, judged))
        if proposals and not answered:
            raise ExtractionError(
                f"{self.name}: no refine request was answered: " + "; ".join(failures)[:1500]
            )
        return sorted(out, key=lambda c: -c.score)[:limit]

    def _judge(
        self, episode: EpisodeInfo, transcript: Transcript, batch: list[Proposal]
    ) -> dict[int, Refined | None]:
        messages = refine_messages(episode, batch)
        key = self._key(episode, transcript, REFINE_VERSION, *[p.candidate.quote for p in batch])
        max_tokens = min(self.max_tokens, 170 * len(batch) + 80)
        schema = refine_schema(len(batch))
        parsed = self._ask(key, Question("refine", messages, schema, max_tokens, "items", Refined, episode))
        return {item.id: item for item in parsed.items}

    def _written(
        self, episode: EpisodeInfo, batch: list[Proposal], judged: dict[int, Refined | None]
    ) -> list[Candidate]:
        """The batch's candidates: the model's text where it passes the guard (after one
        re-ask, for the whole batch's failures at once), else the offline text."""
        texts: dict[int, str] = {}
        tripped: list[tuple[Proposal, Refined, list[str]]] = []
        for proposal in batch:
            item = judged.get(proposal.id)
            if (
                item is None
                or not item.keep
                or item.score < MIN_SCORE
                or not self.write
                or not item.insight.strip()
            ):
                continue
            text = item.insight.strip()
            faults = self._faults(episode, proposal, text)
            if faults == [NO_SPEAKER.format(proposal.speaker)]:  # the one fault a prefix mends
                text, faults = f"{proposal.speaker}: {text}", []
            if faults:
                self.usage.guard_trips += 1
                detail = "; ".join(faults)[:500]
                self.store.log_request(
                    RequestEntry(self.name, "guard", "trip", episode.episode_id, detail=detail)
                )
                tripped.append((proposal, item, faults))
            else:
                texts[proposal.id] = text
        if tripped:
            texts.update(self._reask(episode, tripped))
        out = []
        for proposal in batch:
            offline, item = proposal.candidate, judged.get(proposal.id)
            if item is None:  # not judged (the batch failed or the model skipped it): offline text
                out.append(
                    Candidate(offline.text, offline.quote, offline.speaker, round(0.8 * offline.score, 4))
                )
                continue
            if not item.keep or item.score < MIN_SCORE:
                continue
            written = texts.get(proposal.id)
            if written is None and self.write and item.insight.strip():
                self.usage.guard_fallbacks += 1
                self.store.log_request(RequestEntry(self.name, "guard", "fallback", episode.episode_id))
            out.append(
                Candidate(
                    text=written or offline.text,
                    quote=offline.quote,
                    speaker=offline.speaker,
                    score=round(0.5 * offline.score + 0.5 * item.score, 4),
                    importance=item.score,
                    confidence=item.score,
                )
            )
        return out

    @staticmethod
    def _faults(episode: EpisodeInfo, proposal: Proposal, text: str) -> list[str]:
        faults = written_faults(
            text, proposal.sources(episode), proposal.speaker, EXAMPLE, proposal.candidate.quote
        )
        problem = written_problem(text)
        if problem:
            faults.append(f"reads as {problem.replace('-', ' ')}, not a claim about the world")
        return faults

    def _reask(
        self, episode: EpisodeInfo, tripped: list[tuple[Proposal, Refined, list[str]]]
    ) -> dict[int, str]:
        """One more try for the tripped insights of a batch, in one request that says what
        was wrong with each; the texts that now pass, by proposal id."""
        proposals = [proposal for proposal, _, _ in tripped]
        messages = [
            *refine_messages(episode, proposals),
            guard_message([(proposal.id, item.insight, faults) for proposal, item, faults in tripped]),
        ]
        key = self._key(
            episode,
            None,
            REFINE_VERSION,
            "guard",
            *[f"{p.candidate.quote}|{i.insight}" for p, i, _ in tripped],
        )
        max_tokens = min(self.max_tokens, 170 * len(tripped) + 80)
        try:
            parsed = self._ask(
                key,
                Question(
                    "refine", messages, refine_schema(len(tripped)), max_tokens, "items", Refined, episode
                ),
            )
        except RequestFailed:
            return {}
        by_id = {proposal.id: proposal for proposal in proposals}
        fixed = {}
        for again in parsed.items:
            proposal = by_id.get(again.id)
            text = again.insight.strip()
            if proposal and again.keep and text and not self._faults(episode, proposal, text):
                fixed[proposal.id] = text
        return fixed

    # -- full mode ------------------------------------------------------------------------

    def _full(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]:
        context = self.client.context_window()
        per_chunk_guess = 4
        max_tokens = min(self.max_tokens, per_chunk_guess * TOKENS_PER_INSIGHT + 100, context // 3)
        chunk_tokens = max(100, min(self.chunk_tokens, context - max_tokens - PROMPT_OVERHEAD))
        chunks = chunk_segments(
            transcript.segments, chunk_tokens, min(self.overlap_tokens, chunk_tokens // 5)
        )
        per_chunk = max(1, min((max_tokens - 100) // TOKENS_PER_INSIGHT, -(-limit // len(chunks)) + 1))
        trusted = " ".join(
            filter(None, [episode.show, episode.title, episode.description, episode.link, *episode.persons])
        )
        candidates: list[Candidate] = []
        failures: list[str] = []
        for chunk in chunks:
            key = self._key(episode, transcript, PROMPT_VERSION, str(chunk.index), str(per_chunk))
            messages = build_messages(episode, chunk, len(chunks), per_chunk)
            try:
                schema = insight_schema(per_chunk)
                parsed = self._ask(
                    key, Question("extract", messages, schema, max_tokens, "insights", _Insight, episode)
                )
            except RequestFailed as exc:
                failures.append(f"chunk {chunk.index + 1}/{len(chunks)}: {exc}")
                continue
            kept, dropped = to_candidates(parsed.items, trusted)
            self.usage.dropped_unsafe.extend(dropped)
            candidates.extend(kept)
        if failures and len(failures) == len(chunks):
            raise ExtractionError(f"{self.name}: every chunk failed; " + "; ".join(failures)[:1500])
        for failure in failures:
            log.warning("%s: %s of %s failed; the other chunks count", self.name, failure, episode.key)
        # Grounding and merging near-copies across overlapping chunks happen in the stage.
        return candidates

    # -- one question, cached, logged, re-asked once ----------------------------------------

    def _key(self, episode: EpisodeInfo, transcript: Transcript | None, version: str, *parts: str) -> str:
        head = [episode.key, transcript.content_hash() if transcript else "", version, self.name, self.mode]
        return hashlib.sha256("|".join([*head, *parts]).encode()).hexdigest()

    def _ask(self, key: str, question: Question) -> Parsed[Any]:
        cached = self.store.get(key)
        if cached is not None:
            self.usage.cached += 1
            try:
                return parse_items(cached.response, question.field_name, question.model)
            except InvalidAnswer:
                pass  # a cache entry from an older parser: ask again
        result, parsed, error = self._call_and_parse(question, question.messages)
        if parsed is None or (not parsed.items and parsed.errors):
            if result.truncated:
                raise RequestFailed(
                    f"answer cut off at max_tokens={question.max_tokens} with no complete item"
                )
            errors = error or "\n".join(parsed.errors if parsed else [])
            retry = [
                *question.messages,
                {"role": "assistant", "content": result.text[:1500]},
                reask_message(errors),
            ]
            result, parsed, error = self._call_and_parse(question, retry)
            if parsed is None:
                raise RequestFailed(f"invalid answer after one re-ask: {error}")
        call = CachedCall(result.text, result.tokens_in, result.tokens_out)
        self.store.put(
            key,
            question.episode.episode_id,
            self.name,
            call,
            self._cost(result.tokens_in, result.tokens_out),
            PROMPT_VERSION,
        )
        return parsed

    def _call_and_parse(
        self, question: Question, messages: list[dict[str, str]]
    ) -> tuple[ChatResult, Parsed[Any] | None, str | None]:
        """One request, logged with what its answer was worth: ok (items to use), truncated
        (cut off at max_tokens), invalid (no item could be read)."""
        result, entry = self._call(question, messages)
        try:
            parsed, error = parse_items(result.text, question.field_name, question.model), None
        except InvalidAnswer as exc:
            parsed, error = None, str(exc)
        if result.truncated:
            entry.outcome = "truncated"
        elif parsed is None or (not parsed.items and parsed.errors):
            entry.outcome, entry.detail = (
                "invalid",
                (error or "\n".join(parsed.errors if parsed else []))[:500],
            )
        self.store.log_request(entry)
        return result, parsed, error

    def _call(self, question: Question, messages: list[dict[str, str]]) -> tuple[ChatResult, RequestEntry]:
        if self.usage.tokens_in + self.usage.tokens_out >= self.budget_tokens:
            raise BudgetExhausted(f"token budget of {self.budget_tokens} for this run is spent")
        if self.budget_usd and self.usage.cost_usd >= self.budget_usd:
            raise BudgetExhausted(f"cost budget of ${self.budget_usd:g} for this run is spent")
        # A request that gets no answer still read its prompt (or was about to): count it.
        entry = RequestEntry(
            self.name, question.purpose, "ok", question.episode.episode_id, tokens_in=prompt_tokens(messages)
        )
        try:
            result = self.client.complete(messages, question.schema, question.max_tokens)
        except ChatTimeout as exc:
            entry.outcome, entry.detail = "timeout", str(exc)
            self._record_failure(entry)
            raise RequestFailed(f"timed out: {exc}") from exc
        except (ChatError, ValueError) as exc:
            entry.outcome, entry.detail = "error", str(exc)[:500]
            self._record_failure(entry)
            raise RequestFailed(str(exc)[:300]) from exc
        self.usage.calls += 1
        self.usage.tokens_in += result.tokens_in
        self.usage.tokens_out += result.tokens_out
        self.usage.seconds += result.seconds
        self.usage.cost_usd += self._cost(result.tokens_in, result.tokens_out)
        entry.tokens_in, entry.tokens_out, entry.seconds = result.tokens_in, result.tokens_out, result.seconds
        return result, entry  # logged by the caller, once the answer is read

    def _record_failure(self, entry: RequestEntry) -> None:
        self.usage.failed_requests += 1
        self.store.log_request(entry)

    def _cost(self, tokens_in: int, tokens_out: int) -> float:
        return tokens_in * self.price_in + tokens_out * self.price_out
