"""Links into episodes, made safe: feed text is untrusted."""

from __future__ import annotations


def listen_link(audio_url: str | None, episode_url: str | None, start: float) -> str | None:
    """Media-fragment link that opens the audio at the insight's second."""
    if audio_url and is_web_url(audio_url):
        return f"{audio_url.split('#', 1)[0]}#t={int(start)}"
    return episode_url if episode_url and is_web_url(episode_url) else None


def format_timestamp(seconds: float) -> str:
    """A second of an episode as players show it: 1:02:05, or 2:05 under an hour."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def is_web_url(url: str) -> bool:
    # Never render javascript:, data: or other schemes as links.
    return url.lower().startswith(("https://", "http://"))
