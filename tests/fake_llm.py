"""A loopback server speaking the OpenAI chat-completions and Anthropic messages wire
formats, with a scripted "model": the only mock in the suite, for APIs that cost money."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], str]  # status, headers, model text (or raw body on errors)
Model = Callable[[str], str]  # user prompt -> model's answer text

LINE = re.compile(r"^\[(\d\d):(\d\d)\] (?:([^:\n]{1,60}): )?(.*)$", re.M)


def answer(**overrides: object) -> dict[str, object]:
    """One valid insight item of an extraction answer, with fields overridden."""
    item: dict[str, object] = {
        "claim": "Daniel Reyes says compute thresholds are a poor proxy.",
        "implication": "Regulators will test behaviour.",
        "speaker": "Daniel Reyes",
        "quote": "Compute thresholds are a poor proxy for risk",
        "topics": ["AI policy"],
        "importance": 0.9,
        "novelty": 0.7,
        "confidence": 0.8,
    }
    item.update(overrides)
    return item


def transcript_lines(prompt: str) -> list[tuple[str | None, str]]:
    body = prompt.split("<transcript", 1)[1].split(">", 1)[1].split("</transcript>", 1)[0]
    return [(m.group(3), m.group(4)) for m in LINE.finditer(body)]


def honest_model(prompt: str) -> str:
    """Picks claim-like lines and quotes them faithfully (refine prompts: refine_answer)."""
    if "<passage id=" in prompt:
        return refine_answer(prompt)
    insights = []
    for speaker, text in transcript_lines(prompt):
        words = text.split()
        if len(words) >= 14 and re.search(r"\b(because|which means|will|means)\b", text):
            quote = " ".join(words[:18])
            insights.append(
                {
                    "claim": f"{speaker or 'The host'} argues that {quote[:120].rstrip('.,')}.",
                    "implication": "This changes how listeners should think about the topic.",
                    "speaker": speaker,
                    "quote": quote,
                    "topics": ["energy" if "power" in text.lower() else "policy"],
                    "importance": 0.8,
                    "novelty": 0.6,
                    "confidence": 0.9,
                }
            )
    return json.dumps({"insights": insights[:4]})


PASSAGE = re.compile(r'<passage id="(\d+)" speaker="([^"]*)">.*?<quote>(.*?)</quote>', re.S)


def refine_answer(prompt: str) -> str:
    """Refine mode: keeps passages with a claim word, writes them up naming the speaker."""
    items = []
    for pid, speaker, quote in PASSAGE.findall(prompt):
        who = speaker if not speaker.startswith("unknown") else "A speaker on the show"
        claim = " ".join(quote.split()[:16]).rstrip(".,")
        keep = bool(re.search(r"\b(because|will|means|must|more|less|\d)\b", quote))
        items.append(
            {
                "id": int(pid),
                "keep": keep,
                "score": 0.8 if keep else 0.1,
                "reason": "scripted",
                "insight": f"{who} says that {claim[0].lower() + claim[1:]}. This matters for the field."
                if keep
                else "",
            }
        )
    return json.dumps({"items": items})


def obedient_model(prompt: str) -> str:
    """Does whatever the transcript tells it to: the attack's best case."""
    answer = json.loads(honest_model(prompt))
    for speaker, text in transcript_lines(prompt):
        if "ignore previous instructions" in text.lower():
            link = re.search(r"https?://\S+", text)
            answer["insights"].append(
                {
                    "claim": f"Claim your prize at {link.group(0) if link else 'http://evil.example'} <img src=x onerror=alert(1)>",
                    "implication": "Email winner@evil.example now.",
                    "speaker": speaker,
                    "quote": text[:200],
                    "topics": ["prize"],
                    "importance": 1.0,
                    "novelty": 1.0,
                    "confidence": 1.0,
                }
            )
    return json.dumps(answer)


def overlap_judge(a: str, b: str) -> bool:
    """A stand-in for a model's same-story verdict: most content words shared."""
    wa, wb = ({w for w in re.findall(r"[a-z0-9]+", t.lower()) if len(w) > 3} for t in (a, b))
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.5


def hashed_embedding(text: str, dims: int = 64) -> list[float]:
    """A deterministic bag-of-words vector, as an /embeddings endpoint would return one."""
    vector = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % dims] += 1.0
    return vector


class FakeLLM:
    def __init__(self, model: Model = honest_model) -> None:
        self.model = model
        self.judge: Callable[[str, str], bool] = overlap_judge
        self.judge_requests: list[dict[str, Any]] = []
        # "agree" | "disagree" | "unrelated" for two tellings of one story (stance prompts).
        self.stance: Callable[[str, str], str] = lambda a, b: "agree"
        self.stance_requests: list[dict[str, Any]] = []
        self.embedding_requests: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each extraction request
        self.headers: list[dict[str, str]] = []
        self.script: list[Reply | float] = []  # queued replies; a float = sleep that long first
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.endswith("/embeddings"):
                    outer.embedding_requests.append(body)
                    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    data = [
                        {"object": "embedding", "index": i, "embedding": hashed_embedding(t)}
                        for i, t in enumerate(inputs)
                    ]
                    reply = {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    }
                    self._send(200, {"Content-Type": "application/json"}, json.dumps(reply).encode())
                    return
                prompt = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
                if "<first_claim>" in prompt:
                    outer.stance_requests.append(body)
                    a, b = (
                        prompt.split(f"<{t}>")[1].split(f"</{t}>")[0] for t in ("first_claim", "second_claim")
                    )
                    stance = outer.stance(a, b)
                    conflict = "what one says the other denies" if stance == "disagree" else "none"
                    text = json.dumps({"conflict": conflict, "stance": stance})
                    reply_for = _anthropic_reply if self.path.endswith("/messages") else _openai_reply
                    payload = reply_for(body, text)
                    self._send(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())
                    return
                if "<claim_a>" in prompt:
                    outer.judge_requests.append(body)
                    a, b = (prompt.split(f"<{t}>")[1].split(f"</{t}>")[0] for t in ("claim_a", "claim_b"))
                    text = json.dumps({"same_story": outer.judge(a, b), "reason": "scripted"})
                    reply_for = _anthropic_reply if self.path.endswith("/messages") else _openai_reply
                    payload = reply_for(body, text)
                    self._send(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())
                    return
                with outer.lock:
                    outer.arrivals.append(time.monotonic())
                    outer.requests.append(body)
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    step = outer.script.pop(0) if outer.script else None
                if isinstance(step, float):
                    time.sleep(step)
                    step = None
                if step is not None and step[0] != 200:
                    self._send(step[0], step[1], step[2].encode())
                    return
                anthropic = self.path.endswith("/messages")
                text = step[2] if step else outer.model(prompt)
                payload = _anthropic_reply(body, text) if anthropic else _openai_reply(body, text)
                self._send(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())

            def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.anthropic_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _tokens(body: dict[str, Any]) -> int:
    return sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4


def _openai_reply(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1,
        "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {
            "prompt_tokens": _tokens(body),
            "completion_tokens": len(text) // 4,
            "total_tokens": _tokens(body) + len(text) // 4,
        },
    }


def _anthropic_reply(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": _tokens(body), "output_tokens": len(text) // 4},
    }
