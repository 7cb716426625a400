"""The outbox's message parts as `json`, not `jsonb`, on PostgreSQL.

A part is written once, read once to be sent, and never queried inside: `jsonb`'s
parsing on the way in and its conversion back to text on the way out only cost CPU on
the database server, which shares the machine with the bot. At 10,000 channels (14,000
parts of about 16 KB) `json` took half the time to write and a third to read
(docs/benchmarks.md, "Fan-out"). SQLite stores JSON as text either way: nothing changes.

On PostgreSQL the upgrade rewrites the table under an exclusive lock (stop the delivery
workers first; the outbox holds a few days of parts). The downgrade fails on a part that
holds `\u0000`, which `json` accepts and `jsonb` refuses (the renderers never write one).

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb")
