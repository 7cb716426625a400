"""Archive search index and backfill progress.

Portable tables (described in `paperboy.store.tables`):

- `search_docs`: one row per indexed paper: its document id (the day in the high bits, so
  id order is date order and a date range is an id range), and the filter columns
  (day, upvotes, has_code) kept in sync by triggers;
- `search_pending`: papers whose searchable text changed, filled by triggers on `papers`
  and drained by `paperboy.search.index.SearchIndex.sync` (the lexemes are computed in Python,
  with the same code as subscription matching, so a trigger cannot do it alone);
- `search_acronyms`: the acronym-like words of the archive (QLoRA, ViT), to find the
  words that contain a query acronym;
- `ingest_progress`: the days a backfill has completed, per source.

Backend tables (not in `paperboy.store.tables`): SQLite gets an FTS5 table `search_fts` over
`search_content` (external content: the lexeme text is stored once); PostgreSQL gets
`search_vectors` with a weighted tsvector per paper, one of its title alone, and GIN
indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2024-11-13
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Changes to these columns re-index a paper (the day moves its document id).
_TEXT_COLUMNS = ("title", "abstract", "ai_summary", "ai_keywords", "authors")
_DAY_COLUMNS = ("daily_date", "published_at")

# Not INSERT OR IGNORE: inside a trigger fired by an upsert, SQLite applies the outer
# statement's conflict handling, and the duplicate would abort the upsert.
#
# `seq` counts changes: the indexer removes a queue entry only if its seq is still the one
# it read, so a paper changed while it was being indexed stays queued.
_ENQUEUE = (
    "UPDATE search_pending SET seq = seq + 1 WHERE paper_id = new.id;"
    " INSERT INTO search_pending (paper_id, seq) SELECT new.id, 0"
    " WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE paper_id = new.id);"
)

_SQLITE = [
    """
    CREATE TABLE search_content (
        docid INTEGER PRIMARY KEY,
        t TEXT NOT NULL DEFAULT '',
        a TEXT NOT NULL DEFAULT '',
        x TEXT NOT NULL DEFAULT '',
        u TEXT NOT NULL DEFAULT ''
    )
    """,
    # Lexemes are plain [a-z0-9] words separated by spaces: the ascii tokenizer is exact.
    """
    CREATE VIRTUAL TABLE search_fts USING fts5(
        t, a, x, u, content='search_content', content_rowid='docid', tokenize='ascii'
    )
    """,
    f"""
    CREATE TRIGGER search_papers_insert AFTER INSERT ON papers BEGIN
        {_ENQUEUE}
    END
    """,
    """
    CREATE TRIGGER search_papers_text AFTER UPDATE ON papers
    WHEN {changed}
    BEGIN
        {enqueue}
    END
    """.format(
        changed=" OR ".join(f"old.{c} IS NOT new.{c}" for c in _TEXT_COLUMNS + _DAY_COLUMNS),
        enqueue=_ENQUEUE,
    ),
    """
    CREATE TRIGGER search_papers_meta AFTER UPDATE OF upvotes, github_url ON papers
    WHEN old.upvotes IS NOT new.upvotes OR old.github_url IS NOT new.github_url
    BEGIN
        UPDATE search_docs SET upvotes = new.upvotes, has_code = new.github_url IS NOT NULL
        WHERE paper_id = new.id;
    END
    """,
    """
    CREATE TRIGGER search_papers_delete AFTER DELETE ON papers BEGIN
        DELETE FROM search_fts
        WHERE rowid IN (SELECT docid FROM search_docs WHERE paper_id = old.id);
        DELETE FROM search_content
        WHERE docid IN (SELECT docid FROM search_docs WHERE paper_id = old.id);
        DELETE FROM search_docs WHERE paper_id = old.id;
        DELETE FROM search_pending WHERE paper_id = old.id;
    END
    """,
]

_POSTGRES = [
    """
    CREATE TABLE search_vectors (
        docid BIGINT PRIMARY KEY REFERENCES search_docs (docid) ON DELETE CASCADE,
        doc TSVECTOR NOT NULL,
        title TSVECTOR NOT NULL
    )
    """,
    "CREATE INDEX ix_search_vectors_doc ON search_vectors USING GIN (doc)",
    "CREATE INDEX ix_search_vectors_title ON search_vectors USING GIN (title)",
    """
    CREATE FUNCTION search_papers_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM search_docs WHERE paper_id = OLD.id;
            DELETE FROM search_pending WHERE paper_id = OLD.id;
            RETURN NULL;
        END IF;
        IF TG_OP = 'INSERT' OR ({new}) IS DISTINCT FROM ({old}) THEN
            INSERT INTO search_pending (paper_id, seq) VALUES (NEW.id, 0)
            ON CONFLICT (paper_id) DO UPDATE SET seq = search_pending.seq + 1;
        END IF;
        IF TG_OP = 'UPDATE' AND (NEW.upvotes, NEW.github_url)
                IS DISTINCT FROM (OLD.upvotes, OLD.github_url) THEN
            UPDATE search_docs
            SET upvotes = NEW.upvotes, has_code = NEW.github_url IS NOT NULL
            WHERE paper_id = NEW.id;
        END IF;
        RETURN NULL;
    END
    $$
    """.format(
        new=", ".join(f"NEW.{c}" for c in _TEXT_COLUMNS + _DAY_COLUMNS),
        old=", ".join(f"OLD.{c}" for c in _TEXT_COLUMNS + _DAY_COLUMNS),
    ),
    """
    CREATE TRIGGER search_papers_changed AFTER INSERT OR UPDATE OR DELETE ON papers
    FOR EACH ROW EXECUTE FUNCTION search_papers_changed()
    """,
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "search_docs",
        sa.Column(
            "docid",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("upvotes", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("has_code", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("docid", name="pk_search_docs"),
        sa.UniqueConstraint("paper_id", name="uq_search_docs_paper_id"),
    )
    op.create_table(
        "search_pending",
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("paper_id", name="pk_search_pending"),
    )
    op.create_table(
        "search_acronyms",
        sa.Column("token", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("token", name="pk_search_acronyms"),
    )
    op.create_table(
        "ingest_progress",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "day", name="pk_ingest_progress"),
    )
    for statement in _SQLITE if dialect == "sqlite" else _POSTGRES:
        op.execute(statement)
    # Papers archived before this revision are indexed by the first sync.
    op.execute("INSERT INTO search_pending (paper_id) SELECT id FROM papers")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "text", "meta", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS search_papers_{trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
        op.execute("DROP TABLE IF EXISTS search_content")
    else:
        op.execute("DROP TRIGGER IF EXISTS search_papers_changed ON papers")
        op.execute("DROP FUNCTION IF EXISTS search_papers_changed()")
        op.execute("DROP TABLE IF EXISTS search_vectors")
    op.drop_table("ingest_progress")
    op.drop_table("search_acronyms")
    op.drop_table("search_pending")
    op.drop_table("search_docs")
