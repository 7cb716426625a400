"""Weekly rollups in the database: schedules, papers of a period, and planning into the outbox.

A rollup is planned like a digest (docs/delivery.md): one transaction writes its
`rollup_runs` row (primary key (target, ISO week): a second plan finds it taken and writes
nothing) and its one message part in the `outbox`, under the key
`pb:<target>:rollup:<week>` (`rollup_key`), so the sender's guarantees (claimed with a
lease, looked up before a resend, sent once) hold for it unchanged. The part's
`digest_date` is the local day the rollup is for and its `part` number
`ROLLUP_PART`, after any part of that day's digest: it goes out after the digest of the
same day, never between its parts.

`feedback_scores` is the channel's own feedback (votes and saves, store/feedback.py): the
rollup ranks by it first, then by Hugging Face votes.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from paperboy.models import Paper, Target
from paperboy.store.outbox import PENDING
from paperboy.store.repositories import (
    StoreContext,
    _ensure_target,
    _target_id_subquery,
    chunks,
    paper_from_row,
    target_from_row,
)
from paperboy.store.tables import (
    channel_settings,
    outbox,
    papers,
    rollup_runs,
    rollup_settings,
    targets,
)

#: The outbox part number of a rollup: after every part of that day's digest.
ROLLUP_PART = 10_000
ROLLUP_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def rollup_key(target_id: int, week: str) -> str:
    """The rollup's outbox key: one per channel and ISO week."""
    return f"pb:{target_id}:rollup:{week}"


def is_rollup_key(key: str) -> bool:
    return ":rollup:" in key


