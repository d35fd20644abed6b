"""Shows that disagree: two tellings of one story whose claims conflict.

Offline, two signs are trusted: the same quantity given different figures ($60/kWh against
$80/kWh, 2026 against 2027), and one claim denying what the other asserts (a word negated on
one side only, or met by its opposite: rise / fall, faster / slower). Both need the claims to
share most of their words first, so two different facts about one story ("prices fell 8%",
"sales grew 15%") are not a dispute. With an LLM configured, the story judge is also asked
agree / disagree / unrelated for the pairs the signs pass (cached, budgeted), and names the
conflict it sees; it adds disagreements, it does not remove one the figures or words show.
bench/disagreement.py measures both on tests/fixtures/pairs.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podsift.clusters.signals import stem, strip_speaker
from podsift.net.links import listen_link
from podsift.store import Disagreement, Episode, Feed, Insight

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18,
    "once": 1, "twice": 2, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
}  # fmt: skip
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9, "trillion": 1e12}
_UNITS = {
    "%": "%", "percent": "%", "pct": "%",
    "kwh": "kwh", "mwh": "mwh", "gwh": "gwh", "kw": "kw", "mw": "mw", "gw": "gw",
    "tonnes": "tonne", "tonne": "tonne", "tons": "tonne", "ton": "tonne",
    "years": "year", "year": "year", "months": "month", "month": "month", "weeks": "week",
    "days": "day", "hours": "hour", "hour": "hour", "miles": "mile", "x": "x", "times": "x",
    "degrees": "degree", "points": "point", "basis": "bp",
}  # fmt: skip
_PER = {
    "kilowatt": "kwh",
    "megawatt": "mwh",
    "barrel": "barrel",
    "ton": "tonne",
    "tonne": "tonne",
    "watt": "watt",
}
_SHOWN_UNITS = {
    "kwh": "kWh",
    "mwh": "MWh",
    "gwh": "GWh",
    "kw": "kW",
    "mw": "MW",
    "gw": "GW",
    "kilowatt": "kWh",
}
_NEGATION = {"not", "no", "never", "cannot", "nobody", "nothing", "neither", "nor", "without", "hardly"}
_NOT_A_DENIAL = {("not", "just"), ("not", "only"), ("no", "doubt"), ("not", "least"), ("no", "longer")}
_FILLER = {
    "a", "an", "the", "be", "is", "are", "was", "were", "been", "will", "would", "can", "could",
    "do", "does", "did", "have", "has", "had", "to", "yet", "really", "actually", "necessarily",
    "that", "so", "as", "any", "longer", "still", "even", "much", "going", "get", "make",
}  # fmt: skip
_STOP = _FILLER | {
    "and", "or", "but", "of", "in", "on", "at", "for", "by", "with", "from", "into", "than", "this",
    "it", "its", "their", "they", "we", "our", "about", "around", "roughly", "only", "now", "new",
    "says", "said", "say", "again", "most", "more", "less", "some", "all", "each", "per", "us",
    "first", "year", "years", "once", "after", "before", "up", "down", "least", "since",
}  # fmt: skip
# Opposites: the forms of one side of each pair, then the forms of the other.
_OPPOSITES = [
    ("rise rises rising rose risen", "fall falls falling fell fallen drop drops dropped dropping decline declined declines"),
    ("grow grows grew grown growing expand expanded expands", "shrink shrinks shrank shrunk shrinking contract contracted"),
    ("increase increases increased increasing", "decrease decreases decreased decreasing"),
    ("raise raises raised raising", "lower lowers lowered lowering"),
    ("faster quicker", "slower"),
    ("cheaper", "costlier"),
    ("higher", "lower"),
    ("better", "worse"),
    ("overvalued", "undervalued"),
    ("ahead", "behind"),
    ("bullish", "bearish"),
    ("works work worked working", "fails fail failed failing"),
    ("success succeeded succeeds", "failure"),
    ("strengthen strengthens strengthened", "weaken weakens weakened"),
    ("accelerate accelerates accelerated accelerating", "slow slows slowed slowing"),
]  # fmt: skip
_LEMMA: dict[str, set[tuple[int, int]]] = {}  # word -> {(pair index, side)}: "lower" is in two
for _index, _sides in enumerate(_OPPOSITES):
    for _side, _forms in enumerate(_sides):
        for _form in _forms.split():
            _LEMMA.setdefault(_form, set()).add((_index, _side))
_CONTRACTIONS = {"won't": "will not", "can't": "can not", "shan't": "shall not"}
# Phrases read as one word: denials ("far from") and comparisons ("cost more").
_PHRASES = {
    "far from": "not", "nowhere near": "not", "more expensive": "costlier", "cost more": "costlier",
    "costs more": "costlier", "less expensive": "cheaper", "cost less": "cheaper", "costs less": "cheaper",
}  # fmt: skip
# Words that start a new clause: what follows them is not about the figure before them.
_CLAUSE = {"because", "which", "so", "as", "and", "but", "while", "since", "when", "that", "after", "if"}
MIN_SHARED = 0.3  # share of content words two claims need before a difference is a dispute
FIGURE_GAP = 0.05  # relative difference above which two figures for one quantity conflict


@dataclass(frozen=True)
class Conflict:
    method: str  # figures | negation | opposites | llm
    detail: str  # what conflicts, for readers: "$60/kWh against $80/kWh"


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str
    shown: str  # as the claim wrote it
    near: frozenset[str]  # content words within four words before it and three after (same clause)


def words(text: str) -> list[str]:
    text = strip_speaker(text).lower().replace("’", "'")
    for short, long in (_CONTRACTIONS | _PHRASES).items():
        text = re.sub(rf"\b{short}\b", long, text)
    text = re.sub(r"(\w)n't\b", r"\1 not", text)
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)
    text = re.sub(r"(\d)\.(\d)", r"\1<dot>\2", text)
    return [w.replace("<dot>", ".") for w in re.findall(r"[a-z0-9]+(?:<dot>[0-9]+)?|\$|€|£|%", text)]


def content(tokens: list[str]) -> set[str]:
    return {
        stem(w)
        for w in tokens
        if w not in _STOP and w not in _NEGATION and len(w) > 2 and not _NUMBER.match(w) and w not in _LEMMA
    }


def quantities(tokens: list[str]) -> list[Quantity]:
    """Figures with their units: "$60/kWh" is (60, "$/kwh"); "2030" alone is a year."""
    out = []
    for k, word in enumerate(tokens):
        value = float(word) if _NUMBER.match(word) else _NUMBER_WORDS.get(word)
        if value is None:
            continue
        currency = tokens[k - 1] if k and tokens[k - 1] in "$€£" else ""
        rest = tokens[k + 1 : k + 5]
        scale = ""
        if rest and rest[0] in _SCALES:
            value, scale, rest = value * _SCALES[rest[0]], rest[0], rest[1:]
        if rest and rest[0] in ("cents", "cent") and not currency:
            currency, rest = "¢", rest[1:]
        unit, used = "", rest[:0]
        if word in ("once", "twice"):
            unit = "x"
        elif rest and rest[0] in _UNITS:
            unit, used = _UNITS[rest[0]], rest[:1]
        elif len(rest) >= 2 and rest[0] in ("per", "a", "an") and rest[1] in _PER:
            unit, used = "/" + _PER[rest[1]], rest[:2]
        elif rest and rest[0] in _PER and rest[0] != "ton":
            unit, used = "/" + _PER[rest[0]], rest[:1]
        if currency and unit in ("kwh", "mwh"):
            unit = "/" + unit  # "$60/kWh": the slash is not a word
        if currency:
            unit = currency + unit
        elif not unit and word.isdigit() and 1900 <= value <= 2100:
            unit = "in year"
        if not unit:
            continue  # a bare count: which quantity it counts is unknown
        number = f"{word}¢" if currency == "¢" else f"{currency}{word}" + (f" {scale}" if scale else "")
        named = [_SHOWN_UNITS.get(w, w) for w in used]
        shown = f"{number}/{named[-1]}" if currency and "/" in unit else " ".join([number, *named])
        shown = shown.replace(" %", "%")
        after = k + 1 + bool(scale) + (currency == "¢") + len(used)
        following = list(itertools.takewhile(lambda w: w not in _CLAUSE, tokens[after : after + 3]))
        near = content(tokens[max(k - 4, 0) : k] + following)
        out.append(Quantity(value, unit, shown, frozenset(near)))
    return out


def _figures(a: list[Quantity], b: list[Quantity], only_a: set[str], only_b: set[str]) -> str | None:
    """Two figures for one quantity that differ. One quantity: the same unit, once on each
    side, and not each next to words only its own claim uses ("sales grew 15%" against
    "prices fell 8%" are two quantities). A year is a date of one event: it needs no more."""
    for unit in sorted({q.unit for q in a} & {q.unit for q in b}):
        mine = [q for q in a if q.unit == unit]
        theirs = [q for q in b if q.unit == unit]
        if any(_close(x.value, y.value, unit) for x in mine for y in theirs):
            continue  # one figure in common: they agree on it, the rest may be other things
        if len(mine) != 1 or len(theirs) != 1:
            continue
        if unit != "in year" and mine[0].near & only_a and theirs[0].near & only_b:
            continue
        return f"{mine[0].shown} against {theirs[0].shown}"
    return None


def _close(x: float, y: float, unit: str) -> bool:
    if unit == "in year":
        return x == y
    return abs(x - y) <= FIGURE_GAP * max(abs(x), abs(y), 1e-9)


def _polarity(tokens: list[str]) -> tuple[set[str], set[str]]:
    """(words asserted, words denied): a denial covers the next content word after a negation
    ("won't beat" denies beat; "is not cheaper" denies cheaper)."""
    denied: set[str] = set()
    skip_to = -1
    for k, word in enumerate(tokens):
        if word not in _NEGATION or k < skip_to:
            continue
        following = tokens[k + 1] if k + 1 < len(tokens) else ""
        if (word, following) in _NOT_A_DENIAL or (word == "no" and following not in _FILLER):
            continue  # "no bids" counts nothing denied; "no longer compete" is a change, not a denial
        for later in tokens[k + 1 : k + 5]:
            if later in _FILLER or later in _NEGATION:
                continue
            denied.add(stem(later))
            skip_to = k + 5
            break
    asserted = {stem(w) for w in tokens if w not in _NEGATION} - denied
    return asserted, denied


def _opposite(a: list[str], b: list[str]) -> str | None:
    """A word on one side whose opposite is on the other (and neither side has both)."""
    sides_a = {pair for w in a for pair in _LEMMA.get(w, ())}
    sides_b = {pair for w in b for pair in _LEMMA.get(w, ())}
    for index, side in sorted(sides_a):
        if (index, 1 - side) in sides_b and (index, side) not in sides_b and (index, 1 - side) not in sides_a:
            mine = next(w for w in a if (index, side) in _LEMMA.get(w, ()))
            theirs = next(w for w in b if (index, 1 - side) in _LEMMA.get(w, ()))
            return f"'{mine}' against '{theirs}'"
    return None


def shared(a: set[str], b: set[str]) -> float:
    """Overlap coefficient of two claims' content words."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def offline_conflict(a: str, b: str) -> Conflict | None:
    """The conflict between two claims that the text itself shows, or None."""
    ta, tb = words(a), words(b)
    ca, cb = content(ta), content(tb)
    if shared(ca, cb) < MIN_SHARED:
        return None
    clash = _figures(quantities(ta), quantities(tb), ca - cb, cb - ca)
    if clash:
        return Conflict("figures", clash)
    asserted_a, denied_a = _polarity(ta)
    asserted_b, denied_b = _polarity(tb)
    for word in sorted((denied_a & asserted_b) | (denied_b & asserted_a)):
        if word not in _STOP and len(word) > 2:
            return Conflict("negation", f"one says '{word}', the other denies it")
    opposite = _opposite(ta, tb)
    return Conflict("opposites", opposite) if opposite else None


