"""Initial schema: papers archive, targets, subscriptions, channel settings, delivery ledger.

Revision ID: 0001
Revises:
Create Date: 2024-11-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False, server_default=""),
        sa.Column("authors", _json(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("daily_date", sa.Date(), nullable=True),
        sa.Column("upvotes", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("ai_summary", sa.Text(), nullable=True),
        sa.Column("ai_keywords", _json(), nullable=True),
        sa.Column("github_url", sa.Text(), nullable=True),
        sa.Column("project_url", sa.Text(), nullable=True),
        sa.Column("thumbnail_url", sa.Text(), nullable=True),
        sa.Column("on_hf", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("source", sa.String(32), nullable=False, server_default="hf"),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_papers"),
    )
    op.create_index("ix_papers_first_seen_at", "papers", ["first_seen_at"])
    op.create_index("ix_papers_daily_date", "papers", ["daily_date"])

    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(255), nullable=False, server_default=""),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_targets"),
        sa.UniqueConstraint(
            "platform", "workspace", "channel", name="uq_targets_platform_workspace_channel"
        ),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name="fk_subscriptions_target_id_targets",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("target_id", "query", name="uq_subscriptions_target_id_query"),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "channel_settings",
        sa.Column("target_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("schedule_time", sa.String(5), nullable=False, server_default="09:00"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("days", sa.String(32), nullable=False, server_default="mon,tue,wed,thu,fri"),
        sa.Column("schedule_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("max_papers", sa.Integer(), nullable=False, server_default=sa.text("20")),
        sa.Column("min_upvotes", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("post_empty", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_id", name="pk_channel_settings"),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name="fk_channel_settings_target_id_targets",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("digest_date", sa.Date(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name="fk_deliveries_target_id_targets",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("target_id", "paper_id", name="uq_deliveries_target_id_paper_id"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("channel_settings")
    op.drop_table("subscriptions")
    op.drop_table("targets")
    op.drop_index("ix_papers_daily_date", table_name="papers")
    op.drop_index("ix_papers_first_seen_at", table_name="papers")
    op.drop_table("papers")
