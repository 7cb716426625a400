"""Exactly one process schedules (PostgreSQL advisory lock); another takes over when it dies.

The process test starts two real `paperboy run --role scheduler` processes on one
PostgreSQL schema, kills the leader with SIGKILL and checks that the other takes over
and that every channel got one digest for the day, no more.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperboy.clock import ManualClock
from paperboy.delivery import DigestScheduler, SchedulerLock, SchedulerService
from paperboy.store import Store, migrate
from paperboy.store.tables import digest_runs
from tests.integration.delivery_support import add_target, lora_papers, planner_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[Store]:
    await migrate(postgres_url)
    async with Store(postgres_url) as store:
        yield store


async def test_advisory_lock_is_exclusive(postgres_url: str, pg_store: Store) -> None:
    async with Store(postgres_url) as other:
        first, second = SchedulerLock(pg_store), SchedulerLock(other)
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.alive()
        await first.release()
        assert await second.try_acquire()
        await second.release()


async def test_standby_takes_over_in_process(postgres_url: str, pg_store: Store) -> None:
    clock = ManualClock(dt.datetime(2024, 11, 11, 9, 0, tzinfo=dt.UTC))
    async with Store(postgres_url) as other:
        services = [
            SchedulerService(
                DigestScheduler(s, planner_for(s, [], clock), clock=clock),
                SchedulerLock(s),
                poll=0.05,
            )
            for s in (pg_store, other)
        ]
        stops = [asyncio.Event(), asyncio.Event()]
        tasks = [asyncio.create_task(sv.run(st)) for sv, st in zip(services, stops, strict=True)]
        try:
            waits = [asyncio.create_task(sv.leading.wait()) for sv in services]
            done, _ = await asyncio.wait(waits, timeout=30, return_when="FIRST_COMPLETED")
            for waiting in waits:
                waiting.cancel()
            assert len(done) == 1
            leader = 0 if services[0].leading.is_set() else 1
            standby = 1 - leader
            await asyncio.sleep(0.2)
            assert not services[standby].leading.is_set()
            stops[leader].set()
            await tasks[leader]
            await asyncio.wait_for(services[standby].leading.wait(), 30)
        finally:
            for stop in stops:
                stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)


class Proc:
    """A `paperboy run --role scheduler` subprocess whose log lines we can wait for."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.env = env
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "paperboy.cli", "run", "--role", "scheduler",
            cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())

    async def wait_for(self, text: str, within: float = 30.0) -> None:
        async def waiting() -> None:
            while not any(text in line for line in self.lines):
                if self.proc is not None and self.proc.returncode is not None:
                    raise AssertionError(f"{self.name} ended: {self.lines[-20:]}")
                await asyncio.sleep(0.05)

        try:
            await asyncio.wait_for(waiting(), within)
        except TimeoutError:
            raise AssertionError(f"{self.name} never logged {text!r}: {self.lines[-20:]}") from None

    async def close(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return self.proc.returncode


async def test_two_scheduler_processes_one_digest_each(
    postgres_url: str, pg_store: Store, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    slot = (now - dt.timedelta(minutes=2)).strftime("%H:%M")
    week = "mon,tue,wed,thu,fri,sat,sun"
    ids = [
        (await add_target(pg_store, f"c{i}", schedule_time=slot, days=week))[1] for i in range(20)
    ]
    await pg_store.papers.upsert(lora_papers(3), seen_at=now - dt.timedelta(hours=1))
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": postgres_url,
        "PAPERBOY_SCHEDULER_LOCK_POLL_SECONDS": "0.5",
        "PAPERBOY_SCHEDULE_POLL_SECONDS": "1",
        "PAPERBOY_DIGEST_SETTLE_SECONDS": "0",
        "PAPERBOY_SOURCE": str(tmp_path / "no-source.json"),  # ingest fails, logged
        "PAPERBOY_LOG_LEVEL": "INFO",
    }
    for name in ("PAPERBOY_DISCORD_TOKEN", "DISCORD_TOKEN", "PAPERBOY_SLACK_BOT_TOKEN"):
        env.pop(name, None)
    first, second = Proc("first", env), Proc("second", env)
    try:
        await first.start()
        await first.wait_for("this process schedules digests")
        await first.wait_for("catch-up:")
        await second.start()
        await second.wait_for("standing by")
        assert not any("this process schedules" in line for line in second.lines)

        await first.close(signal.SIGKILL)
        await second.wait_for("this process schedules digests")
        await second.wait_for("catch-up:")
        assert await second.close() == 0
    finally:
        await first.close(signal.SIGKILL)
        await second.close(signal.SIGKILL)

    async with pg_store.engine.connect() as conn:
        rows = list(await conn.execute(sa.select(digest_runs.c.target_id, digest_runs.c.trigger)))
    assert sorted(r.target_id for r in rows) == sorted(ids)  # one digest per channel
    takeover = [line for line in second.lines if "catch-up:" in line][-1]
    assert "0 planned now" in takeover and "20 planned before" in takeover