class StanceJudge(Protocol):
    def stance(self, a: str, b: str) -> tuple[str, str] | None: ...


def judge_pair(judge: StanceJudge | None, a: str, b: str) -> Conflict | None:
    """The offline signs first; the model, when there is one, for the pairs they pass.
    The model adds disagreements and never removes one the text itself shows: measured on
    the labelled pairs, a small local model's "agree" is not to be trusted over a clash of
    figures (bench/disagreement.py), and a strong model rarely contradicts them."""
    offline = offline_conflict(a, b)
    if offline is not None or judge is None:
        return offline
    answer = judge.stance(a, b)
    if answer is None or answer[0] != "disagree":
        return None
    return Conflict("llm", answer[1])


def file_disagreements(app: App, insight_ids: Collection[int], judge: StanceJudge | None = None) -> int:
    """Compare each newly filed insight with its story's tellings from other shows and
    record the pairs that conflict. Each pair is judged once: when its later member is filed."""
    if not insight_ids:
        return 0
    with app.session() as session:
        new = _tellings(session, Insight.id.in_(sorted(insight_ids)))
        clusters = sorted({row.cluster_id for row in new})
        members: dict[int, list[Any]] = defaultdict(list)
        for row in _tellings(session, Insight.cluster_id.in_(clusters)):
            members[row.cluster_id].append(row)
        known = {
            (first, second)
            for first, second in session.execute(
                sa.select(Disagreement.first_id, Disagreement.second_id).where(
                    Disagreement.cluster_id.in_(clusters)
                )
            )
        }
    found: list[Disagreement] = []
    asked: set[tuple[int, int]] = set()
    for row in new:
        for other in members[row.cluster_id]:
            first, second = sorted((row, other), key=lambda r: r.id)
            pair = (first.id, second.id)
            if other.feed_id == row.feed_id or pair in asked or pair in known:
                continue
            asked.add(pair)
            conflict = judge_pair(judge, first.text, second.text)
            if conflict is not None:
                found.append(
                    Disagreement(
                        cluster_id=row.cluster_id,
                        first_id=first.id,
                        second_id=second.id,
                        method=conflict.method,
                        detail=conflict.detail,
                    )
                )
    if not found:
        return 0
    with app.session() as session:
        session.add_all(found)
        try:
            session.commit()
        except IntegrityError:  # another process filed the same pair first
            session.rollback()
            return 0
    log.info("%d disagreement(s) between shows found", len(found))
    return len(found)


