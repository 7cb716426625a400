"""Feedback: votes and saves per (channel, paper, hashed user), the install's secret, and
each channel's feedback options (suggestions, the last reset).

Revision ID: 0006
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0008"  # after the rollups (0007) and embeddings (0008), merged first
branch_labels = None
depends_on = None


def _target_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["target_id"],
        ["targets.id"],
        name=f"fk_{table}_target_id_targets",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "install_secrets",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_install_secrets"),
    )
    op.create_table(
        "feedback_votes",
        sa.Column("target_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("vote", sa.SmallInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_id", "paper_id", "user_hash", name="pk_feedback_votes"),
        _target_fk("feedback_votes"),
    )
    op.create_table(
        "feedback_settings",
        sa.Column("target_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("suggest", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_id", name="pk_feedback_settings"),
        _target_fk("feedback_settings"),
    )


def downgrade() -> None:
    op.drop_table("feedback_settings")
    op.drop_table("feedback_votes")
    op.drop_table("install_secrets")
