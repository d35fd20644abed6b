"""Three co-hosted energy shows we wrote, as publisher WebVTT with speakers, sponsor reads and
banter, served on loopback: they disagree three ways as people say it (spoken figures, a
stance in other words, a date against a denial) and agree once in different words."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.feedgen import Item, rss

# (speaker, line): each line one cue; a line in a list is one speaker's turn of several cues.
SHOWS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "grid-talk": (
        "Grid Talk",
        [
            (
                "Maya Chen",
                "Hey everybody, welcome back to Grid Talk. I'm Maya, and as always Leo is here with me.",
            ),
            ("Leo Park", "Hi Maya. It's been a wild week, I spent most of it stuck in airports."),
            ("Maya Chen", "Poor you. Okay, before we dig in, this episode is brought to you by Voltly."),
            (
                "Maya Chen",
                "Voltly helps energy teams track every kilowatt, and you can start a free trial at voltly.com.",
            ),
            (
                "Maya Chen",
                "Battery cells are cheap now. We're seeing utility-scale packs sell for about forty-five dollars a kilowatt hour, which means a four-hour battery now undercuts a gas peaker on cost in most markets.",
            ),
            (
                "Leo Park",
                "That's a huge drop. I remember when people were thrilled about one hundred and fifty.",
            ),
            (
                "Leo Park",
                "And it's why Texas is racing ahead. Texas added roughly nine gigawatts of grid batteries this year, because its market pays a premium for power in the evening, and that has made evening price spikes far rarer.",
            ),
            ("Maya Chen", "Yeah, totally. So what about the long-duration stuff?"),
            (
                "Leo Park",
                "I'm a believer. Iron-air batteries will become the workhorse of the grid, because they store power for a hundred hours at a fraction of the cost of lithium.",
            ),
            ("Maya Chen", "Bold. Let's see if that ages well."),
            (
                "Maya Chen",
                "One more thing on nuclear. The new reactor at Cedar Point will switch on in 2027, so the state will finally have firm clean power to pair with all that solar.",
            ),
            (
                "Leo Park",
                "Okay, that's the show. Thanks for listening, and rate us wherever you get your podcasts.",
            ),
        ],
    ),
    "power-markets": (
        "Power Markets Weekly",
        [
            (
                "Tom Reilly",
                "Welcome to Power Markets Weekly. I'm Tom Reilly, and with me as always is Sara Okafor.",
            ),
            ("Sara Okafor", "Hi Tom, good to be back, I finally got a new microphone."),
            (
                "Tom Reilly",
                "It sounds great. Quick word from our friends at Gridwise, who forecast your plant's output.",
            ),
            ("Tom Reilly", "Listeners get three months free with the promo code MARKETS at gridwise.io."),
            (
                "Tom Reilly",
                "Now, the price headlines are misleading. The packs we actually see in contracts cost around seventy dollars a kilowatt hour, because shipping, installation and grid connection add more than the cells themselves.",
            ),
            ("Sara Okafor", "Right, the cell price is not the project price."),
            (
                "Sara Okafor",
                "And I'll say it plainly: iron-air storage is a dead end for utilities. The round trip loses more than half the energy, so no utility will ever make money running it.",
            ),
            ("Tom Reilly", "Ouch. The iron-air folks are going to email us."),
            (
                "Tom Reilly",
                "On nuclear, the Cedar Point reactor is not coming before 2030, because the cooling system redesign alone will take years to get approved.",
            ),
            ("Sara Okafor", "That's all we have time for. See you next week."),
        ],
    ),
    "energy-hour": (
        "The Energy Hour",
        [
            (
                "Priya Nair",
                "Good morning and welcome to The Energy Hour. I'm Priya, and Dan Ruiz is here too.",
            ),
            ("Dan Ruiz", "Morning Priya. Coffee number three already."),
            (
                "Priya Nair",
                "Same. Let's start with storage. Over the past year Texas installed something like nine gigawatts of battery storage, mostly because the state's market rewards whoever can deliver power during the evening peak.",
            ),
            ("Dan Ruiz", "It's been remarkable to watch."),
            (
                "Dan Ruiz",
                "Heat pumps are the other story. Heat pumps outsold gas furnaces in America for the third year in a row, because installers now quote them below the price of a replacement furnace.",
            ),
            ("Priya Nair", "Thanks for joining us, that's the hour."),
        ],
    ),
}


def vtt(lines: list[tuple[str, str]]) -> str:
    cues, t = ["WEBVTT", ""], 0
    for speaker, line in lines:
        length = max(4, round(len(line.split()) / 2.6))
        cues += [f"{_clock(t)} --> {_clock(t + length)}", f"<v {speaker}>{line}", ""]
        t += length
    return "\n".join(cues)


def _clock(seconds: int) -> str:
    return f"00:{seconds // 60:02d}:{seconds % 60:02d}.000"


def serve_dispute_shows(server, now: datetime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Serve the shows (one episode each, two hours old); their feed URLs by slug."""
    urls = {}
    for slug, (title, lines) in SHOWS.items():
        server.add(f"/t/{slug}.vtt", vtt(lines).encode(), content_type="text/vtt")
        item = Item(
            f"{title}: storage, iron-air and Cedar Point",
            now - timedelta(hours=2),
            guid=f"{slug}-1",
            audio=server.url(f"/a/{slug}.mp3"),
            transcripts=[(server.url(f"/t/{slug}.vtt"), "text/vtt")],
        )
        server.add(f"/{slug}.xml", rss(title, [item]))
        urls[slug] = server.url(f"/{slug}.xml")
    return urls
