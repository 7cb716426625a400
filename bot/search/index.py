"""The search index in the database: keeping it in sync, and asking it for candidates.

Triggers on `papers` (migration 0003) queue every paper whose searchable text or date
changed in `search_pending`; `SearchIndex.sync` drains the queue: it computes the
lexemes in Python (`paperboy.search.lexemes`, the same code matching uses) and writes them to
the backend's full-text structure. Search syncs before it queries, so whatever wrote a
paper (an ingest job, a backfill, another process) it is found; ingest paths also sync
right away so the cost is not paid by the first search.

- SQLite: a tantivy index in a folder beside the database file
  (`paperboy.search.tantivy_index`), holding the lexeme columns t (title, prefixed),
  a (abstract), x (ai_summary and keywords) and u (authors, prefixed); it finds, ranks
  (BM25 with column weights) and counts every match.
- PostgreSQL: a tsvector per paper (`search_vectors.doc`, weights A title, B abstract,
  C summary/keywords, D authors) with a GIN index, ranked with `ts_rank_cd`.

PostgreSQL: document ids carry the paper's day in their high bits
(`paperboy.search.lexemes.day_key`), so a date filter is an id range. Ranking a broad
query (more than `window` matches) scores the `window` newest matches plus the `window`
newest with a query term in the title, instead of every match: `ts_rank_cd` must read
each vector it scores, and scoring a hundred thousand of them takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import sqlite3
import threading
import weakref
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, Self, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paperboy.models import Paper
from paperboy.search.lexemes import (
    AUTHOR_PREFIX,
    DAY_SHIFT,
    TITLE_PREFIX,
    FieldText,
    IndexDoc,
    analyze,
    day_key,
    pair_hashes,
)
from paperboy.search.reader import step
from paperboy.search.sql import Filters, TsQuery
from paperboy.search.tantivy_index import (
    FolderIndex,
    IndexBusy,
    IndexedDoc,
    IndexReplaced,
    folder_of,
)
from paperboy.search.tantivy_query import TantivyDialect
from paperboy.store import Store, paper_columns
from paperboy.store.tables import papers

__all__ = ["Candidate", "IndexQuery", "SearchIndex", "folder_index", "surfaces_in"]

#: PostgreSQL: broad queries rank this many newest matches, and as many newest with a
#: title match.
WINDOW = 500
#: PostgreSQL: a query the planner expects to match more papers than this is counted
#: from a sample of the newest papers (`SearchIndex.newest_sample`) if a quarter of
#: them match, and its total labelled an estimate: counting them all reads every one.
ESTIMATE_ABOVE = 5_000
#: Papers per sync transaction.
SYNC_BATCH = 2000
#: SQLite: papers added to the index folder per commit, at most.
COMMIT_EVERY = 100_000
#: Analyses made ahead (SearchIndex.prepare) kept at most, waiting for their sync.
MAX_PREPARED = 50_000
#: Acronym-like words longer than this are not kept in the vocabulary.
MAX_ACRONYM = 200
#: ts_rank_cd weights of D (authors), C (summary, keywords), B (abstract), A (title).
TS_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
#: PostgreSQL keeps positions up to 16383 and at most 256 per lexeme.
_PG_MAX_POS = 16383
_PG_MAX_POSITIONS = 255
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Candidate:
    docid: int
    paper_id: str
    score: float
    day: dt.date | None = None
    upvotes: int = 0


@dataclass(frozen=True, slots=True)
class Planned:
    """PostgreSQL: the planner's estimates for an index query (`SearchIndex.plan`)."""

    matches: float
    papers: float  # in the query's date range
    undated: float  # matches without the date range


@dataclass(frozen=True, slots=True)
class IndexQuery:
    """PostgreSQL: one index query: the compiled tsquery, the filters, and what the
    query implies for the title vector and the word pairs (`SearchIndex.from_where`)."""

    text: str
    filters: Filters
    title: str | None = None
    pairs: tuple[int, ...] = ()


class IndexRow(NamedTuple):
    """What the writer needs of one analysed paper (small, to cross process boundaries:
    a tuple pickles several times faster than a dataclass)."""

    paper_id: str
    day: dt.date | None
    upvotes: int
    has_code: bool
    text: tuple[str, ...]  # SQLite: the t, a, x, u, tp, ap, xp columns; PostgreSQL: doc, title
    acronyms: tuple[str, ...]
    pairs: tuple[int, ...] = ()  # PostgreSQL: its word pairs (`lexemes.pair_hashes`)


