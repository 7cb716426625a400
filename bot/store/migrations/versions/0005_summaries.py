"""Summaries: each channel's summary style and language, and summaries made by a model.

- `channel_settings` gains `summary_style` (structured, paragraph or tldr) and `language`
  (a BCP 47 tag; NULL: the deployment's default language);
- `summaries` keeps each model summary once per (paper, style, language, model, prompt
  version): every channel that lists the paper that way shows the same one;
- `summary_usage` counts per UTC day the summaries made, cache hits, tokens used (the
  API's usage) and fallbacks to extractive summaries (the daily token budget reads it).

Revision ID: 0005
Revises: 0006 (after the rollups, embeddings and feedback, merged first)
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("channel_settings") as batch:
        batch.add_column(
            sa.Column("summary_style", sa.String(16), nullable=False, server_default="structured")
        )
        batch.add_column(sa.Column("language", sa.String(35), nullable=True))
    op.create_table(
        "summaries",
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("style", sa.String(16), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_version", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sections", _json(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "paper_id", "style", "language", "model", "prompt_version", name="pk_summaries"
        ),
    )
    op.create_table(
        "summary_usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("made", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("cache_hits", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("tokens", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("fallbacks", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("day", name="pk_summary_usage"),
    )


def downgrade() -> None:
    op.drop_table("summary_usage")
    op.drop_table("summaries")
    with op.batch_alter_table("channel_settings") as batch:
        batch.drop_column("language")
        batch.drop_column("summary_style")
