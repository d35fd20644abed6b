"""A hostile corpus of our own: odd URLs, feeds, transcripts, OPML, audio and web input.

Each generator returns (name, payload) pairs; tests/test_hostile.py serves them on loopback
and counts how podsift answered each one. `sentinel` is a loopback port podsift must never
connect to (it is not in the allow-list).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

NOW = datetime.now(UTC).replace(microsecond=0)
GOOD_VTT = (
    "WEBVTT\n\n00:00:01.000 --> 00:00:09.000\n<v Ana Ruiz>Grid batteries now clear the evening peak "
    "in Texas on most summer days, which cuts the price spikes that used to pay for gas plants.\n\n"
    "00:00:09.000 --> 00:00:18.000\n<v Ana Ruiz>Because storage bids lower than peakers, operators "
    "retire two gas units early next year and the savings reach every household bill in the state.\n"
)


def odd_urls(sentinel: int) -> list[tuple[str, str]]:
    """Feed URLs of every odd form; the ones that name a host all point at the sentinel."""
    s = sentinel
    urls = [
        f"http://0177.0.0.1:{s}/feed",
        f"http://0x7f.0.0.1:{s}/feed",
        f"http://0x7f000001:{s}/feed",
        f"http://2130706433:{s}/feed",
        f"http://017700000001:{s}/feed",
        f"http://127.1:{s}/feed",
        f"http://127.0.1:{s}/feed",
        f"http://0:{s}/feed",
        f"http://0.0.0.0:{s}/feed",
        f"http://[::1]:{s}/feed",
        f"http://[::ffff:127.0.0.1]:{s}/feed",
        f"http://[::ffff:7f00:1]:{s}/feed",
        f"http://[0:0:0:0:0:0:0:1]:{s}/feed",
        f"http://[::]:{s}/feed",
        f"http://[fe80::1%25eth0]:{s}/feed",
        f"http://[::1%25lo]:{s}/feed",
        f"http://[fe80::1%eth0]:{s}/feed",
        f"http://user:pass@127.0.0.1:{s}/feed",
        f"http://127.0.0.1:{s}@evil.invalid/feed",
        f"http://evil.invalid@127.0.0.1:{s}/feed",
        f"http://127.0.0.1:{s}#@evil.invalid/feed",
        f"http://127.0.0.1:{s}/feed#fragment",
        f"http://127.0.0.1:{s}/%2e%2e/%2e%2e/etc/passwd",
        f"http://%31%32%37.0.0.1:{s}/feed",
        f"http://127\u30020\u30020\u30021:{s}/feed",
        f"HTTP://127.0.0.1:{s}/feed",
        f"https://127.0.0.1:{s}/feed",
        f"http://localhost:{s}/feed",
        f"http://LOCALHOST:{s}/feed",
        f"http://localhost.:{s}/feed",
        f"http://127.0.0.1.nip.io:{s}/feed",
        f"http://sentinel.example:{s}/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.1/feed",
        "http://192.168.1.1/feed",
        "http://172.16.0.1/feed",
        "http://100.64.0.1/feed",
        "http://[fc00::1]/feed",
        "http://[::ffff:10.0.0.1]/feed",
        "http://[2001:db8::1]/feed",
        "http://256.0.0.1/feed",
        "http://1.2.3.4.5/feed",
        "http://0x0/feed",
        "http://xn--/feed",
        "http://xn--80ak6aa92e.com/feed",
        "http://ex\u0430mple.com/feed",
        "http://a..b/feed",
        "http://" + "a" * 64 + ".com/feed",
        "http://" + ".".join(["a" * 60] * 5) + "/feed",
        "http://" + "a" * 2100 + "/feed",
        "http://exa mple.com/feed",
        "http://example.com/\r\nX-Injected: 1",
        "http://example.com/\x00feed",
        "http://[::1/feed",
        "http://[zz::1]/feed",
        "http://127.0.0.1:abc/feed",
        "http://127.0.0.1:99999/feed",
        "http://127.0.0.1:-1/feed",
        "http://:80/feed",
        "http://",
        "http:///feed",
        "http:/127.0.0.1/feed",
        "//127.0.0.1/feed",
        "127.0.0.1/feed",
        "",
        "   ",
        "file:///etc/passwd",
        "ftp://127.0.0.1/feed",
        "gopher://127.0.0.1:70/_GET",
        "javascript:alert(1)",
        "data:text/xml,<rss/>",
        "dict://127.0.0.1:11211/stat",
        "ldap://127.0.0.1/",
        "jar:http://example.com!/",
        "mailto:a@example.com",
        "itpc://127.0.0.1:{s}/feed".replace("{s}", str(s)),
        "feed:javascript:alert(1)",
    ]
    return [(f"url {i}", url) for i, url in enumerate(urls)]


def feed_bodies(sentinel: int, transcript_url: str) -> list[tuple[str, bytes]]:
    """Feed documents, from bombs to broken encodings to valid-but-strange feeds."""
    good = _feed([_item("ok", transcript_url)]).encode()
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
        )
        + ']><rss version="2.0"><channel><title>&lol9;</title></channel></rss>'
    )
    bodies: list[tuple[str, bytes]] = [
        ("billion laughs", laughs.encode()),
        (
            "quadratic blowup",
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "{"x" * 50000}">]><rss><channel><title>{"&a;" * 2000}</title></channel></rss>'.encode(),
        ),
        (
            "xxe file",
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel><title>&x;</title></channel></rss>',
        ),
        (
            "xxe http",
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:{sentinel}/xxe">]><rss version="2.0"><channel><title>&x;</title></channel></rss>'.encode(),
        ),
        (
            "xxe parameter entity",
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:{sentinel}/dtd"> %p;]><rss/>'.encode(),
        ),
        (
            "external dtd",
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:{sentinel}/rss.dtd"><rss version="2.0"><channel><title>t</title></channel></rss>'.encode(),
        ),
        ("empty", b""),
        ("whitespace", b"   \n\t  "),
        ("nul bytes", b"\x00" * 4096),
        ("random bytes", random.Random(1).randbytes(8192)),
        ("json", json.dumps({"rss": {"channel": []}}).encode()),
        (
            "html page",
            b"<!DOCTYPE html><html><body><h1>Not a feed</h1><script>alert(1)</script></body></html>",
        ),
        ("plain text", b"this is not a feed at all\n" * 50),
        ("utf-16 declared, utf-8 sent", good.replace(b'encoding="UTF-8"', b'encoding="UTF-16"')),
        (
            "latin-1 bytes, utf-8 declared",
            _feed([_item("caf\u00e9 \u00fcber", transcript_url)]).encode("latin-1", "replace"),
        ),
        ("invalid utf-8", good.replace(b"<title>ok</title>", b"<title>ok \xff\xfe\xc3\x28</title>")),
        (
            "utf-16 with bom",
            _feed([_item("sixteen", transcript_url)])
            .replace('encoding="UTF-8"', 'encoding="UTF-16"')
            .encode("utf-16"),
        ),
        ("bom then garbage", b"\xef\xbb\xbf\x00\x01\x02<rss>"),
        ("unknown encoding", good.replace(b'encoding="UTF-8"', b'encoding="x-klingon"')),
        ("nested 10000 deep", b"<rss>" + b"<a>" * 10000 + b"</a>" * 10000 + b"</rss>"),
        ("unclosed tags", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t<item><title>x'),
        ("cdata trick", _feed([_item("]]><script>alert(1)</script>", transcript_url)]).encode()),
        (
            "script in description",
            _feed(
                [
                    _item(
                        "x",
                        transcript_url,
                        description="<script>alert(document.cookie)</script><img src=x onerror=alert(1)>",
                    )
                ]
            ).encode(),
        ),
        ("javascript enclosure", _feed([_item("x", transcript_url, audio="javascript:alert(1)")]).encode()),
        ("javascript transcript", _feed([_item("x", "javascript:alert(1)")]).encode()),
        ("data transcript", _feed([_item("x", "data:text/vtt,WEBVTT")]).encode()),
        ("private transcript", _feed([_item("x", f"http://127.0.0.1:{sentinel}/t.vtt")]).encode()),
        ("file transcript", _feed([_item("x", "file:///etc/passwd")]).encode()),
        (
            "no guid no date",
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title></item></channel></rss>',
        ),
        (
            "year 0 and 9999",
            _feed(
                [
                    _item("old", transcript_url, date="Mon, 01 Jan 0000 00:00:00 GMT"),
                    _item("new", transcript_url, date="Fri, 31 Dec 9999 23:59:59 GMT"),
                ]
            ).encode(),
        ),
        ("garbage dates", _feed([_item("x", transcript_url, date="yesterday-ish")]).encode()),
        (
            "duplicate guids",
            _feed(
                [_item("a", transcript_url, guid="same"), _item("b", transcript_url, guid="same")]
            ).encode(),
        ),
        ("overlong guid", _feed([_item("x", transcript_url, guid="g" * 100_000)]).encode()),
        ("overlong title", _feed([_item("t" * 200_000, transcript_url)]).encode()),
        ("10000 items", _feed([_item(f"item {i}", None, guid=f"g{i}") for i in range(10000)]).encode()),
        (
            "control characters",
            _feed([_item("bell\x07 escape\x1b[31m red", transcript_url)]).encode().replace(b"\x07", b"&#7;"),
        ),
        ("bidi override", _feed([_item("\u202egnp.exe \u2066hidden\u2069", transcript_url)]).encode()),
        (
            "zalgo",
            _feed([_item("Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o" * 200, transcript_url)]).encode(),
        ),
        (
            "atom feed",
            b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><title>e</title><id>1</id></entry></feed>',
        ),
        (
            "rdf feed",
            b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel><title>R</title></channel></rdf:RDF>',
        ),
        (
            "rss 0.91",
            b'<?xml version="1.0"?><rss version="0.91"><channel><title>old</title><item><title>x</title></item></channel></rss>',
        ),
        (
            "namespace soup",
            b'<?xml version="1.0"?><rss xmlns:podcast="urn:x" version="2.0"><channel><podcast:transcript url="x"/><item><podcast:transcript/></item></channel></rss>',
        ),
        (
            "processing instructions",
            b'<?xml version="1.0"?><?xml-stylesheet href="http://127.0.0.1:1/x.xsl"?><rss version="2.0"><channel><title>t</title></channel></rss>',
        ),
        (
            "transcript with no url",
            b'<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>t</title><item><title>x</title><guid>1</guid><podcast:transcript type="text/vtt"/></item></channel></rss>',
        ),
        (
            "enclosure without url",
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title><guid>1</guid><enclosure type="audio/mpeg"/></item></channel></rss>',
        ),
    ]
    for cut in (0.02, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.65, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97):
        bodies.append((f"truncated at {cut:.0%}", good[: int(len(good) * cut)]))
    return bodies


def transcripts() -> list[tuple[str, str, bytes]]:
    """(name, mime type, body): hostile transcripts in every format."""
    formats = {
        "vtt": "text/vtt",
        "srt": "application/x-subrip",
        "json": "application/json",
        "html": "text/html",
        "text": "text/plain",
    }
    out: list[tuple[str, str, bytes]] = []
    rng = random.Random(7)
    for kind, mime in formats.items():
        out += [
            (f"{kind} empty", mime, b""),
            (f"{kind} whitespace", mime, b" \n\n \t"),
            (f"{kind} binary", mime, rng.randbytes(4096)),
            (f"{kind} nul", mime, b"\x00" * 1000),
            (f"{kind} huge", mime, b"WEBVTT\n\n" + b"x" * (2 * 1024 * 1024)),
            (f"{kind} png claimed", mime, b"\x89PNG\r\n\x1a\n" + rng.randbytes(500)),
            (f"{kind} utf-16 no bom", mime, GOOD_VTT.encode("utf-16-le")),
            (f"{kind} invalid utf-8", mime, GOOD_VTT.encode().replace(b"Grid", b"Gr\xff\xfed")),
        ]
    samples = {
        "vtt": GOOD_VTT,
        "json": json.dumps({"segments": [{"startTime": 1, "endTime": 5, "body": "storage bids lower"}] * 3}),
    }
    for kind, sample in samples.items():
        for cut in (0.1, 0.3, 0.5, 0.7, 0.9):
            out.append(
                (f"{kind} truncated at {cut:.0%}", formats[kind], sample.encode()[: int(len(sample) * cut)])
            )
    cue = "{a} --> {b}\n<v Ana Ruiz>Storage bids lower than gas peakers, so operators retire two gas units early.\n\n"
    out += [
        (
            "vtt negative times",
            "text/vtt",
            ("WEBVTT\n\n" + cue.format(a="-00:00:05.000", b="-00:00:01.000")).encode(),
        ),
        (
            "vtt end before start",
            "text/vtt",
            ("WEBVTT\n\n" + cue.format(a="00:00:09.000", b="00:00:01.000")).encode(),
        ),
        (
            "vtt unordered",
            "text/vtt",
            (
                "WEBVTT\n\n"
                + cue.format(a="00:10:00.000", b="00:10:05.000")
                + cue.format(a="00:00:01.000", b="00:00:05.000")
            ).encode(),
        ),
        (
            "vtt overlapping",
            "text/vtt",
            ("WEBVTT\n\n" + cue.format(a="00:00:01.000", b="00:05:00.000") * 5).encode(),
        ),
        (
            "vtt impossible times",
            "text/vtt",
            ("WEBVTT\n\n" + cue.format(a="99:99:99.999", b="99:99:99.999")).encode(),
        ),
        (
            "vtt huge times",
            "text/vtt",
            ("WEBVTT\n\n" + cue.format(a="999999999:00:00.000", b="999999999:00:01.000")).encode(),
        ),
        ("vtt no header", "text/vtt", cue.format(a="00:00:01.000", b="00:00:05.000").encode()),
        (
            "vtt junk settings",
            "text/vtt",
            (b"WEBVTT\n\n00:00:01.000 --> 00:00:05.000 align:<script> size:999%\nhello there friend\n"),
        ),
        (
            "vtt 20000 cues",
            "text/vtt",
            ("WEBVTT\n\n" + "".join(cue.format(a=_ts(i), b=_ts(i + 1)) for i in range(20000))).encode(),
        ),
        ("vtt only notes", "text/vtt", b"WEBVTT\n\nNOTE nothing here\n\nNOTE still nothing\n"),
        (
            "srt garbage index",
            "application/x-subrip",
            b"abc\n00:00:01,000 --> 00:00:02,000\nhello\n\nxyz\n00:00:02,000 --> 00:00:03,000\nworld\n",
        ),
        ("srt negative", "application/x-subrip", b"1\n-00:00:01,000 --> 00:00:02,000\nhello\n"),
        ("srt no times", "application/x-subrip", b"1\nhello\n\n2\nworld\n"),
        ("json not a list", "application/json", b'{"segments": "nope"}'),
        ("json segments dict", "application/json", b'{"segments": {"a": 1}}'),
        (
            "json wrong types",
            "application/json",
            json.dumps(
                {"segments": [{"startTime": "soon", "endTime": None, "body": 42, "speaker": ["x"]}]}
            ).encode(),
        ),
        (
            "json nan and infinity",
            "application/json",
            b'{"segments": [{"startTime": NaN, "endTime": Infinity, "body": "storage bids lower than peakers so gas retires"}]}',
        ),
        (
            "json negative",
            "application/json",
            json.dumps(
                {
                    "segments": [
                        {"startTime": -50, "endTime": -10, "body": "negative time storage claims here"}
                    ]
                }
            ).encode(),
        ),
        ("json deep nesting", "application/json", b"[" * 100000 + b"]" * 100000),
        (
            "json huge numbers",
            "application/json",
            json.dumps(
                {"segments": [{"startTime": 1e308, "endTime": 1e309 if False else 1e308, "body": "big"}]}
            ).encode(),
        ),
        ("json string", "application/json", b'"just a string"'),
        ("json null", "application/json", b"null"),
        (
            "html script",
            "text/html",
            b"<html><body><script>alert(1)</script><p>Storage bids lower than gas peakers.</p></body></html>",
        ),
        ("html nested", "text/html", b"<div>" * 50000 + b"deep" + b"</div>" * 50000),
        ("html iframe", "text/html", b'<iframe src="http://127.0.0.1:1/"></iframe><p>text</p>'),
        ("text one giant line", "text/plain", b"storage " * 200000),
        (
            "text bidi",
            "text/plain",
            "\u202eSTORAGE\u202c bids lower than \u2066peakers\u2069 say operators.".encode(),
        ),
        ("wrong mime", "image/png", GOOD_VTT.encode()),
        ("unknown mime", "application/x-unknown", GOOD_VTT.encode()),
        ("mime with params", "text/vtt; charset=klingon", GOOD_VTT.encode()),
    ]
    return out


def opml_documents(sentinel: int) -> list[tuple[str, bytes]]:
    outline = '<outline type="rss" text="x" xmlUrl="{}"/>'
    wrap = '<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>{}</body></opml>'
    return [
        (
            "opml billion laughs",
            (
                '<?xml version="1.0"?><!DOCTYPE o [<!ENTITY a "aaaaaaaaaa">'
                + "".join(
                    f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                    for i in range(1, 10)
                )
                + ']><opml><body><outline text="&a9;"/></body></opml>'
            ).encode(),
        ),
        (
            "opml xxe",
            b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x SYSTEM "file:///etc/passwd">]><opml><body><outline text="&x;" xmlUrl="http://example.com/&x;"/></body></opml>',
        ),
        (
            "opml xxe http",
            f'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x SYSTEM "http://127.0.0.1:{sentinel}/x">]><opml><body><outline xmlUrl="&x;"/></body></opml>'.encode(),
        ),
        ("opml not xml", b"this is not opml"),
        ("opml empty", b""),
        ("opml html", b"<html><body>hi</body></html>"),
        ("opml json", b'{"outlines": []}'),
        ("opml no body", b'<?xml version="1.0"?><opml version="2.0"><head/></opml>'),
        ("opml deep nesting", (wrap.format("<outline>" * 5000 + "</outline>" * 5000)).encode()),
        ("opml javascript urls", wrap.format(outline.format("javascript:alert(1)") * 3).encode()),
        (
            "opml private urls",
            wrap.format(
                outline.format(f"http://127.0.0.1:{sentinel}/feed")
                + outline.format("http://169.254.169.254/")
            ).encode(),
        ),
        ("opml file urls", wrap.format(outline.format("file:///etc/passwd")).encode()),
        ("opml missing xmlurl", wrap.format('<outline type="rss" text="no url"/>' * 10).encode()),
        ("opml empty xmlurl", wrap.format(outline.format("")).encode()),
        ("opml overlong url", wrap.format(outline.format("http://example.com/" + "a" * 5000)).encode()),
        ("opml control chars", wrap.format(outline.format("http://example.com/&#10;X-Injected:1")).encode()),
        (
            "opml 300 outlines",
            wrap.format(
                "".join(outline.format(f"http://sentinel.example:{sentinel}/f{i}") for i in range(300))
            ).encode(),
        ),
        ("opml truncated", wrap.format(outline.format("http://example.com/a"))[:60].encode()),
        (
            "opml utf-16 lie",
            wrap.format(outline.format("http://example.com/a"))
            .replace('version="1.0"?', 'version="1.0" encoding="UTF-16"?')
            .encode(),
        ),
        ("opml binary", random.Random(3).randbytes(3000)),
        (
            "opml odd ipv4 forms",
            wrap.format(
                "".join(
                    outline.format(u)
                    for u in (
                        f"http://0177.0.0.1:{sentinel}/",
                        f"http://2130706433:{sentinel}/",
                        f"http://0x7f.1:{sentinel}/",
                    )
                )
            ).encode(),
        ),
        ("opml bracket ipv6 broken", wrap.format(outline.format("http://[::1/feed")).encode()),
    ]


def audio_files() -> list[tuple[str, str, bytes]]:
    """(name, content type, body): audio that is not audio, or broken audio."""
    rng = random.Random(11)
    wav_header = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80>\x00\x00\x00}\x00\x00\x02\x00\x10\x00data\xff\xff\xff\xff"
    return [
        ("audio random bytes", "audio/mpeg", rng.randbytes(20000)),
        ("audio truncated wav", "audio/x-wav", wav_header + rng.randbytes(100)),
        ("audio wav header only", "audio/x-wav", wav_header),
        ("audio mp3 id3 only", "audio/mpeg", b"ID3\x04\x00\x00\x00\x00\x00\x00"),
        ("audio html", "audio/mpeg", b"<html><body>not audio</body></html>" * 20),
        ("audio empty", "audio/mpeg", b""),
        ("audio text type", "text/html", b"<html>login page</html>"),
    ]


def web_inputs() -> list[tuple[str, dict[str, str]]]:
    """Sign-up and preference form fields that a hostile client might post."""
    long = "x" * 100_000
    values = [
        ("overlong email", {"email": long + "@example.com"}),
        ("overlong interests", {"email": "a1@example.com", "interests": long}),
        ("control chars email", {"email": "a\r\nBcc: victim@example.com@example.com"}),
        ("nul email", {"email": "a\x00@example.com"}),
        ("header injection name", {"email": '"Evil\r\nBcc: x@y.z" <a@example.com>'}),
        ("unicode email", {"email": "\u202eexample@\u0430pple.com"}),
        ("no at sign", {"email": "not-an-address"}),
        ("two at signs", {"email": "a@b@example.com"}),
        ("empty email", {"email": ""}),
        ("bad timezone", {"email": "a2@example.com", "timezone": "Mars/Olympus"}),
        ("timezone traversal", {"email": "a3@example.com", "timezone": "../../../../etc/passwd"}),
        ("negative hour", {"email": "a4@example.com", "send_hour": "-1"}),
        ("huge hour", {"email": "a5@example.com", "send_hour": "99999999999999999999"}),
        ("hour not a number", {"email": "a6@example.com", "send_hour": "seven"}),
        ("top zero", {"email": "a7@example.com", "top_n": "0"}),
        ("top huge", {"email": "a8@example.com", "top_n": "1000000"}),
        ("top float", {"email": "a9@example.com", "top_n": "5.5"}),
        ("interests html", {"email": "b1@example.com", "interests": "<script>alert(1)</script>"}),
        ("interests bidi", {"email": "b2@example.com", "interests": "\u202eAI\u202c, \u2066energy\u2069"}),
        ("interests nul", {"email": "b3@example.com", "interests": "AI\x00energy"}),
        ("interests zalgo", {"email": "b4@example.com", "interests": "A\u0351\u0352I" * 500}),
    ]
    return values


def web_paths() -> list[str]:
    """GET paths with hostile tokens, ids and dates."""
    return [
        "/me/not-a-token/today",
        "/me/x/digest/../../etc/passwd",
        "/me/x/digest/9999-99-99",
        "/insight/-1",
        "/insight/99999999999999999999999",
        "/insight/abc",
        "/api/insights/abc",
        "/api/insights/-5",
        "/api/digests/" + "A" * 10000,
        "/api/digests/x?limit=-1",
        "/api/digests/x?limit=99999999999999999999",
        "/feed/%00.atom",
        "/feed/../../etc/passwd.atom",
        "/unsubscribe/" + "A" * 10000,
        "/confirm/%E2%80%AE",
        "/feedback/eyJzIjoxfQ",
        "/preferences/%00",
        "/admin/discover?q=" + "x" * 5000,
        "/admin/shows/export.opml",
        "/signup?x=%00",
    ]


def _ts(n: int) -> str:
    return f"{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000"


def _item(
    title: str,
    transcript: str | None,
    *,
    guid: str | None = None,
    date: str | None = None,
    audio: str | None = None,
    description: str = "",
) -> str:
    parts = [f"<item><title>{escape(title)}</title><guid>{escape(guid or title[:200])}</guid>"]
    parts.append(
        f"<pubDate>{date or (NOW - timedelta(hours=1)).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>"
    )
    if description:
        parts.append(f"<description>{escape(description)}</description>")
    if audio:
        parts.append(f'<enclosure url="{escape(audio)}" type="audio/mpeg" length="1"/>')
    if transcript:
        parts.append(f'<podcast:transcript url="{escape(transcript)}" type="text/vtt"/>')
    parts.append("</item>")
    return "".join(parts)


def _feed(items: list[str]) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Hostile</title>'
        "<link>https://example.org/</link>" + "".join(items) + "</channel></rss>"
    )