@dataclass(frozen=True, slots=True)
class RollupSchedule:
    """A channel's weekly rollup: `weekday` (mon..sun) at `at_time` in `timezone`."""

    target_id: int
    target: Target
    weekday: str
    at_time: str
    timezone: str
    enabled: bool = True
    paused: bool = False
    since: dt.datetime | None = None  # when it was last set: runs before are not caught up


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RollupRepo:
    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    def _select(self) -> sa.Select[Any]:
        return (
            sa.select(
                rollup_settings.c.target_id,
                rollup_settings.c.weekday,
                rollup_settings.c.at_time,
                rollup_settings.c.enabled,
                rollup_settings.c.updated_at,
                channel_settings.c.timezone,
                channel_settings.c.paused,
                targets.c.platform,
                targets.c.workspace,
                targets.c.channel,
            )
            .join(targets, targets.c.id == rollup_settings.c.target_id)
            .join(channel_settings, channel_settings.c.target_id == rollup_settings.c.target_id)
        )

    @staticmethod
    def _schedule(row: Any) -> RollupSchedule:
        return RollupSchedule(
            target_id=row.target_id,
            target=target_from_row(row),
            weekday=row.weekday,
            at_time=row.at_time,
            timezone=row.timezone,
            enabled=bool(row.enabled),
            paused=bool(row.paused),
            since=row.updated_at,
        )

    async def get(self, target: Target) -> RollupSchedule | None:
        stmt = self._select().where(rollup_settings.c.target_id == _target_id_subquery(target))
        async with self._ctx.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return self._schedule(row) if row is not None else None

    async def set(self, target: Target, weekday: str, at_time: str) -> RollupSchedule:
        """Turn the channel's weekly rollup on at `weekday` `at_time` (its time zone)."""
        if weekday not in ROLLUP_WEEKDAYS:
            raise ValueError(f"{weekday!r} is not a weekday (mon..sun)")
        async with self._ctx.writing() as conn:
            target_id = await _ensure_target(self._ctx, conn, target)
            values = {"weekday": weekday, "at_time": at_time, "enabled": True, "updated_at": _now()}
            await conn.execute(
                self._ctx.insert(rollup_settings)
                .values(target_id=target_id, **values)
                .on_conflict_do_update(index_elements=["target_id"], set_=values)
            )
        found = await self.get(target)
        assert found is not None
        return found

    async def disable(self, target: Target) -> bool:
        """Turn the weekly rollup off; False when it was not on."""
        async with self._ctx.writing() as conn:
            result = await conn.execute(
                sa.update(rollup_settings)
                .where(
                    rollup_settings.c.target_id == _target_id_subquery(target),
                    rollup_settings.c.enabled.is_(True),
                )
                .values(enabled=False, updated_at=_now())
            )
        return bool(result.rowcount)

    async def active(self) -> list[RollupSchedule]:
        """Every enabled rollup schedule (paused channels included: `paused` says so)."""
        stmt = self._select().where(rollup_settings.c.enabled.is_(True))
        stmt = stmt.order_by(rollup_settings.c.target_id)
        async with self._ctx.engine.connect() as conn:
            return [self._schedule(row) for row in await conn.execute(stmt)]

    async def sighted(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[Paper, dt.datetime | None]]:
        """Papers that may belong to [start, end): first seen in it, or listed on its days
        (a day's margin each side; the caller places each paper in its week exactly)."""
        margin = dt.timedelta(days=1)
        stmt = sa.select(papers).where(
            sa.or_(
                sa.and_(
                    papers.c.first_seen_at >= start - margin, papers.c.first_seen_at < end + margin
                ),
                sa.and_(
                    papers.c.daily_date >= (start - margin).date(),
                    papers.c.daily_date <= (end + margin).date(),
                ),
            )
        )
        stmt = stmt.order_by(papers.c.id)
        async with self._ctx.engine.connect() as conn:
            return [(paper_from_row(row), row.first_seen_at) for row in await conn.execute(stmt)]

    async def feedback_scores(self, target_id: int, paper_ids: Collection[str]) -> dict[str, float]:
        """The channel's own feedback per paper since its last reset, higher is better:
        thumbs up and saves count one each, thumbs down minus one. Papers without
        feedback are left out of the answer (they rank by Hugging Face votes alone)."""
        from paperboy.store.feedback import FeedbackRepo

        wanted = builtins.set(paper_ids)
        rows = (await FeedbackRepo(self._ctx).by_paper([target_id])).get(target_id, [])
        return {
            f.paper_id: float(f.ups + f.saves - f.downs) for f in rows if f.paper_id in wanted
        }

    async def planned_weeks(
        self, keys: Collection[tuple[int, str]]
    ) -> builtins.set[tuple[int, str]]:
        """The (target id, week) pairs among `keys` whose rollup is planned already."""
        wanted = builtins.set(keys)
        found: builtins.set[tuple[int, str]] = builtins.set()
        weeks = sorted({week for _, week in wanted})
        tids = sorted({tid for tid, _ in wanted})
        if not wanted:
            return found
        async with self._ctx.engine.connect() as conn:
            for chunk in chunks(tids):
                stmt = sa.select(rollup_runs.c.target_id, rollup_runs.c.week).where(
                    rollup_runs.c.target_id.in_(chunk), rollup_runs.c.week.in_(weeks)
                )
                found.update(
                    key
                    for row in await conn.execute(stmt)
                    if (key := (row.target_id, row.week)) in wanted
                )
        return found

    async def planned(self, target_id: int, week: str) -> bool:
        stmt = sa.select(rollup_runs.c.week).where(
            rollup_runs.c.target_id == target_id, rollup_runs.c.week == week
        )
        async with self._ctx.engine.connect() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def plan(
        self,
        target_id: int,
        week: str,
        day: dt.date,
        payload: Any,
        papers_count: int,
        now: dt.datetime,
    ) -> bool:
        """Write the week's rollup run and its outbox part; False when it was planned
        already (by another process, an earlier try)."""
        async with self._ctx.writing() as conn:
            inserted = await conn.execute(
                self._ctx.insert(rollup_runs)
                .values(target_id=target_id, week=week, papers=papers_count, planned_at=now)
                .on_conflict_do_nothing(index_elements=["target_id", "week"])
                .returning(rollup_runs.c.week)
            )
            if inserted.first() is None:
                return False
            await conn.execute(
                self._ctx.insert(outbox)
                .values(
                    target_id=target_id,
                    digest_date=day,
                    part=ROLLUP_PART,
                    parts=1,
                    key=rollup_key(target_id, week),
                    payload=payload,
                    status=PENDING,
                    attempts=0,
                    uncertain=False,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["key"])
            )
        return True

    async def runs(self, target_id: int) -> list[str]:
        """The weeks whose rollup was planned for the target (tests and audits)."""
        stmt = (
            sa.select(rollup_runs.c.week)
            .where(rollup_runs.c.target_id == target_id)
            .order_by(rollup_runs.c.week)
        )
        async with self._ctx.engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())
