"""The quality floor: what never reaches a digest, whoever extracted it.

Pure text rules, no model. A model's candidate (its verbatim quote and its written text) is
refused with a reason when it is a greeting or introduction, a self-description or
biography, a sponsor read, legal boilerplate, show housekeeping, a question or prompt to a
guest, when it leans on talk the reader has not seen ("That's why…", "It matters
because…"), or when it carries transcript artefacts (`[unintelligible 00:16:38.07]`,
`[laughter]`, stray timestamps): `candidate_problem`. The offline selector weighs these
rules as features and is held only to the facts among them (`fact_problem`). The insights
stage counts what it refused by reason.
"""

from __future__ import annotations

import re

# --- what a reader would cut, by kind -----------------------------------------------------

ARTEFACT = re.compile(
    r"\[(?:unintelligible|inaudible|indiscernible|crosstalk|laugh\w*|music|applause|silence|"
    r"cough\w*|noise|sighs?|chuckles?|pause|break|ad|sponsor|intro|outro|\?+)[^\]]{0,40}\]"
    r"|\(\s*(?:laugh\w*|inaudible|unintelligible|crosstalk|applause|chuckles?)\s*\)"
    r"|\[\s*\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\s*\]|\b\d{2}:\d{2}:\d{2}[.,]\d{2,3}\b|♪|-->",
    re.I,
)
GREETING = re.compile(
    r"\b(?:welcome (?:back )?to|welcome,? everyone|thanks? (?:you )?for (?:listening|having me|coming on|"
    r"joining)|great to (?:be here|have you)|good to (?:be here|see you|have you)|happy to be here|"
    r"glad to be here|see you next time|until next time|this is episode|i'm your host|my co-?host|"
    r"joining me (?:today|now|again)|joined by|we have with us|with us (?:today|this week)|"
    r"my guest|our guest|how are you|how's it going|let's (?:get started|dive in|kick)|"
    r"(?:that's|that is) (?:all|it) (?:for|we have (?:time )?for) (?:today|this week|this episode|now)|"
    r"(?:good)?bye for now|see you next week|(?:talk|speak) to you (?:next|soon)|catch you next|"
    r"before we (?:begin|start|get)|"
    r"on today's (?:show|episode)|in today's episode|good (?:morning|afternoon|evening),|"
    r"it's (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday) the|happy (?:new year|friday)|"
    r"i no longer sound like)\b",
    re.I,
)
BIOGRAPHY = re.compile(
    r"\b(?:i (?:have )?studied|my background|i(?:'ve| have) been (?:working|doing|in|at) |i started my "
    r"(?:career|company)|i grew up|i graduated|i (?:got|have|did) (?:a|my|two|three) (?:\w+ )?"
    r"(?:degree|phd|masters?|certifications?)|master's degrees?|certifications|my name is|"
    r"i work (?:at|for|as|on) |i'm (?:a|an|the) (?:\w+ ){0,3}(?:engineer|developer|founder|ceo|cto|"
    r"manager|scientist|researcher|consultant|host|author|professor|student|designer|director)|"
    r"i joined |before that,? i |my (?:journey|career)|i'm (?:the )?(?:co-?)?founder|"
    r"(?:is|as) (?:the )?(?:co-?)?founder and ceo|who is (?:the )?(?:co-?)?founder|is the host of|"
    r"years of experience|i (?:used to )?work(?:ed)? (?:at|for) |we're (?:best |mostly )?known for|"
    r"we (?:build|make|sell|offer) [^.]{0,40}\bfor\b|our (?:company|startup|product) (?:is|does))",
    re.I,
)
SPONSOR = re.compile(
    r"(?:brought to you by|sponsored by|our sponsors?\b|this episode is sponsored|thanks to our sponsor|"
    r"promo code|use (?:the )?code|coupon|discount code|free trial|sign up (?:at|today|for free)|"
    r"visit \S+\.(?:com|fm|io|dev|ai)|\b\w+\.(?:com|fm|io|co|dev)/\S+|support (?:for )?the show|"
    r"patreon|our (?:partners?|friends) at|check (?:them|it) out at|(?:head|go) (?:over )?to \S+\.(?:com|fm|io|dev|ai)|"
    r"thank you to our sponsors|try it (?:free|today)|get started (?:for free|today))",
    re.I,
)
BOILERPLATE = re.compile(
    r"\b(?:permission is hereby granted|without warranty|all rights reserved|copyright notice|"
    r"licensed under the|provided \"?as is\"?|merchantability|liable for any claim|"
    r"terms (?:of service|and conditions)|privacy policy|this (?:podcast|episode) is for "
    r"(?:informational|educational) purposes|not (?:financial|legal|medical) advice)",
    re.I,
)
HOUSEKEEPING = re.compile(
    r"\b(?:subscribe|rate (?:and|&) review|leave (?:us )?a review|(?:in|check|see|to) (?:the |our |your )?show notes|"
    r"link(?:s)? (?:is |are )?"
    r"in the (?:description|notes)|our newsletter|join (?:our|the) (?:discord|slack|community)|"
    r"next week(?:'s episode| on the show)|(?:next|last|previous|this) episode|on the show today|"
    r"here's that conversation|stick around|after the break|coming up (?:next|after)|"
    r"we'll be right back|(?:our|this) (?:podcast|show) is|episode number|"
    r"you can (?:find|follow) (?:me|us|him|her|them) (?:on|at)|buy (?:a |your )?tickets?|"
    r"call for (?:proposals|papers)|join us next year|registration is open|"
    r"(?:we will|we'll) (?:continue to )?share|make you a better|we dig into|in this episode)\b",
    re.I,
)
PROMPT = re.compile(
    r"\b(?:tell (?:us|me)|(?:can|could|would|if) you (?:maybe |just )?(?:tell|explain|talk|walk|share|give|"
    r"describe|pick|help us|unpack|expand)|what (?:do )?you think|how do you (?:think|see|feel)|"
    r"i'd love (?:to (?:hear|see|know|get)|for you to)|i'm curious (?:about|what|how|if|whether)|"
    r"do you (?:think|see|have|feel)|talk (?:to us |a little )?about|walk us through|give us (?:a|an|some)|"
    r"what's your (?:take|view|sense)|what are your thoughts)\b",
    re.I,
)
# A sentence that leans on what came before: "That's why…", "It matters because…".
LEANS_BACK = re.compile(
    r"^[\"'“(]?(?:that|this|it|it's|its|they|they're|them|those|these|he|she|his|her|which|"
    r"also|then|because|although|though|but|nevertheless|nonetheless|still|essentially|(?:up|down) (?:from|to)|yeah|yup|yep|yes|no|nope|right|exactly|same|maybe|otherwise|instead|"
    r"plus|too|gotcha|for sure|i'm sure|you're like|i'm like|i was like|"
    r"as well|again|anyway|well|oh|okay|ok|true|sure|absolutely|totally|definitely|agreed)\b"
    r"|^[\"'“(]?(?:the (?:same|other|former|latter)|such|both|either|neither)\b"
    r"|^\d+(?:\.\d+)? (?:is|was|are|billion|million|thousand|percent)\b",
    re.I,
)
# Spoken lead-ins that say nothing: "Like, maybe they…", "Um, so…".
LEAD_IN = re.compile(
    r"^(?:(?:like|um+|uh+|you know|i mean|look,|listen,|honestly|basically|actually|and|so|or|well|now|"
    r"for example,|i think|i don't know,)[,.]?\s+)+",
    re.I,
)
# Talk about the conversation itself: "You mentioned…", "Like I said…".
CONVERSATION = re.compile(
    r"^(?:you mentioned|as you (?:said|mentioned|put it)|like you said|to your point|going back to|"
    r"on that (?:note|point)|as i (?:said|mentioned)|like i said|as we (?:discussed|said)|we talked about|"
    r"you (?:said|asked)|good (?:question|point)|great (?:question|point)|that's a (?:great|good) |to clarify)"
    r"|^[^.!?]{0,80}\b(?:as you (?:said|mentioned)|like you said)\b",
    re.I,
)
CHECKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("artefact", ARTEFACT),
    ("sponsor", SPONSOR),
    ("boilerplate", BOILERPLATE),
    ("greeting", GREETING),
    ("biography", BIOGRAPHY),
    ("housekeeping", HOUSEKEEPING),
)


