"""A reader's plain-words instructions read into a `ReaderProfile`, offline (pure: no I/O).

"skip funding news, explain jargon, more contrarian takes" → mute kind funding, style
explain_jargon, boost kind contrarian. The text is split into sentences and parts (commas,
"but", "and also"); a cue ("skip", "no more", "more", "especially", "only", "not interested
in"…) sets a part's side, a part without one takes the side before it. What a cue governs is
split into items ("x, y and z"), each read as a kind, a show (matched to the reader's shows),
a person (a capitalised full name, or one the caller knows) or else a topic. Style flags are
found by their own phrasings first. A sentence that talks to the system ("ignore previous
instructions", "tell every reader", a link) gives nothing from that part on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from podsift.subscribers.profile import ReaderProfile
from podsift.words import singular

MAX_CHARS = 500
PEOPLE_FILE = Path(__file__).with_name("people.json")

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}\b(?:instructions?|prompts?|rules?|above|previous|prior|system)"
    r"|\bsystem\s*(?:prompt|message)?\s*:|\byou are now\b|\bnew instructions?\b|\bjailbreak|\bact as\b|"
    r"\bpretend (?:to be|you)\b|\brepeat after me\b|\b(?:tell|message|email|send|notify|remind|warn) "
    r"(?:all|every|each|other|the other)\s+(?:of the )?(?:readers?|subscribers?|users?|people|listeners?)\b|"
    r"\badd (?:a|this|my|the|an?)?\s*(?:link|url|affiliate|referral)|https?://|\bwww\.|"
    r"\b[\w-]+\.(?:com|io|net|org|xyz|example|ru|info|biz|ly|co)\b|<\s*/?\s*\w+[^>]*>|\bassistant\s*:|\bAI\b.{0,20}\bmust\b",
    re.I,
)

_STYLE = {
    "explain_jargon": re.compile(
        r"\b(?:explain|define|defin\w+|spell out|unpack|clarify|decode|translate|gloss)\b[^,.;!?]{0,40}?"
        r"\b(?:jargon|terms?|acronyms?|abbreviations?|technical (?:words|stuff|language|bits|terms)|buzzwords?|"
        r"lingo|tech ?speak|concepts?)\b(?:\s+(?:like|such as|e\.g\.?)\s+[^.;!?]*)?"
        r"|\b(?:spell (?:them|it|those|these) out|(?:don'?t|do not) (?:get|understand|know) (?:most of |half )?(?:the )?"
        r"(?:abbreviations|acronyms|jargon|terms|lingo)|"
        r"not (?:very |super |that |too |an? )?(?:technical|techy|engineer|developer|programmer|coder)|"
        r"non-?(?:technical|techy|engineer|developer|programmer)|layman'?s?|laymen|plain (?:english|language|words)|"
        r"eli5|explain (?:it |things )?like i'?m|(?:no|less|without|minus) jargon|jargon[- ]free|"
        r"what (?:the )?(?:acronyms|terms|jargon) mean|don'?t know (?:the|all the) (?:jargon|acronyms|terms))",
        re.I,
    ),
    "short_texts": re.compile(
        r"\b(?:short(?:er)?|brief(?:er)?|concise|tl;?\s?drs?|one[- ]liners?|one (?:line|sentence)|"
        r"keep (?:it|them|things|texts?) (?:short|brief|tight|quick)|less (?:text|words|wordy|reading)|"
        r"too long|too wordy|wordy|fewer words|bite[- ]?sized|to the point|skimm?able|succinct|"
        r"not too long|cut the fluff|quick reads?|summar(?:y|ies) only|shorter summaries|less verbose|"
        r"no (?:long|walls? of) text|get to the point|punchy|brevity|tldr|"
        r"(?:a )?(?:couple|few|one|two|2|3) (?:of )?sentences?(?: max| at most| tops)?|max \w+ sentences?)\b",
        re.I,
    ),
    "contrarian_first": re.compile(
        r"\b(?:contrarian|spicy|hot takes?|controversial|disagree\w*|disputes?|debates?|dissent\w*)\b[^,.;!?]{0,30}?"
        r"\b(?:first|on top|at the top|up top|lead|up ?front)\b"
        r"|\b(?:lead|start|open|begin|top)(?:s|ing)?\b (?:(?:my|the) (?:digest|email|list) )?with\b[^,.;!?]{0,30}?"
        r"\b(?:contrarian|spicy|hot takes?|controversial|disagree\w*|disputes?|debates?|dissent\w*)"
        r"|\b(?:put|place|show|rank|list)\b[^,.;!?]{0,30}?\b(?:contrarian|spicy|hot takes?|controversial|"
        r"disagree\w*|disputes?|debates?)\b[^,.;!?]{0,20}?\b(?:first|on top|at the top|up top|higher)\b",
        re.I,
    ),
}
_PREDICTION = re.compile(
    r"\b(?:predictions?|predicting|speculat\w*|forecast\w*|futurolog\w*|futuris\w*|crystal[- ]ball\w*|prophec\w*|"
    r"guess(?:es|ing)? about (?:the )?future|what (?:will|might|could) happen|future gazing|navel[- ]gazing about the future)"
)

# Cues, longest first so "no more" wins over "no".
_MUTE_CUES = (
    r"(?:things|stuff|topics) i (?:don'?t|do not)(?: (?:want|like|care about|need))?",
    r"(?:doesn'?t|does not|don'?t|do not) interest me(?: at all)?",
    r"not (?:really |that |very |too |at all )?(?:interested|into|keen)(?: in| on)?",
    r"(?:do not|don'?t|dont|never|no longer)\s+(?:really |even )?(?:care|want|need|send|show|like|give|include|"
    r"enjoy|bother|wanna)(?: me)?(?: (?:about|for|with|anything|any|more|to (?:hear|see|read|get)(?: about)?))*",
    r"(?:i'?m|i am) (?:so |really |very )?(?:tired|sick|bored|done) (?:of|with)",
    r"(?:please )?stop(?: (?:sending|showing|giving|including|with|all|the))*(?: me)?",
    r"no more",
    r"nothing (?:about|on|from|related to|regarding|re:?)",
    r"enough (?:with|of|about)(?: the)?",
    r"less(?: (?:about|of|on|from))?",
    r"fewer",
    r"skip(?:ping)?",
    r"hide",
    r"mute",
    r"ignore",
    r"avoid",
    r"without",
    r"w/o",
    r"exclude",
    r"drop",
    r"filter out",
    r"cut(?: out)?",
    r"spare me(?: the)?",
    r"(?:i )?hate",
    r"can'?t stand",
    r"unfollow",
    r"remove",
    r"zero",
    r"minus",
    r"get rid of",
    r"not",
    r"no",
    r"none of",
)
_BOOST_CUES = (
    r"more(?: (?:about|on|of|from|stuff (?:about|on)|things (?:about|on)|coverage of|content (?:about|on)))?",
    r"prioriti[sz]e",
    r"focus(?:ed|ing)? (?:on|more on)",
    r"i (?:really |actually |also |do |genuinely |would )?(?:love|like|enjoy|adore)",
    r"love",
    r"(?:i'?m |i am )?(?:very |really |mostly |mainly |most |more )?interested in",
    r"(?:i'?m|i am) (?:really |mostly |big |very )?into",
    r"especially",
    r"particularly",
    r"(?:mostly|mainly|primarily)(?: about| on)?",
    r"only(?: (?:about|on|from|send|show))?",
    r"(?:big |huge )?fan of",
    r"(?:please )?(?:give|send|show) me(?: more)?",
    r"(?:i )?want(?: (?:more|to (?:hear|see|read|know)(?: (?:more )?about)?))?",
    r"(?:i'?d|i would) (?:like|love)(?: (?:more|to (?:hear|see|read)(?: (?:more )?about)?))?",
    r"boost",
    r"highlight",
    r"(?:i )?prefer",
    r"favou?r",
    r"keen on",
    r"(?:i )?care about",
    r"extra",
    r"(?:lots|plenty|tons) of",
    r"heavy on",
    r"emphasi[sz]e",
    r"keep (?:me )?(?:up to date|posted|updated) on",
    r"all about",
    r"double down on",
    r"up(?:weight|rank)",
    r"(?:things|stuff|topics) i (?:want|like|love|care about|enjoy)",
)
_CUE = re.compile(
    r"(?<![\w'])(?:(?P<mute>"
    + "|".join(_MUTE_CUES)
    + r")|(?P<boost>"
    + "|".join(_BOOST_CUES)
    + r"))(?![\w'])",
    re.I,
)
_POSTFIX_MUTE = re.compile(
    r"^(?P<object>.+?)[\s:,\-–—]*(?:is|are)?\s*(?:no thanks|not interested|not for me|(?:is |are )?(?:so )?"
    r"(?:boring|noise|overrated|useless|annoying|tiresome)|bores? me|i don'?t care|please no|nope|can go|"
    r"not needed|not relevant(?: to me)?|(?:i )?(?:can|could) do without(?: it| them)?|no|"
    r"(?:make|makes) me (?:cringe|sick|yawn)|not my thing|(?:doesn'?t|don'?t) interest me(?: at all)?)\W*$",
    re.I,
)
_POSTFIX_BOOST = re.compile(
    r"^(?P<object>.+?)[\s:,\-–—]*(?:please|pls|plz|yes|more|more of (?:it|that|this)|is (?:great|the best)|"
    r"(?:is|are) what i (?:\w+ )?(?:want|care about|like)(?: most)?|(?:is|are) my (?:jam|thing|fav\w*)|"
    r"(?:is|are) (?:great|awesome|the best)(?: though)?(?:,? more of (?:those|these|that|it))?)\W*$",
    re.I,
)

_KIND_WORDS = {
    "funding": re.compile(
        r"\b(?:fund(?:ing|raising|raises?)?|raise[sd]?|raising|vc|vcs|venture|valuations?|valued|investors?|"
        r"investments?|investing rounds?|acquisitions?|acquires?|acquired|m&a|mergers?|ipos?|series [a-e]|"
        r"(?:funding |investment |seed )?rounds?|deals?|revenue|who raised|money news|startup money|"
        r"financ(?:e|ial|ing) news|unicorns?|exits?)\b",
        re.I,
    ),
    "launch": re.compile(
        r"\b(?:launch(?:es|ed|ing)?|releases?|released|product (?:news|announcements?|updates?|drops?)|"
        r"announcements?|announces|new (?:products?|versions?|features?|tools?|releases?|gadgets?|apps?|models?)|"
        r"version (?:updates?|bumps?)|changelogs?|shipping news|what shipped|release notes|product drops?|"
        r"feature updates?|updates about new)\b",
        re.I,
    ),
    "advice": re.compile(
        r"\b(?:advice|tips?|how-?tos?|self-?help|life ?hacks?|hacks|lessons?|recommendations?|guidance|"
        r"productivity (?:porn|tips|advice)|motivational|best practices|coaching|what i should do|"
        r"what to do|listicles?|career advice|advice-?y)\b",
        re.I,
    ),
    "contrarian": re.compile(
        r"\b(?:contrarian\w*|hot takes?|spicy|controversial|against[- ]the[- ]grain|debates?|disagreements?|"
        r"unpopular opinions?|counter-?intuitive|devil'?s advocate|heterodox|provocative|disputes?|"
        r"(?:people|experts|shows) disagree\w*|challeng\w+ (?:the )?(?:consensus|conventional)|"
        r"contrary|dissent\w*|pushback|push back|takes? that go against|opposing views?|other side)\b",
        re.I,
    ),
}
_FILLER_HEAD = re.compile(
    r"^(?:(?:and|or|but|also|plus|then|so|just|please|pls|plz|abt|really|maybe|actually|any|all|the|a|an|"
    r"some|much|many|lot of|lots of|of|about|on|from|re:?|regarding|related to|to do with|with|for|me|"
    r"hearing|hear|reading|read|seeing|see|getting|get|stuff|things|anything|everything|news|content|"
    r"coverage|talk|takes?|episodes?|segments?|bits|items?|insights?|stories|topics?|discussions?|"
    r"sending|send|showing|show)\b[\s,:]*)+",
    re.I,
)
_FILLER_TAIL = re.compile(
    r"(?:[\s,:]*\b(?:stuff|things|news|content|coverage|talk|topics?|episodes?|segments?|bits|items?|"
    r"insights?|stories|discussions?|updates?|related|please|pls|plz|thanks|thank you|etc|lol|tbh|imo|"
    r"in general|generally|anymore|any more|at all|too|as well|either|stuff like that|and such|"
    r"and so on|pieces|chatter|banter|drama|nonsense|crap|hype cycle|for me|either way|please thanks|"
    r"every day|each day|daily|if possible|whenever possible|in my digest|in the digest|says|said|"
    r"has to say|have to say|talks about|is saying|everything|already|ones|guys|please)\b)+\W*$",
    re.I,
)
_NOT_A_TOPIC = re.compile(
    r"^(?:it|that|this|them|those|these|stuff|things|everything|anything|nothing|more|less|much|"
    r"lots|news|content|it all|all of it|the same|other|others|general|better|good|great|stuff like that|"
    r"me|you|my|your|digest|emails?|insights?|items?|the digest|your digest|texts?|it short|"
    r"podcasts?|shows?|episodes?|time|today|morning|evening|week|interesting|good|cool|useful|relevant|"
    r"important|new|fun|smart|deep|quality|html|plain text|ads?|main|versions?|summar(?:y|ies)|format)$",
    re.I,
)
# A request about delivery, language or format: not part of the profile.
_OUT_OF_SCOPE = re.compile(
    r"\b(?:send (?:it )?(?:at|by|before|after|in the)|(?:at|by) \d{1,2}(?::\d\d)?\s*(?:am|pm)?\b|"
    r"in (?:french|german|spanish|italian|portuguese|dutch|japanese|chinese|english)|"
    r"time ?zone|weekly|on (?:weekends|weekdays|mondays?|sundays?)|dark mode|font|bullet points?|emojis?|"
    r"plain[- ]text|html|emails?)\b",
    re.I,
)
_SPLIT_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+|\s*[;•·]\s*|(?:^|\s)[-*–]\s+")
_SPLIT_PARTS = re.compile(
    r",|\s+\b(?:but|though|however|although|while|whereas|and also|also|plus)\b\s+", re.I
)
_SPLIT_ITEMS = re.compile(r"\s*(?:,|\band\b|\bor\b|&|/|\+|\||\(|\)|\bnor\b|\bas well as\b)\s*", re.I)
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|don'?t|dont|do not|never|no longer|isn'?t|aren'?t|less|nor)\s+(?:\w+\s+)?$", re.I
)
_CAPITAL_NAME = re.compile(
    r"^(?:[A-Z][a-zà-ÿ'’.-]+|[A-Z]\.)(?:\s+(?:[A-Z][a-zà-ÿ'’.-]+|[A-Z]\.|de|van|von|da|di|bin)){1,3}$"
)


class InstructionError(ValueError):
    """The instructions cannot be used as given (too long)."""


def check_length(text: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_CHARS:
        raise InstructionError(f"instructions are {len(text)} characters; the limit is {MAX_CHARS}")
    return text


def parse_instructions(text: str, shows: Sequence[str] = (), people: Sequence[str] = ()) -> ReaderProfile:
    """The profile a reader's words ask for. `shows`: titles the reader can name; `people`:
    names podsift knows (speakers), matched even when written in lower case."""
    profile = ReaderProfile()
    reader = _Reader(profile, shows, people)
    text = _LIST_NUMBER.sub("- ", check_length(text).replace("tl;dr", "tldr").replace("TL;DR", "TLDR"))
    for sentence in _SPLIT_SENTENCES.split(text):
        reader.sentence(sentence.strip())
    # A thing both muted and boosted (a contradiction): the mute wins, as the safer reading.
    for facet in ("topics", "shows", "people", "kinds"):
        for value in list(profile.boost.values(facet)):
            if profile.mute.has(facet, value):
                profile.boost.discard(facet, value)
    return profile


def names_kind(text: str, kind: str, shows: Sequence[str] = ()) -> bool:
    """Whether the text uses a word for this kind of item ("VC rounds" for funding), outside
    the names of `shows` ("The Changelog" is no changelog)."""
    for title in shows:
        if _show_key(title):
            text = _show_pattern(title).sub(" ", text)
    pattern = _KIND_WORDS.get(kind)
    return bool(pattern and pattern.search(text))


def names_show(text: str, title: str) -> bool:
    """Whether the text names this show, the ways readers write show names."""
    return bool(_show_key(title)) and bool(_show_pattern(title).search(text))


def names_style(text: str, flag: str) -> bool:
    """Whether the text uses a phrasing of this style flag."""
    pattern = _PREDICTION if flag == "no_predictions" else _STYLE.get(flag)
    return bool(pattern and pattern.search(text.replace("tl;dr", "tldr").replace("TL;DR", "TLDR")))


def ignored_parts(text: str) -> list[str]:
    """The parts of the text read as orders to the system, which give nothing."""
    text = _LIST_NUMBER.sub("- ", (text or "")[:MAX_CHARS].replace("tl;dr", "tldr").replace("TL;DR", "TLDR"))
    return [
        part
        for sentence in _SPLIT_SENTENCES.split(text)
        for part in _SPLIT_PARTS.split(sentence or "")
        if part and _INJECTION.search(part)
    ]


_LIST_NUMBER = re.compile(r"(?m)^\s*\d{1,2}[.)]\s+")
_PRONOUN = re.compile(
    r"\b(?:i|i'?m|im|i'?ve|i'?d|me|my|mine|you|your|we|our|they|they'?re|them|it|it'?s|its|this|that|"
    r"those|these|there|he|she|his|her|how|what|whats|why|when|who|where|which|since|because|cause|"
    r"is|are|was|were|be|been|feel|feels|get|gets|keep|keeps|want|wants|need|do|does|did|have|has|had|"
    r"would|could|should|can|will|just|else|already|actually|literally|way|too|very|so|most)\b",
    re.I,
)
_PLACEHOLDER = re.compile(r"§(\d+)§")


class _Reader:
    def __init__(self, profile: ReaderProfile, shows: Sequence[str], people: Sequence[str]) -> None:
        self.profile = profile
        self.shows = [s for s in shows if _show_key(s)]
        self.show_keys = {_show_key(s): s for s in self.shows}
        self.show_patterns = sorted(
            ((_show_pattern(s), k) for k, s in enumerate(self.shows)), key=lambda pk: -len(pk[0].pattern)
        )
        self.people = {p.lower(): p for p in [*known_people(), *people] if p.strip()}
        self.side: str | None = None  # carried over a "things i want:" line to the list after it

    def sentence(self, sentence: str) -> None:
        if not sentence:
            return
        side = carried = self.side
        self.side = None
        pending: str | None = None  # a part with no side yet ("Anything Ben Thompson says")
        for part in _SPLIT_PARTS.split(sentence):
            part = part.strip(" \t\"'()[]!?.")
            if not part:
                continue
            if _INJECTION.search(part):
                side, pending = None, None  # an order to the system: nothing from this part
                continue
            part = self._styles(part)
            if _OUT_OF_SCOPE.search(part) and not _CUE.search(part):
                continue
            part = self._mark_shows(part)
            side, pending = self._part(part, side, pending)
        if sentence.rstrip().endswith(":") or (carried and not _CUE.search(sentence)):
            self.side = side  # a list under "things i want:" goes on until a cue of its own

    def _mark_shows(self, part: str) -> str:
        for pattern, k in self.show_patterns:
            part = pattern.sub(f" | §{k}§ | ", part)
        return part

    def _styles(self, part: str) -> str:
        """Record the style flags a part states; the part without their words."""
        for flag, pattern in _STYLE.items():
            if pattern.search(part):
                self.profile.add_style(flag)
                part = pattern.sub(" ", part)
        if _FIRST.search(part) and (
            self.profile.boost.has("kinds", "contrarian") or _KIND_WORDS["contrarian"].search(part)
        ):
            self.profile.add_style("contrarian_first")
            part = _FIRST.sub(" ", part)
        cue = _CUE.search(part)
        wants_none = cue and cue.group("mute")
        if _PREDICTION.search(part):
            if wants_none or _NEGATED.search(part):
                self.profile.add_style("no_predictions")
            # "more predictions" has no boost; "predictions about the next breach" is one thing
            part = re.sub(_PREDICTION.pattern + r"(?:\s+(?:about|on|of|for)\b.*)?", " ", part)
        return part.strip(" ,")

    def _part(self, part: str, side: str | None, pending: str | None) -> tuple[str | None, str | None]:
        """Read one comma part; (the side it leaves for the next part, a part still waiting
        for its side)."""
        matches = list(_CUE.finditer(part))
        if not matches:
            postfix = _POSTFIX_MUTE.match(part) or _POSTFIX_BOOST.match(part)
            if postfix:
                new_side = "mute" if postfix.re is _POSTFIX_MUTE else "boost"
                self._items(postfix.group("object"), new_side)
                return new_side, None
            if side:
                self._items(part, side)
                return side, None
            return None, part
        head = part[: matches[0].start()].strip()
        for k, match in enumerate(matches):
            end = matches[k + 1].start() if k + 1 < len(matches) else len(part)
            new_side = "mute" if match.group("mute") else "boost"
            if new_side == "boost" and _NEGATION_BEFORE.search(part[: match.start()]):
                new_side = "mute"
            found = self._items(part[match.end() : end], new_side)
            if k == 0:
                # "js party only", "hard fork is the only show i care about", "skip those":
                # the cue governs what came before it.
                if head and (side is None or not found):
                    self._items(head, new_side if not found else side or new_side)
                elif head and side:
                    self._items(head, side)
                if pending and not found:
                    self._items(pending, new_side)
            side = new_side
        return side, None

    def _items(self, span: str, side: str) -> int:
        """Add what `span` names to the side's targets; how many things it named."""
        targets = self.profile.mute if side == "mute" else self.profile.boost
        count = 0
        for raw in _SPLIT_ITEMS.split(span):
            marked = _PLACEHOLDER.search(raw)
            if marked:
                targets.add("shows", self.shows[int(marked.group(1))])
                count += 1
                continue
            item = _clean(raw)
            if not item:
                continue
            about = _KIND_ABOUT.match(item)  # "advice on fundraising": a kind and a topic
            if about and _kind(about.group(1)):
                targets.add("kinds", _kind(about.group(1)) or "")
                item = about.group(2)
                count += 1
            show = self.show_keys.get(_show_key(item))
            if show:
                targets.add("shows", show)
                count += 1
                continue
            kind = _kind(item)
            if kind:
                targets.add("kinds", kind)
                count += 1
                continue
            person = self._person(item)
            if person:
                targets.add("people", person)
                count += 1
                continue
            if _is_topic(item):
                targets.add("topics", item.lower())
                count += 1
        return count

    def _person(self, item: str) -> str | None:
        lowered = item.lower()
        known = self.people.get(lowered)
        if known:
            return known
        if _CAPITAL_NAME.match(item) and not _kind(item):
            return item
        # "elon", "Trump": a first or last name of someone podsift knows, as written.
        if " " not in lowered and len(lowered) > 2 and lowered in _name_parts(tuple(self.people)):
            return item if item[:1].isupper() else item.title()
        return None


