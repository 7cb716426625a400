"""Weekly rollups: each channel's rollup schedule, and the rollups planned.

`rollup_settings` holds a channel's `/papers weekly <day> HH:MM` (in the channel's time
zone, `channel_settings.timezone`). `rollup_runs` has one row per (target, ISO week) once
that week's rollup is planned: the "already done?" check; its message part goes into the
`outbox` like a digest's, under a key of its own (`pb:<target>:rollup:<week>`).

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_settings",
        sa.Column("target_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("weekday", sa.String(3), nullable=False),
        sa.Column("at_time", sa.String(5), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_id", name="pk_rollup_settings"),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name="fk_rollup_settings_target_id_targets",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "rollup_runs",
        sa.Column("target_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("papers", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_id", "week", name="pk_rollup_runs"),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name="fk_rollup_runs_target_id_targets",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("rollup_runs")
    op.drop_table("rollup_settings")