def _tellings(session: Session, where: sa.ColumnElement[bool]) -> list[Any]:
    return list(
        session.execute(
            sa.select(Insight.id, Insight.text, Insight.cluster_id, Episode.feed_id)
            .join(Episode, Episode.id == Insight.episode_id)
            .where(where, Insight.cluster_id.is_not(None))
            .order_by(Insight.id)
        ).all()
    )


def cluster_disputes(session: Session, cluster_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Each story's disagreements, both sides told as readers see them: speaker, show,
    episode, the claim, its quote and a listen link."""
    ids = sorted(cluster_ids)
    pairs: list[Any] = []
    for start in range(0, len(ids), 5000):
        pairs += session.execute(
            sa.select(
                Disagreement.cluster_id, Disagreement.first_id, Disagreement.second_id, Disagreement.detail
            )
            .where(Disagreement.cluster_id.in_(ids[start : start + 5000]))
            .order_by(Disagreement.id)
        ).all()
    wanted = sorted({i for p in pairs for i in (p.first_id, p.second_id)})
    sides: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), 5000):
        for row in session.execute(
            sa.select(
                Insight.id,
                Insight.text,
                Insight.quote,
                Insight.speaker,
                Insight.start_seconds,
                Episode.title,
                Episode.link,
                Episode.audio_url,
                Feed.title.label("show"),
            )
            .join(Episode, Episode.id == Insight.episode_id)
            .join(Feed, Feed.id == Episode.feed_id)
            .where(Insight.id.in_(wanted[start : start + 5000]))
        ):
            sides[row.id] = {
                "insight_id": row.id,
                "speaker": row.speaker,
                "show": row.show,
                "episode": row.title,
                "text": row.text,
                "quote": row.quote,
                "link": listen_link(row.audio_url, row.link, row.start_seconds),
            }
    by_cluster: dict[int, list[Any]] = defaultdict(list)
    for p in pairs:
        if p.first_id in sides and p.second_id in sides:
            by_cluster[p.cluster_id].append(p)
    return {
        cluster: [
            {"detail": detail, "sides": [[sides[i] for i in camp] for camp in camps]}
            for detail, camps in camps_of(group)
        ]
        for cluster, group in by_cluster.items()
    }


def camps_of(pairs: list[Any]) -> list[tuple[str, list[list[int]]]]:
    """Disagreeing pairs as camps: A and C both disagreeing with B read as "A, C against B",
    not as two disputes. Each connected group of pairs is split in two by alternating sides;
    a group that cannot be split so (A against B against C against A) is left as pairs."""
    links: dict[int, set[int]] = defaultdict(set)
    for p in pairs:
        links[p.first_id].add(p.second_id)
        links[p.second_id].add(p.first_id)
    side: dict[int, int] = {}
    out: list[tuple[str, list[list[int]]]] = []
    for p in pairs:
        if p.first_id in side:
            continue
        group, queue, split = [p.first_id], [p.first_id], True
        side[p.first_id] = 0
        while queue:
            here = queue.pop()
            for there in sorted(links[here]):
                if there not in side:
                    side[there] = 1 - side[here]
                    group.append(there)
                    queue.append(there)
                elif side[there] == side[here]:
                    split = False
        inside = [q for q in pairs if q.first_id in group]
        if not split:
            out += [(q.detail, [[q.first_id], [q.second_id]]) for q in inside]
            continue
        camps = [sorted(i for i in group if side[i] == k) for k in (0, 1)]
        out.append((inside[0].detail, camps))
    return out