_PAPER_COLUMNS = (
    papers.c.id,
    papers.c.title,
    papers.c.abstract,
    papers.c.authors,
    papers.c.published_at,
    papers.c.daily_date,
    papers.c.upvotes,
    papers.c.ai_summary,
    papers.c.ai_keywords,
    papers.c.github_url,
)


def index_rows(rows: Sequence[tuple[Any, ...]], postgres: bool) -> list[IndexRow]:
    """Analyse paper rows (`_PAPER_COLUMNS`); runs in a worker process for big syncs."""
    out: list[IndexRow] = []
    for pid, title, abstract, authors, published, daily, votes, summary, keywords, code in rows:
        doc = analyze(
            Paper(
                id=pid,
                title=title,
                abstract=abstract or "",
                authors=tuple(authors or ()),
                published_at=published,
                daily_date=daily,
                upvotes=votes,
                ai_summary=summary,
                ai_keywords=tuple(keywords or ()),
                github_url=code,
            )
        )
        pairs: tuple[int, ...] = ()
        if postgres:
            text: tuple[str, ...] = (tsvector_literal(doc), tsvector_literal(doc, title_only=True))
            pairs = tuple(pair_hashes((doc.title, doc.abstract, doc.extra)))
        else:
            text = (doc.title.column(TITLE_PREFIX), doc.abstract.column(), doc.extra.column(),
                    doc.authors.column(AUTHOR_PREFIX),
                    doc.title.pairs(), doc.abstract.pairs(), doc.extra.pairs())  # fmt: skip
        acronyms = tuple(sorted(doc.acronyms))
        out.append(IndexRow(pid, doc.day, doc.upvotes, doc.has_code, text, acronyms, pairs))
    return out


