"""Engines, migrations and the `Store` that bundles the repositories.

SQLite (`sqlite+aiosqlite:///path.db`, the default) and PostgreSQL
(`postgresql+asyncpg://...`) run the same code and the same migrations.

PostgreSQL URLs may carry `?schema=NAME`: every connection then gets `search_path=NAME`
(tables and Alembic's version table live there). Tests use it to isolate each run, and a
deployment can use it to share a database.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from paperboy import jsontext
from paperboy.store.feedback import FeedbackRepo
from paperboy.store.outbox import OutboxRepo
from paperboy.store.repositories import (
    PaperRepo,
    SettingsRepo,
    StoreContext,
    SubscriptionRepo,
    TargetRepo,
)
from paperboy.store.rollups import RollupRepo
from paperboy.store.summaries import SummaryRepo

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Execution option marking a connection that is about to write; on SQLite its transaction
#: starts with BEGIN IMMEDIATE (see `_sqlite_begin`).
WRITE_OPTION = "paperboy_write"

_SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: SQLAlchemy's default pool size, for a pool that does not say.
DEFAULT_POOL_SIZE = 5
_OVERLOAD_MESSAGES = (
    "database is locked",
    "database is busy",
    "too many clients",
    "too many connections",
)


def overloaded(error: BaseException) -> bool:
    """Whether `error` says the database is too busy right now, so that trying again in a
    moment is the answer: no pooled connection within the pool's timeout, SQLite's write
    lock still taken after the busy timeout, the server's connection limit reached."""
    if isinstance(error, sa.exc.TimeoutError):  # the pool's, not a statement's
        return True
    if isinstance(error, sa.exc.DBAPIError):
        text = str(error.orig if error.orig is not None else error).lower()
        return any(message in text for message in _OVERLOAD_MESSAGES)
    return False


def normalise_url(url: str | URL) -> URL:
    """Give plain `postgres://`, `postgresql://` and `sqlite://` URLs their async driver.

    Hosting platforms hand out `postgres://...?sslmode=require`; asyncpg wants `ssl=`.
    """
    u = make_url(url)
    backend = u.get_backend_name()
    if u.drivername in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+asyncpg")
    elif u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    if backend in ("postgres", "postgresql") and "sslmode" in u.query:
        mode = u.query["sslmode"]
        u = u.difference_update_query(["sslmode"])
        if "ssl" not in u.query:
            u = u.update_query_dict({"ssl": mode})
    return u


def _split_schema(url: str | URL, schema: str | None) -> tuple[URL, str | None]:
    u = normalise_url(url)
    from_url = u.query.get("schema")
    if isinstance(from_url, tuple):
        raise ValueError("the database URL names more than one schema")
    if from_url is not None:
        u = u.difference_update_query(["schema"])
    schema = schema or from_url or None
    backend = u.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {backend!r}: use sqlite+aiosqlite or postgresql")
    if schema is not None:
        if backend != "postgresql":
            raise ValueError("a schema can only be chosen on PostgreSQL")
        if not _SCHEMA_RE.fullmatch(schema):
            raise ValueError(f"schema {schema!r} is not a lower-case SQL identifier")
    return u, schema


