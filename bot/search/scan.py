"""A search's candidates and total on SQLite: read newest first, within a budget.

Walking a doclist costs time in proportion to its length: a word found in most of a
million papers takes FTS5 about 25 ms to walk, a phrase of such words 60-130 ms (each
position is compared). A search therefore never walks more of the index than it needs:

- *title candidates*: the `window` newest matches with a query term in the title.
  Title lexemes have doclists of their own (`paperboy.search.lexemes.TITLE_PREFIX`), about a
  twentieth of the index, and BM25 weighs the title far above the rest, so these are the
  likeliest top results at any age;
- *newest candidates*: the `window` newest matches anywhere;
- *the total*: counted newest first, slice by slice (whole days holding `first_slice`
  papers, then four times more each time; `search_days` keeps the papers per day). It
  stops at the end of the archive, or once it has seen `budget` papers and counted
  `enough` matches (and at least as many as are asked for). A total from part of the
  archive is scaled to the whole of it and reported as an estimate ("about 12,000
  papers"). A query with few matches is always counted to the end, so what it finds is
  shown in full.

The candidates are then ranked by `paperboy.search.score`. Document ids are in date order
(`paperboy.search.lexemes.day_key`), so "newest first" is an id-order walk, which FTS5 does
without sorting, and a slice of the archive is an id range.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from paperboy.search.lexemes import DAY_SHIFT
from paperboy.search.reader import Reader, on_sqlite, readers
from paperboy.search.sql import Filters
from paperboy.store import Store

__all__ = ["Scan", "ScanResult", "StoredDoc"]

T = TypeVar("T")

FIRST_SLICE = 20_000
BUDGET = 100_000
ENOUGH = 1_000
#: How long the papers-per-day list is reused (see Scan._days).
DAYS_TTL = 5.0
#: A slice of at least this many papers is read as two halves at once.
PARALLEL = 200_000
#: A slice's matches are first read oldest first, up to this many (see _Reader.newest):
#: a statement's setup (an acronym's many codes) can cost as much as reading thousands.
ASCENDING = 4_000
#: How long an index reuses an estimated document frequency (seconds) while the archive
#: holds as many papers, and how many it keeps: they only weigh a query's terms.
DF_TTL = 300.0
DF_KEPT = 4096


class Index(Protocol):
    """What a scan reads through: its index's store and the FROM/WHERE of its index
    queries (`paperboy.search.index.SearchIndex`, which makes its scan on first use)."""

    store: Store

    def from_where(self, filters: Filters, *, vector: str = "doc") -> tuple[str, str]: ...

    def params(self, query: str, filters: Filters, **extra: object) -> dict[str, object]: ...


@dataclass(frozen=True, slots=True)
class ScanResult:
    docids: list[int]  # title candidates first, then the newest (no repeats)
    total: int
    exact: bool  # False: `total` is scaled up from part of the archive


@dataclass(frozen=True, slots=True)
class StoredDoc:
    docid: int
    paper_id: str
    day: object
    upvotes: int
    columns: tuple[str, str, str, str]  # the lexeme text of t, a, x, u


class Scan:
    """Candidate search over one SQLite index (see the module docstring).

    Each method reads in one step on a reader's connection (`paperboy.search.reader`);
    the `*_in` methods are those steps' parts, for a caller's own step (`step`).
    """

    def __init__(
        self,
        index: Index,
        *,
        first_slice: int = FIRST_SLICE,
        budget: int = BUDGET,
        enough: int = ENOUGH,
        parallel: int = PARALLEL,
    ) -> None:
        self.index = index
        self.first_slice = first_slice
        self.budget = budget
        self.enough = enough
        self.parallel = parallel
        self._days_read: tuple[float, list[tuple[int, int]]] | None = None
        # (query, slice start, papers) -> (when, the query's share of the slice's papers)
        self._df: dict[tuple[str, int, int], tuple[float, float]] = {}

    async def step(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(connection, second, *args)` in one step: `second` is the other reader
        (None: there is none, read the halves one after the other)."""
        pair = readers(self.index.store)
        if pair is None:
            async with self.index.store.engine.connect() as conn:
                return await on_sqlite(conn, fn, None, *args)
        first, second = pair
        return await first.run(fn, second, *args)

    async def candidates(
        self,
        query: str,
        title_query: str | None,
        filters: Filters,
        *,
        window: int,
        need: int,
        title_only: bool = False,
    ) -> ScanResult:
        """Title and newest candidates for the FTS5 `query`, and its total.

        `title_query`: the query's terms restricted to titles (None: no such terms);
        `title_only`: every `title_query` match is a `query` match (no AND, no NOT);
        `need`: the total is counted at least this far, if there are that many.
        """
        return await self.step(
            self.candidates_in, query, title_query, filters, window, need, title_only
        )

    def candidates_in(
        self,
        db: sqlite3.Connection,
        second: Reader | None,
        query: str,
        title_query: str | None,
        filters: Filters,
        window: int,
        need: int,
        title_only: bool = False,
    ) -> ScanResult:
        run = _Reader(self.index, filters)
        days = self._days(db, filters.low, filters.high)
        documents = sum(n for _, n in days)
        newest: list[int] = []
        counted = scanned = taken = 0
        high = filters.high
        size = self.first_slice
        while True:
            # The next slice: whole days, newest first, until it holds `size` papers.
            papers = 0
            first = taken
            while taken < len(days) and papers < size:
                papers += days[taken][1]
                taken += 1
            last = taken >= len(days)
            low = filters.low if last else max(filters.low, days[taken - 1][0] << DAY_SHIFT)
            want = window - len(newest)
            count: int | None
            if papers >= self.parallel and taken - first > 1:
                found, count = self._halves(
                    db, second, run, query, days[first:taken], low, high, want
                )
            else:
                found, count = run.newest(db, query, low, high, want, True)
            newest += found
            counted += count or 0
            if last:
                exact, total = True, counted
                break
            scanned += papers
            high = low - 1
            if counted >= need and (counted >= self.enough or scanned >= self.budget):
                exact, total = False, round(counted * documents / max(scanned, 1))
                break
            # Four times more, or as many as the matches so far say `need` takes.
            size = max(size * 4, round(scanned * need / max(counted, 0.5)))
        titled: list[int] = []
        if title_query is not None and not (exact and len(newest) == total):
            # (When the walk above found every match, they are all candidates already.)
            both = title_query if title_only else f"({query}) AND ({title_query})"
            titled, _ = run.newest(db, both, filters.low, filters.high, window, False)
        seen = set(titled)
        return ScanResult(titled + [d for d in newest if d not in seen], total, exact)

    def _days(self, db: sqlite3.Connection, low: int, high: int) -> list[tuple[int, int]]:
        """(day, papers) of the days in the document id range, newest first.

        Kept for DAYS_TTL seconds: the slices it cuts and the estimates it scales need
        not follow every write (a walk always runs to the ends of the range it is given).
        """
        now = time.monotonic()
        read = self._days_read
        if read is None or now - read[0] > DAYS_TTL:
            read = (now, db.execute(_DAYS_SQL).fetchall())
            self._days_read = read
        first, last = low >> DAY_SHIFT, high >> DAY_SHIFT
        return [(day, n) for day, n in read[1] if first <= day <= last]

    def _halves(
        self,
        db: sqlite3.Connection,
        second: Reader | None,
        run: _Reader,
        query: str,
        days: list[tuple[int, int]],
        low: int,
        high: int,
        want: int,
    ) -> tuple[list[int], int]:
        """A big slice read as two halves at once, the older one by the second reader:
        each walk is C code that releases the GIL, so the two run on two cores."""
        half = sum(n for _, n in days) / 2
        papers = split = 0
        while split < len(days) - 1 and papers + days[split][1] <= half:
            papers += days[split][1]
            split += 1
        split = max(split, 1)
        middle = days[split - 1][0] << DAY_SHIFT  # the oldest day of the newer half
        if second is not None:
            other = second.submit(_newest_of, run, query, low, middle - 1, want, True)
            newer, n1 = run.newest(db, query, middle, high, want, True)
            older, n2 = other.result()
        else:
            newer, n1 = run.newest(db, query, middle, high, want, True)
            older, n2 = run.newest(db, query, low, middle - 1, want, True)
        return (newer + older)[: max(want, 0)], (n1 or 0) + (n2 or 0)

    async def estimate_df(self, queries: Sequence[str | None]) -> tuple[list[float], int]:
        """Estimated papers matching each query (from the newest slice), and all papers."""
        return await self.step(self.estimate_df_in, queries)

    def estimate_df_in(
        self, db: sqlite3.Connection, second: Reader | None, queries: Sequence[str | None]
    ) -> tuple[list[float], int]:
        everything = Filters()
        days = self._days(db, everything.low, everything.high)
        documents = sum(n for _, n in days)
        papers = taken = 0
        while taken < len(days) and papers < self.first_slice:
            papers += days[taken][1]
            taken += 1
        low = everything.low if taken >= len(days) else days[taken - 1][0] << DAY_SHIFT
        run = _Reader(self.index, everything)
        out: list[float] = []
        now = time.monotonic()
        for query in queries:
            if query is None:
                out.append(documents / 2)
                continue
            key = (query, low, documents)
            known = self._df.get(key)
            if known is None or now - known[0] > DF_TTL:
                if len(self._df) >= DF_KEPT:
                    self._df.clear()
                share = run.count(db, query, low, everything.high) / max(papers, 1)
                known = self._df[key] = (now, share)
            out.append(known[1] * documents)
        return out, documents

    async def stored(self, docids: Sequence[int]) -> list[StoredDoc]:
        """The stored lexeme text and filter columns of `docids`."""
        if not docids:
            return []
        return await self.step(self.stored_in, docids)

    def stored_in(
        self, db: sqlite3.Connection, second: Reader | None, docids: Sequence[int]
    ) -> list[StoredDoc]:
        if not docids:
            return []
        rows = db.execute(_STORED_SQL, (json.dumps(list(docids)),)).fetchall()
        return [
            StoredDoc(docid, paper_id, day, upvotes, (t, a, x, u))
            for docid, paper_id, day, upvotes, t, a, x, u in rows
        ]


