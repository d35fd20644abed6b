"""Insights written straight into the database, for delivery tests that need something to send."""

from __future__ import annotations

from datetime import datetime, timedelta

from podsift.store import Episode, Feed, Insight

CLAIMS = [
    "Grid batteries in Texas now cover the evening peak on most summer days.",
    "Heat pumps outsold gas furnaces in the United States for the third year running.",
    "The EU AI Act makes startups document every high-risk system before it ships.",
    "Open-weight models trail the best closed models by about six months.",
    "Transmission lines take ten years to permit, which delays most clean power.",
    "Apple Podcasts now generates transcripts for every new episode automatically.",
    "Spotify pays video podcasters by how many Premium subscribers watch.",
    "Offshore wind auctions in Denmark drew no bids, so subsidies are coming back.",
    "Measles cases in America reached their highest level since 1992.",
    "SpaceX caught the Super Heavy booster with the tower arms for the first time.",
    "Rust code in Android has far fewer memory safety bugs than its C++ code.",
    "PostgreSQL 18 adds asynchronous I/O and speeds up sequential scans.",
]


def seed_insights(app, now: datetime, count: int = 3, show: str = "Energy Hour", start: int = 0) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` insights from `count` episodes of one show, published an hour before `now`."""
    ids = []
    with app.session() as s:
        feed = Feed(url=f"https://example.org/{show.replace(' ', '-')}-{start}.xml", title=show)
        s.add(feed)
        s.flush()
        for n in range(start, start + count):
            episode = Episode(
                feed_id=feed.id,
                key=f"k{n}",
                fallback_key=f"f{n}",
                title=f"Episode {n}",
                audio_url="https://cdn.example.org/ep.mp3",
                link="https://example.org/ep",
                published_at=now - timedelta(hours=1),
                state="extracted",
            )
            s.add(episode)
            s.flush()
            insight = Insight(
                episode_id=episode.id,
                text=CLAIMS[n % len(CLAIMS)] + ("" if n < len(CLAIMS) else f" (part {n})"),
                quote=f"quote {n}",
                quote_hash=f"h{n}",
                speaker="Sam",
                start_seconds=61.5 + n,
                end_seconds=70.0 + n,
                score=0.9 - (n % 10) / 20,
                extractor="offline",
                created_at=now - timedelta(minutes=30),
            )
            s.add(insight)
            s.flush()
            ids.append(insight.id)
        s.commit()
    return ids
