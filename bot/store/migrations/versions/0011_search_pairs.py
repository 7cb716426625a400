"""PostgreSQL: word pairs beside each paper's tsvector, for phrases.

A GIN index on a tsvector names the papers holding every word of a phrase; the
positions are then compared in each of them, and for a phrase of two common words
("model based") that is most of the archive: the slowest PostgreSQL queries. Each
paper now also keeps its neighbouring lexemes as numbers (`search_vectors.pairs`,
`paperboy.search.lexemes.pair_hashes`) with a GIN index of their own, so a phrase first
asks for its pairs and compares positions only in the papers that hold them.

Existing rows get an empty array and every paper is queued to be indexed again;
`search_state` ('pairs') says whether that is done ('queued' until the queue has been
drained once, then 'ready'): until then searches do not ask for pairs, which older rows
lack. An empty archive is ready at once. SQLite is unchanged (its folder has pairs of
its own).

The downgrade drops the column, its index and the state table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE search_vectors ADD COLUMN pairs INTEGER[] NOT NULL DEFAULT '{}'")
    op.execute("CREATE INDEX ix_search_vectors_pairs ON search_vectors USING GIN (pairs)")
    op.execute("CREATE TABLE search_state (name VARCHAR(32) PRIMARY KEY, value TEXT NOT NULL)")
    op.execute(
        "INSERT INTO search_state (name, value) SELECT 'pairs', CASE WHEN EXISTS"
        " (SELECT 1 FROM search_vectors) THEN 'queued' ELSE 'ready' END"
    )
    op.execute(
        "INSERT INTO search_pending (paper_id, seq) SELECT id, 0 FROM papers"
        " ON CONFLICT (paper_id) DO NOTHING"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE search_state")
    op.execute("DROP INDEX ix_search_vectors_pairs")
    op.execute("ALTER TABLE search_vectors DROP COLUMN pairs")
