"""SQLite: the search's reads, straight on sqlite3 connections in threads of their own.

Going through SQLAlchemy and aiosqlite, each statement costs several handovers between
the event loop and the connection's thread (0.1-0.5 ms each on a busy machine), a pool
check-out and a rollback on check-in, and a result object per row: next to an index
answering in a millisecond or two, that is most of a search. So a search on SQLite reads
through a `Reader`: a sqlite3 connection per store, made and used in one thread of its
own, to which a whole search (look up acronyms, ask the index folder, fetch and check
the results: `paperboy.search.engine`) is handed as one function (`step`).

Each function runs in a read transaction of its own, so it sees one snapshot of the
database; the connection is read-only (`query_only`) and waits for writers as the
store's own connections do. A store without a file (an in-memory database, a `file:`
URI) has no readers: its searches run on a pooled connection's thread (`on_sqlite`).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from paperboy.models import Paper
from paperboy.store import Store, paper_from_row
from paperboy.store.tables import papers

__all__ = ["PaperReader", "Reader", "on_sqlite", "reader", "step"]

T = TypeVar("T")

#: How long a reader waits for a writer's lock, as the store's connections do (ms).
BUSY_TIMEOUT_MS = 5000


class Reader:
    """A sqlite3 connection on `path`, made and used in one thread of its own."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="paperboy-search")
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA query_only=ON")
            self._db = db
        return self._db

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        db = self._connect()
        db.execute("BEGIN")
        try:
            return fn(db, *args)
        finally:
            db.execute("COMMIT")

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """`fn(connection, *args)` in the reader's thread (from any thread)."""
        return self._executor.submit(self._call, fn, args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(connection, *args)` in the reader's thread, awaited."""
        return await asyncio.wrap_future(self.submit(fn, *args))


_READERS: weakref.WeakKeyDictionary[Store, Reader | None] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def reader(store: Store) -> Reader | None:
    """The store's reader (None: not a SQLite file), made on first use.

    It goes with the store: nothing else holds it, so once the store is collected its
    reader is too; the executor then tells its idle thread to end and the sqlite3
    connection closes as it is freed. (Nothing here may wait for a lock then: a garbage
    collection can run in the middle of any other thread's work.)
    """
    with _LOCK:
        if store in _READERS:
            return _READERS[store]
        url = store.engine.url
        db = url.database or ""
        found: Reader | None = None
        if (
            store.dialect == "sqlite"
            and db not in ("", ":memory:")
            and not db.startswith("file:")
            and url.query.get("mode") != "memory"
        ):
            found = Reader(db)
        _READERS[store] = found
        return found


async def step(store: Store, fn: Callable[..., T], *args: Any) -> T:
    """`fn(connection, *args)` in one read transaction on the store's reader (or, for a
    database without a file, on a pooled connection's thread)."""
    found = reader(store)
    if found is None:
        async with store.engine.connect() as conn:
            return await on_sqlite(conn, fn, *args)
    return await found.run(fn, *args)


async def on_sqlite(conn: AsyncConnection, fn: Callable[..., T], *args: Any) -> T:
    """`fn(connection, *args)` on the sqlite3 connection under the pooled `conn`, in its
    thread, inside a read transaction unless `conn` is in one already (the readers'
    stand-in for a database without a file)."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection  # aiosqlite.Connection
    assert driver is not None

    def run(db: sqlite3.Connection) -> T:
        if db.in_transaction:
            return fn(db, *args)
        db.execute("BEGIN")
        try:
            return fn(db, *args)
        finally:
            db.execute("COMMIT")

    # aiosqlite queues a function for its thread with _execute (what its own methods use).
    return cast("T", await driver._execute(run, driver._conn))


class _Mapped:
    """What `paper_from_row` reads of a row."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


class PaperReader:
    """Papers by id on a reader's connection, converted as the store converts them (the
    `papers` columns' own result processors, then `paper_from_row`)."""

    def __init__(self, dialect: Dialect) -> None:
        columns = list(papers.columns)
        self.names = [c.name for c in columns]
        self.processors = [c.type._cached_result_processor(dialect, None) for c in columns]
        self.sql = (
            f"SELECT {', '.join(self.names)} FROM papers"
            " WHERE id IN (SELECT value FROM json_each(?))"
        )

    def __call__(self, db: sqlite3.Connection, ids: list[str]) -> dict[str, Paper]:
        out: dict[str, Paper] = {}
        if not ids:
            return out
        names, processors = self.names, self.processors
        for row in db.execute(self.sql, (json.dumps(ids),)):
            values = {
                name: value if process is None or value is None else process(value)
                for name, process, value in zip(names, processors, row, strict=True)
            }
            paper = paper_from_row(cast("Any", _Mapped(values)))
            out[paper.id] = paper
        return out
