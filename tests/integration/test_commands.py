"""`/papers` commands against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from paperboy.chat import CommandContext
from paperboy.commands import BUSY, Commands
from paperboy.models import Target
from paperboy.sources.file import FileSource
from paperboy.sources.registry import source_from_spec
from paperboy.store import Store, migrate
from paperboy_config import Settings

CHAN = Target("console", "", "lab")
CTX = CommandContext(CHAN, user="tester")


@pytest.fixture
async def commands(store) -> Commands:
    await store.targets.ensure(CHAN)
    return Commands(store, source_from_spec("sample", Settings()))


async def test_subscribe_list_unsubscribe(commands: Commands) -> None:
    first = await commands.handle(CTX, '/papers subscribe LoRA, "pipeline parallelism"')
    assert first.ok and first.text.startswith("Subscribed #")
    second = await commands.handle(CTX, "subscribe mixture of experts")
    assert second.ok
    listed = await commands.handle(CTX, "list")
    assert 'LoRA, "pipeline parallelism"' in listed.text
    assert "mixture of experts" in listed.text
    sub_id = first.text.split("#")[1].split(":")[0]
    gone = await commands.handle(CTX, f"unsubscribe {sub_id}")
    assert gone.ok and "LoRA" in gone.text
    gone2 = await commands.handle(CTX, "unsubscribe mixture of experts")
    assert gone2.ok
    empty = await commands.handle(CTX, "list")
    assert "no subscriptions" in empty.text


async def test_bad_query_answers_with_column(commands: Commands, store) -> None:
    reply = await commands.handle(CTX, 'subscribe LoRA "abc')
    assert not reply.ok
    assert "column 6" in reply.text
    assert await store.subscriptions.list(CHAN) == []


async def test_duplicate_and_limit(commands: Commands, store) -> None:
    assert (await commands.handle(CTX, "subscribe LoRA")).ok
    dup = await commands.handle(CTX, "subscribe LoRA")
    assert not dup.ok and "already" in dup.text
    for i in range(49):
        assert (await commands.handle(CTX, f"subscribe term{i}")).ok
    over = await commands.handle(CTX, "subscribe one too many")
    assert not over.ok and "50" in over.text
    assert len(await store.subscriptions.list(CHAN)) == 50


@pytest.mark.parametrize(
    "line",
    [
        "subscribe",
        "unsubscribe",
        "unsubscribe 999",
        "digest yesterday",
        "digest 2024-13-01",
        "list extra",
        "frobnicate",
        "unsubscribe 99999999999999999999999999",
    ],
)
async def test_bad_arguments_get_one_line(commands: Commands, line: str) -> None:
    reply = await commands.handle(CTX, line)
    assert not reply.ok
    assert "\n" not in reply.text and reply.text


async def test_help_lists_commands(commands: Commands) -> None:
    reply = await commands.handle(CTX, "help")
    for name in ("subscribe", "unsubscribe", "list", "digest", "help"):
        assert f"/papers {name}" in reply.text
    assert (await commands.handle(CTX, "")).text == reply.text


async def test_managing_needs_permission(commands: Commands, store) -> None:
    ctx = CommandContext(CHAN, user="guest", can_manage=False)
    reply = await commands.handle(ctx, "subscribe LoRA")
    assert not reply.ok and "permission" in reply.text
    assert await store.subscriptions.list(CHAN) == []
    assert (await commands.handle(ctx, "list")).ok


async def test_digest_preview_for_a_day(commands: Commands) -> None:
    await commands.handle(CTX, "subscribe LoRA")
    await commands.handle(CTX, "subscribe pipeline parallelism")
    reply = await commands.handle(CTX, "digest 2024-11-11")
    assert reply.ok and reply.digest is not None
    ids = {e.paper.id for e in reply.digest.entries}
    assert "2411.05288" in ids  # Balancing Pipeline Parallelism with Vocabulary Parallelism
    assert reply.digest.date == dt.date(2024, 11, 11)
    assert reply.digest.checked == 9
    # Without a date: the newest archived day (now 2024-11-11).
    latest = await commands.handle(CTX, "digest")
    assert latest.digest is not None and latest.digest.date == dt.date(2024, 11, 11)


async def test_digest_without_subscriptions(commands: Commands) -> None:
    reply = await commands.handle(CTX, "digest")
    assert "no subscriptions" in reply.text


async def test_digest_source_failure_is_one_line(store, tmp_path) -> None:
    await store.targets.ensure(CHAN)
    commands = Commands(store, FileSource(tmp_path / "missing.json"))
    await commands.handle(CTX, "subscribe LoRA")
    reply = await commands.handle(CTX, "digest 2020-01-01")
    assert not reply.ok and "\n" not in reply.text


@pytest.mark.parametrize(
    "line", ["unsubscribe ²", "unsubscribe #²", "unsubscribe ٣", "unsubscribe -1"]
)
async def test_unsubscribe_takes_ascii_numbers_only(commands: Commands, line: str) -> None:
    assert (await commands.handle(CTX, "subscribe LoRA")).ok
    reply = await commands.handle(CTX, line)
    assert not reply.ok and reply.text.startswith("No subscription")
    assert "LoRA" in (await commands.handle(CTX, "list")).text


@pytest.mark.parametrize(
    ("query", "column", "code"),
    [
        ("LoRA\x00", 5, "U+0000"),
        ("Lo\x1b[31mRA", 3, "U+001B"),
        ("LoRA, \x7fMoE", 7, "U+007F"),
        ("LoRA \x9b31m", 6, "U+009B"),
        ("LoRA \u202eTXET", 6, "U+202E"),
        ("LoRA \ud800", 6, "U+D800"),
    ],
)
async def test_subscribe_refuses_control_characters(
    commands: Commands, store, query: str, column: int, code: str
) -> None:
    reply = await commands.handle(CTX, f"/papers subscribe {query}")
    assert not reply.ok
    assert reply.text.startswith("Bad query: ") and f"({code})" in reply.text
    assert f"at column {column}." in reply.text
    assert query[column - 1] not in reply.text
    assert await store.subscriptions.list(CHAN) == []


async def test_queries_stored_with_control_characters_are_listed_escaped(
    commands: Commands, store
) -> None:
    """Rows from before the check: listed escaped, still matching, removable by id."""
    legacy = await store.subscriptions.add(CHAN, "pipeline\x1bparallelism\u202e")
    listed = await commands.handle(CTX, "list")
    assert f"#{legacy.id}  pipeline\\x1bparallelism\\u202e" in listed.text
    assert "\x1b" not in listed.text and "\u202e" not in listed.text
    digest = await commands.handle(CTX, "digest 2024-11-11")
    assert digest.ok and digest.digest is not None
    assert [e.paper.id for e in digest.digest.entries] == ["2411.05288"]
    gone = await commands.handle(CTX, f"unsubscribe {legacy.id}")
    assert gone.ok and "\x1b" not in gone.text and "\\x1b" in gone.text


# -- a burst of commands -----------------------------------------------------------------


def burst_line(i: int) -> tuple[CommandContext, str]:
    """Every other command subscribes (a write), the rest list (a read); 30 channels."""
    ctx = CommandContext(Target("slack", "T1", f"C{i % 30:03d}"), user=f"U{i}")
    return ctx, (f"subscribe topic{i}" if i % 2 else "list")


async def test_a_burst_waits_its_turn_and_every_command_succeeds(db_url: str) -> None:
    """300 commands at once, on a pool of 2 connections that gives up after 0.1 s: they
    take turns instead of waiting in the pool, so none times out ("Sorry, ... failed")."""
    await migrate(db_url)
    async with Store(db_url, pool_size=2, max_overflow=0, pool_timeout=0.1) as store:
        commands = Commands(store)
        lines = [burst_line(i) for i in range(300)]
        replies = await asyncio.gather(*(commands.handle(ctx, line) for ctx, line in lines))
        assert [r.text for r in replies if not r.ok] == []
        stored = 0
        for channel in {ctx.target for ctx, _ in lines}:
            stored += len(await store.subscriptions.list(channel))
    assert stored == 150


async def test_past_the_line_commands_are_told_busy_never_failed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One command runs, three wait their turn; the five beyond are told to try again
    (at once); the four then all succeed."""
    release = asyncio.Event()
    real_list = store.subscriptions.list

    async def slow_list(target: Target) -> Any:
        await release.wait()
        return await real_list(target)

    monkeypatch.setattr(store.subscriptions, "list", slow_list)
    commands = Commands(store, concurrency=1, queue=3)
    tasks = [asyncio.create_task(commands.handle(CTX, "list")) for _ in range(9)]
    await asyncio.sleep(0)  # each task runs up to its first wait
    turned_away = [task for task in tasks if task.done()]
    assert len(turned_away) == 5
    assert all(task.result().text == BUSY and not task.result().ok for task in turned_away)
    release.set()
    answered = [await task for task in tasks if task not in turned_away]
    assert all(r.ok and "no subscriptions" in r.text for r in answered)
    assert len(answered) == 4


