"""The scheduler: jobs from the database, firing, catch-up, time zones, ingest.

The digest jobs' own decisions use a ManualClock; APScheduler itself runs for real (one
test lets a job fire through it by moving its next run time to now).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest

from paperboy.chat import CommandContext
from paperboy.clock import ManualClock
from paperboy.commands import Commands
from paperboy.delivery import (
    JOB_PREFIX,
    TRIGGER_CATCH_UP,
    TRIGGER_SCHEDULE,
    DigestScheduler,
    DueDigest,
    PlanResult,
    fire_on,
    local_date,
    next_fire,
    previous_fire,
)
from paperboy.models import ChannelSettings
from paperboy.search import SearchIndex, search
from paperboy.sources.huggingface import HuggingFaceSource
from paperboy.store import Store
from tests.fakes.hf import FakeHF, Fault
from tests.fakes.platform import RecordingAdapter
from tests.integration.delivery_support import (
    MONDAY,
    add_target,
    bulk_targets,
    deliverer_for,
    lora_papers,
    planner_for,
)

UTC = dt.UTC
WEEK = "mon,tue,wed,thu,fri,sat,sun"


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def fake(clock: ManualClock) -> RecordingAdapter:
    return RecordingAdapter(per_part=10, clock=clock)


@pytest.fixture
async def scheduler(
    store: Store, clock: ManualClock, fake: RecordingAdapter
) -> AsyncIterator[DigestScheduler]:
    sched = DigestScheduler(
        store, planner_for(store, [fake], clock), clock=clock, grace=6 * 3600, batch_window=0
    )
    yield sched
    await sched.stop()


async def test_jobs_follow_the_database(
    store: Store, scheduler: DigestScheduler, clock: ManualClock
) -> None:
    berlin_target, berlin = await add_target(
        store, "berlin", timezone="Europe/Berlin", schedule_time="08:30"
    )
    off_target, off = await add_target(store, "off", schedule_enabled=False)
    _, paused = await add_target(store, "paused", paused=True)
    _, ny = await add_target(store, "ny", timezone="America/New_York", days="mon,wed,fri")
    await scheduler.start(catch_up=False)
    jobs = scheduler.jobs()
    assert set(jobs) == {berlin, ny}
    assert jobs[berlin] is not None and jobs[berlin].astimezone(UTC).strftime("%H:%M") == "07:30"
    job = scheduler.aps.get_job(f"{JOB_PREFIX}{ny}")  # type: ignore[union-attr]
    assert str(job.trigger.timezone) == "America/New_York"
    assert job.misfire_grace_time == 6 * 3600 and job.coalesce is True

    # A /papers schedule in this process rebuilds the changed job at once.
    commands = Commands(store, on_schedule_change=scheduler.request_sync)
    ctx = CommandContext(off_target)
    reply = await commands.handle(ctx, "/papers schedule 07:15 Asia/Tokyo daily")
    assert reply.ok, reply.text
    await asyncio.gather(*scheduler._tasks)
    jobs = scheduler.jobs()
    assert set(jobs) == {berlin, ny, off}
    tokyo = scheduler.aps.get_job(f"{JOB_PREFIX}{off}")  # type: ignore[union-attr]
    assert str(tokyo.trigger.timezone) == "Asia/Tokyo"
    # Changes made by another process show up at the next periodic check.
    await store.settings.update(berlin_target, schedule_enabled=False)
    assert await scheduler.sync() == 1
    assert set(scheduler.jobs()) == {ny, off}
    assert await scheduler.sync() == 0  # nothing changed, nothing rebuilt
    del paused


async def test_jobs_due_together_are_planned_together(
    store: Store, scheduler: DigestScheduler, clock: ManualClock, fake: RecordingAdapter
) -> None:
    ids = [(await add_target(store, f"c{i}"))[1] for i in range(5)]
    await store.papers.upsert(lora_papers(3), seen_at=clock.now() - dt.timedelta(hours=1))
    await scheduler.start(catch_up=False)
    clock.set(MONDAY + dt.timedelta(milliseconds=300))
    plans: list[int] = []
    plan = scheduler.planner.plan

    async def counted(due: list[DueDigest]) -> PlanResult:
        plans.append(len(due))
        return await plan(due)

    scheduler.planner.plan = counted  # type: ignore[method-assign]
    for tid in ids:
        await scheduler.fire(tid)
    first = await scheduler.flush()
    assert plans == [5] and first.planned == 5  # one plan for all five
    # The job firing again (a second process, a retry) finds every key taken.
    for tid in ids:
        await scheduler.fire(tid)
    again = await scheduler.flush()
    assert (again.planned, again.already) == (0, 5)
    await deliverer_for(store, [fake], clock).run_until_idle()
    assert len(fake.sent) == 5


async def test_a_job_fires_through_apscheduler(
    store: Store, scheduler: DigestScheduler, clock: ManualClock
) -> None:
    _, tid = await add_target(store, "c1")
    await store.papers.upsert(lora_papers(1), seen_at=clock.now() - dt.timedelta(hours=1))
    await scheduler.start(catch_up=False)
    assert scheduler.aps is not None
    scheduler.aps.modify_job(f"{JOB_PREFIX}{tid}", next_run_time=dt.datetime.now(UTC))
    for _ in range(500):
        if await store.outbox.runs():
            break
        await asyncio.sleep(0.01)
    runs = await store.outbox.runs()
    assert [(r[0], r[1], r[3]) for r in runs] == [(tid, MONDAY.date(), TRIGGER_SCHEDULE)]


async def test_misfire_within_grace_goes_out_once_after_restart(
    db_url: str, store: Store, clock: ManualClock, fake: RecordingAdapter
) -> None:
    _, _tid = await add_target(store, "c1")
    await store.papers.upsert(lora_papers(2), seen_at=MONDAY - dt.timedelta(hours=3))
    clock.set(MONDAY + dt.timedelta(hours=3))  # down from 08:00 to 12:00
    for _restart in range(2):
        async with Store(db_url) as fresh:
            sched = DigestScheduler(
                fresh, planner_for(fresh, [fake], clock), clock=clock, grace=6 * 3600
            )
            await sched.start()
            await sched.stop()
            await deliverer_for(fresh, [fake], clock).run_until_idle()
        clock.advance(60)
    assert len(fake.sent) == 1
    runs = await store.outbox.runs()
    assert [(r[1], r[3]) for r in runs] == [(MONDAY.date(), TRIGGER_CATCH_UP)]


async def test_misfire_beyond_grace_is_skipped_and_logged(
    store: Store, scheduler: DigestScheduler, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    _, tid = await add_target(store, "c1")
    await store.papers.upsert(lora_papers(2), seen_at=MONDAY - dt.timedelta(hours=3))
    clock.set(MONDAY + dt.timedelta(hours=7))
    with caplog.at_level(logging.WARNING, logger="paperboy.delivery.scheduler"):
        await scheduler.start()
    assert await store.outbox.runs() == []
    (line,) = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert "2024-11-11" in line and "grace" in line and f"target {tid}" in line
    # Logged once, not at every periodic check.
    await scheduler.check()
    assert len([r for r in caplog.records if "skipping" in r.getMessage()]) == 1


async def test_a_restart_logs_one_line_for_every_digest_it_catches_up(
    store: Store, scheduler: DigestScheduler, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    await bulk_targets(store, [f"c{i}" for i in range(40)])
    await store.papers.upsert(lora_papers(2), seen_at=MONDAY - dt.timedelta(hours=3))
    clock.set(MONDAY + dt.timedelta(hours=2))  # down since before 09:00
    with caplog.at_level(logging.INFO, logger="paperboy.delivery.scheduler"):
        await scheduler.start()
    runs = await store.outbox.runs()
    assert len(runs) == 40 and {r[3] for r in runs} == {TRIGGER_CATCH_UP}
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "catching up" in m]
    (line,) = [m for m in messages if "catch-up" in m]
    assert "caught up 40 digest(s) missed during downtime (up to 2:00:00 late)" in line
    assert "40 planned now, 0 planned before" in line
    # Nothing more is missed: the periodic check says nothing.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="paperboy.delivery.scheduler"):
        await scheduler.check()
    assert not [r for r in caplog.records if "catch" in r.getMessage()]


async def test_digests_planned_on_time_are_not_caught_up(
    store: Store, clock: ManualClock, fake: RecordingAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    """The periodic check runs while the 09:00 jobs' digests wait to be planned together:
    they are on time, not missed; no catch-up line, and planned as scheduled."""
    ids = await bulk_targets(store, [f"c{i}" for i in range(10)])
    await store.papers.upsert(lora_papers(2), seen_at=MONDAY - dt.timedelta(hours=1))
    sched = DigestScheduler(
        store, planner_for(store, [fake], clock), clock=clock, grace=6 * 3600, batch_window=60
    )
    try:
        await sched.start(catch_up=False)
        clock.set(MONDAY + dt.timedelta(milliseconds=300))
        for tid in ids:
            await sched.fire(tid)  # queued, gathered for one plan
        with caplog.at_level(logging.INFO, logger="paperboy.delivery.scheduler"):
            await sched.check()
    finally:
        await sched.stop()
    runs = await store.outbox.runs()
    assert len(runs) == 10 and {r[3] for r in runs} == {TRIGGER_SCHEDULE}
    assert not [r for r in caplog.records if "catch" in r.getMessage()]


async def test_catch_up_ignores_channels_created_after_their_time(
    store: Store, scheduler: DigestScheduler, clock: ManualClock
) -> None:
    await add_target(store, "new", created_at=MONDAY + dt.timedelta(hours=1))
    clock.set(MONDAY + dt.timedelta(hours=2))
    await scheduler.start()
    assert await store.outbox.runs() == []


@pytest.mark.parametrize(
    ("zone", "day", "local", "expected_utc"),
    [
        ("Europe/Berlin", dt.date(2024, 3, 30), "09:00", at(2024, 3, 30, 8, 0)),
        ("Europe/Berlin", dt.date(2024, 3, 31), "09:00", at(2024, 3, 31, 7, 0)),
        ("Europe/Berlin", dt.date(2024, 10, 27), "09:00", at(2024, 10, 27, 8, 0)),
        ("America/New_York", dt.date(2024, 3, 10), "09:00", at(2024, 3, 10, 13, 0)),
        ("America/New_York", dt.date(2024, 11, 3), "09:00", at(2024, 11, 3, 14, 0)),
        # 02:30 does not exist in Berlin on 2024-03-31: the trigger fires once that night.
        ("Europe/Berlin", dt.date(2024, 3, 31), "02:30", at(2024, 3, 31, 1, 30)),
    ],
)
def test_fire_times_across_dst(
    zone: str, day: dt.date, local: str, expected_utc: dt.datetime
) -> None:
    settings = ChannelSettings(schedule_time=local, timezone=zone, days=("sat", "sun"))
    fired = fire_on(settings, day)
    assert fired is not None and fired.astimezone(UTC) == expected_utc
    assert local_date(settings, fired) == day
    assert previous_fire(settings, expected_utc + dt.timedelta(minutes=5)) == fired
    # (From inside the skipped hour APScheduler would look past that night; the periodic
    # catch-up covers a scheduler started exactly then.)
    assert next_fire(settings, expected_utc - dt.timedelta(hours=12)) == fired


async def test_dst_fall_back_fires_twice_but_posts_once(
    store: Store, scheduler: DigestScheduler, clock: ManualClock, fake: RecordingAdapter
) -> None:
    """02:30 happens twice in Berlin on 2024-10-27; APScheduler fires at both."""
    _, tid = await add_target(
        store, "berlin", timezone="Europe/Berlin", schedule_time="02:30", days=WEEK
    )
    await store.papers.upsert(lora_papers(2), seen_at=at(2024, 10, 26, 12, 0))
    clock.set(at(2024, 10, 26, 12, 0))
    await scheduler.start(catch_up=False)
    job = scheduler.aps.get_job(f"{JOB_PREFIX}{tid}")  # type: ignore[union-attr]
    first = job.trigger.get_next_fire_time(None, at(2024, 10, 27, 0, 0))
    second = job.trigger.get_next_fire_time(first, first)
    assert [first.astimezone(UTC), second.astimezone(UTC)] == [
        at(2024, 10, 27, 0, 30),
        at(2024, 10, 27, 1, 30),
    ]
    planned = []
    for fire_time in (first, second):
        clock.set(fire_time.astimezone(UTC) + dt.timedelta(seconds=1))
        await scheduler.fire(tid)
        planned.append((await scheduler.flush()).planned)
    assert planned == [1, 0]
    await deliverer_for(store, [fake], clock).run_until_idle()
    assert len(fake.sent) == 1
    assert fake.sent[0].payload["header"].startswith("Papers for 2024-10-27")


async def test_dst_spring_forward_day_in_new_york(
    store: Store, scheduler: DigestScheduler, clock: ManualClock, fake: RecordingAdapter
) -> None:
    _, tid = await add_target(
        store, "ny", timezone="America/New_York", schedule_time="09:00", days=WEEK
    )
    await store.papers.upsert(lora_papers(1), seen_at=at(2024, 3, 9, 12, 0))
    clock.set(at(2024, 3, 10, 13, 0, 1))  # 09:00:01 EDT, the first day of DST
    await scheduler.start()  # the catch-up sees the 09:00 digest as due just now
    await scheduler.fire(tid)  # and the job firing as well finds it taken
    await scheduler.flush()
    runs = await store.outbox.runs()
    assert [(r[1], r[3]) for r in runs] == [(dt.date(2024, 3, 10), TRIGGER_CATCH_UP)]


async def test_ingest_retries_and_late_papers_go_next(
    store: Store,
    scheduler: DigestScheduler,
    clock: ManualClock,
    fake: RecordingAdapter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, tid = await add_target(store, "c1", days=WEEK)
    await store.papers.upsert(lora_papers(1), seen_at=MONDAY - dt.timedelta(hours=5))
    async with FakeHF() as hf:
        scheduler.sources = [HuggingFaceSource(hf.base_url, retries=0)]
        hf.fail_always(Fault.server_error(503))
        clock.set(MONDAY - dt.timedelta(minutes=30))
        with caplog.at_level(logging.WARNING, logger="paperboy.delivery.scheduler"):
            assert await scheduler.ingest_once() == 0
        assert any("ingest of" in r.getMessage() for r in caplog.records)

        # 09:00: the digest goes out with what the archive holds.
        clock.set(MONDAY + dt.timedelta(seconds=1))
        await scheduler.start(catch_up=False, ingest_now=False)
        await scheduler.fire(tid)
        await scheduler.flush()
        await deliverer_for(store, [fake], clock).run_until_idle()
        assert fake.sent[0].payload["papers"] == ["2411.00000"]

        # HF is back 30 minutes later: the day's papers (one already archived) arrive.
        hf.fail_always(None)
        items = [
            {
                "paper": {"id": f"2411.{n:05d}", "title": f"LoRA adapters, part {n}", "upvotes": n},
                "publishedAt": "2024-11-11T00:00:00.000Z",
            }
            for n in (0, 1, 2)
        ]
        hf.add_day(MONDAY.date(), items)
        clock.set(MONDAY + dt.timedelta(minutes=30))
        assert await scheduler.ingest_once() >= 2

    # Tuesday's digest holds the late papers, and not the one already sent.
    clock.set(MONDAY + dt.timedelta(days=1, seconds=1))
    await scheduler.fire(tid)
    await scheduler.flush()
    await deliverer_for(store, [fake], clock).run_until_idle()
    assert fake.sent[1].payload["papers"] == ["2411.00002", "2411.00001"]


async def test_one_scheduler_per_sqlite_file(sqlite_url: str) -> None:
    from paperboy.delivery import SchedulerLock
    from paperboy.store import migrate

    await migrate(sqlite_url)
    async with Store(sqlite_url) as first_store, Store(sqlite_url) as second_store:
        first, second = SchedulerLock(first_store), SchedulerLock(second_store)
        assert await first.try_acquire()
        assert not await second.try_acquire()
        await first.release()
        assert await second.try_acquire()
        await second.release()


class _Hanging:
    """A source whose fetch never returns (a slow network at shutdown)."""

    name = "hanging"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def fetch_day(self, day: dt.date | None) -> list:
        self.started.set()
        await asyncio.Event().wait()
        return []


async def test_shutdown_mid_job_logs_one_line_not_a_traceback(
    store: Store, clock: ManualClock, fake: RecordingAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    source = _Hanging()
    sched = DigestScheduler(store, planner_for(store, [fake], clock), clock=clock, sources=[source])
    with caplog.at_level(logging.INFO):
        await sched.start(ingest_now=True)
        await asyncio.wait_for(source.started.wait(), 10)
        await sched.stop()
        await asyncio.sleep(0.05)  # the cancelled job finishes
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert any("stopped by shutdown" in r.getMessage() for r in caplog.records)


async def test_the_scheduled_ingest_indexes_for_search(
    store: Store, scheduler: DigestScheduler, clock: ManualClock
) -> None:
    """The production ingest path (the scheduler's job) leaves the search index in step:
    what it archived is found at once, without the search catching the index up first."""
    async with FakeHF() as hf:
        hf.add_day(
            MONDAY.date(),
            [
                {
                    "paper": {"id": f"2411.{n:05d}", "title": f"LoRA adapters, part {n}"},
                    "publishedAt": "2024-11-11T00:00:00.000Z",
                }
                for n in (1, 2)
            ],
        )
        scheduler.sources = [HuggingFaceSource(hf.base_url, retries=0)]
        assert await scheduler.ingest_once() == 2
    assert await SearchIndex(store).pending() == 0
    found = await search(store, "LoRA", sync=False)
    assert sorted(hit.paper.id for hit in found.hits) == ["2411.00001", "2411.00002"]