def _paper_row(paper: Paper) -> tuple[Any, ...]:
    """`paper` as `_read_batch` reads it back once upserted (`_PAPER_COLUMNS`)."""
    stored = paper_columns(paper)
    return tuple(stored[c.name] for c in _PAPER_COLUMNS)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SearchIndex:
    """One store's search index (the backend is chosen by the store's dialect)."""

    def __init__(
        self,
        store: Store,
        *,
        window: int | None = None,
        workers: int = 0,
        estimate_above: int = ESTIMATE_ABOVE,
    ) -> None:
        """`window`: see the module docstring (default WINDOW); `estimate_above`: see
        ESTIMATE_ABOVE (both PostgreSQL's). `workers` > 0 analyses big batches in that
        many worker processes (backfills); then close the index (or use it as `async
        with`) to stop them."""
        self.store = store
        self.postgres = store.dialect == "postgresql"
        self.window = window or WINDOW
        self.estimate_above = estimate_above
        self.workers = workers
        self.dialect: TsQuery | TantivyDialect = TsQuery() if self.postgres else TantivyDialect()
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[set[str], list[tuple[Any, ...]], asyncio.Future[Any]]] = []
        self._ready: dict[str, tuple[tuple[Any, ...], IndexRow]] = {}

    @property
    def folder(self) -> FolderIndex:
        """SQLite: the store's index folder (`paperboy.search.tantivy_index`)."""
        return folder_index(self.store)

    # ------------------------------------------------------------------ sync

    async def pending(self) -> int:
        async with self.store.engine.connect() as conn:
            return (await conn.execute(sa.text("SELECT count(*) FROM search_pending"))).scalar_one()

    async def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def prepare(self, papers: Sequence[Paper]) -> None:
        """Start analysing papers that are about to be written (a backfill's days as
        they arrive), in a worker process, while other work goes on.

        A sync uses an analysis only if the paper it reads back is exactly the one
        analysed (not merged with an older record, not changed since); any other is
        analysed as usual. Without `workers` this does nothing: there is nothing to
        overlap with.
        """
        if not self.workers or len(papers) <= 100:
            return
        try:
            rows = [_paper_row(p) for p in papers]
        except ValueError:
            return  # a bad id: the upsert will say so
        future = asyncio.get_running_loop().run_in_executor(
            self._workers(), index_rows, rows, self.postgres
        )
        self._pending.append(({row[0] for row in rows}, rows, future))

    async def _prepared_for(self, ids: set[str]) -> None:
        """Collect the prepared analyses that are done or hold any of `ids`."""
        waiting = []
        for entry in self._pending:
            holds, rows, future = entry
            if not future.done() and holds.isdisjoint(ids):
                waiting.append(entry)
                continue
            with contextlib.suppress(Exception):  # a failed analysis is simply redone
                for row, doc in zip(rows, await future, strict=True):
                    self._ready[row[0]] = (row, doc)
        self._pending = waiting
        while len(self._ready) > MAX_PREPARED:  # oldest first: never used, let go
            del self._ready[next(iter(self._ready))]

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._pool

    async def sync(
        self, *, batch: int = SYNC_BATCH, wait: float | None = None, most: int | None = None
    ) -> int:
        """Index every queued paper; returns how many were (re)indexed.

        Batches are pipelined: while one is written, the next is read and analysed (in
        a worker process when the index has `workers`). SQLite: `wait` is how long to
        wait for another process's writer of the folder (default 2 s; a search waits
        for none) before leaving the queue to it. PostgreSQL: `most` stops after about
        that many queue entries (a search's sync: a backlog, every paper queued by a
        migration or a reindex, is left to ingest and `paperboy reindex`; the papers
        in it are searchable as they were).
        """
        done = 0
        if not self.postgres:
            await self._open_folder()
        while True:
            if self.postgres:
                read, written = await self._pass(batch, most)
            else:
                read, written = await self._folder_pass(batch, wait)
            done += written
            if read == 0 or (self.postgres and most is not None):
                return done

    async def _analyse(self, rows: list[tuple[Any, ...]]) -> list[IndexRow]:
        """Index rows for paper rows: prepared ones (`prepare`) if still the same."""
        loop = asyncio.get_running_loop()
        docs = []
        if self._pending or self._ready:
            await self._prepared_for({row[0] for row in rows})
            rest = []
            for row in rows:
                known = self._ready.pop(row[0], None)
                if known is not None and known[0] == row:
                    docs.append(known[1])
                else:
                    rest.append(row)
            rows = rest
        if self.workers and len(rows) > 100:
            docs += await loop.run_in_executor(self._workers(), index_rows, rows, self.postgres)
        elif rows:  # analysing text is CPU work: off the event loop
            docs += await asyncio.to_thread(index_rows, rows, self.postgres)
        return docs

    # ------------------------------------------------------------------ SQLite's folder

    async def open(self) -> None:
        """SQLite: make sure the index folder is open (`sync` checks it is the right one)."""
        if not self.postgres and not self.folder.is_open:
            await self._open_folder()

    async def _index_id(self) -> str | None:
        async with self.store.engine.connect() as conn:
            result = await conn.exec_driver_sql(
                "SELECT value FROM search_state WHERE name = 'index_id'"
            )
            return cast("str | None", result.scalar_one_or_none())

    async def _open_folder(self) -> None:
        """Open the store's index folder, or make it anew and queue every paper (a new
        database, a missing or unreadable folder, another database's folder).

        The check is made again holding the folder's lock exclusively: of processes
        that find the folder wrong at once, the first makes it anew and the others open
        what it made."""
        folder = self.folder
        if folder.matches(await self._index_id()):
            return
        async with folder.locked(shared=False):
            index_id = await self._index_id()
            if folder.matches(index_id) or await asyncio.to_thread(folder.open, index_id):
                return
            new_id = await asyncio.to_thread(folder.create)
            async with self.store.begin_write() as conn:
                await conn.exec_driver_sql(
                    "INSERT INTO search_state (name, value) VALUES ('index_id', ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (new_id,),
                )
                await conn.exec_driver_sql(_QUEUE_ALL)

    async def _folder_pass(self, batch: int, wait: float | None) -> tuple[int, int]:
        """One walk over the queue in id order into the index folder: (entries read,
        papers indexed). Queue entries are removed only once the folder has committed
        their papers, and only if unchanged since (`seq`)."""
        after = ""
        read = written = 0
        done: list[tuple[str, int]] = []
        docs: list[IndexRow] = []
        while True:
            queued, rows = await self._read_batch(after, batch)
            if queued:
                after = queued[-1][0]
                read += len(queued)
                done += queued
                docs += await self._analyse(rows)
            if done and (not queued or len(done) >= COMMIT_EVERY):
                try:
                    fresh, docs = await self._write_folder(done, docs, wait)
                except IndexBusy:
                    return 0, written  # another process indexes: the queue is its
                except IndexReplaced:
                    # Made anew or removed since opened: open what is there now (or make
                    # it anew, queueing every paper), and walk the queue again.
                    self.folder.forget()
                    await self._open_folder()
                    return max(read, 1), written
                written += await self._dequeue(fresh, docs)
                done, docs = [], []
            if not queued:
                return read, written

    async def _write_folder(
        self, done: list[tuple[str, int]], docs: list[IndexRow], wait: float | None
    ) -> tuple[list[tuple[str, int]], list[IndexRow]]:
        """Write the papers of the queue entries `done` (as read: `docs`) to the folder.

        Holding the writer (one process at a time), the entries are read again: a paper
        changed since (its `seq` moved on) or indexed by another sync meanwhile (its
        entry gone) is left alone, so an older version is never written over a newer
        one. Returns the entries and papers written."""
        folder = self.folder
        async with folder.writing(wait=wait) as writer:
            current = await self._queued_seqs(done[0][0], done[-1][0])
            fresh = [(pid, seq) for pid, seq in done if current.get(pid) == seq]
            fresh_ids = {pid for pid, _ in fresh}
            docs = [d for d in docs if d.paper_id in fresh_ids]
            await asyncio.to_thread(writer.write, sorted(fresh_ids), [_indexed(d) for d in docs])
        return fresh, docs

    async def _queued_seqs(self, first: str, last: str) -> dict[str, int]:
        async with self.store.engine.connect() as conn:
            result = await conn.exec_driver_sql(
                "SELECT paper_id, seq FROM search_pending WHERE paper_id BETWEEN ? AND ?",
                (first, last),
            )
            # A text query's rows are untyped: the SELECT names what they hold.
            return dict(cast("Sequence[tuple[str, int]]", result.all()))

    async def _dequeue(self, done: list[tuple[str, int]], docs: list[IndexRow]) -> int:
        async with self.store.begin_write() as conn:
            await self._remember_acronyms(conn, docs)
            result = await conn.exec_driver_sql(
                "DELETE FROM search_pending WHERE paper_id = ? AND seq = ?", done
            )
        return int(result.rowcount)

    async def _pass(self, batch: int, most: int | None = None) -> tuple[int, int]:
        """One walk over the queue in id order (up to about `most` entries): (entries
        read, papers indexed)."""
        after = ""
        read = written = 0
        writing: asyncio.Task[int] | None = None
        try:
            while True:
                if most is not None and read >= most:
                    break
                queued, rows = await self._read_batch(after, batch)
                if not queued:
                    break
                after = queued[-1][0]
                read += len(queued)
                docs = await self._analyse(rows)
                if writing is not None:
                    written += await writing
                writing = asyncio.create_task(self._write(queued, docs))
            if writing is not None:
                written += await writing
                writing = None
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await writing
        return read, written

    async def _read_batch(
        self, after: str, batch: int
    ) -> tuple[list[tuple[str, int]], list[tuple[Any, ...]]]:
        """The next queue entries (paper id, seq) and their papers, in one query."""
        columns = ", ".join(f"p.{c.name}" for c in _PAPER_COLUMNS)
        sql = sa.text(
            f"SELECT q.paper_id AS queued, q.seq AS seq, {columns}"
            " FROM search_pending q LEFT JOIN papers p ON p.id = q.paper_id"
            " WHERE q.paper_id > :after ORDER BY q.paper_id LIMIT :n"
        ).columns(sa.column("queued"), sa.column("seq"), *(c.label(c.name) for c in _PAPER_COLUMNS))
        async with self.store.engine.connect() as conn:
            result = await conn.execute(sql, {"after": after, "n": batch})
            queued: list[tuple[str, int]] = []
            rows: list[tuple[Any, ...]] = []
            for row in result:
                queued.append((row[0], row[1]))
                if row[2] is not None:  # the paper may have been deleted since
                    rows.append(tuple(row[2:]))
        return queued, rows

    async def _write(self, queued: list[tuple[str, int]], docs: list[IndexRow]) -> int:
        if not queued:
            return 0
        async with self.store.begin_write() as conn:
            # One writer at a time: it allocates document ids (see _allocate).
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key())))
            # The queue entries and index rows of the batch's id range, in one query.
            result = await conn.execute(
                sa.text(
                    "SELECT q.paper_id, q.seq, d.docid FROM search_pending q"
                    " LEFT JOIN search_docs d ON d.paper_id = q.paper_id"
                    " WHERE q.paper_id BETWEEN :first AND :last"
                ),
                {"first": queued[0][0], "last": queued[-1][0]},
            )
            current: dict[str, int] = {}
            existing: dict[str, int] = {}
            # A text query's rows are untyped: the SELECT above names what they hold.
            pending = cast("Sequence[tuple[str, int, int | None]]", result.all())
            for pid, seq, docid in pending:
                current[pid] = seq
                if docid is not None:
                    existing[pid] = docid
            # A paper changed since it was read (seq moved on), or indexed by another
            # indexer meanwhile (entry gone), is left alone: it is or was indexed anew.
            fresh = [(pid, seq) for pid, seq in queued if current.get(pid) == seq]
            fresh_ids = {pid for pid, _ in fresh}
            docs = [d for d in docs if d.paper_id in fresh_ids]
            existing = {pid: docid for pid, docid in existing.items() if pid in fresh_ids}
            docids = await self._allocate(conn, docs, existing)
            await self._delete(conn, sorted(existing.values()))
            await self._insert(conn, docs, docids)
            await self._remember_acronyms(conn, docs)
            if fresh:
                await conn.execute(
                    sa.text("DELETE FROM search_pending WHERE paper_id = :p AND seq = :s"),
                    [{"p": pid, "s": seq} for pid, seq in fresh],
                )
        return len(fresh)

    async def _allocate(
        self, conn: AsyncConnection, docs: list[IndexRow], existing: dict[str, int]
    ) -> dict[str, int]:
        """A document id per paper: its old one if its day is unchanged, else a new one."""
        out: dict[str, int] = {}
        next_free: dict[int, int] = {}
        for doc in docs:
            base = day_key(doc.day)
            old = existing.get(doc.paper_id)
            if old is not None and old >> DAY_SHIFT == base >> DAY_SHIFT:
                out[doc.paper_id] = old
                continue
            if base not in next_free:
                top: int | None = (
                    await conn.execute(
                        sa.text(
                            "SELECT max(docid) FROM search_docs WHERE docid BETWEEN :lo AND :hi"
                        ),
                        {"lo": base, "hi": base + (1 << DAY_SHIFT) - 1},
                    )
                ).scalar_one()
                next_free[base] = (top if top is not None else base) + 1
            out[doc.paper_id] = next_free[base]
            next_free[base] += 1
        return out

    async def _delete(self, conn: AsyncConnection, docids: list[int]) -> None:
        for chunk in _chunks(docids):
            params = {"ids": list(chunk)}
            await conn.execute(_in("DELETE FROM search_docs WHERE docid IN :ids"), params)

    async def _insert(
        self, conn: AsyncConnection, docs: list[IndexRow], docids: dict[str, int]
    ) -> None:
        if not docs:
            return
        meta = [
            {
                "docid": docids[d.paper_id],
                "paper_id": d.paper_id,
                "day": d.day,
                "upvotes": d.upvotes,
                "has_code": d.has_code,
            }
            for d in docs
        ]
        await conn.execute(
            sa.text(
                "INSERT INTO search_docs (docid, paper_id, day, upvotes, has_code)"
                " VALUES (:docid, :paper_id, :day, :upvotes, :has_code)"
            ).bindparams(sa.bindparam("day", type_=sa.Date)),
            meta,
        )
        rows = [
            {"docid": docids[d.paper_id], "doc": d.text[0], "title": d.text[1],
             "pairs": list(d.pairs)}
            for d in docs
        ]  # fmt: skip
        await conn.execute(
            sa.text(
                "INSERT INTO search_vectors (docid, doc, title, pairs) VALUES (:docid,"
                " CAST(:doc AS tsvector), CAST(:title AS tsvector), CAST(:pairs AS INTEGER[]))"
            ),
            rows,
        )

    async def _remember_acronyms(self, conn: AsyncConnection, docs: list[IndexRow]) -> None:
        words = sorted({w for d in docs for w in d.acronyms if len(w) <= MAX_ACRONYM})
        if not words:
            return
        if self.postgres:
            sql = "INSERT INTO search_acronyms (token) VALUES (:t) ON CONFLICT DO NOTHING"
        else:
            sql = "INSERT OR IGNORE INTO search_acronyms (token) VALUES (:t)"
        await conn.execute(sa.text(sql), [{"t": w} for w in words])

    async def rebuild(self) -> int:
        """Queue every paper again and index them all (after a change of the lexemes).

        SQLite: the folder is emptied as the papers are queued, holding its lock
        exclusively (no sync writes meanwhile), so whatever it held that the archive
        does not (a database restored from a backup) goes too; searches see the archive
        fill up again while the queue is drained.
        """
        if self.postgres:
            async with self.store.begin_write() as conn:
                await conn.execute(sa.text(_QUEUE_ALL))
            return await self.sync()
        await self._open_folder()
        folder = self.folder
        async with folder.locked(shared=False):
            await folder.empty()
            async with self.store.begin_write() as conn:
                await conn.execute(sa.text(_QUEUE_ALL))
        return await self.sync()

    # ------------------------------------------------------------------ queries

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[AsyncConnection]:
        """A connection for index queries.

        PostgreSQL: the planner prices `@@` on a tsvector as cheap and scans the whole
        table for a term in 10 % of the papers, reading (and decompressing) every vector;
        the GIN index is an order of magnitude faster there, so sequential scans are off
        for these queries.
        """
        async with self.store.engine.connect() as conn:
            if self.postgres:
                await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            yield conn

    async def acronym_surfaces(
        self, words: Iterable[str], *, limit: int
    ) -> dict[str, tuple[str, ...] | None]:
        """Per query acronym, the archive's words containing it (None: more than `limit`).

        The comparison is case-sensitive on both backends (instr / strpos on the raw text).
        """
        if not self.postgres:
            return await step(self.store, surfaces_in, sorted(set(words)), limit)
        sql = sa.text("SELECT token FROM search_acronyms WHERE strpos(token, :w) > 0 LIMIT :n")
        out: dict[str, tuple[str, ...] | None] = {}
        async with self.store.engine.connect() as conn:
            for word in sorted(set(words)):
                found: tuple[str, ...] = tuple(
                    (await conn.execute(sql, {"w": word, "n": limit + 1})).scalars()
                )
                out[word] = None if len(found) > limit else found
        return out

    def from_where(self, query: IndexQuery, *, by_key: bool = True) -> tuple[str, str]:
        """PostgreSQL: FROM and WHERE of an index query for `query` (bound as `:q`).

        Besides the tsquery, what the query implies for the other indexes, which changes
        no result: its title filter (`:tf`, see `paperboy.search.sql.title_filter`; a
        `title:` term is a weight on `doc`, which the GIN index cannot check, so every
        paper with the word would be read to check its weight) and its phrases' word
        pairs (`:pp`, see `paperboy.search.sql.phrase_pairs`; without them every paper
        holding a phrase's words is read to compare their positions). The id range is
        left out unless a date filter needs it, or the planner walks the primary key and
        tests every vector instead of asking the GIN index (`by_key=False`: the range
        only filters the rows the text indexes name).
        """
        filters = query.filters
        frm = "search_vectors v"
        if filters.needs_docs:
            frm += " JOIN search_docs d ON d.docid = v.docid"
        where = "v.doc @@ CAST(:q AS tsquery)"
        if query.title is not None:
            where += " AND v.title @@ CAST(:tf AS tsquery)"
        if query.pairs:
            # NULL: pairs not known yet (see migration 0011); the positions decide.
            where += " AND (v.pairs @> CAST(:pp AS INTEGER[]) OR v.pairs IS NULL)"
        if filters.dated:
            where += f" AND v.docid{'' if by_key else ' + 0'} BETWEEN :lo AND :hi"
        if filters.min_upvotes > 0:
            where += " AND d.upvotes >= :min_upvotes"
        if filters.has_code:
            where += " AND d.has_code"
        return frm, where

    def params(self, query: IndexQuery, **extra: object) -> dict[str, object]:
        filters = query.filters
        params: dict[str, object] = {
            "q": query.text, "lo": filters.low, "hi": filters.high, **extra
        }  # fmt: skip
        if query.title is not None:
            params["tf"] = query.title
        if query.pairs:
            params["pp"] = list(query.pairs)
        if filters.min_upvotes > 0:
            params["min_upvotes"] = filters.min_upvotes
        return params

    async def count_and_newest(
        self, query: IndexQuery, *, by_key: bool = True
    ) -> tuple[int, list[int]]:
        """PostgreSQL: (matches, ids of the `window` newest: all of them if no more).

        A GIN index gives no ids in order, so every matching row is visited for either:
        one pass does both. `by_key` (a date filter): see `from_where`.
        """
        frm, where = self.from_where(query, by_key=by_key)
        sql = sa.text(
            f"WITH m AS (SELECT v.docid AS docid FROM {frm} WHERE {where}),"
            " newest AS (SELECT docid FROM m ORDER BY docid DESC LIMIT :n)"
            " SELECT (SELECT count(*) FROM m), (SELECT array_agg(docid) FROM newest)"
        )
        async with self._reader() as conn:
            row = (await conn.execute(sql, self.params(query, n=self.window))).one()
        # A text query's row is untyped: a count and an array of document ids (or NULL).
        total, ids = cast("tuple[int, list[int] | None]", tuple(row))
        return total, list(ids or ())

    async def plan(self, query: IndexQuery) -> Planned:
        """PostgreSQL: what the planner expects of `query` (from the statistics ANALYZE
        keeps of each word and of the ids; nothing is read)."""
        filters = query.filters
        frm, where = self.from_where(query)
        in_range = "v.docid BETWEEN :lo AND :hi"
        async with self._reader() as conn:
            params = self.params(query)
            matches = await _planned(conn, f"SELECT 1 FROM {frm} WHERE {where}", params)
            papers = await _planned(
                conn,
                f"SELECT 1 FROM search_vectors v WHERE {in_range}",
                {"lo": filters.low, "hi": filters.high},
            )
            undated = matches
            if filters.dated:
                whole = IndexQuery(query.text, Filters(), query.title, query.pairs)
                frm, where = self.from_where(whole)
                undated = await _planned(
                    conn, f"SELECT 1 FROM {frm} WHERE {where}", self.params(whole)
                )
        return Planned(matches, papers, undated)

    async def newest_sample(self, query: IndexQuery, rows: int) -> tuple[list[int], bool]:
        """PostgreSQL: of the `rows` newest papers in the query's date range, the ids of
        those that match (newest first), and whether they were all the range holds.

        The primary key is read backwards and each paper tested: a few milliseconds for
        a few thousand papers, however many match in all.
        """
        frm, where = self.from_where(query)
        sql = sa.text(
            f"SELECT v.docid, ({where}) AS hit FROM {frm} WHERE v.docid BETWEEN :lo AND :hi"
            " ORDER BY v.docid DESC LIMIT :rows"
        )
        async with self._reader() as conn:
            result = await conn.execute(sql, self.params(query, rows=rows + 1))
            # A text query's rows are untyped: the SELECT names what they hold.
            read = cast("Sequence[tuple[int, bool]]", result.all())
        return [docid for docid, hit in read[:rows] if hit], len(read) <= rows

    async def newest_ids(self, query: IndexQuery, n: int, *, title_tier: str) -> list[int]:
        """PostgreSQL: ids of the `n` newest matches that also have a query term in the title.

        The title vector's index names these (few) papers first: the planner joins it to
        the query's own index scan, and only their rows are read (not the rows of a date
        range, each tested: the planner takes a vector test for cheap).
        """
        frm, where = self.from_where(query, by_key=False)
        where += " AND v.title @@ CAST(:tq AS tsquery)"
        # "+ 0" keeps the planner from reading the primary key backwards and testing each
        # vector on the way (see from_where).
        sql = sa.text(f"SELECT v.docid FROM {frm} WHERE {where} ORDER BY v.docid + 0 DESC LIMIT :n")
        async with self._reader() as conn:
            params = self.params(query, tq=title_tier, n=n)
            return list((await conn.execute(sql, params)).scalars())

    async def rank(
        self, query: IndexQuery, limit: int, *, ids: Sequence[int] | None = None
    ) -> list[Candidate]:
        """PostgreSQL: the best `limit` matches by `ts_rank_cd` (among `ids` if given)."""
        score = f"ts_rank_cd('{TS_WEIGHTS}', v.doc, CAST(:q AS tsquery), 1)"
        if ids is not None:
            sql = _candidate_columns(
                f"SELECT v.docid AS docid, d.paper_id AS paper_id, {score} AS score,"
                " d.day AS day, d.upvotes AS upvotes"
                " FROM search_vectors v JOIN search_docs d ON d.docid = v.docid"
                " WHERE v.docid = ANY(CAST(:ids AS BIGINT[]))"
                " ORDER BY score DESC, v.docid DESC LIMIT :k"
            )
            params: dict[str, object] = {"q": query.text, "ids": list(ids), "k": limit}
        else:
            frm, where = self.from_where(query)
            if "search_docs" not in frm:
                frm += " JOIN search_docs d ON d.docid = v.docid"
            sql = _candidate_columns(
                f"SELECT v.docid AS docid, d.paper_id AS paper_id, {score} AS score,"
                f" d.day AS day, d.upvotes AS upvotes FROM {frm} WHERE {where}"
                " ORDER BY score DESC, v.docid DESC LIMIT :k"
            )
            params = self.params(query, k=limit)
        async with self._reader() as conn:
            rows = await conn.execute(sql, params)
            return [Candidate(r.docid, r.paper_id, float(r.score), r.day, r.upvotes) for r in rows]


