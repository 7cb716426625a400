"""The reference engine of bench/search.py: tantivy (Rust, through its Python binding).

tantivy indexes exactly what paperboy's SQLite index stores: the lexeme columns t
(title, prefixed), a (abstract), x (HF summary and keywords) and u (authors, prefixed),
read back from `search_content` after paperboy's own ingest, so both engines look up the
same words (stems, acronym codes) and find the same papers. A query is compiled by
paperboy's own compiler (`paperboy.search.sql.compile_query`) with a dialect that builds
tantivy query objects instead of FTS5 text: the same phrases, acronym codes and boolean
structure (a phrase mixing acronyms and words is the AND of its parts there too). The
acronym codes are looked up before the clock starts, and the date, vote and code filters
are tantivy range and term queries. tantivy ranks by BM25 with the title boosted 10x and
the summary 0.5x (paperboy's column weights), returns the top `limit` and the exact count,
and the paper ids of the hits are read from its stored field.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import tantivy
from sqlalchemy.ext.asyncio import AsyncConnection

from paperboy.search.lexemes import AUTHOR_PREFIX, TITLE_PREFIX
from paperboy.search.sql import Filters, Fts5

Q = tantivy.Query
MUST, SHOULD, MUST_NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot
#: Column weights of paperboy's BM25 (paperboy.search.score.COLUMN_WEIGHTS).
BOOST = {"t": 10.0, "a": 1.0, "x": 0.5, "u": 1.0}
_COLUMNS = {
    None: (("t", TITLE_PREFIX), ("a", ""), ("x", "")),
    "title": (("t", TITLE_PREFIX),),
    "abstract": (("a", ""),),
    "author": (("u", AUTHOR_PREFIX),),
}


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for column in "taxu":
        builder.add_text_field(column, tokenizer_name="whitespace", index_option="position")
    builder.add_integer_field("docid", indexed=True, fast=True)
    builder.add_integer_field("upvotes", indexed=True, fast=True)
    builder.add_integer_field("has_code", indexed=True, fast=True)
    builder.add_text_field("paper_id", stored=True, tokenizer_name="raw")
    return builder.build()


class TantivyDialect(Fts5):
    """paperboy's query compiler, writing tantivy queries instead of FTS5 text (the
    compiler passes what a dialect returns through unread)."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self.schema = schema

    def _either(self, items: list[tantivy.Query]) -> tantivy.Query:
        return items[0] if len(items) == 1 else Q.boolean_query([(SHOULD, i) for i in items])

    def _in(self, field: str | None, make) -> tantivy.Query:
        return self._either(
            [Q.boost_query(make(col, prefix), BOOST[col]) for col, prefix in _COLUMNS[field]]
        )

    def phrase(self, field, lexemes):  # type: ignore[override]
        def make(col: str, prefix: str) -> tantivy.Query:
            words = [prefix + lex for lex in lexemes]
            if len(words) == 1:
                return Q.term_query(self.schema, col, words[0])
            return Q.phrase_query(self.schema, col, words)

        return self._in(field, make)

    def codes(self, field, codes):  # type: ignore[override]
        return self._in(
            field,
            lambda col, prefix: self._either(
                [Q.term_query(self.schema, col, prefix + c) for c in codes]
            ),
        )

    def and_(self, positive, negative):  # type: ignore[override]
        if len(positive) == 1 and not negative:
            return positive[0]
        return Q.boolean_query([(MUST, p) for p in positive] + [(MUST_NOT, n) for n in negative])

    def or_(self, items):  # type: ignore[override]
        return Q.boolean_query([(SHOULD, i) for i in items])


def filtered(schema: tantivy.Schema, query: tantivy.Query, filters: Filters) -> tantivy.Query:
    """`query` within the date range (document ids), vote and code filters."""
    parts = [(MUST, query)]
    if filters.low > 0 or filters.high < Filters().high:
        docids = Q.range_query(
            schema, "docid", tantivy.FieldType.Integer, filters.low, filters.high
        )
        parts.append((MUST, docids))
    if filters.min_upvotes > 0:
        votes = Q.range_query(
            schema, "upvotes", tantivy.FieldType.Integer, filters.min_upvotes, None
        )
        parts.append((MUST, votes))
    if filters.has_code:
        parts.append((MUST, Q.term_query(schema, "has_code", 1)))
    return query if len(parts) == 1 else Q.boolean_query(parts)


class TantivySide:
    """A tantivy index in `path` holding the lexemes of a paperboy SQLite archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = schema()
        self.index: tantivy.Index | None = None
        self.searcher: tantivy.Searcher | None = None
        self.dialect = TantivyDialect(self.schema)

    def open_existing(self, papers: int) -> bool:
        """Reuse an index already built for `papers` papers."""
        if not (self.path / "meta.json").exists():
            return False
        index = tantivy.Index.open(str(self.path))
        if index.searcher().num_docs != papers:
            return False
        self.index, self.searcher = index, index.searcher()
        return True

    async def build(self, conn: AsyncConnection) -> float:
        """Index every stored paper (read from SQLite, not timed); seconds spent in tantivy."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        index = tantivy.Index(self.schema, path=str(self.path))
        writer = index.writer(heap_size=400_000_000)
        seconds = 0.0
        result = await conn.exec_driver_sql(
            "SELECT c.docid, d.paper_id, d.upvotes, d.has_code, c.t, c.a, c.x, c.u"
            " FROM search_content c JOIN search_docs d ON d.docid = c.docid ORDER BY c.docid"
        )
        while rows := result.fetchmany(20_000):
            started = time.perf_counter()
            for docid, paper_id, upvotes, has_code, t, a, x, u in rows:
                writer.add_document(
                    tantivy.Document(
                        docid=docid, paper_id=paper_id, upvotes=upvotes,
                        has_code=int(bool(has_code)), t=t, a=a, x=x, u=u,
                    )
                )  # fmt: skip
            seconds += time.perf_counter() - started
        started = time.perf_counter()
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        seconds += time.perf_counter() - started
        self.index, self.searcher = index, index.searcher()
        return seconds

    def size_mb(self) -> float:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file()) / 1e6

    def search(self, query: tantivy.Query, limit: int) -> tuple[list[str], int]:
        """The ids of the best `limit` papers and the exact number of matches."""
        assert self.searcher is not None
        found = self.searcher.search(query, limit, count=True)
        ids = [self.searcher.doc(address)["paper_id"][0] for _, address in found.hits]
        return ids, found.count or 0
