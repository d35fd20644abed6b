"""Database schema (SQLAlchemy 2 ORM). Migrations in `migrations/` must match it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC (SQLite keeps no offsets)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # nearly always: skip the conversion (60,000 per first scan)
            return value.replace(tzinfo=None)
        if value.tzinfo is None:
            raise ValueError("naive datetime given; podsift stores aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        to_naive = self.process_bind_param

        # SQLite keeps datetimes as text, which SQLAlchemy writes as "%Y-%m-%d
        # %H:%M:%S.%f" with one %-format per field; isoformat() writes the same text in
        # one C call (60,000 datetimes on a first scan of 1,000 feeds).
        def process(value: datetime | None) -> str | None:
            naive = to_naive(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


class FeedStatus(StrEnum):
    ACTIVE = "active"
    GONE = "gone"  # 410: never fetched again
    ERROR = "error"  # the last fetch failed; retried with backoff


class EpisodeState(StrEnum):
    ARCHIVED = "archived"  # back catalogue: recorded, processed only by `feeds backfill`
    NEW = "new"
    NEEDS_ASR = "needs_asr"  # no publisher transcript: speech to text
    TRANSCRIBED = "transcribed"
    EXTRACTED = "extracted"
    SKIPPED = "skipped"  # nothing to transcribe
    FAILED = "failed"
    # Extraction failed: tried again at retry_at, with backoff, or by `podsift episodes retry`.
    LLM_FAILED = "llm_failed"


class DigestState(StrEnum):
    """The summary of a digest's deliveries."""

    PENDING = "pending"
    SENT = "sent"  # on any channel
    FAILED = "failed"  # on all channels


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one process
    SENT = "sent"
    FAILED = "failed"


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: sa.JSON,
        list[Any]: sa.JSON,
    }


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2048), unique=True)
    title: Mapped[str | None] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default=FeedStatus.ACTIVE)  # FeedStatus
    etag: Mapped[str | None] = mapped_column(sa.Text)
    last_modified: Mapped[str | None] = mapped_column(sa.Text)
    body_hash: Mapped[str | None] = mapped_column(sa.String(64))
    error_reason: Mapped[str | None] = mapped_column(sa.Text)
    error_count: Mapped[int] = mapped_column(default=0)
    # Consecutive fetches that ended on the same permanent redirect target.
    redirect_url: Mapped[str | None] = mapped_column(sa.String(2048))
    redirect_count: Mapped[int] = mapped_column(default=0)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    scans: Mapped[int] = mapped_column(default=0)
    # Followed for this topic (automatically or from a proposal): its insights say so.
    topic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("topics.id", ondelete="SET NULL"))

    topic: Mapped[Topic | None] = relationship()

    episodes: Mapped[list[Episode]] = relationship(back_populates="feed", cascade="all, delete-orphan")


class Episode(Base):
    __tablename__ = "episodes"
    __table_args__ = (
        sa.UniqueConstraint("feed_id", "key", name="uq_episode_feed_key"),
        sa.Index("ix_episode_feed_fallback", "feed_id", "fallback_key"),
        sa.Index("ix_episode_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(sa.ForeignKey("feeds.id", ondelete="CASCADE"))
    # guid when the item has one, else fallback_key.
    key: Mapped[str] = mapped_column(sa.String(512))
    guid: Mapped[str | None] = mapped_column(sa.String(2048))
    fallback_key: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.Text)
    audio_url: Mapped[str | None] = mapped_column(sa.Text)
    audio_type: Mapped[str | None] = mapped_column(sa.String(128))
    published_at: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]
    transcripts: Mapped[list[Any]] = mapped_column(default=list)
    persons: Mapped[list[Any]] = mapped_column(default=list)
    chapters_url: Mapped[str | None] = mapped_column(sa.Text)
    # [{"start": seconds, "title": ...}] from the chapters JSON; [] when it could not be read.
    chapters: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    state: Mapped[str] = mapped_column(sa.String(16), default=EpisodeState.NEW)  # EpisodeState
    error_reason: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    retry_at: Mapped[datetime | None]
    discovered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    feed: Mapped[Feed] = relationship(back_populates="episodes")
    transcript: Mapped[Transcript | None] = relationship(
        back_populates="episode", cascade="all, delete-orphan"
    )
    insights: Mapped[list[Insight]] = relationship(back_populates="episode", cascade="all, delete-orphan")


