"""SQLite's search index moves out of the database into a tantivy folder.

FTS5 (`search_fts` over `search_content`, with `search_docs` and `search_days`) is
replaced by a tantivy index in a folder beside the database file
(`paperboy.search.tantivy_index`): at a million papers it answers in a few milliseconds
with exact counts and takes a seventh of the space (docs/benchmarks.md, "Against
tantivy"). What stays in the database: the `search_pending` queue, which now also takes
papers whose votes or code link changed and papers deleted (the index stores those
too), the acronym vocabulary `search_acronyms`, and a new `search_state` naming the
folder the database belongs with (a folder with another id is rebuilt). Every paper is
queued; the first sync (any search or ingest) builds the folder. PostgreSQL is unchanged.

The downgrade brings back the FTS5 tables of 0004, empty, and queues every paper again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# As in 0003: not INSERT OR IGNORE (a trigger fired by an upsert takes the upsert's
# conflict handling); `seq` counts changes made while a paper is being indexed.
_ENQUEUE = (
    "UPDATE search_pending SET seq = seq + 1 WHERE paper_id = {row}.id;"
    " INSERT INTO search_pending (paper_id, seq) SELECT {row}.id, 0"
    " WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE paper_id = {row}.id);"
)
_META = """
    CREATE TRIGGER search_papers_meta AFTER UPDATE OF upvotes, github_url ON papers
    WHEN old.upvotes IS NOT new.upvotes OR old.github_url IS NOT new.github_url
    BEGIN
        {body}
    END
"""
_DELETE = """
    CREATE TRIGGER search_papers_delete AFTER DELETE ON papers BEGIN
        {body}
    END
"""
_QUEUE_ALL = (
    "INSERT INTO search_pending (paper_id, seq) SELECT id, 0 FROM papers"
    " WHERE id NOT IN (SELECT paper_id FROM search_pending)"
)

# What 0003 and 0004 made (for the downgrade).
_OLD_META = (
    "UPDATE search_docs SET upvotes = new.upvotes, has_code = new.github_url IS NOT NULL"
    " WHERE paper_id = new.id;"
)
_OLD_DELETE = """
        DELETE FROM search_fts
        WHERE rowid IN (SELECT docid FROM search_docs WHERE paper_id = old.id);
        DELETE FROM search_content
        WHERE docid IN (SELECT docid FROM search_docs WHERE paper_id = old.id);
        UPDATE search_days SET docs = docs - 1
        WHERE day IN (SELECT docid >> 24 FROM search_docs WHERE paper_id = old.id);
        DELETE FROM search_docs WHERE paper_id = old.id;
        DELETE FROM search_pending WHERE paper_id = old.id;
"""
_OLD_TABLES = [
    """
    CREATE TABLE search_docs (
        docid INTEGER NOT NULL,
        paper_id VARCHAR(64) NOT NULL,
        day DATE,
        upvotes INTEGER DEFAULT 0 NOT NULL,
        has_code BOOLEAN DEFAULT 0 NOT NULL,
        CONSTRAINT pk_search_docs PRIMARY KEY (docid),
        CONSTRAINT uq_search_docs_paper_id UNIQUE (paper_id)
    )
    """,
    """
    CREATE TABLE search_content (
        docid INTEGER PRIMARY KEY,
        t TEXT NOT NULL DEFAULT '',
        a TEXT NOT NULL DEFAULT '',
        x TEXT NOT NULL DEFAULT '',
        u TEXT NOT NULL DEFAULT ''
    )
    """,
    """
    CREATE VIRTUAL TABLE search_fts USING fts5(
        t, a, x, u, content='search_content', content_rowid='docid', tokenize='ascii'
    )
    """,
    "INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 8)",
    "CREATE TABLE search_days (day INTEGER PRIMARY KEY, docs INTEGER NOT NULL DEFAULT 0)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER search_papers_meta")
    op.execute("DROP TRIGGER search_papers_delete")
    for table in ("search_fts", "search_content", "search_days", "search_docs"):
        op.execute(f"DROP TABLE {table}")
    op.execute("CREATE TABLE search_state (name VARCHAR(32) PRIMARY KEY, value TEXT NOT NULL)")
    op.execute(_META.format(body=_ENQUEUE.format(row="new")))
    op.execute(_DELETE.format(body=_ENQUEUE.format(row="old")))
    op.execute(_QUEUE_ALL)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER search_papers_meta")
    op.execute("DROP TRIGGER search_papers_delete")
    op.execute("DROP TABLE search_state")
    for statement in _OLD_TABLES:
        op.execute(statement)
    op.execute(_META.format(body=_OLD_META))
    op.execute(_DELETE.format(body=_OLD_DELETE))
    op.execute(_QUEUE_ALL)