_FIRST = re.compile(
    r"\b(?:put|show|list|rank|place)\s+(?:those|them|these|they|it)\s+(?:first|on top|at the top|up front|upfront)\b"
    r"|\b(?:up ?front|first)\s*$",
    re.I,
)
_KIND_ABOUT = re.compile(r"^(\w+(?:[- ]\w+)?)\s+(?:on|about|for|around)\s+(.+)$", re.I)
_NEGATED = re.compile(
    r"\b(?:no|not|don'?t|dont|never|without|skip|less|fewer|spare|stop|avoid|hate|enough)\b", re.I
)


@lru_cache(maxsize=1)
def known_people() -> tuple[str, ...]:
    """Public figures a reader may name in lower case ("mute jason calacanis")."""
    try:
        names = json.loads(PEOPLE_FILE.read_text())
    except (OSError, ValueError):
        return ()
    return tuple(n for n in names if isinstance(n, str))


@lru_cache(maxsize=8)
def _name_parts(names: tuple[str, ...]) -> frozenset[str]:
    """First and last names of known people that are not everyday words."""
    parts = {w for n in names for w in n.split() if len(w) > 3}
    return frozenset(p for p in parts if p not in _COMMON_NAME_WORDS)


_COMMON_NAME_WORDS = frozenset(
    [
        "will",
        "mark",
        "bill",
        "grant",
        "rose",
        "young",
        "king",
        "cook",
        "page",
        "gates",
        "hope",
        "may",
        "bush",
        "rich",
    ]
)


