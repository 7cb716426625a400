"""Helpers shared by the delivery, scheduler and crash-safety tests."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from paperboy.chat import ChatAdapter
from paperboy.clock import ManualClock
from paperboy.delivery import Deliverer, Planner, RetryPolicy
from paperboy.models import Paper, Target
from paperboy.store import Store
from paperboy.store.tables import channel_settings, deliveries, targets

#: A Monday, 09:00 UTC.
MONDAY = dt.datetime(2024, 11, 11, 9, 0, tzinfo=dt.UTC)


def paper(pid: str, title: str, *, upvotes: int = 0, abstract: str = "") -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, upvotes=upvotes, authors=("A. Author",))


def lora_papers(count: int, *, start: int = 0, prefix: str = "2411") -> list[Paper]:
    return [
        paper(f"{prefix}.{i:05d}", f"LoRA adapters, part {i}", upvotes=i)
        for i in range(start, start + count)
    ]


async def add_target(
    store: Store,
    channel: str,
    queries: Sequence[str] = ("LoRA",),
    *,
    platform: str = "fake",
    workspace: str = "",
    created_at: dt.datetime | None = dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    **settings: Any,
) -> tuple[Target, int]:
    """A target with subscriptions and settings; created (by default) long before the
    test clock's dates, so catch-up treats it as an old channel."""
    target = Target(platform, workspace, channel)
    tid = await store.targets.ensure(target)
    for query in queries:
        await store.subscriptions.add(target, query)
    if settings:
        await store.settings.update(target, **settings)
    if created_at is not None:
        async with store.begin_write() as conn:
            await conn.execute(
                sa.update(targets).where(targets.c.id == tid).values(created_at=created_at)
            )
    return target, tid


def planner_for(
    store: Store, adapters: Sequence[ChatAdapter], clock: ManualClock, *, settle: float = 0.0
) -> Planner:
    return Planner(store, {a.platform: a for a in adapters}, clock=clock, settle_seconds=settle)


def deliverer_for(
    store: Store,
    adapters: Sequence[ChatAdapter],
    clock: ManualClock,
    **options: Any,
) -> Deliverer:
    options.setdefault("min_interval", 1.0)
    options.setdefault("policy", RetryPolicy(max_attempts=4, base=2.0, cap=60.0))
    options.setdefault("rng", random.Random(7))
    options.setdefault("poll", 0.01)
    options.setdefault("lease", 60.0)
    return Deliverer(store, {a.platform: a for a in adapters}, clock=clock, **options)


async def bulk_targets(
    store: Store,
    channels: Sequence[str],
    queries: Sequence[str] = ("LoRA",),
    *,
    platform: str = "fake",
    workspace: str = "",
    created_at: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    **settings: Any,
) -> list[int]:
    """Many targets at once (plain inserts), each with `queries` and default settings."""
    from paperboy.store.tables import channel_settings, subscriptions

    async with store.begin_write() as conn:
        await conn.execute(
            sa.insert(targets),
            [
                {
                    "platform": platform,
                    "workspace": workspace,
                    "channel": c,
                    "created_at": created_at,
                }
                for c in channels
            ],
        )
        rows = await conn.execute(
            sa.select(targets.c.id, targets.c.channel).where(targets.c.platform == platform)
        )
        by_channel = {r.channel: r.id for r in rows}
        ids = [by_channel[c] for c in channels]
        defaults = {
            "schedule_time": "09:00",
            "timezone": "UTC",
            "days": "mon,tue,wed,thu,fri",
            "schedule_enabled": True,
            "paused": False,
            "max_papers": 20,
            "min_upvotes": 0,
            "post_empty": False,
            "updated_at": created_at,
            **settings,
        }
        await conn.execute(
            sa.insert(channel_settings), [{"target_id": tid, **defaults} for tid in ids]
        )
        await conn.execute(
            sa.insert(subscriptions),
            [
                {"target_id": tid, "query": q, "created_at": created_at}
                for tid in ids
                for q in queries
            ],
        )
    return ids


async def delivered(store: Store, target: Target, paper_ids: Sequence[str]) -> set[str]:
    """The ids among `paper_ids` the ledger (`deliveries`) holds for `target`."""
    stmt = (
        sa.select(deliveries.c.paper_id)
        .join(targets, targets.c.id == deliveries.c.target_id)
        .where(
            targets.c.platform == target.platform,
            targets.c.workspace == (target.workspace or ""),
            targets.c.channel == target.channel,
            deliveries.c.paper_id.in_(list(paper_ids)),
        )
    )
    async with store.engine.connect() as conn:
        return set((await conn.execute(stmt)).scalars())


async def move_watermark(store: Store, target: Target, at: dt.datetime) -> None:
    """What an operator does by hand: set a channel's `last_digest_at` (say, back)."""
    target_id = await store.targets.get_id(target)
    async with store.begin_write() as conn:
        await conn.execute(
            sa.update(channel_settings)
            .where(channel_settings.c.target_id == target_id)
            .values(last_digest_at=at)
        )