def _sqlite_file(u: URL) -> Path | None:
    db = u.database or ""
    if db in ("", ":memory:") or db.startswith("file:") or u.query.get("mode") == "memory":
        return None
    return Path(db)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 module (it skips it before SELECT and DDL) and emit
    # it ourselves in `_sqlite_begin`: transactions then really cover what they wrap.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() not in ("wal", "memory"):
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                # WAL sticks to the file once set. Switching needs an exclusive lock, and
                # SQLite refuses at once (no busy wait) while another connection holds one,
                # typically another connection switching a new file at the same moment.
                # Leave it to that one, or to the next connection.
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                log.debug("journal_mode=WAL deferred: %s", exc)
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front. A deferred one that reads first and
    # writes later fails at once with SQLITE_BUSY when another writer got there meanwhile
    # (busy_timeout cannot help); IMMEDIATE waits for the lock instead.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str | URL, *, schema: str | None = None, **kwargs: Any) -> AsyncEngine:
    """An `AsyncEngine` set up for paperboy.

    SQLite: creates the file's directory; each connection gets foreign keys on, WAL and a
    5 s busy timeout. PostgreSQL: `schema` (or `?schema=` in the URL) becomes the
    connection's `search_path`. Extra keyword arguments go to `create_async_engine`.
    """
    u, schema = _split_schema(url, schema)
    # JSON columns are read with orjson (the standard library's answers, several times
    # faster) and written by the standard library, except the outbox's parts, which
    # its column type writes with orjson (see paperboy.jsontext).
    kwargs.setdefault("json_serializer", jsontext.column_dumps)
    kwargs.setdefault("json_deserializer", jsontext.loads)
    if u.get_backend_name() == "sqlite":
        path = _sqlite_file(u)
        if path is not None:
            path.expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(u, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    if schema is not None:
        connect_args = dict(kwargs.pop("connect_args", {}))
        server_settings = dict(connect_args.get("server_settings", {}))
        server_settings["search_path"] = schema
        connect_args["server_settings"] = server_settings
        kwargs["connect_args"] = connect_args
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(u, **kwargs)


def write_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool), whose transactions are write transactions.

    Use it for read-then-write work: on SQLite it starts with BEGIN IMMEDIATE, so two
    processes do not both read the old state; on PostgreSQL it changes nothing.
    """
    return engine.execution_options(**{WRITE_OPTION: True})


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` built in code, pointing at the migrations inside this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest revision the code knows about."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _migration_lock_key(schema: str | None) -> int:
    # Signed 32-bit, so it fits pg_advisory_xact_lock(bigint) on every platform.
    return zlib.crc32(f"paperboy:migrate:{schema or ''}".encode()) - 2**31


async def migrate(url: str | URL, *, schema: str | None = None, revision: str = "head") -> None:
    """Upgrade the database to `revision` (default: the newest). A no-op when up to date.

    Runs inside the caller's event loop; the whole upgrade is one transaction on both
    backends. On PostgreSQL an advisory lock makes concurrent callers (a release step and
    a starting worker) take turns, and a missing `schema` is created.
    """
    u, schema = _split_schema(url, schema)
    engine = make_engine(u, schema=schema)
    try:
        async with write_engine(engine).begin() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(
                    sa.select(sa.func.pg_advisory_xact_lock(_migration_lock_key(schema)))
                )
                if schema is not None:
                    await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


_migrate = migrate  # `Store.open` has a parameter of that name


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def current_revision(url: str | URL, *, schema: str | None = None) -> str | None:
    """The revision the database is at (None before the first migration)."""
    engine = make_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
            )
    finally:
        await engine.dispose()


class Store:
    """The database: an engine plus one repository per table.

    ```python
    async with Store(url) as store:          # or: store = await Store.open(url)
        await store.subscriptions.add(target, "LoRA")
    ```

    The store does not migrate unless asked (`Store.open(url, migrate=True)` or
    `migrate(url)` first).
    """

    def __init__(
        self,
        url: str | URL,
        *,
        schema: str | None = None,
        default_tz: str = "UTC",
        **engine_kwargs: Any,
    ) -> None:
        self.engine: AsyncEngine = make_engine(url, schema=schema, **engine_kwargs)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        lock = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        ctx = StoreContext(self.engine, write_engine(self.engine), default_tz, lock)
        self.papers = PaperRepo(ctx)
        self.targets = TargetRepo(ctx)
        self.subscriptions = SubscriptionRepo(ctx)
        self.settings = SettingsRepo(ctx)
        self.outbox = OutboxRepo(ctx)
        self.feedback = FeedbackRepo(ctx)
        self.rollups = RollupRepo(ctx)
        self.summaries = SummaryRepo(ctx)
        self._ctx = ctx

    @classmethod
    async def open(
        cls,
        url: str | URL,
        *,
        schema: str | None = None,
        migrate: bool = False,
        default_tz: str = "UTC",
        **engine_kwargs: Any,
    ) -> Self:
        """Open a store, first upgrading the database when `migrate` is true."""
        if migrate:
            await _migrate(url, schema=schema)
        return cls(url, schema=schema, default_tz=default_tz, **engine_kwargs)

    @property
    def pool_size(self) -> int:
        """Connections the pool keeps open (it may open its overflow on top for a while)."""
        size = getattr(self.engine.pool, "size", None)
        return size() if callable(size) else DEFAULT_POOL_SIZE

    async def revision(self) -> str | None:
        """The revision the database is at (None before the first migration); raises
        when the database cannot be reached."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
            )

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def begin_write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction for code outside the repositories (BEGIN IMMEDIATE on SQLite;
        in line with this process's other writers, see `StoreContext.writing`)."""
        async with self._ctx.writing() as conn:
            yield conn

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
