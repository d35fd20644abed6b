"""Figures as people say them, turned into frames that can be compared.

"about forty-five dollars a kilowatt hour", "$45/kWh", "roughly 70 bucks per kWh", "a third
higher", "half the cost", "two to three years", "in 2027", "not before 2030", "by the end of the
decade": each becomes a `Frame`: what is measured (the content words the figure attaches to),
the value as an interval (a range, a bound, or a point widened when it is approximate), the
unit, and its kind (an amount, a date, a change). Two frames of one kind and unit about the
same thing that do not overlap are a disagreement, whatever else the two sentences say.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from podsift.clusters.signals import stem, strip_speaker

_UNITS_ONES = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALES = {
    "hundred": 1e2, "thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9,
    "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12,
}  # fmt: skip
_FRACTIONS = {
    "half": 0.5,
    "third": 1 / 3,
    "thirds": 1 / 3,
    "quarter": 0.25,
    "quarters": 0.25,
    "fifth": 0.2,
    "tenth": 0.1,
}
_CURRENCY_WORDS = {
    "$": "$", "dollar": "$", "dollars": "$", "bucks": "$", "buck": "$", "usd": "$", "€": "€", "euro": "€",
    "euros": "€", "eur": "€", "£": "£", "pounds": "£", "quid": "£", "gbp": "£", "cents": "¢", "cent": "¢",
}  # fmt: skip
# Units a figure is counted in, and what they are per ("a kilowatt hour"): one name each.
_UNITS = {
    "percent": "%", "per cent": "%", "%": "%", "percentage points": "pp", "points": "pp",
    "kilowatt hour": "kwh", "kilowatt hours": "kwh", "kwh": "kwh", "megawatt hour": "mwh",
    "megawatt hours": "mwh", "mwh": "mwh", "gigawatt hour": "gwh", "gigawatt hours": "gwh", "gwh": "gwh",
    "kilowatt": "kw", "kilowatts": "kw", "kw": "kw", "megawatt": "mw", "megawatts": "mw", "mw": "mw",
    "gigawatt": "gw", "gigawatts": "gw", "gw": "gw", "terawatt": "tw", "terawatts": "tw",
    "tonne": "tonne", "tonnes": "tonne", "ton": "tonne", "tons": "tonne", "barrel": "barrel",
    "barrels": "barrel", "gigabyte": "gb", "gigabytes": "gb", "gb": "gb", "terabyte": "tb",
    "terabytes": "tb", "tb": "tb", "megabyte": "mb", "megabytes": "mb", "mb": "mb",
    "user": "user", "users": "user", "seat": "seat", "seats": "seat", "customer": "customer",
    "customers": "customer", "employee": "employee", "employees": "employee", "people": "person",
    "month": "month", "months": "month", "year": "year", "years": "year", "week": "week", "weeks": "week",
    "day": "day", "days": "day", "hour": "hour", "hours": "hour", "minute": "minute", "minutes": "minute",
    "second": "second", "seconds": "second", "x": "x", "times": "x", "fold": "x", "mile": "mile",
    "miles": "mile", "token": "token", "tokens": "token", "gpu": "gpu", "gpus": "gpu", "node": "node",
    "nodes": "node", "plant": "plant", "plants": "plant", "reactor": "reactor", "reactors": "reactor",
    "developer": "developer", "developers": "developer", "download": "download", "downloads": "download",
    "company": "company", "companies": "company", "transaction": "transaction", "transactions": "transaction",
    "subscriber": "subscriber", "subscribers": "subscriber", "listener": "listener", "listeners": "listener",
}  # fmt: skip
_UNIT_PHRASES = sorted(_UNITS, key=lambda u: -len(u.split()))
_PER = ("per", "a", "an", "each", "for each", "for every", "every", "/")
_APPROX = {
    "about",
    "around",
    "roughly",
    "approximately",
    "nearly",
    "almost",
    "some",
    "maybe",
    "like",
    "~",
    "circa",
    "close to",
}
_AT_LEAST = ("at least", "more than", "over", "above", "upwards of", "north of", "not less than")
_AT_MOST = ("at most", "less than", "under", "below", "up to", "no more than", "south of", "not more than")
_UP = {
    "higher",
    "more",
    "up",
    "above",
    "costlier",
    "pricier",
    "bigger",
    "larger",
    "faster",
    "increase",
    "rise",
    "grew",
    "grow",
    "rose",
}
_DOWN = {
    "lower",
    "less",
    "down",
    "below",
    "cheaper",
    "smaller",
    "slower",
    "decrease",
    "fall",
    "fell",
    "drop",
    "dropped",
    "shrank",
}
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "will",
        "would",
        "can",
        "could",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "they",
        "them",
        "their",
        "we",
        "our",
        "you",
        "your",
        "i",
        "he",
        "she",
        "about",
        "around",
        "roughly",
        "so",
        "as",
        "than",
        "then",
        "there",
        "here",
        "just",
        "really",
        "actually",
        "now",
        "some",
        "more",
        "less",
        "most",
        "very",
        "per",
        "each",
        "every",
        "not",
        "no",
        "never",
    ]
)
APPROX_WIDTH = 0.10  # "about 45" is 45 give or take this share
DECADE_NOW = 2020  # "by the end of the decade" means the decade a show is talking in
WORD = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[$€£%~/]")


@dataclass(frozen=True)
class Frame:
    kind: str  # amount | date | change
    unit: str  # "$/kwh", "%", "gw", "in year"; for a change: "rel"
    low: float
    high: float
    subject: frozenset[str]  # stems of the content words around the figure
    shown: str  # as the speaker said it, for the digest's first line

    def overlaps(self, other: Frame) -> bool:
        return self.low <= other.high and other.low <= self.high


def normalise(text: str) -> list[str]:
    """Lower-case tokens with spoken numbers as digits: "forty-five" -> "45", "2.6 billion"
    stays two tokens, "$45/kWh" -> "$ 45 / kwh"."""
    text = strip_speaker(text).lower().replace("’", "'").replace("‑", "-")
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)
    text = re.sub(r"(?<=\d)(?=[a-z%$€£])|(?<=[$€£])(?=\d)", " ", text)
    text = re.sub(r"\b(\w+)-(\w+)\b", r"\1 \2", text)  # forty-five, two-thirds, three-year
    return _join_number_words(WORD.findall(text))


def spoken_number(tokens: list[str], k: int) -> tuple[float, int]:
    """The number that lower-case words spell from tokens[k] ("one hundred and fifty": 150),
    and how many words it took (0: none starts there)."""
    return _number_at(tokens, k)


def _join_number_words(tokens: list[str]) -> list[str]:
    """Runs of number words become one digit token: "two hundred and fifty" -> "250",
    "two point six" -> "2.6", "forty five" -> "45"."""
    out: list[str] = []
    k = 0
    while k < len(tokens):
        value, used = _number_at(tokens, k)
        if used:
            out.append(_format(value))
            k += used
        else:
            out.append(tokens[k])
            k += 1
    return out


def _number_at(tokens: list[str], k: int) -> tuple[float, int]:
    total, current, used, seen = 0.0, 0.0, 0, False
    while k + used < len(tokens):
        word = tokens[k + used]
        if word in _UNITS_ONES:
            current += _UNITS_ONES[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred" and seen:
            current *= 100
        elif word == "thousand" and seen:
            total, current = total + current * 1000, 0.0
        elif (
            word == "and"
            and seen
            and k + used + 1 < len(tokens)
            and tokens[k + used + 1] in (_UNITS_ONES | _TENS)
        ):
            pass
        elif word == "point" and seen and k + used + 1 < len(tokens) and tokens[k + used + 1] in _UNITS_ONES:
            decimals, step = 0.0, 0.1
            used += 1
            while k + used < len(tokens) and tokens[k + used] in _UNITS_ONES:
                decimals += _UNITS_ONES[tokens[k + used]] * step
                step /= 10
                used += 1
            return total + current + decimals, used
        else:
            break
        seen = True
        used += 1
    if not seen or (used == 1 and tokens[k] == "one" and not _followed_by_figure(tokens, k + 1)):
        return 0.0, 0  # "one of the reasons" is not a figure
    return total + current, used


def _followed_by_figure(tokens: list[str], k: int) -> bool:
    return k < len(tokens) and (
        tokens[k] in _SCALES or tokens[k] in _CURRENCY_WORDS or _unit_at(tokens, k)[0] != ""
    )


def _format(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _unit_at(tokens: list[str], k: int) -> tuple[str, int]:
    for phrase in _UNIT_PHRASES:
        words = phrase.split()
        if tokens[k : k + len(words)] == words:
            return _UNITS[phrase], len(words)
    return "", 0


def _is_number(token: str) -> bool:
    return bool(re.fullmatch(r"\d+(?:\.\d+)?", token))


# Spoken amounts without digits: "a few thousand", "a couple dozen", "hundreds of".
_VAGUE = [
    (("a", "few", "hundred", "thousand"), 2e5, 9e5), (("a", "few", "thousand"), 2e3, 9e3),
    (("a", "few", "hundred"), 200, 900), (("a", "few", "million"), 2e6, 9e6), (("a", "couple", "dozen"), 20, 30),
    (("a", "couple", "hundred"), 150, 300), (("a", "couple", "thousand"), 1500, 3000), (("dozens", "of"), 24, 99),
    (("hundreds", "of"), 100, 999), (("thousands", "of"), 1000, 9999), (("millions", "and", "millions", "of"), 1e6, 1e8),
    (("millions", "of"), 1e6, 9.9e6), (("billions", "of"), 1e9, 9.9e9), (("a", "handful", "of"), 2, 6),
]  # fmt: skip
_SHARES = {"half": 50.0, "third": 100 / 3, "quarter": 25.0, "fifth": 20.0, "tenth": 10.0}


def frames(text: str) -> list[Frame]:
    """Every figure in a claim that says what it counts, as a frame."""
    tokens = normalise(text)
    out: list[Frame] = []
    done = -1  # the last token a frame used: "two to three years" is one figure
    for k, token in enumerate(tokens):
        if k <= done:
            continue
        fraction = _FRACTIONS.get(token)
        ratio = _ratio(tokens, k) if token == "one" or _is_number(token) else None
        vague = next((v for v in _VAGUE if tuple(tokens[k : k + len(v[0])]) == v[0]), None)
        frame: Frame | None
        if ratio is not None:
            frame, done = ratio
        elif vague is not None:
            frame, done = _vague(tokens, k, vague)
        elif (
            token in _SHARES
            and k
            and tokens[k - 1] in ("a", "one", "about", "around", "roughly", "nearly")
            and not _comparative_after(tokens, k)
        ):
            share = _SHARES[token]
            frame = Frame(
                "amount",
                "%",
                share * 0.85,
                share * 1.15,
                _subject(tokens, k - 1, k + 1),
                f"{tokens[k - 1]} {token}",
            )
        elif _is_number(token):
            frame, done = _amount_or_date(tokens, k)
        elif fraction is not None:
            frame = _change(tokens, k, fraction)
        elif token in ("twice", "double", "doubled", "triple", "tripled", "halve", "halved"):
            factor = {"twice": 2.0, "double": 2.0, "doubled": 2.0, "triple": 3.0, "tripled": 3.0}.get(
                token, 0.5
            )
            frame = _factor(tokens, k, factor)
        elif token == "decade" and " ".join(tokens[max(k - 4, 0) : k]).endswith(
            ("end of the", "end of this")
        ):
            frame = Frame(
                "date",
                "in year",
                -math.inf,
                DECADE_NOW + 10,
                _subject(tokens, k - 5, k + 1),
                "by the end of the decade",
            )
        else:
            frame = None
        if frame is not None:
            out.append(frame)
    return out


def _ratio(tokens: list[str], k: int) -> tuple[Frame, int] | None:
    """ "one out of five", "1 in 5": a share (20%), not a count of five."""
    if tokens[k + 1 : k + 3] == ["out", "of"]:
        at = k + 3
    elif tokens[k + 1 : k + 2] == ["in"]:
        at = k + 2
    else:
        return None
    if at >= len(tokens) or not _is_number(tokens[at]) or token_is_year(tokens[at]) or float(tokens[at]) == 0:
        return None
    share = (1.0 if tokens[k] == "one" else float(tokens[k])) / float(tokens[at]) * 100
    said = " ".join(tokens[k : at + 1])
    return Frame("amount", "%", share * 0.85, share * 1.15, _subject(tokens, k, at + 1), said), at


def _comparative_after(tokens: list[str], k: int) -> bool:
    return any(w in _UP or w in _DOWN for w in tokens[k + 1 : k + 3])


def _vague(
    tokens: list[str], k: int, vague: tuple[tuple[str, ...], float, float]
) -> tuple[Frame | None, int]:
    words, low, high = vague
    rest = k + len(words)
    unit, used = _count_unit(tokens, rest)
    currency = ""
    if rest < len(tokens) and tokens[rest] in _CURRENCY_WORDS:
        currency, used = _CURRENCY_WORDS[tokens[rest]], 1
    if not (unit or currency):
        return None, k
    name = currency or unit
    said = " ".join(words) + " " + " ".join(tokens[rest : rest + used])
    return Frame("amount", name, low, high, _subject(tokens, k, rest + used), said.strip()), rest + used - 1


def _count_unit(tokens: list[str], k: int) -> tuple[str, int]:
    """What a figure counts: a known unit, or a plural noun within two words ("300 plugins",
    "1.1 million paid seats")."""
    unit, used = _unit_at(tokens, k)
    if unit:
        return unit, used
    for skip in range(0, 2):
        if k + skip < len(tokens):
            word = tokens[k + skip]
            if (
                word.isalpha()
                and len(word) > 3
                and word.endswith("s")
                and word not in _STOP
                and not word.endswith("ss")
            ):
                return stem(word), skip + 1
    return "", 0


def _amount_or_date(tokens: list[str], k: int) -> tuple[Frame | None, int]:
    """The frame of the figure at k, and the last token it used."""
    value = float(tokens[k])
    before = tokens[max(k - 3, 0) : k]
    start = k
    currency = ""
    if before and before[-1] in ("$", "€", "£"):
        currency, start = before[-1], k - 1
    rest = k + 1
    if (
        rest < len(tokens)
        and tokens[rest] in _SCALES
        and not (tokens[rest] == "m" and _unit_at(tokens, rest)[0])
    ):
        value *= _SCALES[tokens[rest]]
        rest += 1
    high = value
    # A range: "two to three years", "between 40 and 50", "40 or 50"
    if rest + 1 < len(tokens) and tokens[rest] in ("to", "or", "and") and _is_number(tokens[rest + 1]):
        scale = 1.0
        if value > float(tokens[k]):
            scale = value / float(tokens[k])
        high = float(tokens[rest + 1]) * scale
        rest += 2
        if rest < len(tokens) and tokens[rest] in _SCALES:
            high = float(tokens[rest - 1]) * _SCALES[tokens[rest]]
            if value == float(tokens[k]):
                value *= _SCALES[tokens[rest]]
            rest += 1
    if rest < len(tokens) and tokens[rest] in _CURRENCY_WORDS and not currency:
        currency = _CURRENCY_WORDS[tokens[rest]]
        rest += 1
        if currency == "¢":
            value, high, currency = value / 100, high / 100, "$"
    unit, used = _unit_at(tokens, rest) if currency else _count_unit(tokens, rest)
    rest += used
    per = ""
    for phrase in _PER:
        words = phrase.split()
        if tokens[rest : rest + len(words)] == words:
            per_unit, per_used = _unit_at(tokens, rest + len(words))
            if per_unit:
                per, rest = per_unit, rest + len(words) + per_used
                break
    year = not currency and not unit and token_is_year(tokens[k]) and high == value
    if year:
        return _date(tokens, k, value), k
    if not (currency or unit or per):
        return None, k  # a bare count: which quantity it counts is unknown
    if currency and unit and not per and unit in _RATE_UNITS:  # "$45 a kWh" said as "$45 kWh"
        unit, per = "", unit
    name = currency + (unit if not currency else "") + (f"/{per}" if per else "")
    if currency and unit and not per:
        name = currency  # "$2 billion users": a count of money
    low, bounded_high = _bounds(tokens, start, value, high)
    said = _said(tokens, start, currency, value, high, unit, per)
    return Frame("amount", name, low, bounded_high, _subject(tokens, start, rest), said), rest - 1


_RATE_UNITS = ("kwh", "mwh", "gwh", "tonne", "barrel", "gb", "tb", "user", "seat", "month")
_UNIT_SHOWN = {
    "kwh": "kWh", "mwh": "MWh", "gwh": "GWh", "kw": "kW", "mw": "MW", "gw": "GW", "tw": "TW", "gb": "GB",
    "tb": "TB", "mb": "MB", "x": "×", "pp": "percentage points",
}  # fmt: skip


def _number(value: float) -> str:
    for name, size in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if value >= size:
            return f"{value / size:g} {name}"
    return f"{value:,.0f}" if value == int(value) and value >= 10_000 else f"{value:g}"


def _said(
    tokens: list[str], start: int, currency: str, value: float, high: float, unit: str, per: str
) -> str:
    """The figure as a reader reads it: "about $45 per kWh", "2 to 3 years", "70%"."""
    before = " ".join(tokens[max(start - 3, 0) : start])
    qualifier = next((q for q in (*_AT_LEAST, *_AT_MOST, *_APPROX) if before.endswith(q)), "")
    figure = _number(value) if high == value else f"{_number(value)} to {_number(high)}"
    if currency:
        figure = f"{currency}{figure}"
    if unit == "%":
        figure += "%"
    elif unit:
        figure += " " + _UNIT_SHOWN.get(unit, unit + ("s" if high != 1 and not unit.endswith("s") else ""))
    if per:
        figure += f" per {_UNIT_SHOWN.get(per, per)}"
    return f"{qualifier} {figure}".strip()


def token_is_year(token: str) -> bool:
    return token.isdigit() and len(token) == 4 and 1900 <= int(token) <= 2100


def _date(tokens: list[str], k: int, year: float) -> Frame:
    """ "in 2027" is that year; "by 2030", "before 2030" at most then; "not before 2030",
    "not until 2030", "after 2030" at the earliest then."""
    clause = tokens[max(k - 6, 0) : k]
    word = clause[-1] if clause else ""
    denied = any(w in ("not", "never", "isn't", "won't", "aren't", "wasn't", "can't") for w in clause)
    low, high = year, year + 0.999
    if word in ("after", "beyond", "past") or (word in ("before", "until", "till") and denied):
        low, high = year, math.inf  # "not coming before 2030": 2030 at the earliest
    elif word in ("by", "before", "until", "till"):
        low, high = -math.inf, year + 0.999
    shown = " ".join(tokens[max(k - 3, 0) : k + 1]) if denied else " ".join(tokens[max(k - 1, 0) : k + 1])
    return Frame("date", "in year", low, high, _subject(tokens, k, k + 1), shown)


def _bounds(tokens: list[str], start: int, value: float, high: float) -> tuple[float, float]:
    before = " ".join(tokens[max(start - 3, 0) : start])
    if any(before.endswith(p) for p in _AT_LEAST):
        return value, math.inf
    if any(before.endswith(p) for p in _AT_MOST):
        return -math.inf, high
    if any(before.endswith(p) for p in _APPROX) or high != value:
        width = APPROX_WIDTH if high == value else APPROX_WIDTH / 3
        return value * (1 - width), high * (1 + width)
    return value * (1 - 0.02), high * (1 + 0.02)


def _change(tokens: list[str], k: int, fraction: float) -> Frame | None:
    """ "a third higher" (x1.33), "half the cost" (x0.5), "two thirds cheaper"."""
    count = 1.0
    if k and _is_number(tokens[k - 1]):
        count = float(tokens[k - 1])
    share = count * fraction
    after = tokens[k + 1 : k + 4]
    for word in after:
        if word in _UP:
            return Frame(
                "change",
                "rel",
                1 + share - 0.05,
                1 + share + 0.05,
                _subject(tokens, k, k + 4),
                f"{_words(tokens, k - 1, k + 2)}",
            )
        if word in _DOWN:
            return Frame(
                "change",
                "rel",
                1 - share - 0.05,
                1 - share + 0.05,
                _subject(tokens, k, k + 4),
                f"{_words(tokens, k - 1, k + 2)}",
            )
    if fraction == 0.5 and after[:1] == ["the"]:  # "half the cost"
        return Frame("change", "rel", 0.45, 0.55, _subject(tokens, k, k + 4), _words(tokens, k, k + 3))
    return None


def _factor(tokens: list[str], k: int, factor: float) -> Frame:
    return Frame(
        "change", "rel", factor * 0.95, factor * 1.05, _subject(tokens, k, k + 4), _words(tokens, k, k + 3)
    )


def _words(tokens: list[str], a: int, b: int) -> str:
    return " ".join(tokens[max(a, 0) : b])


def _subject(tokens: list[str], start: int, end: int) -> frozenset[str]:
    """Content words of the clause around the figure: up to six words before it, three after."""
    window = tokens[max(start - 6, 0) : start] + tokens[end : end + 3]
    return frozenset(stem(w) for w in window if w.isalpha() and w not in _STOP and len(w) > 2)


# Units that may count anything: two figures in them need a subject in common to conflict.
_GENERIC = frozenset(
    {
        "%",
        "$",
        "€",
        "£",
        "pp",
        "x",
        "rel",
        "in year",
        "year",
        "month",
        "week",
        "day",
        "hour",
        "minute",
        "second",
    }
)


def conflicting(
    a: list[Frame],
    b: list[Frame],
    related: bool = False,
    a_words: frozenset[str] = frozenset(),
    b_words: frozenset[str] = frozenset(),
    same_name: bool = False,
) -> tuple[Frame, Frame] | None:
    """Two frames of one kind and unit that cannot both be true and are about the same thing,
    not overlapping. The same thing: their subjects share a word; or, for a unit as specific
    as dollars per kilowatt hour or plugins, each is the only one of its unit on its side (a
    percentage, an amount of money or a year may be of anything: "sales grew 15%" and "prices
    fell 8%" are two quantities, unless the two claims are `related`: they say much the same
    about one thing apart from the figure). For those, two figures each beside words the
    other claim never uses (`a_words`, `b_words`: "sales grew", "prices fell"; "approved in",
    "switch on in") count two things. Two dates conflict only about something both claims
    name (`same_name`: "Cedar Point", not "chips"). Frames that agree anywhere on a unit
    settle it."""
    for unit in sorted({f.unit for f in a} & {f.unit for f in b}):
        mine = [f for f in a if f.unit == unit]
        theirs = [f for f in b if f.unit == unit]
        if any(x.overlaps(y) for x in mine for y in theirs):
            continue
        alone = len(mine) == 1 and len(theirs) == 1 and (unit not in _GENERIC or related)
        for x in mine:
            for y in theirs:
                if unit == "in year" and not same_name:
                    continue  # two dates of what? only of something both name
                bounded = unit == "in year" and math.inf in (abs(x.low), abs(x.high), abs(y.low), abs(y.high))
                own = a_words and b_words and x.subject - b_words and y.subject - a_words
                if unit in _GENERIC and own and not bounded:
                    continue  # each figure beside words of its own: two quantities (a denied date is not)
                if alone or x.subject & y.subject:
                    return x, y
    return None


def agreeing(a: list[Frame], b: list[Frame]) -> bool:
    """Some figure on each side counts the same thing the same way (within its width)."""
    return any(x.unit == y.unit and x.overlaps(y) for x in a for y in b)
