"""Process roles and operator actions built from `Settings`: what the CLI runs.

- `background(...)`: the scheduler (while this process holds the scheduler lock) and/or
  a delivery worker, as tasks next to whatever else the process does.
  Roles: `all` (both), `scheduler`, `worker`.
- `deliver_day(...)`: `paperboy deliver`, every digest due on a date, now, through the
  same outbox (so a second run finds every key taken and sends nothing).
- `status_report(...)`: what `paperboy status` shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from paperboy.chat import ChatAdapter
from paperboy.clock import Clock, SystemClock
from paperboy.delivery.cron import describe, fire_on, is_active, local_date, next_fire
from paperboy.delivery.leader import SchedulerLock, SchedulerService
from paperboy.delivery.planner import TRIGGER_MANUAL, DueDigest, Planner, PlanResult
from paperboy.delivery.scheduler import DigestScheduler
from paperboy.delivery.sender import Deliverer, DeliveryStats
from paperboy.llm import summarizer_from_settings
from paperboy.models import Target
from paperboy.sources import PaperSource
from paperboy.store import FAILED, UNSENT, Backlog, FailedPart, Store, SummaryUsage
from paperboy_config import Settings

log = logging.getLogger(__name__)

ROLES = ("all", "scheduler", "worker")
#: Seconds `deliver` waits beyond the settle window, for clocks that wake a little early.
SETTLE_MARGIN = 0.1


@dataclass
class Background:
    planner: Planner
    deliverer: Deliverer | None = None
    scheduler: DigestScheduler | None = None
    service: SchedulerService | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[object]] = field(default_factory=list)

    def schedule_changed(self) -> None:
        """A channel's schedule changed in this process: the scheduler, if this process
        runs one, syncs its jobs at once (pass this as `Commands`' `on_schedule_change`)."""
        if self.scheduler is not None:
            self.scheduler.request_sync()

    async def wait(self) -> None:
        """Until stopped, or until a background task ends (it should not)."""
        stopper = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait([stopper, *self.tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


@contextlib.asynccontextmanager
async def background(
    store: Store,
    config: Settings,
    *,
    role: str,
    adapters: Mapping[str, ChatAdapter],
    sources: Sequence[PaperSource] = (),
    clock: Clock | None = None,
) -> AsyncIterator[Background]:
    """Run the role's services while the block runs; stop them cleanly after."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    clock = clock or SystemClock()
    summarizer = summarizer_from_settings(config, store, clock=clock)
    planner = Planner(
        store,
        adapters,
        clock=clock,
        settle_seconds=config.digest_settle_seconds,
        default_language=config.default_language,
        summarizer=summarizer,
    )
    bg = Background(planner)
    if role in ("all", "worker"):
        bg.deliverer = Deliverer.from_settings(store, adapters, config, clock=clock)
        planner.on_batch = bg.deliverer.wake  # send each batch while the next is planned
        await report_missing_adapters(store, adapters)
        bg.tasks.append(asyncio.create_task(bg.deliverer.run(bg.stop)))
    if role in ("all", "scheduler"):
        bg.scheduler = DigestScheduler(
            store,
            planner,
            clock=clock,
            grace=config.misfire_grace_seconds,
            ingest_interval=config.ingest_interval_minutes,
            schedule_poll=config.schedule_poll_seconds,
            sources=sources,
            on_planned=bg.deliverer.wake if bg.deliverer is not None else None,
        )
        bg.service = SchedulerService(
            bg.scheduler, SchedulerLock(store), poll=config.scheduler_lock_poll_seconds
        )
        bg.tasks.append(asyncio.create_task(bg.service.run(bg.stop)))
    try:
        yield bg
    finally:
        bg.stop.set()
        done, pending = await asyncio.wait(bg.tasks, timeout=10) if bg.tasks else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*bg.tasks, return_exceptions=True)
        del done
        if summarizer is not None:
            await summarizer.close()


async def report_missing_adapters(store: Store, adapters: Mapping[str, ChatAdapter]) -> list[str]:
    """Log one line per platform whose digests wait because no adapter serves it here."""
    waiting: dict[str, int] = {}
    for platform, count in (await store.outbox.pending_by_platform()).items():
        waiting[platform] = waiting.get(platform, 0) + count
    for platform, count in (await store.outbox.unrendered_by_platform()).items():
        waiting[platform] = waiting.get(platform, 0) + count
    lines = []
    for platform in sorted(set(waiting) - set(adapters)):
        line = (
            f"{waiting[platform]} digest part(s) for {platform} wait: no {platform} adapter is "
            "configured in this process (see the README for its settings)"
        )
        log.warning("%s", line)
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- deliver


@dataclass
class DeliverOutcome:
    due: int
    plan: PlanResult
    stats: DeliveryStats
    counts: dict[str, int]
    missing: list[str]
    #: Papers first seen inside the settle window, left for each channel's next digest.
    left_for_next: int = 0
    #: What could not go out in this run, and when it can (see `Backlog`).
    backlog: Backlog = field(default_factory=Backlog)


async def due_on(store: Store, day: dt.date | None, now: dt.datetime) -> list[DueDigest]:
    """Every active channel whose schedule has a digest on `day` (None: each channel's
    own today)."""
    due = []
    for state in await store.outbox.target_states():
        if not is_active(state.settings):
            continue
        when = day or local_date(state.settings, now)
        if fire_on(state.settings, when) is not None:
            due.append(DueDigest(state.id, when, TRIGGER_MANUAL))
    return due


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def _let_settle(
    store: Store, clock: Clock, settle: float, max_wait: float, say: Callable[[str], None]
) -> None:
    """Wait until the papers ingested moments ago are out of the settle window, so that a
    `deliver` right after an ingest includes them (bounded by the window and `max_wait`;
    what a longer window keeps out is reported after planning)."""
    if settle <= 0:
        return
    now = clock.now()
    count, newest = await store.outbox.papers_seen_after(now - dt.timedelta(seconds=settle))
    if not count or newest is None:
        return
    wait = min(settle, settle - (now - newest).total_seconds()) + SETTLE_MARGIN
    if wait > max_wait:
        return
    say(
        f"waiting {wait:.0f}s: {count} paper(s) were ingested less than {settle:g}s ago "
        "(PAPERBOY_DIGEST_SETTLE_SECONDS) and go into this digest once settled"
    )
    await clock.sleep(wait)


async def deliver_day(
    store: Store,
    config: Settings,
    adapters: Mapping[str, ChatAdapter],
    day: dt.date | None,
    *,
    clock: Clock | None = None,
    max_wait: float = 60.0,
    notice: Callable[[str], None] | None = None,
) -> DeliverOutcome:
    """Plan every digest due on `day` now, then send what the outbox holds.

    Papers ingested within the settle window are waited for (bounded), and whatever is
    still left for the next digest is said (`notice`, default the log). Parts another
    worker holds are waited for until their claims could have run out; what still cannot
    go out is in the outcome's `backlog`, with the time it can.
    """
    clock = clock or SystemClock()
    say = notice or (lambda line: log.info("%s", line))
    due = await due_on(store, day, clock.now())
    taken = await store.outbox.planned((d.target_id, d.digest_date) for d in due)
    if len(taken) < len({(d.target_id, d.digest_date) for d in due}):
        await _let_settle(store, clock, config.digest_settle_seconds, max_wait, say)
    summarizer = summarizer_from_settings(config, store, clock=clock)
    planner = Planner(
        store,
        adapters,
        clock=clock,
        settle_seconds=config.digest_settle_seconds,
        default_language=config.default_language,
        summarizer=summarizer,
    )
    try:
        plan = await planner.plan(due)
    finally:
        if summarizer is not None:
            await summarizer.close()
    left = 0
    if plan.planned and plan.until is not None:
        left, _ = await store.outbox.papers_seen_after(plan.until)
        if left:
            say(
                f"{left} paper(s) ingested after {_utc(plan.until)} (less than "
                f"{config.digest_settle_seconds:g}s before planning) were left for each "
                "channel's next digest"
            )
    deliverer = Deliverer.from_settings(store, adapters, config, clock=clock)
    missing = await report_missing_adapters(store, adapters)
    held = await store.outbox.backlog(deliverer.platforms)
    if held.claimed and held.claimed_until is not None:
        wait = max(0.0, (held.claimed_until - clock.now()).total_seconds())
        say(
            f"{held.claimed} part(s) are claimed by another worker (one sending them, or one "
            f"that stopped mid-send): they can be taken over at {_utc(held.claimed_until)} "
            f"(in {wait:.0f}s) unless that worker sends them first; waiting for them"
        )
    stats = await deliverer.run_until_idle(max_wait=max_wait)
    return DeliverOutcome(
        len(due),
        plan,
        stats,
        await store.outbox.counts(),
        missing,
        left_for_next=left,
        backlog=await store.outbox.backlog(deliverer.platforms),
    )


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class TargetStatus:
    target: Target
    schedule: str
    next_run: dt.datetime | None
    paused: bool
    paused_reason: str | None


@dataclass
class StatusReport:
    now: dt.datetime
    targets: list[TargetStatus]
    counts: dict[str, int]
    pending_by_platform: dict[str, int]
    unrendered_by_platform: dict[str, int]
    failed: list[FailedPart]
    #: Today's (UTC) model summaries: made, cache hits, tokens used, extractive fallbacks.
    summaries: SummaryUsage | None = None

    @property
    def pending(self) -> int:
        return sum(self.counts.get(status, 0) for status in UNSENT)

    @property
    def failed_count(self) -> int:
        return self.counts.get(FAILED, 0)


async def status_report(store: Store, *, now: dt.datetime | None = None) -> StatusReport:
    now = now or dt.datetime.now(dt.UTC)
    rows = []
    for state in await store.outbox.target_states():
        s = state.settings
        upcoming = next_fire(s, now) if is_active(s) else None
        schedule = describe(s) if s.schedule_enabled else "off"
        rows.append(TargetStatus(state.target, schedule, upcoming, s.paused, s.paused_reason))
    return StatusReport(
        now=now,
        targets=rows,
        counts=await store.outbox.counts(),
        pending_by_platform=await store.outbox.pending_by_platform(),
        unrendered_by_platform=await store.outbox.unrendered_by_platform(),
        failed=await store.outbox.failed(),
        summaries=await store.summaries.usage(now.astimezone(dt.UTC).date()),
    )
