"""The database schema as SQLAlchemy Core tables.

These definitions describe what `migrations/versions/*` build; a test compares the two so
they cannot drift apart. Migrations never import this module (a later change here must not
rewrite history).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from paperboy import jsontext

#: Named constraints, so that later migrations (SQLite batch mode above all) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps `timestamptz`. SQLite has no time zones: values are stored as naive UTC
    (so that its text comparison orders them correctly) and get `UTC` back on read. A naive
    datetime handed in is taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class PartJSON(sa.types.TypeDecorator[Any]):
    """JSON written with orjson (`paperboy.jsontext`): the outbox's message parts, each
    written once and read once, where the standard library's writing cost most of a
    fan-out's JSON time. The engine's serializer (`jsontext.column_dumps`) stores the
    text as made; the other JSON columns keep the standard library's text."""

    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else jsontext.Serialized(jsontext.dumps(value))


def _json() -> sa.types.TypeEngine[Any]:
    # JSONB on PostgreSQL: it has an equality operator, which the upsert's change check needs.
    # none_as_null: Python None is SQL NULL (not the JSON literal `null`), so COALESCE works.
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("authors", _json(), nullable=True),
    sa.Column("published_at", UTCDateTime, nullable=True),
    sa.Column("daily_date", sa.Date, nullable=True),
    sa.Column("upvotes", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("ai_summary", sa.Text, nullable=True),
    sa.Column("ai_keywords", _json(), nullable=True),
    sa.Column("github_url", sa.Text, nullable=True),
    sa.Column("project_url", sa.Text, nullable=True),
    sa.Column("thumbnail_url", sa.Text, nullable=True),
    sa.Column("on_hf", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("source", sa.String(32), nullable=False, server_default="hf"),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "first_seen_at"),
    sa.Index(None, "daily_date"),
)

