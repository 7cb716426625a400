"""Paper embeddings: one vector per paper for semantic search and similarity.

`paper_embeddings` keeps each paper's vector (float16 bytes) with the model that made it
and a hash of the embedded text; `seq` grows with every write so an in-memory vector
index can catch up with what other processes wrote (see paperboy.embeddings).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("text_hash", sa.String(32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_paper_embeddings"),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name="fk_paper_embeddings_paper_id_papers",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("paper_id", name="uq_paper_embeddings_paper_id"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("paper_embeddings")