def leans_back(sentence: str) -> bool:
    """Does the sentence open on a reference to talk that came before it? (A lower-case
    start is a fragment cut from a longer sentence.)"""
    sentence = sentence.strip().lstrip("\"'“(.… ")  # "...because instead…" continues a sentence
    if sentence[:1].islower():
        return True
    sentence = LEAD_IN.sub("", sentence)  # "And this is where…" leans; "And what I found…" need not
    return bool(LEANS_BACK.match(sentence) or CONVERSATION.match(sentence))


def content_problem(text: str) -> str | None:
    """What kind of non-insight the words are (sponsor read, greeting…), if any."""
    for reason, pattern in CHECKS:
        if pattern.search(text):
            return reason
    return None


def written_problem(text: str, speaker: str | None = None) -> str | None:
    """Why a written insight (a model's or the offline text) may not go into a digest."""
    body = text
    if speaker and body.lower().startswith(speaker.lower() + ":"):  # the offline "Name: claim"
        body = body[len(speaker) + 1 :].lstrip()
    words = re.findall(r"[\w'’%$.-]+", body)
    if len(words) < 8:
        return "too-short"  # "Jeff Smith", "Jeff Smith is the host." are not claims
    if reason := content_problem(body):
        return reason
    if body.rstrip().endswith("?"):
        return "prompt"
    if leans_back(body):
        return "dangling"
    return None


FACTS = ("artefact", "sponsor", "boilerplate")  # what a passage is, not how good it is


def fact_problem(text: str, quote: str, speaker: str | None) -> str | None:
    """The floor for the learned selector's candidates: only facts (a transcript artefact, a
    sponsor read, legal boilerplate, a text too short to be a claim). The judgements of the
    rest of the floor (greeting, biography, housekeeping, prompt, dangling) are features of
    the selector, which weighs them better: on the tuning shows' labelled top picks the floor
    refused keeps and cuts alike (20% of each)."""
    for reason, pattern in CHECKS:
        if reason in FACTS and pattern.search(quote):
            return reason
    problem = written_problem(text, speaker)
    return problem if problem in ("too-short", *FACTS) else None


def candidate_problem(text: str, quote: str, speaker: str | None) -> str | None:
    """The floor for any extractor's candidate: what its quote is (a model may quote a
    sentence from the middle of a thought, so only its kind counts), then its text."""
    return content_problem(quote) or written_problem(text, speaker)