_DAYS_SQL = "SELECT day, docs FROM search_days WHERE docs > 0 ORDER BY day DESC"
_STORED_SQL = (
    "SELECT c.docid, d.paper_id, d.day, d.upvotes, c.t, c.a, c.x, c.u"
    " FROM search_content c JOIN search_docs d ON d.docid = c.docid"
    " WHERE c.docid IN (SELECT value FROM json_each(?))"
)


def _newest_of(
    db: sqlite3.Connection, run: _Reader, query: str, low: int, high: int, n: int, counted: bool
) -> tuple[list[int], int | None]:
    return run.newest(db, query, low, high, n, counted)


class _Reader:
    """The index queries of one search (DB-API SQL on a reader's connection)."""

    def __init__(self, index: Index, filters: Filters) -> None:
        self.index = index
        self.filters = filters

    def _sql(self, low: int, high: int) -> tuple[str, str, Filters]:
        f = self.filters
        bounded = Filters(low, high, f.min_upvotes, f.has_code)
        frm, where = self.index.from_where(bounded)
        return frm, where, bounded

    def count(self, db: sqlite3.Connection, query: str, low: int, high: int) -> int:
        frm, where, bounded = self._sql(low, high)
        row = db.execute(
            f"SELECT count(*) FROM {frm} WHERE {where}", self.index.params(query, bounded)
        ).fetchone()
        return int(row[0])

    def newest(
        self, db: sqlite3.Connection, query: str, low: int, high: int, n: int, counted: bool
    ) -> tuple[list[int], int | None]:
        """The ids of the `n` newest matches in [low, high] (newest first), and their
        count (None when not `counted`).

        FTS5 walks a phrase backwards (ORDER BY rowid DESC) past the low bound until it
        finds a match, so unless the range starts at the beginning of the index, its
        matches are first read oldest first, up to ASCENDING of them: a sparse range is
        then read (and counted) in one walk; only a dense one is counted and walked
        newest first, which then stops after `n`.
        """
        frm, where, bounded = self._sql(low, high)
        count: int | None = None
        if counted or low > 0:
            # Oldest first, up to ASCENDING: in one walk, all of a sparse range's matches.
            rows = db.execute(
                f"SELECT search_fts.rowid FROM {frm} WHERE {where}"
                " ORDER BY search_fts.rowid LIMIT :n",
                self.index.params(query, bounded, n=ASCENDING),
            ).fetchall()
            ids = [row[0] for row in rows]
            if len(ids) < ASCENDING:
                return ids[::-1][: max(n, 0)], len(ids)
            count = self.count(db, query, low, high)
        if n <= 0:
            return [], count
        rows = db.execute(
            f"SELECT search_fts.rowid FROM {frm} WHERE {where}"
            " ORDER BY search_fts.rowid DESC LIMIT :n",
            self.index.params(query, bounded, n=n),
        ).fetchall()
        return [row[0] for row in rows], count