class Transcript(Base):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id", ondelete="CASCADE"), unique=True)
    source: Mapped[str] = mapped_column(sa.String(32))  # publisher | asr:<backend>
    format: Mapped[str] = mapped_column(sa.String(16))
    url: Mapped[str | None] = mapped_column(sa.Text)
    language: Mapped[str | None] = mapped_column(sa.String(32))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    # sha256 of the audio an ASR transcript was made from: the same file is never
    # transcribed twice, whichever episode or feed it appears in.
    audio_sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    segments: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    episode: Mapped[Episode] = relationship(back_populates="transcript")


class Passage(Base):
    """A moment of a transcript for search: consecutive segments of one speaker, split at
    pauses, about 20-60 seconds. Written with the transcript, in its transaction; full-text
    indexed by the database itself (SQLite: the passages_fts FTS5 table kept by triggers;
    Postgres: a generated tsvector column with a GIN index; migration 0016)."""

    __tablename__ = "passages"
    __table_args__ = (
        # What the next run embeds, found without reading every passage (the idle run).
        sa.Index(
            "ix_passages_unembedded",
            "id",
            sqlite_where=sa.text("embedding IS NULL"),
            postgresql_where=sa.text("embedding IS NULL"),
        ),
        sa.Index("ix_passages_embedding_model", "embedding_model"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    start_seconds: Mapped[float]
    end_seconds: Mapped[float]
    speaker: Mapped[str | None] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text)
    # Its meaning, for search (search/embed.py embeds a budgeted batch each run).
    embedding: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(sa.String(200))


class Insight(Base):
    __tablename__ = "insights"
    __table_args__ = (sa.UniqueConstraint("episode_id", "quote_hash", name="uq_insight_quote"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    quote: Mapped[str] = mapped_column(sa.Text)
    quote_hash: Mapped[str] = mapped_column(sa.String(64))
    speaker: Mapped[str | None] = mapped_column(sa.Text)
    start_seconds: Mapped[float]
    end_seconds: Mapped[float]
    score: Mapped[float] = mapped_column(default=0.0)
    topics: Mapped[list[Any] | None] = mapped_column(default=list)
    importance: Mapped[float | None]
    novelty: Mapped[float | None]
    confidence: Mapped[float | None]
    extractor: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # float16 vector of the claim (speaker prefix removed) and the model that made it:
    # vectors of different models are never compared.
    embedding: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(sa.String(200))
    cluster_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("clusters.id", ondelete="SET NULL"), index=True
    )

    episode: Mapped[Episode] = relationship(back_populates="insights")
    cluster: Mapped[Cluster | None] = relationship(back_populates="members")


class Cluster(Base):
    """One story, told by one or more insights across episodes, shows and days."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The best-written member: the one a digest shows (no FK: it would make a cycle).
    representative_id: Mapped[int | None]
    size: Mapped[int] = mapped_column(default=0)
    show_count: Mapped[int] = mapped_column(default=0)
    feed_ids: Mapped[list[Any]] = mapped_column(default=list)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    members: Mapped[list[Insight]] = relationship(back_populates="cluster")


class Disagreement(Base):
    """Two tellings of one story whose claims conflict (found once, when the later is filed)."""

    __tablename__ = "disagreements"
    __table_args__ = (sa.UniqueConstraint("first_id", "second_id", name="uq_disagreement_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster_id: Mapped[int] = mapped_column(sa.ForeignKey("clusters.id", ondelete="CASCADE"), index=True)
    first_id: Mapped[int] = mapped_column(sa.ForeignKey("insights.id", ondelete="CASCADE"))
    second_id: Mapped[int] = mapped_column(sa.ForeignKey("insights.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(sa.String(16))  # figures | negation | opposites | llm
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TopicShowState(StrEnum):
    PROPOSED = "proposed"
    FOLLOWED = "followed"  # followed for the topic (podsift added the feed)
    ALREADY = "already"  # the feed was followed before the topic found it
    DISMISSED = "dismissed"  # turned down: never proposed again
    DROPPED = "dropped"  # followed, then unfollowed for giving nothing in 30 days


class Topic(Base):
    """A topic that finds its own shows: one subscriber's, or everyone's (no subscriber)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    phrase: Mapped[str] = mapped_column(sa.String(200))
    subscriber_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    follow_cap: Mapped[int] = mapped_column(default=3)  # shows followed automatically, at most
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    searched_at: Mapped[datetime | None]
    search_error: Mapped[str | None] = mapped_column(sa.Text)

    shows: Mapped[list[TopicShow]] = relationship(back_populates="topic", cascade="all, delete-orphan")


class TopicShow(Base):
    """A show a topic's search found, with the recent episodes that matched it."""

    __tablename__ = "topic_shows"
    __table_args__ = (sa.UniqueConstraint("topic_id", "feed_url", name="uq_topic_show"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(sa.ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    feed_url: Mapped[str] = mapped_column(sa.String(2048))
    title: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.String(32))  # itunes | podcastindex, comma-joined
    matches: Mapped[int] = mapped_column(default=0)  # recent episodes on the topic
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # their titles
    state: Mapped[str] = mapped_column(sa.String(16), default=TopicShowState.PROPOSED)  # TopicShowState
    feed_id: Mapped[int | None] = mapped_column(sa.ForeignKey("feeds.id", ondelete="SET NULL"))
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    topic: Mapped[Topic] = relationship(back_populates="shows")


class PhraseVector(Base):
    """An interest phrase's vector, kept so each phrase is embedded once per model, not once
    per run (10,000 subscribers' free-text interests would otherwise cost minutes a run)."""

    __tablename__ = "phrase_vectors"
    __table_args__ = (sa.UniqueConstraint("model", "phrase_hash", name="uq_phrase_vector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(sa.String(200))
    phrase_hash: Mapped[str] = mapped_column(sa.String(64))
    phrase: Mapped[str] = mapped_column(sa.Text)
    vector: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """A subscriber's thumbs up (+1) or down (-1) on an insight: a ranking signal."""

    __tablename__ = "feedback"
    __table_args__ = (sa.UniqueConstraint("subscriber_id", "insight_id", name="uq_feedback_vote"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    insight_id: Mapped[int] = mapped_column(sa.ForeignKey("insights.id", ondelete="CASCADE"))
    vote: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LLMRequest(Base):
    """Every request sent to a model, answered or not, and every faithfulness-guard trip:
    what `podsift stats` counts (the cache in llm_calls holds only good answers)."""

    __tablename__ = "llm_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    model: Mapped[str] = mapped_column(sa.String(200))
    # extract | refine | judge | guard
    purpose: Mapped[str] = mapped_column(sa.String(32))
    # ok | truncated | invalid | timeout | error | unsupported (a response format refused);
    # for purpose=guard: trip (re-asked) | fallback (offline text used)
    outcome: Mapped[str] = mapped_column(sa.String(32))
    episode_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("episodes.id", ondelete="SET NULL"), index=True
    )
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0)
    detail: Mapped[str | None] = mapped_column(sa.Text)


class LLMCall(Base):
    """One model call: its cached response and what it cost. The key covers the episode,
    the transcript's hash, the prompt version, the model and the chunk, so a re-run with
    nothing changed makes no call."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    cache_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    episode_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("episodes.id", ondelete="SET NULL"), index=True
    )
    model: Mapped[str] = mapped_column(sa.String(200))
    prompt_version: Mapped[str] = mapped_column(sa.String(32))
    response: Mapped[str] = mapped_column(sa.Text)
    tokens_in: Mapped[int] = mapped_column(default=0)
    tokens_out: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    interests: Mapped[str] = mapped_column(sa.Text, default="")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(default=7)
    top_n: Mapped[int] = mapped_column(default=5)
    active: Mapped[bool] = mapped_column(default=True)
    # Followed feeds (ids); None follows every feed. Weights (feed id -> multiplier,
    # default 1.0) let a subscriber favour or mute a show without unfollowing it.
    feed_ids: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    feed_weights: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Double opt-in: no digest before the address is confirmed (when a base URL is set).
    confirmed: Mapped[bool] = mapped_column(default=True)
    confirmed_at: Mapped[datetime | None]
    confirmation_sent_at: Mapped[datetime | None]  # the last confirmation email
    paused: Mapped[bool] = mapped_column(default=False)
    unsubscribed_at: Mapped[datetime | None]
    # Signed links carry this; re-subscribing bumps it, so old links stop working.
    token_version: Mapped[int] = mapped_column(default=1)
    email_enabled: Mapped[bool] = mapped_column(default=True)
    # Permanent (5xx) refusals of the address; at SUPPRESS_AFTER it is suppressed.
    bounces: Mapped[int] = mapped_column(default=0)
    suppressed: Mapped[bool] = mapped_column(default=False)
    # Apprise URLs (Slack, Discord, Telegram, ntfy, Matrix, json://...): the digest as Markdown.
    channels: Mapped[list[Any]] = mapped_column(default=list)
    # The reader's own words about their digest (≤ 500 characters) and the profile read out of
    # them once, when saved (subscribers/profile.py): mutes, boosts, style flags.
    instructions: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    reader_profile: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # Opted in to the daily audio briefing (a private podcast feed).
    briefing: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReaderModelUsage(Base):
    """Model requests made for one reader's own texts on one local day: their budget."""

    __tablename__ = "reader_model_usage"

    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    local_date: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(default=0)


class SavedSearch(Base):
    """A subscriber's alert: new moments matching it go in their digest under "New mentions"."""

    __tablename__ = "saved_searches"
    __table_args__ = (sa.UniqueConstraint("subscriber_id", "query", name="uq_saved_search"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    query: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestMention(Base):
    """A moment a saved search found for a digest, as shown (a retry sends the same); unique per
    search and moment, so no moment is ever mentioned twice."""

    __tablename__ = "digest_mentions"
    __table_args__ = (sa.UniqueConstraint("saved_search_id", "kind", "moment_id", name="uq_mention"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(sa.ForeignKey("digests.id", ondelete="CASCADE"), index=True)
    saved_search_id: Mapped[int] = mapped_column(sa.ForeignKey("saved_searches.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # insight | passage
    moment_id: Mapped[int]
    rank: Mapped[int]
    moment: Mapped[dict[str, Any]] = mapped_column()  # Moment.to_json() and the query, as shown


class Digest(Base):
    """One digest per subscriber and local day; its insights are fixed before sending."""

    __tablename__ = "digests"
    __table_args__ = (sa.UniqueConstraint("subscriber_id", "local_date", name="uq_digest_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    local_date: Mapped[str] = mapped_column(sa.String(10))  # YYYY-MM-DD in the subscriber's zone
    state: Mapped[str] = mapped_column(sa.String(16), default=DigestState.PENDING)  # DigestState
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[DigestItem]] = relationship(
        back_populates="digest", cascade="all, delete-orphan", order_by="DigestItem.rank"
    )
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="digest", cascade="all, delete-orphan")


class Delivery(Base):
    """One digest on one channel ("email", "apprise:<hash>"): claimed atomically, sent once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("digest_id", "channel", name="uq_delivery_channel"),
        sa.Index("ix_delivery_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(sa.ForeignKey("digests.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(80))
    target: Mapped[str | None] = mapped_column(sa.Text)  # the Apprise URL (secret: never logged)
    # pending -> sending -> sent | failed
    state: Mapped[str] = mapped_column(sa.String(16), default=DeliveryState.PENDING)  # DeliveryState
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    # host:pid of the claimer: a claim held by a process that is gone is taken over at once.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    location: Mapped[str | None] = mapped_column(sa.Text)
    error_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    digest: Mapped[Digest] = relationship(back_populates="deliveries")


class BriefingState(StrEnum):
    READY = "ready"
    FAILED = "failed"  # tried `attempts` times; the reason is kept


class Briefing(Base):
    """The audio of one digest: an MP3 of the original clips between narrated lead-ins, its
    chapters and transcript, in the subscriber's private podcast feed."""

    __tablename__ = "briefings"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    digest_id: Mapped[int] = mapped_column(sa.ForeignKey("digests.id", ondelete="CASCADE"), unique=True)
    local_date: Mapped[str] = mapped_column(sa.String(10))
    state: Mapped[str] = mapped_column(sa.String(16))  # BriefingState
    attempts: Mapped[int] = mapped_column(default=0)
    file_name: Mapped[str | None] = mapped_column(sa.String(200))  # under home/briefings/
    duration_seconds: Mapped[float] = mapped_column(default=0.0)
    size_bytes: Mapped[int] = mapped_column(default=0)
    # [{start, end, title, url, kind, clip}] as in the MP3's ID3 chapters.
    chapters: Mapped[list[Any]] = mapped_column(default=list)
    error_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestItem(Base):
    __tablename__ = "digest_items"
    __table_args__ = (sa.UniqueConstraint("digest_id", "insight_id", name="uq_digest_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(sa.ForeignKey("digests.id", ondelete="CASCADE"))
    insight_id: Mapped[int] = mapped_column(sa.ForeignKey("insights.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    score: Mapped[float]
    why: Mapped[str] = mapped_column(sa.Text, default="")
    # Other shows' tellings as chosen: a retry sends the same digest even if more shows join.
    also_on: Mapped[list[Any]] = mapped_column(default=list)
    # Shows beyond those listed in also_on (a story told on 200 shows names a few).
    also_on_more: Mapped[int] = mapped_column(default=0, server_default="0")
    # Shows that disagree on the story, as chosen: [{"detail", "sides": [{speaker, show, ...}]}].
    disputes: Mapped[list[Any]] = mapped_column(default=list)
    # This reader's own write-up of the insight (their style flags), fixed with the digest;
    # None: the insight's text. Glossary: [[term, definition]] for "explain jargon".
    styled_text: Mapped[str | None] = mapped_column(sa.Text)
    glossary: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")

    digest: Mapped[Digest] = relationship(back_populates="items")
    insight: Mapped[Insight] = relationship()


class ExportTargetState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"  # the service refused the token (401): nothing is sent until it is replaced


class ExportState(StrEnum):
    PENDING = "pending"  # waiting for a retry (next_attempt_at)
    SENDING = "sending"  # claimed by one process
    SENT = "sent"
    FAILED = "failed"  # refused for good (the service said the item itself is wrong)


class ExportTarget(Base):
    """A place a subscriber's insights (or, with no subscriber, everyone's) are copied to:
    Readwise, a Notion database, a Markdown vault."""

    __tablename__ = "export_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))  # readwise | notion | vault
    # What goes: "received" (every insight of a sent digest) or "liked" (👍 only).
    scope: Mapped[str] = mapped_column(sa.String(16), default="received")
    # Not secret: Notion's database id, the vault's folder.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The access token, encrypted with the app's secret (exports/sealed.py); never shown back.
    sealed_token: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16), default=ExportTargetState.ACTIVE)  # ExportTargetState
    error_reason: Mapped[str | None] = mapped_column(sa.Text)
    error_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Export(Base):
    """The ledger: one insight at one target, claimed before it is sent and recorded after,
    so nothing goes twice; `content_hash` is of what was last sent (a changed text is sent
    again as an update of `remote_id`)."""

    __tablename__ = "exports"
    __table_args__ = (
        sa.UniqueConstraint("target_id", "insight_id", name="uq_export_insight"),
        sa.Index("ix_export_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("export_targets.id", ondelete="CASCADE"))
    insight_id: Mapped[int] = mapped_column(sa.ForeignKey("insights.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(sa.String(16), default=ExportState.SENDING)  # ExportState
    remote_id: Mapped[str | None] = mapped_column(sa.Text)
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    versions: Mapped[int] = mapped_column(default=0)  # times sent: 2 and up were updates
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    sent_at: Mapped[datetime | None]
    error_reason: Mapped[str | None] = mapped_column(sa.Text)


class ExportFile(Base):
    """A vault file podsift wrote: the hash of what it last wrote tells a file the reader
    edited (appended to from then on, never overwritten) from one podsift may rewrite."""

    __tablename__ = "export_files"
    __table_args__ = (sa.UniqueConstraint("target_id", "path", name="uq_export_file"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(sa.ForeignKey("export_targets.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(sa.Text)  # relative to the vault's folder
    written_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # Set before a write, moved to written_hash after: a crash between the two is no "edit".
    writing_hash: Mapped[str | None] = mapped_column(sa.String(64))
    edited: Mapped[bool] = mapped_column(default=False)
    written_at: Mapped[datetime | None]
