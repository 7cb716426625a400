"""The scheduler: each channel's digest at its own time, the ingest job, one leader.

- Jobs live in APScheduler 3.11's `AsyncIOScheduler` (memory job store): one
  `CronTrigger` per channel in its time zone (see `paperboy.delivery.cron`), rebuilt
  from the database at start and whenever schedules change: `/papers schedule` in this
  process asks for a sync at once, and a periodic check (`schedule_poll` seconds) picks
  up changes made by other processes. A sync only touches the jobs whose schedule changed.
- A job does not plan by itself: it queues its channel, and one plan covers every channel
  due at that moment (one matcher for all of them; see `paperboy.delivery.planner`).
- Misfires: a job late by up to `grace` still runs, coalesced to one run. As the job
  store is not persistent, runs missed while no process was scheduling are caught up
  here: at start, at every takeover and on each periodic check, each channel's most
  recent scheduled time is looked at; a digest not planned yet goes out now when within
  `grace`, and is skipped with a log line beyond it. (The periodic check also retries a
  plan that failed, say while the database was briefly away.)
- Exactly one process schedules: the one holding the scheduler lock
  (`paperboy.delivery.leader`) runs this scheduler; the others stand by.
- Ingest: every `ingest_interval` minutes, today and yesterday (UTC) from each source,
  through `paperboy.ingest.ingest` like every other route: upserted with the first-seen
  time and indexed for search. A failing source is logged and tried next round; digests
  use what the archive holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from paperboy.clock import Clock, SystemClock
from paperboy.delivery.cron import is_active, local_date, previous_fire, trigger_for
from paperboy.delivery.planner import (
    TRIGGER_CATCH_UP,
    TRIGGER_SCHEDULE,
    DueDigest,
    Planner,
    PlanResult,
)
from paperboy.delivery.rollup import RollupPlanner, previous_rollup, rollup_trigger
from paperboy.ingest import ingest
from paperboy.models import ChannelSettings
from paperboy.search import SearchIndex
from paperboy.sources import PaperSource, SourceError
from paperboy.store import RollupSchedule, Store

log = logging.getLogger(__name__)

JOB_PREFIX = "digest:"
ROLLUP_PREFIX = "rollup:"
INGEST_JOB = "ingest"
SYNC_JOB = "sync-schedules"
#: A job fires at its scheduled time or a little after; this much early still counts.
FIRE_TOLERANCE = dt.timedelta(seconds=2)

ScheduleSpec = tuple[str, tuple[str, ...], str]


def _spec(settings: ChannelSettings) -> ScheduleSpec:
    return settings.schedule_time, tuple(settings.days), settings.timezone


class DigestScheduler:
    """APScheduler wiring for digests and ingest (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        planner: Planner,
        *,
        clock: Clock | None = None,
        grace: float = 6 * 3600.0,
        ingest_interval: float = 30.0,
        schedule_poll: float = 30.0,
        sources: Sequence[PaperSource] = (),
        on_planned: Callable[[], None] | None = None,
        batch_window: float = 0.05,
    ) -> None:
        self.store = store
        self.planner = planner
        self.clock = clock or SystemClock()
        self.grace = dt.timedelta(seconds=grace)
        self.ingest_interval = ingest_interval
        self.schedule_poll = schedule_poll
        self.sources = list(sources)
        self.index = SearchIndex(store)
        self.on_planned = on_planned
        self.batch_window = batch_window
        self.aps: AsyncIOScheduler | None = None
        self._specs: dict[int, ScheduleSpec] = {}
        self._settings: dict[int, ChannelSettings] = {}
        self._queue: list[DueDigest] = []
        self._flusher: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._skipped: set[tuple[int, dt.date]] = set()
        #: Digests queued or being planned right now: on time, not missed.
        self._in_flight: set[tuple[int, dt.date]] = set()
        #: Weekly rollups (`/papers weekly`): one job per channel, like a digest's.
        self.rollups = RollupPlanner(store, clock=self.clock)
        self._rollup_specs: dict[int, tuple[str, str, str]] = {}
        self._rollup_schedules: dict[int, RollupSchedule] = {}
        self._rollup_queue: list[tuple[RollupSchedule, dt.datetime]] = []
        self._rollup_flusher: asyncio.Task[int] | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return self.aps is not None

    async def start(self, *, catch_up: bool = True, ingest_now: bool = True) -> None:
        """Start APScheduler, build the jobs from the database, then catch up."""
        if self.aps is not None:
            return
        aps = AsyncIOScheduler(timezone=dt.UTC)
        aps.start()
        self.aps = aps
        self._specs.clear()
        await self.sync()
        if self.sources:
            aps.add_job(
                _stoppable(self.ingest_once),
                IntervalTrigger(minutes=self.ingest_interval, timezone=dt.UTC),
                id=INGEST_JOB,
                next_run_time=dt.datetime.now(dt.UTC) if ingest_now else None,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        aps.add_job(
            _stoppable(self.check),
            IntervalTrigger(seconds=self.schedule_poll, timezone=dt.UTC),
            id=SYNC_JOB,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        if catch_up:
            await self.catch_up(announce=True)
            await self.catch_up_rollups()

    async def stop(self) -> None:
        aps, self.aps = self.aps, None
        if aps is not None and aps.running:
            aps.shutdown(wait=False)
            await asyncio.sleep(0)
        for task in list(self._tasks):
            task.cancel()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._rollup_flusher is not None:
            self._rollup_flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rollup_flusher
            self._rollup_flusher = None
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ----------------------------------------------------------------- schedules

    async def check(self) -> None:
        """The periodic job: pick up schedule changes, plan anything missed."""
        await self.sync()
        await self.catch_up()
        await self.catch_up_rollups()

    def request_sync(self) -> None:
        """Rebuild changed jobs soon (a `/papers schedule` in this process calls this)."""
        if self.aps is None:
            return
        task = asyncio.get_running_loop().create_task(self.sync())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sync(self) -> int:
        """Make the jobs match the database; returns how many jobs changed."""
        async with self._sync_lock:
            aps = self.aps
            if aps is None:
                return 0
            states = await self.store.outbox.target_states()
            self._settings = {s.id: s.settings for s in states}
            wanted = {s.id: _spec(s.settings) for s in states if is_active(s.settings)}
            changed = 0
            for tid in set(self._specs) - set(wanted):
                with contextlib.suppress(Exception):
                    aps.remove_job(f"{JOB_PREFIX}{tid}")
                del self._specs[tid]
                changed += 1
            for tid, spec in wanted.items():
                if self._specs.get(tid) == spec:
                    continue
                aps.add_job(
                    _stoppable(self.fire),
                    trigger_for(self._settings[tid]),
                    args=[tid],
                    id=f"{JOB_PREFIX}{tid}",
                    name=f"digest of target {tid}",
                    replace_existing=True,
                    misfire_grace_time=max(1, int(self.grace.total_seconds())),
                    coalesce=True,
                    max_instances=1,
                )
                self._specs[tid] = spec
                changed += 1
            changed += await self._sync_rollups(aps)
            if changed:
                log.info("schedules: %d job(s) changed, %d active", changed, len(self._specs))
            return changed

    async def _sync_rollups(self, aps: AsyncIOScheduler) -> int:
        """Make the weekly rollup jobs match the database; returns how many changed."""
        schedules = {s.target_id: s for s in await self.store.rollups.active() if not s.paused}
        self._rollup_schedules = schedules
        wanted = {tid: (s.weekday, s.at_time, s.timezone) for tid, s in schedules.items()}
        changed = 0
        for tid in set(self._rollup_specs) - set(wanted):
            with contextlib.suppress(Exception):
                aps.remove_job(f"{ROLLUP_PREFIX}{tid}")
            del self._rollup_specs[tid]
            changed += 1
        for tid, spec in wanted.items():
            if self._rollup_specs.get(tid) == spec:
                continue
            aps.add_job(
                _stoppable(self.fire_rollup),
                rollup_trigger(schedules[tid]),
                args=[tid],
                id=f"{ROLLUP_PREFIX}{tid}",
                name=f"weekly rollup of target {tid}",
                replace_existing=True,
                misfire_grace_time=max(1, int(self.grace.total_seconds())),
                coalesce=True,
                max_instances=1,
            )
            self._rollup_specs[tid] = spec
            changed += 1
        return changed

    async def fire_rollup(self, target_id: int) -> None:
        """A channel's rollup job: queue the rollup of the run that just passed; the
        rollups due in one moment are built together (`RollupPlanner.plan_many`)."""
        schedule = self._rollup_schedules.get(target_id)
        if schedule is None:
            return
        now = self.clock.now()
        fired = previous_rollup(schedule, now + FIRE_TOLERANCE)
        if fired is None or now - fired > self.grace:
            return
        self._rollup_queue.append((schedule, fired))
        if self._rollup_flusher is None or self._rollup_flusher.done():
            self._rollup_flusher = asyncio.get_running_loop().create_task(self._flush_rollups())

    async def _flush_rollups(self) -> int:
        await asyncio.sleep(self.batch_window)
        return await self.flush_rollups()

    async def flush_rollups(self) -> int:
        """Plan every queued rollup now. A rollup holds no ledger rows, so it is planned
        without the planner's lock: digests and ingest go on meanwhile."""
        planned = 0
        while self._rollup_queue:
            due, self._rollup_queue = self._rollup_queue, []
            try:
                planned += await self.rollups.plan_many(due)
            except Exception:
                # The periodic check plans them on its next round (within grace).
                log.exception("planning %d weekly rollup(s) failed; retrying soon", len(due))
        if planned:
            log.info("planned %d weekly rollup(s)", planned)
            if self.on_planned is not None:
                self.on_planned()
        return planned

    async def catch_up_rollups(self) -> int:
        """Plan each channel's latest weekly rollup when missed and still within grace."""
        planned = await self.rollups.catch_up(self.grace)
        if planned:
            log.info("catch-up: planned %d weekly rollup(s) missed or due", planned)
            if self.on_planned is not None:
                self.on_planned()
        return planned

    def jobs(self) -> dict[int, dt.datetime | None]:
        """target id -> next run time of its job (for status and tests)."""
        if self.aps is None:
            return {}
        out: dict[int, dt.datetime | None] = {}
        for job in self.aps.get_jobs():
            if job.id.startswith(JOB_PREFIX):
                out[int(job.id.removeprefix(JOB_PREFIX))] = getattr(job, "next_run_time", None)
        return out

    # ----------------------------------------------------------------- firing

    async def fire(self, target_id: int) -> None:
        """A channel's job: queue its digest of the scheduled time that just passed."""
        settings = self._settings.get(target_id)
        if settings is None or not is_active(settings):
            return
        now = self.clock.now()
        fired = previous_fire(settings, now + FIRE_TOLERANCE)
        if fired is None:
            return
        if now - fired > self.grace:
            log.warning(
                "skipping the %s digest of target %d: %s late, beyond the misfire grace",
                fired.isoformat(),
                target_id,
                now - fired,
            )
            return
        self._enqueue(DueDigest(target_id, local_date(settings, fired), TRIGGER_SCHEDULE))

    def _enqueue(self, due: DueDigest) -> None:
        self._queue.append(due)
        self._in_flight.add((due.target_id, due.digest_date))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        # Jobs of one minute fire one after another: gather them into one plan.
        await asyncio.sleep(self.batch_window)
        await self.flush()

    async def flush(self) -> PlanResult:
        """Plan everything queued now."""
        total = PlanResult()
        while self._queue:
            due, self._queue = self._queue, []
            try:
                result = await self.planner.plan(due)
            except Exception:
                # The periodic catch-up plans them on its next round (within grace); the
                # outbox key keeps that from doubling anything.
                log.exception("planning %d digest(s) failed; retrying on the next check", len(due))
                continue
            finally:
                self._in_flight.difference_update((d.target_id, d.digest_date) for d in due)
            total.add(result)
            if result.planned:
                log.info(
                    "planned %d digest(s), %d part(s); %d already planned",
                    result.planned,
                    result.parts,
                    result.already,
                )
            if self.on_planned is not None:
                self.on_planned()
        return total

    async def catch_up(self, *, announce: bool = False) -> PlanResult:
        """Plan each channel's most recent digest if missed and still within grace.

        One summary line for all of them (per-channel detail at DEBUG): after downtime
        there may be thousands. A digest queued or being planned right now is on time,
        not missed. `announce` (start and takeover) logs the line even when nothing was
        missed.
        """
        now = self.clock.now()
        states = await self.store.outbox.target_states()
        candidates: list[tuple[int, dt.datetime, dt.date]] = []
        for state in states:
            if not is_active(state.settings):
                continue
            fired = previous_fire(state.settings, now)
            if fired is None or fired < state.created_at:
                continue
            candidates.append((state.id, fired, local_date(state.settings, fired)))
        planned = await self.store.outbox.planned((tid, day) for tid, _, day in candidates)
        on_time = 0
        due: list[DueDigest] = []
        latest = dt.timedelta(0)
        skipped: list[tuple[int, dt.date, dt.timedelta]] = []
        for tid, fired, day in candidates:
            if (tid, day) in planned:
                continue
            if (tid, day) in self._in_flight:
                on_time += 1
                continue
            late = now - fired
            if late <= self.grace:
                log.debug("catching up the %s digest of target %d (%s late)", day, tid, late)
                due.append(DueDigest(tid, day, TRIGGER_CATCH_UP))
                latest = max(latest, late)
            elif (tid, day) not in self._skipped:
                self._skipped.add((tid, day))
                skipped.append((tid, day, late))
        if skipped:
            shown = ", ".join(f"target {t} on {d} ({late} late)" for t, d, late in skipped[:3])
            more = f" and {len(skipped) - 3:,} more" if len(skipped) > 3 else ""
            log.warning(
                "skipping %s missed digest(s), beyond the %s misfire grace: %s%s",
                f"{len(skipped):,}",
                self.grace,
                shown,
                more,
            )
        self._queue.extend(due)
        self._in_flight.update((d.target_id, d.digest_date) for d in due)
        result = await self.flush()
        missed = {(d.target_id, d.digest_date) for d in due}
        now_planned = sum(1 for key in result.keys if key in missed)
        # Planned before: on time by their jobs, or (a race) by another process meanwhile.
        before = len(planned) + on_time + min(result.already, len(missed) - now_planned)
        if due:
            log.info(
                "catch-up: caught up %s digest(s) missed during downtime (up to %s late): "
                "%s planned now, %s planned before",
                f"{len(due):,}",
                latest,
                f"{now_planned:,}",
                f"{before:,}",
            )
        elif announce:
            log.info("catch-up: nothing missed; 0 planned now, %s planned before", f"{before:,}")
        return result

    # ----------------------------------------------------------------- ingest

    async def ingest_once(self) -> int:
        """Fetch today and yesterday from every source into the archive and the search
        index (`paperboy.ingest`); returns the papers inserted or changed."""
        today = self.clock.now().date()
        total = 0
        for source in self.sources:
            for day in (today, today - dt.timedelta(days=1)):
                try:
                    result = await ingest(
                        self.store,
                        source,
                        day,
                        index=self.index,
                        clock=self.clock,
                        write_lock=self.planner.lock,
                    )
                except SourceError as error:
                    log.warning(
                        "ingest of %s from %s failed: %s; trying again in %g min",
                        day,
                        getattr(source, "name", "source"),
                        error,
                        self.ingest_interval,
                    )
                    continue
                except Exception:
                    log.exception("ingest of %s failed unexpectedly", day)
                    continue
                total += result.inserted + result.updated
        return total


def _stoppable(job: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`job` as APScheduler runs it: a shutdown that cancels it mid-run (Ctrl-C, a
    deploy) is logged in one line, where APScheduler would log a failure and a traceback.
    Whatever the job had not committed is left for the next run, as after a crash."""

    @functools.wraps(job)
    async def run(*args: Any) -> Any:
        try:
            return await job(*args)
        except asyncio.CancelledError:
            log.info("%s stopped by shutdown", getattr(job, "__name__", "job"))
            return None

    return run
