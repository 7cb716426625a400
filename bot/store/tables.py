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
