"""The delivery outbox: planned digests, their rendered parts, claiming and acknowledging.

Tables (migration 0002): `digest_runs` has one row per (target, digest date) once that
digest is planned, even an empty one, so "already done?" is one primary-key lookup.
`outbox` has one row per rendered message part under UNIQUE (target, digest date, part);
its `key` is handed to the adapter for idempotent sends.

Row life: `queued` (a later part, waiting for the one before it) -> `pending` -> claimed
(`sending`, with a lease) -> `sent` with the platform's message id; a failed send goes
back to `pending` with a later `next_attempt_at`, or to `failed` once its attempts are
used up. Sending (or giving up on) a part makes the next part `pending`, due
`min_interval` later; keeping waiting parts out of `pending` keeps the claim query an
index range scan that stops after `limit` rows. A live worker renews the leases of the
parts it holds (`renew`) and records only parts it still holds (`mark_sent_many`). A
`sending` row whose lease ran out belongs to a worker that died (or stalled) mid-send: it
is claimed again and marked `uncertain`, so the sender asks the platform (`find_sent`)
before sending it again.

Claiming uses `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL (workers in many processes
skip each other's rows) and the same statement under BEGIN IMMEDIATE on SQLite. Only the
first unsent part of a target is claimable, so parts go out in order and a channel never
has two messages in flight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paperboy.digest import digest_from_json, digest_to_json
from paperboy.models import ChannelSettings, Digest, Paper, Target
from paperboy.store.repositories import (
    StoreContext,
    chunks,
    paper_from_row,
    settings_from_row,
    target_from_row,
)
from paperboy.store.tables import (
    channel_settings,
    deliveries,
    digest_runs,
    outbox,
    papers,
    subscriptions,
    targets,
)

QUEUED = "queued"
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

RUN_RENDERED = "rendered"
RUN_UNRENDERED = "unrendered"
RUN_EMPTY = "empty"

#: Statuses of parts not sent yet.
UNSENT = (QUEUED, PENDING, SENDING)

#: Payload of a part the adapter renders at send time (its rendering is not JSON, e.g.
#: the console's Rich objects): the run keeps the digest, the part keeps its index.
RENDER_AT_SEND = "$render"


def outbox_key(target_id: int, day: dt.date, part: int) -> str:
    """The idempotency key of one part: stable across retries, crashes and processes."""
    return f"pb:{target_id}:{day.isoformat()}:{part}"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class TargetState:
    """A target as planning sees it."""

    id: int
    target: Target
    settings: ChannelSettings
    watermark: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NewRun:
    """One planned digest, ready to be written.

    `parts` are the rendered payloads; None means no adapter could render it yet (the run
    waits as `unrendered`). `digest` None with no parts is an empty digest not posted.
    """

    target_id: int
    digest_date: dt.date
    trigger: str
    window_start: dt.datetime | None
    window_end: dt.datetime
    digest: Digest | None
    paper_ids: tuple[str, ...]
    parts: list[Any] | None
    keep_digest: bool = False


@dataclass(frozen=True, slots=True)
class ClaimedPart:
    id: int
    target_id: int
    target: Target
    digest_date: dt.date
    part: int
    parts: int
    key: str
    payload: Any
    attempts: int
    uncertain: bool
    claimed_until: dt.datetime | None = None
    #: When the part entered the outbox (the delivery latency starts there).
    created_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxGauges:
    """The outbox at a glance (see `OutboxRepo.gauges`)."""

    depth: dict[str, int]
    oldest_unsent: dt.datetime | None
    failed: int
    paused: int


@dataclass(frozen=True, slots=True)
class SentAck:
    part_id: int
    target_id: int
    message_id: str
    sent_at: dt.datetime


@dataclass(frozen=True, slots=True)
class FailedPart:
    target: Target
    digest_date: dt.date
    part: int
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True)
class UnrenderedRun:
    target_id: int
    target: Target
    digest_date: dt.date
    digest: Digest


@dataclass(frozen=True, slots=True)
class Backlog:
    """Unsent parts of unpaused targets on some platforms, by what they wait for.

    `waiting`: pending parts (a retry, the spacing between two messages, or a part behind
    a claimed one), the earliest due at `waiting_due`. `claimed`: parts some worker holds
    (`sending`), the earliest claim running out at `claimed_until` (a live worker renews
    its claims; a stopped one's run out and the parts are taken over). `queued`: later parts
    of a digest, waiting for the part before them.
    """

    waiting: int = 0
    waiting_due: dt.datetime | None = None
    claimed: int = 0
    claimed_until: dt.datetime | None = None
    queued: int = 0

    @property
    def total(self) -> int:
        return self.waiting + self.claimed + self.queued

    @property
    def next_claimable(self) -> dt.datetime | None:
        """When the first of these parts can be claimed (None: nothing is waiting)."""
        times = [t for t in (self.waiting_due, self.claimed_until) if t is not None]
        return min(times) if times else None


# --------------------------------------------------------------------------- planning tx


class PlanTransaction:
    """One write transaction of the planner: lock, read the ledger, write runs atomically."""

    def __init__(self, ctx: StoreContext, conn: AsyncConnection) -> None:
        self._ctx = ctx
        self.conn = conn

    async def lock_targets(self, ids: Sequence[int]) -> dict[int, dt.datetime | None]:
        """Lock the targets' settings rows (PostgreSQL; SQLite holds the write lock already)
        and return their current watermarks."""
        found: dict[int, dt.datetime | None] = {}
        for chunk in chunks(sorted(set(ids))):
            stmt = (
                sa.select(channel_settings.c.target_id, channel_settings.c.last_digest_at)
                .where(channel_settings.c.target_id.in_(chunk))
                .order_by(channel_settings.c.target_id)
                .with_for_update()
            )
            for row in await self.conn.execute(stmt):
                found[row.target_id] = row.last_digest_at
        return found

    async def delivered(self, wanted: Mapping[int, Collection[str]]) -> dict[int, set[str]]:
        """Of each target's paper ids, those already in the ledger."""
        out: dict[int, set[str]] = {tid: set() for tid in wanted}
        all_ids = sorted({pid for ids in wanted.values() for pid in ids})
        tids = sorted(tid for tid, ids in wanted.items() if ids)
        if not all_ids or not tids:
            return out
        for tid_chunk in chunks(tids):
            for id_chunk in chunks(all_ids):
                stmt = sa.select(deliveries.c.target_id, deliveries.c.paper_id).where(
                    deliveries.c.target_id.in_(tid_chunk), deliveries.c.paper_id.in_(id_chunk)
                )
                for row in await self.conn.execute(stmt):
                    if row.paper_id in wanted[row.target_id]:
                        out[row.target_id].add(row.paper_id)
        return out

    async def insert_runs(
        self, runs: Sequence[NewRun], now: dt.datetime
    ) -> set[tuple[int, dt.date]]:
        """Write the runs not planned yet (with ledger, outbox and watermark); return their keys.

        A run whose (target, date) exists already is skipped whole: that digest was planned
        by someone else (another process, an earlier try).
        """
        if not runs:
            return set()
        ins = self._ctx.insert(digest_runs)
        inserted: set[tuple[int, dt.date]] = set()
        rows = [
            {
                "target_id": run.target_id,
                "digest_date": run.digest_date,
                "status": _run_status(run),
                "trigger": run.trigger,
                "window_start": run.window_start,
                "window_end": run.window_end,
                "papers": len(run.paper_ids),
                "parts": len(run.parts or ()),
                "digest": (
                    digest_to_json(run.digest)
                    if run.digest is not None and (run.parts is None or run.keep_digest)
                    else None
                ),
                "planned_at": now,
                "rendered_at": now if run.parts is not None else None,
            }
            for run in runs
        ]
        # executemany form throughout: SQLAlchemy batches it ("insertmanyvalues") with one
        # cached compilation, where a multi-row .values() is compiled anew every time.
        stmt = ins.on_conflict_do_nothing(index_elements=["target_id", "digest_date"]).returning(
            digest_runs.c.target_id, digest_runs.c.digest_date
        )
        inserted.update((r.target_id, r.digest_date) for r in await self.conn.execute(stmt, rows))
        written = [run for run in runs if (run.target_id, run.digest_date) in inserted]
        ledger = [
            {
                "target_id": run.target_id,
                "paper_id": pid,
                "digest_date": run.digest_date,
                "delivered_at": now,
            }
            for run in written
            for pid in run.paper_ids
        ]
        if ledger:
            await self.conn.execute(
                self._ctx.insert(deliveries).on_conflict_do_nothing(
                    index_elements=["target_id", "paper_id"]
                ),
                ledger,
            )
        parts = [
            _part_row(run.target_id, run.digest_date, index, len(run.parts), payload, now)
            for run in written
            if run.parts is not None
            for index, payload in enumerate(run.parts)
        ]
        if parts:
            await self.conn.execute(sa.insert(outbox), parts)
        marks = [{"tid": run.target_id, "until": run.window_end} for run in written]
        if marks:
            stmt = (
                sa.update(channel_settings)
                .where(
                    channel_settings.c.target_id == sa.bindparam("tid"),
                    sa.or_(
                        channel_settings.c.last_digest_at.is_(None),
                        channel_settings.c.last_digest_at < sa.bindparam("until"),
                    ),
                )
                .values(last_digest_at=sa.bindparam("until"))
            )
            await self.conn.execute(stmt, marks)
        return inserted


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    """A timestamp from an aggregate or CASE (SQLite may hand those back as text) in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _run_status(run: NewRun) -> str:
    if run.parts is None:
        return RUN_UNRENDERED
    return RUN_RENDERED if run.parts else RUN_EMPTY


def _part_row(
    target_id: int, day: dt.date, index: int, total: int, payload: Any, now: dt.datetime
) -> dict[str, Any]:
    return {
        "target_id": target_id,
        "digest_date": day,
        "part": index,
        "parts": total,
        "key": outbox_key(target_id, day, index),
        "payload": payload,
        "status": PENDING if index == 0 else QUEUED,
        "attempts": 0,
        "uncertain": False,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


# --------------------------------------------------------------------------- repository


_STATE_COLUMNS = (
    targets.c.id,
    targets.c.platform,
    targets.c.workspace,
    targets.c.channel,
    targets.c.created_at,
    channel_settings.c.last_digest_at,
    *(c for c in channel_settings.c if c.name not in ("target_id", "last_digest_at", "updated_at")),
)


class OutboxRepo:
    """Planned digests and message parts (see the module docstring)."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._claims: tuple[Any, Any] | None = None
        self._advances: tuple[Any, Any] | None = None
        self._target_cache: dict[int, Target] = {}

    def _writing(self) -> AbstractAsyncContextManager[AsyncConnection]:
        # On SQLite the writers of this process take turns (see StoreContext.writing).
        return self._ctx.writing()

    # ----------------------------------------------------------------- planning reads

    async def target_states(self, ids: Collection[int] | None = None) -> list[TargetState]:
        """Targets with settings and watermark (all, or those in `ids`), by id."""
        base = (
            sa.select(*_STATE_COLUMNS)
            .join(channel_settings, channel_settings.c.target_id == targets.c.id)
            .order_by(targets.c.id)
        )
        out: list[TargetState] = []
        async with self._ctx.engine.connect() as conn:
            if ids is None:
                result = list(await conn.execute(base))
            else:
                result = []
                for chunk in chunks(sorted(set(ids))):
                    result.extend(await conn.execute(base.where(targets.c.id.in_(chunk))))
        for row in result:
            out.append(
                TargetState(
                    id=row.id,
                    target=target_from_row(row),
                    settings=settings_from_row(row),
                    watermark=row.last_digest_at,
                    created_at=row.created_at,
                )
            )
        return out

    async def target_id(self, target: Target) -> int | None:
        stmt = sa.select(targets.c.id).where(
            targets.c.platform == target.platform,
            targets.c.workspace == (target.workspace or ""),
            targets.c.channel == target.channel,
        )
        async with self._ctx.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()

    async def subscriptions_of(self, ids: Collection[int]) -> dict[int, list[str]]:
        """Each target's queries in the order they were added."""
        out: dict[int, list[str]] = {tid: [] for tid in ids}
        async with self._ctx.engine.connect() as conn:
            for chunk in chunks(sorted(set(ids))):
                stmt = (
                    sa.select(subscriptions.c.target_id, subscriptions.c.query)
                    .where(subscriptions.c.target_id.in_(chunk))
                    .order_by(subscriptions.c.id)
                )
                for row in await conn.execute(stmt):
                    out[row.target_id].append(row.query)
        return out

    async def planned(self, keys: Iterable[tuple[int, dt.date]]) -> set[tuple[int, dt.date]]:
        """The (target id, digest date) pairs among `keys` that are planned already."""
        wanted = set(keys)
        found: set[tuple[int, dt.date]] = set()
        if not wanted:
            return found
        tids = sorted({tid for tid, _ in wanted})
        days = sorted({day for _, day in wanted})
        async with self._ctx.engine.connect() as conn:
            for tid_chunk in chunks(tids):
                for day_chunk in chunks(days):
                    stmt = sa.select(digest_runs.c.target_id, digest_runs.c.digest_date).where(
                        digest_runs.c.target_id.in_(tid_chunk),
                        digest_runs.c.digest_date.in_(day_chunk),
                    )
                    found.update(
                        key
                        for row in await conn.execute(stmt)
                        if (key := (row.target_id, row.digest_date)) in wanted
                    )
        return found

    async def papers_seen(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> list[tuple[Paper, dt.datetime]]:
        """Papers first seen in (`since`, `until`] with that time, oldest first."""
        stmt = sa.select(papers).where(papers.c.first_seen_at <= until)
        if since is not None:
            stmt = stmt.where(papers.c.first_seen_at > since)
        stmt = stmt.order_by(papers.c.first_seen_at, papers.c.id)
        async with self._ctx.engine.connect() as conn:
            return [(paper_from_row(row), row.first_seen_at) for row in await conn.execute(stmt)]

    async def papers_seen_after(self, since: dt.datetime) -> tuple[int, dt.datetime | None]:
        """How many papers were first seen after `since`, and the newest first-seen time."""
        stmt = sa.select(sa.func.count(), sa.func.max(papers.c.first_seen_at)).where(
            papers.c.first_seen_at > since
        )
        async with self._ctx.engine.connect() as conn:
            count, newest = (await conn.execute(stmt)).one()
        return int(count), _aware(newest)

    async def delivered(self, wanted: Mapping[int, Collection[str]]) -> dict[int, set[str]]:
        """`PlanTransaction.delivered` outside a transaction (what the planner expects)."""
        async with self._ctx.engine.connect() as conn:
            return await PlanTransaction(self._ctx, conn).delivered(wanted)

    @asynccontextmanager
    async def planning(self) -> AsyncIterator[PlanTransaction]:
        """A write transaction for writing planned runs (see `PlanTransaction`)."""
        async with self._writing() as conn:
            yield PlanTransaction(self._ctx, conn)

    # ----------------------------------------------------------------- runs waiting for an adapter

    async def unrendered(self, platforms: Collection[str], limit: int = 200) -> list[UnrenderedRun]:
        if not platforms:
            return []
        stmt = (
            sa.select(
                digest_runs.c.target_id,
                digest_runs.c.digest_date,
                digest_runs.c.digest,
                targets.c.platform,
                targets.c.workspace,
                targets.c.channel,
            )
            .join(targets, targets.c.id == digest_runs.c.target_id)
            .where(digest_runs.c.status == RUN_UNRENDERED, targets.c.platform.in_(platforms))
            .order_by(digest_runs.c.digest_date, digest_runs.c.target_id)
            .limit(limit)
        )
        async with self._ctx.engine.connect() as conn:
            return [
                UnrenderedRun(
                    row.target_id,
                    target_from_row(row),
                    row.digest_date,
                    digest_from_json(row.digest),
                )
                for row in await conn.execute(stmt)
            ]

    async def store_rendering(
        self,
        target_id: int,
        day: dt.date,
        parts: Sequence[Any],
        now: dt.datetime,
        *,
        keep_digest: bool = False,
    ) -> bool:
        """Turn an unrendered run into outbox rows; False when another worker did it first."""
        async with self._writing() as conn:
            values: dict[str, Any] = {
                "status": RUN_RENDERED if parts else RUN_EMPTY,
                "parts": len(parts),
                "rendered_at": now,
            }
            if not keep_digest:
                values["digest"] = None
            result = await conn.execute(
                sa.update(digest_runs)
                .where(
                    digest_runs.c.target_id == target_id,
                    digest_runs.c.digest_date == day,
                    digest_runs.c.status == RUN_UNRENDERED,
                )
                .values(**values)
            )
            if result.rowcount != 1:
                return False
            rows = [_part_row(target_id, day, i, len(parts), p, now) for i, p in enumerate(parts)]
            if rows:
                await conn.execute(sa.insert(outbox), rows)
        return True

    async def run_digest(self, target_id: int, day: dt.date) -> Digest | None:
        stmt = sa.select(digest_runs.c.digest).where(
            digest_runs.c.target_id == target_id, digest_runs.c.digest_date == day
        )
        async with self._ctx.engine.connect() as conn:
            data = (await conn.execute(stmt)).scalar_one_or_none()
        return digest_from_json(data) if data else None

    # ----------------------------------------------------------------- claiming

    @staticmethod
    def _claim_statement(*conditions: Any, order: Any, abandoned: bool) -> Any:
        """UPDATE ... WHERE id IN (the first claimable rows) RETURNING ...: one round trip.

        Claimable: not claimed (or the claim ran out), the target not paused and on one of
        this worker's `platforms`, and no earlier part of the target unsent. On PostgreSQL
        the chosen rows are locked with FOR UPDATE SKIP LOCKED, so concurrent workers take
        different rows instead of waiting for each other.
        """
        row = outbox.alias("candidate")
        earlier = outbox.alias("earlier")
        blocked = sa.exists().where(
            earlier.c.target_id == row.c.target_id,
            earlier.c.status.in_(UNSENT),
            sa.or_(
                earlier.c.digest_date < row.c.digest_date,
                sa.and_(earlier.c.digest_date == row.c.digest_date, earlier.c.part < row.c.part),
            ),
        )
        chosen = (
            sa.select(row.c.id)
            .join(targets, targets.c.id == row.c.target_id)
            .join(channel_settings, channel_settings.c.target_id == row.c.target_id)
            .where(
                *(condition(row) for condition in conditions),
                channel_settings.c.paused.is_(False),
                targets.c.platform.in_(sa.bindparam("platforms", expanding=True)),
                ~blocked,
            )
            .order_by(*order(row))
            .limit(sa.bindparam("lim", type_=sa.Integer))
            .with_for_update(skip_locked=True, of=row)
        )
        values: dict[str, Any] = {
            "status": SENDING,
            "claimed_by": sa.bindparam("worker"),
            "claimed_until": sa.bindparam("until"),
            "updated_at": sa.bindparam("now"),
        }
        if abandoned:
            values["uncertain"] = True
        return (
            sa.update(outbox)
            .where(outbox.c.id.in_(chosen))
            .values(**values)
            .returning(
                outbox.c.id,
                outbox.c.target_id,
                outbox.c.digest_date,
                outbox.c.part,
                outbox.c.parts,
                outbox.c.key,
                outbox.c.payload,
                outbox.c.attempts,
                outbox.c.uncertain,
                outbox.c.next_attempt_at,
                outbox.c.created_at,
            )
        )

    def _claim_statements(self) -> tuple[Any, Any]:
        if self._claims is None:
            abandoned = self._claim_statement(
                lambda r: r.c.status == SENDING,
                lambda r: r.c.claimed_until < sa.bindparam("now"),
                order=lambda r: (r.c.claimed_until, r.c.id),
                abandoned=True,
            )
            due = self._claim_statement(
                # A literal, not a parameter: only then may the database use the partial
                # index ix_outbox_due (WHERE status = 'pending'), prepared statements too.
                lambda r: r.c.status == sa.literal_column(f"'{PENDING}'"),
                lambda r: r.c.next_attempt_at <= sa.bindparam("now"),
                order=lambda r: (r.c.next_attempt_at, r.c.id),
                abandoned=False,
            )
            self._claims = (abandoned, due)
        return self._claims

    async def _targets_of(self, conn: AsyncConnection, ids: Iterable[int]) -> dict[int, Target]:
        """Targets by id, cached: a target's platform, workspace and channel never change."""
        missing = sorted(set(ids) - set(self._target_cache))
        stmt = sa.select(targets.c.id, targets.c.platform, targets.c.workspace, targets.c.channel)
        for chunk in chunks(missing):
            for row in await conn.execute(stmt.where(targets.c.id.in_(chunk))):
                self._target_cache[row.id] = target_from_row(row)
        return self._target_cache

    async def claim(
        self,
        worker: str,
        now: dt.datetime,
        *,
        limit: int,
        lease: float,
        platforms: Collection[str],
    ) -> list[ClaimedPart]:
        """Take up to `limit` due parts for `worker`, each the first unsent part of its
        target: first parts abandoned by a dead worker (their lease ran out), then pending
        ones, earliest due first."""
        if limit <= 0 or not platforms:
            return []
        abandoned, due = self._claim_statements()
        until = now + dt.timedelta(seconds=lease)
        params = {
            "now": now,
            "until": until,
            "worker": worker,
            "platforms": sorted(platforms),
            "lim": limit,
        }
        async with self._writing() as conn:
            rows = list(await conn.execute(abandoned, params))
            recovered = {r.id for r in rows}
            if len(rows) < limit:
                rows += list(await conn.execute(due, {**params, "lim": limit - len(rows)}))
            if not rows:
                return []
            known = await self._targets_of(conn, {r.target_id for r in rows})
        rows.sort(key=lambda r: (r.id not in recovered, r.next_attempt_at, r.id))
        return [
            ClaimedPart(
                id=r.id,
                target_id=r.target_id,
                target=known[r.target_id],
                digest_date=r.digest_date,
                part=r.part,
                parts=r.parts,
                key=r.key,
                payload=r.payload,
                attempts=r.attempts,
                uncertain=bool(r.uncertain) or r.id in recovered,
                claimed_until=until,
                created_at=r.created_at,
            )
            for r in rows
        ]

    async def next_due(self, platforms: Collection[str]) -> dt.datetime | None:
        """When the earliest pending part (or an abandoned claim) becomes claimable."""
        if not platforms:
            return None
        joined = (
            sa.select(
                sa.func.min(
                    sa.case(
                        (outbox.c.status == SENDING, outbox.c.claimed_until),
                        else_=outbox.c.next_attempt_at,
                    )
                )
            )
            .select_from(outbox)
            .join(targets, targets.c.id == outbox.c.target_id)
            .join(channel_settings, channel_settings.c.target_id == outbox.c.target_id)
            .where(
                channel_settings.c.paused.is_(False),
                targets.c.platform.in_(platforms),
                outbox.c.status.in_((PENDING, SENDING)),
            )
        )
        async with self._ctx.engine.connect() as conn:
            value = (await conn.execute(joined)).scalar_one_or_none()
        return _aware(value)  # SQLite: CASE loses the column type

    async def backlog(self, platforms: Collection[str]) -> Backlog:
        """What the unsent parts of unpaused targets on `platforms` wait for (`Backlog`)."""
        if not platforms:
            return Backlog()
        stmt = (
            sa.select(
                outbox.c.status,
                sa.func.count(),
                sa.func.min(outbox.c.next_attempt_at),
                sa.func.min(outbox.c.claimed_until),
            )
            .select_from(outbox)
            .join(targets, targets.c.id == outbox.c.target_id)
            .join(channel_settings, channel_settings.c.target_id == outbox.c.target_id)
            .where(
                channel_settings.c.paused.is_(False),
                targets.c.platform.in_(sorted(platforms)),
                outbox.c.status.in_(UNSENT),
            )
            .group_by(outbox.c.status)
        )
        async with self._ctx.engine.connect() as conn:
            rows = {row[0]: row for row in await conn.execute(stmt)}
        waiting, claimed, queued = rows.get(PENDING), rows.get(SENDING), rows.get(QUEUED)
        return Backlog(
            waiting=waiting[1] if waiting else 0,
            waiting_due=_aware(waiting[2]) if waiting else None,
            claimed=claimed[1] if claimed else 0,
            claimed_until=_aware(claimed[3]) if claimed else None,
            queued=queued[1] if queued else 0,
        )

    async def renew(self, part_ids: Collection[int], worker: str, until: dt.datetime) -> set[int]:
        """Extend `worker`'s claims on these parts to `until`; returns the ids still its own
        (a part missing from the answer was taken over, or is no longer `sending`)."""
        kept: set[int] = set()
        if not part_ids:
            return kept
        async with self._writing() as conn:
            for chunk in chunks(sorted(set(part_ids))):
                # Locked in id order, like the acknowledgements of `mark_sent_many`: two
                # transactions of one worker never wait for each other in a circle.
                ids: list[int] = list((await conn.execute(*_held_by(worker, chunk))).scalars())
                if ids:
                    await conn.execute(
                        sa.update(outbox).where(outbox.c.id.in_(ids)).values(claimed_until=until)
                    )
                kept.update(ids)
        return kept

    # ----------------------------------------------------------------- acknowledging

    async def mark_sent_many(
        self, acks: Sequence[SentAck], *, worker: str, spacing: float
    ) -> set[int]:
        """Record parts `worker` sent (one transaction); each target's next part becomes
        due `spacing` seconds after its send. Returns the ids recorded.

        Only parts the worker still holds are recorded: a part whose claim was taken over
        (its lease ran out under a stalled worker) belongs to the new holder, which looks
        it up on the platform before sending it again.
        """
        if not acks:
            return set()
        async with self._writing() as conn:
            owned: set[int] = set()
            for chunk in chunks(sorted({a.part_id for a in acks})):
                owned.update((await conn.execute(*_held_by(worker, chunk))).scalars())
            rows = [
                {"pid": a.part_id, "mid": a.message_id, "at": a.sent_at}
                for a in sorted(acks, key=lambda a: a.part_id)
                if a.part_id in owned
            ]
            if not rows:
                return owned
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == sa.bindparam("pid"))
                .values(
                    status=SENT,
                    message_id=sa.bindparam("mid"),
                    sent_at=sa.bindparam("at"),
                    claimed_by=None,
                    claimed_until=None,
                    uncertain=False,
                    error=None,
                    updated_at=sa.bindparam("at"),
                ),
                rows,
            )
            await self._advance(
                conn,
                [a.part_id for a in acks if a.part_id in owned],
                max(a.sent_at for a in acks if a.part_id in owned),
                spacing,
            )
        return owned

    async def _advance(
        self, conn: AsyncConnection, ids: Sequence[int], at: dt.datetime, spacing: float
    ) -> None:
        """After parts were sent (or given up on) by `at`: their next parts become pending,
        and every pending part of those targets waits until `spacing` seconds after `at`."""
        params = {"ids": list(ids), "after": at + dt.timedelta(seconds=spacing)}
        following, spaced = self._advance_statements()
        await conn.execute(following, params)
        if spacing > 0:
            await conn.execute(spaced, params)

    def _advance_statements(self) -> tuple[Any, Any]:
        """`_advance`'s two updates, built once (an acknowledgement batch runs them every
        few milliseconds at fan-out; building and keying them anew each time cost more
        than the database's work)."""
        if self._advances is None:
            done = outbox.alias("done")
            ids: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
            after = sa.bindparam("after", type_=outbox.c.next_attempt_at.type)
            # Both updates find their rows from `ids` through the channel's key, not by
            # status: at fan-out most of the outbox is queued or pending, and reading all
            # of it after every batch of acknowledgements took most of the write lock's time.
            status = self._off_index(outbox.c.status)
            following = sa.select(done.c.target_id, done.c.digest_date, done.c.part + 1).where(
                done.c.id.in_(ids)
            )
            key = sa.tuple_(outbox.c.target_id, outbox.c.digest_date, outbox.c.part)
            next_parts = (
                sa.update(outbox)
                .where(key.in_(following), status == QUEUED)
                .values(status=PENDING, next_attempt_at=after)
            )
            same_target = sa.select(done.c.target_id).where(done.c.id.in_(ids))
            spaced = (
                sa.update(outbox)
                .where(
                    outbox.c.target_id.in_(same_target),
                    status == PENDING,
                    outbox.c.next_attempt_at < after,
                )
                .values(next_attempt_at=after)
            )
            self._advances = (next_parts, spaced)
        return self._advances

    def _off_index(self, column: sa.Column[Any]) -> Any:
        """`column` in a condition the query planner should not look up by an index.

        SQLite (no statistics) prefers an index on `status` to the channel's key; a unary
        `+` (SQLite's own idiom) rules that index out. PostgreSQL plans by its statistics.
        """
        if self._ctx.engine.dialect.name != "sqlite":
            return column
        return sa.literal_column(f"+{column.table.name}.{column.name}", type_=column.type)

    async def release(
        self,
        part_id: int,
        worker: str,
        *,
        now: dt.datetime,
        next_attempt_at: dt.datetime,
        error: str,
        count_attempt: bool,
        uncertain: bool,
        max_attempts: int,
    ) -> str:
        """Put a part back after a failed send; `failed` when its attempts are used up.

        Only the worker holding the claim may release it (a worker whose lease ran out and
        whose row was taken over leaves it alone). Returns the row's new status.
        """
        async with self._writing() as conn:
            row = (
                await conn.execute(
                    sa.select(outbox.c.attempts, outbox.c.uncertain).where(
                        outbox.c.id == part_id,
                        outbox.c.status == SENDING,
                        outbox.c.claimed_by == worker,
                    )
                )
            ).first()
            if row is None:
                return SENDING
            attempts = row.attempts + (1 if count_attempt else 0)
            status = FAILED if attempts >= max_attempts else PENDING
            if status == FAILED:  # the rest of the digest still goes out
                await self._advance(conn, [part_id], now, 0.0)
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == part_id)
                .values(
                    status=status,
                    attempts=attempts,
                    uncertain=bool(row.uncertain) or uncertain,
                    next_attempt_at=next_attempt_at,
                    claimed_by=None,
                    claimed_until=None,
                    error=error[:1000],
                    updated_at=now,
                )
            )
        return status

    async def pause_target(self, target_id: int, reason: str, now: dt.datetime) -> bool:
        """Pause a target for a permanent error; True when this call paused it."""
        async with self._writing() as conn:
            result = await conn.execute(
                sa.update(channel_settings)
                .where(
                    channel_settings.c.target_id == target_id,
                    channel_settings.c.paused.is_(False),
                )
                .values(paused=True, paused_reason=reason[:500], updated_at=now)
            )
        return result.rowcount == 1

    async def analyze(self) -> None:
        """Refresh PostgreSQL's statistics after a large plan, so the claim keeps its
        index plan instead of one made for the empty tables of a minute ago."""
        if self._ctx.engine.dialect.name != "postgresql":
            return
        async with self._ctx.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(
                "ANALYZE outbox, digest_runs, deliveries, targets, channel_settings"
            )

    # ----------------------------------------------------------------- reporting

    async def gauges(self) -> OutboxGauges:
        """What `/metrics` reports of the outbox: unsent parts by platform, the oldest
        one's creation time, failed parts and paused channels (a few indexed counts)."""
        depth = (
            sa.select(targets.c.platform, sa.func.count(), sa.func.min(outbox.c.created_at))
            .select_from(outbox)
            .join(targets, targets.c.id == outbox.c.target_id)
            .where(outbox.c.status.in_(UNSENT))
            .group_by(targets.c.platform)
        )
        failed = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == FAILED)
        paused = (
            sa.select(sa.func.count())
            .select_from(channel_settings)
            .where(channel_settings.c.paused.is_(True))
        )
        async with self._ctx.engine.connect() as conn:
            rows = list(await conn.execute(depth))
            failed_count = (await conn.execute(failed)).scalar_one()
            paused_count = (await conn.execute(paused)).scalar_one()
        oldest = [r[2] if r[2].tzinfo else r[2].replace(tzinfo=dt.UTC) for r in rows if r[2]]
        return OutboxGauges(
            depth={r[0]: r[1] for r in rows},
            oldest_unsent=min(oldest) if oldest else None,
            failed=failed_count,
            paused=paused_count,
        )

    async def counts(self) -> dict[str, int]:
        """Outbox parts by status."""
        stmt = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
        async with self._ctx.engine.connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(stmt)}

    async def pending_by_platform(self) -> dict[str, int]:
        stmt = (
            sa.select(targets.c.platform, sa.func.count())
            .select_from(outbox)
            .join(targets, targets.c.id == outbox.c.target_id)
            .where(outbox.c.status.in_(UNSENT))
            .group_by(targets.c.platform)
        )
        async with self._ctx.engine.connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(stmt)}

    async def unrendered_by_platform(self) -> dict[str, int]:
        stmt = (
            sa.select(targets.c.platform, sa.func.count())
            .select_from(digest_runs)
            .join(targets, targets.c.id == digest_runs.c.target_id)
            .where(digest_runs.c.status == RUN_UNRENDERED)
            .group_by(targets.c.platform)
        )
        async with self._ctx.engine.connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(stmt)}

    async def failed(self, limit: int = 50) -> list[FailedPart]:
        stmt = (
            sa.select(
                outbox.c.digest_date,
                outbox.c.part,
                outbox.c.attempts,
                outbox.c.error,
                targets.c.platform,
                targets.c.workspace,
                targets.c.channel,
            )
            .join(targets, targets.c.id == outbox.c.target_id)
            .where(outbox.c.status == FAILED)
            .order_by(outbox.c.updated_at.desc(), outbox.c.id.desc())
            .limit(limit)
        )
        async with self._ctx.engine.connect() as conn:
            return [
                FailedPart(target_from_row(r), r.digest_date, r.part, r.attempts, r.error)
                for r in await conn.execute(stmt)
            ]

    async def sent_parts(self) -> list[tuple[Target, dt.date, int, str | None]]:
        """Every sent part with its message id (tests and audits)."""
        stmt = (
            sa.select(
                outbox.c.digest_date,
                outbox.c.part,
                outbox.c.message_id,
                targets.c.platform,
                targets.c.workspace,
                targets.c.channel,
            )
            .join(targets, targets.c.id == outbox.c.target_id)
            .where(outbox.c.status == SENT)
            .order_by(outbox.c.target_id, outbox.c.digest_date, outbox.c.part)
        )
        async with self._ctx.engine.connect() as conn:
            return [
                (target_from_row(r), r.digest_date, r.part, r.message_id)
                for r in await conn.execute(stmt)
            ]

    async def runs(self) -> list[tuple[int, dt.date, str, str, int, int]]:
        """(target id, digest date, status, trigger, papers, parts) of every planned digest."""
        stmt = sa.select(
            digest_runs.c.target_id,
            digest_runs.c.digest_date,
            digest_runs.c.status,
            digest_runs.c.trigger,
            digest_runs.c.papers,
            digest_runs.c.parts,
        ).order_by(digest_runs.c.target_id, digest_runs.c.digest_date)
        async with self._ctx.engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(stmt)]  # type: ignore[misc]


#: The ids among `ids` that `worker` is sending, locked in id order: renewals and
#: acknowledgements of one worker never wait for each other in a circle. Built once.
_HELD_BY = (
    sa.select(outbox.c.id)
    .where(
        outbox.c.id.in_(sa.bindparam("ids", expanding=True)),
        outbox.c.status == SENDING,
        outbox.c.claimed_by == sa.bindparam("worker"),
    )
    .order_by(outbox.c.id)
    .with_for_update()
)


def _held_by(worker: str, part_ids: Sequence[int]) -> tuple[Any, dict[str, Any]]:
    """`_HELD_BY` and its parameters, for `conn.execute(*_held_by(...))`."""
    return _HELD_BY, {"ids": list(part_ids), "worker": worker}
