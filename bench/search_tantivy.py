"""The reference engine of bench/search.py: tantivy alone (Rust, through its Python binding).

paperboy's SQLite index is a tantivy folder (`paperboy.search.tantivy_index`); the
reference is a second tantivy index of the same lexemes (the columns t, a, x, u computed
by paperboy's analysis from the stored papers, outside the timing; not paperboy's word
pairs) and the same queries (paperboy's compiler, `paperboy.search.tantivy_query`, with
the date, vote and code filters; phrases as plain phrase queries), asked the way a bare
engine would be: the top `limit` by plain BM25
with the exact count, and the paper ids of the hits from the stored field. What the
comparison leaves to paperboy is its own work around the engine: acronym lookup,
compiling, fetching the papers, the matcher's re-check, highlights and tie ordering.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import sqlalchemy as sa
import tantivy
from sqlalchemy.ext.asyncio import AsyncConnection

from paperboy.search.index import _PAPER_COLUMNS, index_rows
from paperboy.search.tantivy_index import SCHEMA
from paperboy.search.tantivy_query import TantivyDialect

_CHUNK = 20_000


def _analysed(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """(paper id, day ordinal, votes, code, t, a, x, u) per paper row (a worker's part)."""
    out = []
    for doc in index_rows(rows, False):
        day = doc.day.toordinal() if doc.day else 0
        out.append((doc.paper_id, day, doc.upvotes, int(doc.has_code), *doc.text[:4]))
    return out


class TantivySide:
    """A tantivy index in `path` holding the lexemes of a paperboy SQLite archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = SCHEMA
        self.index: tantivy.Index | None = None
        self.searcher: tantivy.Searcher | None = None
        self.dialect = TantivyDialect(pairs=False)

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
        """Index every stored paper (read and analysed in two processes, not timed);
        seconds spent in tantivy."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        index = tantivy.Index(self.schema, path=str(self.path))
        writer = index.writer(heap_size=400_000_000)
        seconds = 0.0
        result = await conn.stream(sa.select(*_PAPER_COLUMNS).order_by(_PAPER_COLUMNS[0]))
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(2) as pool:
            waiting = []
            while rows := await result.fetchmany(_CHUNK):
                waiting.append(loop.run_in_executor(pool, _analysed, [tuple(r) for r in rows]))
                if len(waiting) < 3:
                    continue
                seconds += self._add(writer, await waiting.pop(0))
            for future in waiting:
                seconds += self._add(writer, await future)
        started = time.perf_counter()
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        seconds += time.perf_counter() - started
        self.index, self.searcher = index, index.searcher()
        return seconds

    @staticmethod
    def _add(writer: tantivy.IndexWriter, docs: list[tuple[object, ...]]) -> float:
        started = time.perf_counter()
        for paper_id, day, upvotes, has_code, t, a, x, u in docs:
            writer.add_document(
                tantivy.Document(paper_id=paper_id, day=day, upvotes=upvotes,
                                 has_code=has_code, t=t, a=a, x=x, u=u)
            )  # fmt: skip
        return time.perf_counter() - started

    def size_mb(self) -> float:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file()) / 1e6

    def search(self, query: tantivy.Query, limit: int) -> tuple[list[str], int]:
        """The ids of the best `limit` papers and the exact number of matches."""
        assert self.searcher is not None
        found = self.searcher.search(query, limit, count=True)
        ids = [self.searcher.doc(address)["paper_id"][0] for _, address in found.hits]
        return ids, found.count or 0
