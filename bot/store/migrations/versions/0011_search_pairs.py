"""PostgreSQL: word pairs beside each paper's tsvector, for phrases.

A GIN index on a tsvector names the papers holding every word of a phrase; the
positions are then compared in each of them, and for a phrase of two common words
("model based") that is most of the archive: the slowest PostgreSQL queries. Each
paper now also keeps its neighbouring lexemes as numbers (`search_vectors.pairs`,
`paperboy.search.lexemes.pair_hashes`) with a GIN index of their own, so a phrase first
asks for its pairs and compares positions only in the papers that hold them.

The column is NULL where the pairs are not known: rows written before this migration,
or by a process still running older code while it runs (a rolling upgrade). A query
asks `pairs @> ... OR pairs IS NULL`, with a partial index naming the NULL rows, so such
a paper is still found (its positions decide); every paper is queued to be indexed
again, which fills them in. SQLite is unchanged (its folder has pairs of its own).

The downgrade drops the column and its indexes.

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
    op.execute("ALTER TABLE search_vectors ADD COLUMN pairs INTEGER[]")
    op.execute("CREATE INDEX ix_search_vectors_pairs ON search_vectors USING GIN (pairs)")
    op.execute(
        "CREATE INDEX ix_search_vectors_pairs_unknown ON search_vectors (docid)"
        " WHERE pairs IS NULL"
    )
    op.execute(
        "INSERT INTO search_pending (paper_id, seq) SELECT id, 0 FROM papers"
        " ON CONFLICT (paper_id) DO NOTHING"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_search_vectors_pairs_unknown")
    op.execute("DROP INDEX ix_search_vectors_pairs")
    op.execute("ALTER TABLE search_vectors DROP COLUMN pairs")
