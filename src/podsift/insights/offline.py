"""The offline extractor: picks claim-bearing passages with no model at all.

A passage is one to four consecutive sentences of one speaker's turn. It scores for
carrying a claim (causal or contrastive structure, specifics such as numbers and names,
centrality to the episode's vocabulary) and loses for filler; the quality floor
(`insights/quality.py`) refuses intros, biographies, sponsor reads, housekeeping, prompts
and passages that lean on earlier talk, so the best passages that remain become insights.
The quote is the passage verbatim; the text names the speaker and keeps the passage's one
or two strongest sentences, cleaned of disfluencies and asides, within 60 words.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from podsift.insights.passages import (
    CLAIM_MARKERS,
    FILLER,
    NON_SPEAKERS,
    OPENING_CONJUNCTION,
    SPECIFICS,
    Sentence,
    claim_span,
    content_words,
    insight_text,
    turn_sentences,
)
from podsift.insights.quality import passage_problem
from podsift.insights.registry import Candidate, EpisodeInfo
from podsift.types import Transcript


class OfflineExtractor:
    name = "offline"
    uses_background = True  # the stage passes the show's usual vocabulary

    def __init__(self, min_words: int = 18, max_words: int = 80) -> None:
        self.min_words, self.max_words = min_words, max_words

    def extract(self, episode: EpisodeInfo, transcript: Transcript, limit: int) -> list[Candidate]:
        return [c for c, _, _ in self.propose(episode, transcript, limit)]

    def propose(
        self, episode: EpisodeInfo, transcript: Transcript, limit: int
    ) -> list[tuple[Candidate, str, str]]:
        """The best passages as candidates, each with the sentences just before and after
        it in the episode (context for a model that refines them)."""
        sentences = turn_sentences(transcript)
        if not sentences:
            return []
        idf = self._idf(sentences)
        duration = max(transcript.duration, 1.0)
        scored: list[tuple[float, int, int]] = []
        for i in range(len(sentences)):
            for j in range(i, min(i + 4, len(sentences))):
                if sentences[j].turn != sentences[i].turn or sentences[j].unusable:
                    break
                window = sentences[i : j + 1]
                words = sum(len(s.text.split()) for s in window)
                if words > self.max_words:
                    break
                if words >= self.min_words:
                    scored.append((self._score(window, idf, transcript, duration, episode), i, j))
        scored.sort(reverse=True)
        return self._select(scored, sentences, transcript, limit)

    @staticmethod
    def _idf(sentences: list[Sentence]) -> dict[str, float]:
        df: Counter[str] = Counter()
        for s in sentences:
            df.update(set(content_words(s.text)))
        n = len(sentences)
        return {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}

    def _score(
        self,
        window: list[Sentence],
        idf: dict[str, float],
        transcript: Transcript,
        duration: float,
        episode: EpisodeInfo,
    ) -> float:
        text = " ".join(s.text for s in window)
        speaker = window[0].speaker or ""
        if any(s.sponsor or s.unusable for s in window) or NON_SPEAKERS.match(speaker.strip()):
            return -10.0
        if passage_problem(text):
            return -10.0  # below the floor: never chosen, whatever else it has
        words = text.split()
        n = len(words)
        content = content_words(text)
        claims = len(CLAIM_MARKERS.findall(text))
        specifics = len(SPECIFICS.findall(text))
        # Capitalised words not at a sentence start: names, products, places.
        names = len(re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[A-Z]\w*)?\b", text)) - text.count(" I ")
        fillers = len(FILLER.findall(text))
        # Centrality: how much of the episode's distinctive vocabulary the passage carries,
        # with terms frequent across the episode (but not everywhere) weighing most.
        centrality = sum(min(idf.get(w, 0.0), 4.0) for w in set(content)) / max(len(set(content)), 1)
        density = len(content) / n
        # Distinctiveness: words this show says every week (its catchphrases, its recurring
        # segments) carry less news than words it rarely uses.
        distinct = 1.0
        if episode.background and content:
            distinct = sum(1.0 - episode.background.get(w, 0.0) for w in set(content)) / len(set(content))
        score = (
            0.9 * min(claims, 4)
            + 0.7 * min(specifics, 3)
            + 0.35 * min(max(names, 0), 4)
            + 1.5 * density
            + 0.25 * centrality
            - 0.8 * fillers / max(n / 20, 1)
        )
        if OPENING_CONJUNCTION.match(text):
            score -= 0.8  # "And so…", "So…": often continues a thought begun before the passage
        if text.lstrip()[:1] in '"“':
            score -= 1.0  # opens on reported speech: often a scene, not the speaker's claim
        if score > 0:
            score *= 0.3 + distinct  # 1.3 for all-new words, 0.3 for the show's stock phrases
        score -= 1.2 * sum(s.text.rstrip().endswith("?") for s in window[:-1])
        start = window[0].time
        if start < 0.03 * duration or start > 0.97 * duration:
            score -= 1.0  # openings and closings are mostly greetings and plugs
        if n < 25:
            score -= 0.5
        return score

    def _select(
        self,
        scored: list[tuple[float, int, int]],
        sentences: list[Sentence],
        transcript: Transcript,
        limit: int,
    ) -> list[tuple[Candidate, str, str]]:
        chosen: list[tuple[float, int, int]] = []
        chosen_words: list[set[str]] = []
        for score, i, j in scored:
            if len(chosen) >= limit or score <= 0:
                break
            # The quote is what the text says: a window of three claims gives its strongest,
            # and leaves the others free to be chosen on their own.
            a, b = claim_span([s.text for s in sentences[i : j + 1]])
            if sum(len(s.text.split()) for s in sentences[i + a : i + b + 1]) >= self.min_words:
                i, j = i + a, i + b
                if passage_problem(" ".join(s.text for s in sentences[i : j + 1])):
                    continue  # the claim on its own is below the floor: so is its text
            if any(not (j < ci or i > cj) for _, ci, cj in chosen):
                continue  # overlaps a passage already taken
            words = set(content_words(" ".join(s.text for s in sentences[i : j + 1])))
            if any(len(words & other) / max(len(words | other), 1) > 0.45 for other in chosen_words):
                continue  # says nearly the same as one already taken
            chosen.append((score, i, j))
            chosen_words.append(words)
        text = transcript.text
        top = max((s for s, _, _ in chosen), default=1.0)
        out = []
        for score, i, j in chosen:
            quote = text[sentences[i].start : sentences[j].end]
            speaker = sentences[i].speaker
            before = " ".join(s.text for s in sentences[max(i - 2, 0) : i])
            after = " ".join(s.text for s in sentences[j + 1 : j + 3])
            candidate = Candidate(
                text=insight_text([s.text for s in sentences[i : j + 1]], speaker),
                quote=quote,
                speaker=speaker,
                score=round(max(0.0, min(1.0, score / top)), 4),
            )
            out.append((candidate, before, after))
        return out