targets = sa.Table(
    "targets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("workspace", sa.String(255), nullable=False, server_default=""),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("platform", "workspace", "channel"),
    # Ids are shown to users and used as keys elsewhere: never hand out a deleted one again.
    sqlite_autoincrement=True,
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("query", sa.String(300), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("target_id", "query"),
    sqlite_autoincrement=True,
)

channel_settings = sa.Table(
    "channel_settings",
    metadata,
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("schedule_time", sa.String(5), nullable=False, server_default="09:00"),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("days", sa.String(32), nullable=False, server_default="mon,tue,wed,thu,fri"),
    sa.Column("schedule_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("paused_reason", sa.Text, nullable=True),
    sa.Column("max_papers", sa.Integer, nullable=False, server_default=sa.text("20")),
    sa.Column("min_upvotes", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("post_empty", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_digest_at", UTCDateTime, nullable=True),
    # migration 0005: how summaries look here (NULL language: the deployment's default)
    sa.Column("summary_style", sa.String(16), nullable=False, server_default="structured"),
    sa.Column("language", sa.String(35), nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # No foreign key to papers: the ledger must outlive any pruning of the archive.
    sa.Column("paper_id", sa.String(64), nullable=False),
    sa.Column("digest_date", sa.Date, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("target_id", "paper_id"),
)

# A digest once planned for (target, date), even when nothing matched: the scheduler's
# "already done?" check. `digest` keeps the neutral digest until an adapter renders it.
digest_runs = sa.Table(
    "digest_runs",
    metadata,
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("digest_date", sa.Date, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("window_start", UTCDateTime, nullable=True),
    sa.Column("window_end", UTCDateTime, nullable=False),
    sa.Column("papers", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("parts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("digest", _json(), nullable=True),
    sa.Column("planned_at", UTCDateTime, nullable=False),
    sa.Column("rendered_at", UTCDateTime, nullable=True),
    sa.Index(None, "status"),
)

# One row per rendered message part; the unique (target, date, part) makes planning
# idempotent and `key` is what the adapter gets for idempotent sends.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("digest_date", sa.Date, nullable=False),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    # `json`, not `jsonb`, on PostgreSQL: written once, read once, never queried inside
    # (migration 0009); written with orjson (`PartJSON`).
    sa.Column("payload", PartJSON(none_as_null=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    # A send may have reached the platform (crash mid-send, timeout, 5xx): ask
    # `find_sent` before sending again.
    sa.Column("uncertain", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("message_id", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("target_id", "digest_date", "part"),
    sa.UniqueConstraint("key"),
    sa.Index(None, "status", "next_attempt_at"),
    # What the claim walks: pending parts, earliest due first.
    sa.Index(
        "ix_outbox_due",
        "next_attempt_at",
        "id",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
    sqlite_autoincrement=True,
)

# --- weekly rollups (migration 0007; see paperboy.store.rollups) ------------------------------

# A channel's `/papers weekly <day> HH:MM`, in the channel's time zone.
rollup_settings = sa.Table(
    "rollup_settings",
    metadata,
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("weekday", sa.String(3), nullable=False),
    sa.Column("at_time", sa.String(5), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# A rollup once planned for (target, ISO week): its part is in the outbox.
rollup_runs = sa.Table(
    "rollup_runs",
    metadata,
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("week", sa.String(8), primary_key=True),
    sa.Column("papers", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("planned_at", UTCDateTime, nullable=False),
)

# --- archive search (migration 0003; see paperboy.search.index) ---------------------------------

# Papers whose searchable text changed since the index last saw them (filled by triggers;
# `seq` counts the changes, so one made during indexing is not lost).
search_pending = sa.Table(
    "search_pending",
    metadata,
    sa.Column("paper_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False, server_default=sa.text("0")),
)

# Acronym-like words of the archive, case kept: where a query acronym may hide (QLoRA).
search_acronyms = sa.Table(
    "search_acronyms",
    metadata,
    sa.Column("token", sa.String(200), primary_key=True),
)

# Days a backfill has fetched completely, per source: a resumed backfill skips them.
ingest_progress = sa.Table(
    "ingest_progress",
    metadata,
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("fetched", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("completed_at", UTCDateTime, nullable=False),
)

# --- summaries (migration 0005; see paperboy.llm) --------------------------------------------

# A model's summary, made once per (paper, style, language, model, prompt version) for
# every channel. No foreign key to papers: a summary may be stored while the paper's
# ingest is still committing.
summaries = sa.Table(
    "summaries",
    metadata,
    sa.Column("paper_id", sa.String(64), primary_key=True),
    sa.Column("style", sa.String(16), primary_key=True),
    sa.Column("language", sa.String(35), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("prompt_version", sa.String(16), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sections", _json(), nullable=True),
    sa.Column("tokens", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Per UTC day: summaries made by the model, cache hits, tokens used, extractive fallbacks.
summary_usage = sa.Table(
    "summary_usage",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("made", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("cache_hits", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("tokens", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("fallbacks", sa.Integer, nullable=False, server_default=sa.text("0")),
)

#: Each backend's own search tables, not described by this metadata: PostgreSQL's
#: tsvectors with GIN indexes and their documents (migration 0003); SQLite's id of its
#: index folder (0010), and the FTS5 tables it had before (0003, 0004).
NATIVE_SEARCH_TABLES = frozenset(
    {"search_fts", "search_content", "search_days", "search_vectors", "search_docs", "search_state"}
)


def is_native_search_table(name: str) -> bool:
    """True for the backend-specific search tables, FTS5's shadow tables included."""
    return name in NATIVE_SEARCH_TABLES or name.startswith("search_fts_")

# --- feedback (migration 0006; see paperboy.feedback and paperboy.store.feedback) ---------

# Secrets made once per install (random, never shown): "feedback" salts the hashed user
# ids and signs the feedback buttons.
install_secrets = sa.Table(
    "install_secrets",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# One row per (channel, paper, user): the user's vote (+1 up, -1 down, 0 none) and whether
# they saved the paper to the channel's reading list. `user_hash` is a salted hash, never a
# platform id. No foreign key to papers: feedback outlives any pruning of the archive.
feedback_votes = sa.Table(
    "feedback_votes",
    metadata,
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("paper_id", sa.String(64), primary_key=True),
    sa.Column("user_hash", sa.String(64), primary_key=True),
    sa.Column("vote", sa.SmallInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("saved_at", UTCDateTime, nullable=True),
    sa.Column("voted_at", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# A channel's feedback options: "also worth a look" suggestions (off by default), and when
# `/papers feedback reset` last made its model forget.
feedback_settings = sa.Table(
    "feedback_settings",
    metadata,
    sa.Column(
        "target_id",
        sa.Integer,
        sa.ForeignKey("targets.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("suggest", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reset_at", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# --- paper embeddings (migration 0008; see paperboy.embeddings) ----------------------------------

# One vector per paper (float16, little-endian), of the model named in `model`. `seq` grows
# with every write (a re-embedded paper gets a new row), so an in-memory vector index
# catches up by reading `seq > last seen`. `text_hash` is the embedded text's hash: an
# unchanged paper is not embedded again.
paper_embeddings = sa.Table(
    "paper_embeddings",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column(
        "paper_id",
        sa.String(64),
        sa.ForeignKey("papers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("dims", sa.Integer, nullable=False),
    sa.Column("text_hash", sa.String(32), nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("paper_id"),
    sqlite_autoincrement=True,
)