def _kind(item: str) -> str | None:
    if len(item.split()) > 4:  # "the launch of the Artemis rocket" is a topic
        return None
    for kind, pattern in _KIND_WORDS.items():
        if pattern.search(item):
            return kind
    return None


def _clean(raw: str) -> str:
    item = raw.strip(" \t\"'“”‘’()[]!?.:;-–—*|")
    previous = None
    while previous != item:
        previous = item
        item = _FILLER_HEAD.sub("", item).strip(" \t\"'“”‘’()[]!?.:;-–—*|")
        item = _FILLER_TAIL.sub("", item).strip(" \t\"'“”‘’()[]!?.:;-–—*|")
    return " ".join(item.split())


def _is_topic(item: str) -> bool:
    words = item.split()
    return (
        0 < len(words) <= 4
        and not _NOT_A_TOPIC.match(item)
        and not _PRONOUN.search(item)
        and not item.lower().startswith("to ")
        and bool(re.search(r"[a-z0-9]", item, re.I))
        and not _CUE.fullmatch(item)
    )


def _show_key(title: str) -> str:
    words = re.sub(r"[^a-z0-9 ]+", " ", title.lower().replace("&", " and ").replace("'", "")).split()
    kept = [singular(w) for w in words if w not in ("the", "podcast", "pod", "show")]
    return " ".join(kept)