@pytest.mark.parametrize(
    "error",
    [
        sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        sa.exc.OperationalError(
            "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
        ),
        sa.exc.OperationalError("connect", {}, Exception("sorry, too many clients already")),
    ],
    ids=["pool-timeout", "sqlite-locked", "pg-too-many-clients"],
)
async def test_an_overloaded_database_answers_busy_not_failed(
    store: Store, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    async def overloaded(*args: object, **kwargs: object) -> Any:
        raise error

    monkeypatch.setattr(store.subscriptions, "add", overloaded)
    reply = await Commands(store).handle(CTX, "subscribe LoRA")
    assert (reply.ok, reply.text) == (False, BUSY)


async def test_a_broken_command_still_says_it_failed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(store.subscriptions, "add", broken)
    reply = await Commands(store).handle(CTX, "subscribe LoRA")
    assert not reply.ok and "failed" in reply.text


async def test_sqlite_writers_of_one_process_take_turns(sqlite_url: str) -> None:
    """Concurrent writes never meet in SQLite's busy handler (here with no busy wait at
    all: a second BEGIN IMMEDIATE on another connection would fail at once)."""
    await migrate(sqlite_url)
    async with Store(sqlite_url) as store:

        @event.listens_for(store.engine.sync_engine, "connect")
        def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=0")
            cursor.close()

        commands = Commands(store, concurrency=10)
        lines = [burst_line(2 * i + 1) for i in range(100)]  # all subscribes
        replies = await asyncio.gather(*(commands.handle(ctx, line) for ctx, line in lines))
        assert [r.text for r in replies if not r.ok] == []
