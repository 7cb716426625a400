"""Exactly one process schedules: the scheduler lock and the service that leads with it.

On PostgreSQL the lock is a session-level advisory lock on a dedicated connection; the
other processes try again every `poll` seconds, so one takes over soon after the holder
dies (its connection closes, the lock goes). On SQLite (one machine) an exclusive file
lock next to the database plays that part. Even two schedulers at once could not double
a digest: the outbox key would be taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import zlib
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paperboy.delivery.scheduler import DigestScheduler
from paperboy.metrics import METRICS
from paperboy.store import Store

log = logging.getLogger(__name__)


def scheduler_lock_key(schema: str) -> int:
    """A signed 32-bit advisory lock key for the scheduler of one schema."""
    return zlib.crc32(f"paperboy:scheduler:{schema}".encode()) - 2**31


class SchedulerLock:
    """Who schedules: a PostgreSQL session-level advisory lock (always granted on SQLite)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._conn: AsyncConnection | None = None
        self._file: IO[str] | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.store.dialect != "postgresql":
            self.held = self._lock_sqlite_file()
            return self.held
        conn = await self.store.engine.connect()
        try:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            schema: str = (await conn.execute(sa.text("SELECT current_schema()"))).scalar_one()
            key = scheduler_lock_key(str(schema))
            got: bool = (
                await conn.execute(sa.select(sa.func.pg_try_advisory_lock(key)))
            ).scalar_one()
        except Exception:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        self.held = True
        return True

    def _lock_sqlite_file(self) -> bool:
        """SQLite: an exclusive `flock` on `<database>.scheduler-lock` next to the file, so
        two processes on one file do not both schedule (the OS drops it when we die)."""
        database = self.store.engine.url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return True
        path = Path(database).expanduser().with_name(Path(database).name + ".scheduler-lock")
        handle = path.open("a")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    async def alive(self) -> bool:
        """Whether the lock is still ours (its connection still answers)."""
        if not self.held:
            return False
        if self._conn is None:
            return True
        try:
            await self._conn.execute(sa.text("SELECT 1"))
        except Exception as error:
            log.warning("lost the scheduler lock's database connection: %s", error)
            await self.release()
            return False
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        self.held = False
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None
        if conn is not None:
            # A pooled connection would keep its session, and with it the lock: unlock,
            # then discard the connection instead of returning it to the pool.
            with contextlib.suppress(Exception):
                await conn.execute(sa.select(sa.func.pg_advisory_unlock_all()))
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()


class SchedulerService:
    """Runs a `DigestScheduler` while this process holds the scheduler lock."""

    def __init__(
        self, scheduler: DigestScheduler, lock: SchedulerLock, *, poll: float = 15.0
    ) -> None:
        self.scheduler = scheduler
        self.lock = lock
        self.poll = poll
        self.leading = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        announced = False
        try:
            while not stop.is_set():
                if not self.lock.held:
                    try:
                        acquired = await self.lock.try_acquire()
                    except Exception as error:
                        log.warning("could not try the scheduler lock: %s", error)
                        acquired = False
                    if acquired:
                        log.info("this process schedules digests")
                        try:
                            await self.scheduler.start()
                        except Exception:
                            log.exception("starting the scheduler failed; trying again")
                            await self.scheduler.stop()
                            await self.lock.release()
                        else:
                            self.leading.set()
                            METRICS.scheduler_leader.set(1)
                    elif not announced:
                        log.info("another process schedules; standing by")
                        announced = True
                elif not await self.lock.alive():
                    await self.scheduler.stop()
                    self.leading.clear()
                    METRICS.scheduler_leader.set(0)
                    announced = False
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)
        finally:
            await self.scheduler.stop()
            await self.lock.release()
            self.leading.clear()
            METRICS.scheduler_leader.set(0)
