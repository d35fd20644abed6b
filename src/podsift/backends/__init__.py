"""Every external model or service podsift calls, behind small protocols.

Takes a URL-like spec from settings (`openai:MODEL?base_url=...`, `faster-whisper:base`,
`local`) and gives a client: `llm` (chat models), `embeddings`, `asr` (speech to text),
`judge` (the same-story judge), `calls` (the cache and log of every model request),
`mail` (SMTP or the outbox folder) and `apprise` (chat and push channels).
Stages receive these from `App`; only this package imports vendor SDKs.
"""

from podsift.backends.spec import SECRET_OPTIONS, BackendConfigError, BackendSpec, Registry, parse_spec

__all__ = ["SECRET_OPTIONS", "BackendConfigError", "BackendSpec", "Registry", "parse_spec"]