def surfaces_in(
    db: sqlite3.Connection, words: list[str], limit: int
) -> dict[str, tuple[str, ...] | None]:
    """SQLite: `SearchIndex.acronym_surfaces`, in one step on a reader."""
    out: dict[str, tuple[str, ...] | None] = {}
    sql = "SELECT token FROM search_acronyms WHERE instr(token, ?) > 0 LIMIT ?"
    for word in words:
        found = tuple(row[0] for row in db.execute(sql, (word, limit + 1)))
        out[word] = None if len(found) > limit else found
    return out


_QUEUE_ALL = (
    "INSERT INTO search_pending (paper_id, seq) SELECT id, 0 FROM papers"
    " WHERE id NOT IN (SELECT paper_id FROM search_pending)"
)


def _indexed(row: IndexRow) -> IndexedDoc:
    day = row.day.toordinal() if row.day is not None else 0
    return IndexedDoc(row.paper_id, day, row.upvotes, row.has_code, *row.text)


# Held by their stores (as the readers are, see paperboy.search.reader): a folder's index
# stays open while a store on its database lives, and is shared by all such stores.
_BY_STORE: weakref.WeakKeyDictionary[Store, FolderIndex] = weakref.WeakKeyDictionary()
_BY_PATH: weakref.WeakValueDictionary[str, FolderIndex] = weakref.WeakValueDictionary()
_FOLDERS_LOCK = threading.Lock()