def _show_pattern(title: str) -> re.Pattern[str]:
    """A show as readers write it: any case, "&" or "and", apostrophes and "the"/"podcast"
    optional, "JSParty" or "js party", "talk python" for Talk Python To Me; a one-word title
    that reads as an everyday word ("Acquired", "The Daily") only with its capital or its "the"."""
    words = re.sub(r"[^a-z0-9&' ]+", " ", title.lower()).split()
    core = [w.replace("'", "") for w in words if w not in ("the", "podcast", "pod", "show")]
    parts = [
        r"(?:and|&|n)"
        if w in ("and", "&")
        else re.escape(w.removesuffix("s")) + (r"'?s" if w.endswith("s") else r"(?:'?s)?")
        for w in core
    ]
    body = r"[\s-]*".join(parts)
    if len([w for w in core if w not in ("and", "&")]) >= 3:
        body = r"[\s-]*".join(parts[:2]) + r"(?:[\s-]*" + r"[\s-]*".join(parts[2:]) + r")?"
    tail = r"(?:[\s-]*(?:podcast|pod|show))?"
    if len(core) == 1 and (title.lower().startswith("the ") or core[0].endswith(("ed", "ing", "ly"))):
        written = re.escape(title.strip().removeprefix("The ").strip())
        return re.compile(
            r"(?<![\w-])(?:(?i:the\s+" + body + r")|" + written + r")" + f"(?i:{tail})" + r"(?![\w-])"
        )
    return re.compile(r"(?<![\w-])(?:the\s+)?" + body + tail + r"(?![\w-])", re.I)