def folder_index(store: Store) -> FolderIndex:
    """The index folder of a SQLite store: one per folder in a process, or one per store
    for a database in memory."""
    with _FOLDERS_LOCK:
        found = _BY_STORE.get(store)
        if found is not None:
            return found
        url = store.engine.url
        path = None if url.query.get("mode") == "memory" else folder_of(url.database)
        if path is None:
            found = FolderIndex(None)
        else:
            key = str(path.resolve())
            found = _BY_PATH.get(key)
            if found is None:
                found = _BY_PATH[key] = FolderIndex(path)
        _BY_STORE[store] = found
        return found


def _candidate_columns(sql: str) -> sa.TextualSelect:
    return sa.text(sql).columns(
        sa.column("docid"),
        sa.column("paper_id"),
        sa.column("score"),
        sa.column("day", sa.Date),
        sa.column("upvotes"),
    )


async def _planned(conn: AsyncConnection, select: str, params: dict[str, object]) -> float:
    """PostgreSQL: the rows the planner expects `select` to return (nothing is read)."""
    result = await conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) {select}"), params)
    plan: Any = result.scalar_one()
    if isinstance(plan, str):  # a driver without a json codec
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def _in(sql: str) -> sa.TextClause:
    return sa.text(sql).bindparams(sa.bindparam("ids", expanding=True))


def _lock_key() -> int:
    return zlib.crc32(b"paperboy:search-index") - 2**31


def tsvector_literal(doc: IndexDoc, *, title_only: bool = False) -> str:
    """The paper's PostgreSQL tsvector, written out (no text-search parser involved).

    Positions run through title (A), abstract (B), summary and keywords (C) and authors
    (D, lexemes prefixed) with a gap between values, so a phrase never spans two; an
    acronym code shares its word's position, which makes phrases with acronyms exact.
    """
    positions: dict[str, list[str]] = {}
    pos = 1
    fields: tuple[tuple[FieldText, str, str], ...] = (
        (doc.title, "A", ""),
        (doc.abstract, "B", ""),
        (doc.extra, "C", ""),
        (doc.authors, "D", TsQuery.AUTHOR_PREFIX),
    )
    if title_only:  # the title tier's own small vector (see SearchIndex.rank)
        fields = ((doc.title, "", ""),)
    for field, weight, prefix in fields:
        table = _marks(weight)
        for lexes, codes in zip(field.lexemes, field.codes, strict=True):
            end = pos + len(lexes)
            if prefix or end > _PG_MAX_POS:
                _add_clamped(positions, lexes, codes, pos, weight, prefix)
            else:  # every word a position of its own: no mark can repeat
                marks = table[pos:end]
                _add(positions, lexes, marks)
                if codes:
                    _add(positions, [code for _, code in codes], [marks[i] for i, _ in codes])
            pos = end + 1
    return " ".join(f"'{lex}':{','.join(marks)}" for lex, marks in positions.items())


_MARKS: dict[str, list[str]] = {}


def _marks(weight: str) -> list[str]:
    """Each position's mark with `weight` ("1A", "2A", ...), made once per weight."""
    table = _MARKS.get(weight)
    if table is None:
        table = _MARKS[weight] = [f"{p}{weight}" for p in range(_PG_MAX_POS + 1)]
    return table


def _add(positions: dict[str, list[str]], items: Sequence[str], marks: Sequence[str]) -> None:
    get = positions.get
    for item, mark in zip(items, marks, strict=True):
        found = get(item)
        if found is None:
            positions[item] = [mark]
        elif len(found) < _PG_MAX_POSITIONS:
            found.append(mark)


def _add_clamped(
    positions: dict[str, list[str]],
    lexes: Sequence[str],
    codes: Sequence[tuple[int, str]],
    pos: int,
    weight: str,
    prefix: str,
) -> None:
    """`tsvector_literal` for a value with prefixed lexemes or positions past the last
    PostgreSQL keeps (there every mark is the last position's, kept once)."""
    code_at = dict(codes)
    for i, lex in enumerate(lexes):
        mark = f"{min(pos + i, _PG_MAX_POS)}{weight}"
        for item in (lex, code_at.get(i)):
            if item is None:
                continue
            found = positions.setdefault(prefix + item, [])
            if len(found) < _PG_MAX_POSITIONS and (not found or found[-1] != mark):
                found.append(mark)
