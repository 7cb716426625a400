"""`/papers weekly` and `/papers trends`, and the scheduler's weekly rollup jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from paperboy.chat import CommandContext
from paperboy.clock import ManualClock
from paperboy.commands import Commands
from paperboy.delivery import DigestScheduler
from paperboy.delivery.scheduler import ROLLUP_PREFIX
from paperboy.models import Paper, Target
from paperboy.store import Store
from paperboy.store.tables import rollup_settings
from paperboy.trends import iso_week, plotted_series
from tests.fakes.platform import RecordingAdapter
from tests.integration.delivery_support import add_target, deliverer_for, planner_for

#: Friday 16:00 UTC of ISO week 2024-W46.
FRIDAY = dt.datetime(2024, 11, 15, 16, 0, tzinfo=dt.UTC)


def ctx(target: Target, *, can_manage: bool = True) -> CommandContext:
    return CommandContext(target, user="U1", can_manage=can_manage)


async def test_weekly_turns_the_rollup_on_and_off(store: Store) -> None:
    target, _ = await add_target(store, "lab", timezone="Europe/Berlin")
    commands = Commands(store)
    reply = await commands.handle(ctx(target), "/papers weekly Friday 16:00")
    assert reply.ok, reply.text
    assert "fri 16:00 Europe/Berlin" in reply.text
    schedule = await store.rollups.get(target)
    assert schedule is not None and (schedule.weekday, schedule.at_time) == ("fri", "16:00")
    shown = await commands.handle(ctx(target), "weekly")
    assert shown.ok and "fri 16:00 Europe/Berlin (next: Fri " in shown.text
    off = await commands.handle(ctx(target), "weekly off")
    assert off.ok and "off" in off.text
    assert [s.target_id for s in await store.rollups.active()] == []
    again = await commands.handle(ctx(target), "weekly off")
    assert again.ok and "no weekly rollup" in again.text.lower()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("weekly fry 16:00", "'fry' is not a day"),
        ("weekly fri 25:00", "'25:00' is not a time"),
        ("weekly fri", "give a day and a time"),
        ("weekly fri 16:00 extra", "give a day and a time"),
        ("weekly off now", "'off' takes nothing"),
        ("trends", "give a query"),
        ("trends LoRA weeks:0", "weeks:0 is not a number"),
        ("trends LoRA weeks:x", "weeks:x is not a number"),
        ("trends LoRA weeks:105", "weeks:105 is not a number"),
    ],
)
async def test_bad_input_gets_one_line_of_usage(store: Store, line: str, problem: str) -> None:
    target, _ = await add_target(store, "lab")
    reply = await Commands(store).handle(ctx(target), line)
    assert not reply.ok and problem in reply.text and "Usage: /papers" in reply.text
    assert "\n" not in reply.text
    assert await store.rollups.get(target) is None


async def test_changing_the_rollup_needs_manage_channels(store: Store) -> None:
    target, _ = await add_target(store, "lab")
    reply = await Commands(store).handle(ctx(target, can_manage=False), "weekly fri 16:00")
    assert not reply.ok and "Manage Channels" in reply.text
    assert await store.rollups.get(target) is None
    shown = await Commands(store).handle(ctx(target, can_manage=False), "weekly")
    assert shown.ok


async def test_a_bad_trend_query_says_where(store: Store) -> None:
    target, _ = await add_target(store, "lab")
    reply = await Commands(store).handle(ctx(target), 'trends LoRA AND "open')
    assert not reply.ok and reply.text.startswith("Bad query:") and "column" in reply.text


async def test_trends_answers_with_the_chart_of_its_counts(store: Store) -> None:
    target, _ = await add_target(store, "lab")
    now = dt.datetime.now(dt.UTC)
    this_week, last_week = now - dt.timedelta(minutes=5), now - dt.timedelta(days=7)
    rows = [
        (Paper("2601.00001", "QLoRA again", upvotes=3), last_week),
        (Paper("2601.00002", "LoRA one", upvotes=10), this_week),
        (Paper("2601.00003", "LoRA two", upvotes=30), this_week),
        (Paper("2601.00004", "DyLoRA three", upvotes=20), this_week),
        (Paper("2601.00005", "LoRA four", upvotes=1), this_week),
        (Paper("2601.00006", "exploration, not a match", upvotes=99), this_week),
    ]
    for paper, seen in rows:
        await store.papers.upsert([paper], seen_at=seen)
    reply = await Commands(store).handle(ctx(target), "trends LoRA weeks:4")
    assert reply.ok, reply.text
    image = reply.extra["image"]
    assert isinstance(image, dict)
    drawn = plotted_series(image["png"])
    assert drawn["series"] == [{"label": "LoRA", "counts": [0, 0, 1, 4]}]
    assert drawn["weeks"][-1] == iso_week(now.date())
    assert "per week: 0, 0, 1, 4" in reply.text
    top = [line.split(" (")[0] for line in reply.text.splitlines()[2:]]
    assert top == ["1. LoRA two", "2. DyLoRA three", "3. LoRA one"]  # the three most upvoted
    assert not reply.ephemeral


# ------------------------------------------------------------------ the scheduler's jobs


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY - dt.timedelta(hours=1))


@pytest.fixture
async def scheduler(store: Store, clock: ManualClock) -> AsyncIterator[DigestScheduler]:
    fake = RecordingAdapter(clock=clock)
    sched = DigestScheduler(
        store, planner_for(store, [fake], clock), clock=clock, grace=6 * 3600, batch_window=0
    )
    yield sched
    await sched.stop()


async def _set_earlier(store: Store, tid: int) -> None:
    """The rollup was switched on long before the test clock's Friday."""
    async with store.begin_write() as conn:
        await conn.execute(
            sa.update(rollup_settings)
            .where(rollup_settings.c.target_id == tid)
            .values(updated_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        )


async def test_rollup_jobs_follow_the_database_and_fire_once(
    store: Store, scheduler: DigestScheduler, clock: ManualClock
) -> None:
    target, tid = await add_target(store, "lab", timezone="America/New_York")
    await store.papers.upsert(
        [Paper("2411.00001", "LoRA for all", upvotes=5)], seen_at=FRIDAY - dt.timedelta(days=1)
    )
    await Commands(store).handle(ctx(target), "weekly fri 11:00")
    await scheduler.start(catch_up=False, ingest_now=False)
    job = scheduler.aps.get_job(f"{ROLLUP_PREFIX}{tid}")  # type: ignore[union-attr]
    assert job is not None and str(job.trigger.timezone) == "America/New_York"
    # 11:00 in New York is 16:00 UTC on that Friday.
    clock.set(FRIDAY + dt.timedelta(seconds=1))
    await scheduler.fire_rollup(tid)
    assert await scheduler.flush_rollups() == 1
    await scheduler.fire_rollup(tid)  # fired twice: the key is taken
    assert await scheduler.flush_rollups() == 0
    assert await store.rollups.runs(tid) == ["2024-W46"]
    fake = RecordingAdapter(clock=clock)
    stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert stats.sent == 1
    (sent,) = fake.to("lab")
    assert "Week 2024-W46: 1 matching paper" in sent.payload["text"]  # no images: the text
    await store.rollups.disable(target)
    assert await scheduler.sync() == 1
    assert scheduler.aps.get_job(f"{ROLLUP_PREFIX}{tid}") is None  # type: ignore[union-attr]


async def test_a_missed_rollup_is_caught_up_once_within_grace(
    store: Store, scheduler: DigestScheduler, clock: ManualClock
) -> None:
    target, tid = await add_target(store, "lab")
    await store.rollups.set(target, "fri", "16:00")
    await _set_earlier(store, tid)
    clock.advance(3 * 3600)  # 18:00: two hours late, within the grace
    await scheduler.start(ingest_now=False)
    assert await store.rollups.runs(tid) == ["2024-W46"]
    assert await scheduler.catch_up_rollups() == 0


async def test_a_rollup_switched_on_after_its_time_waits_for_the_next_week(
    store: Store, scheduler: DigestScheduler, clock: ManualClock
) -> None:
    target, tid = await add_target(store, "lab")
    await store.rollups.set(target, "fri", "16:00")  # set "now" (after the test's Friday)
    clock.advance(2 * 3600)
    await scheduler.start(ingest_now=False)
    assert await store.rollups.runs(tid) == []


async def test_the_channels_own_feedback_ranks_before_hf_votes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seam to the feedback tables: empty by default (HF votes rank), and when it
    answers, a paper the channel liked comes first."""
    from paperboy.delivery import build_rollup
    from paperboy.trends import parse_week

    target, tid = await add_target(store, "lab")
    seen = FRIDAY - dt.timedelta(days=1)
    await store.papers.upsert(
        [
            Paper("2411.00001", "LoRA popular", upvotes=50),
            Paper("2411.00002", "LoRA liked here", upvotes=2),
            Paper("2411.00003", "LoRA middling", upvotes=10),
        ],
        seen_at=seen,
    )
    monday = parse_week("2024-W46")
    assert await store.rollups.feedback_scores(tid, ["2411.00002"]) == {}
    plain = await build_rollup(store, target, monday, draw=False)
    assert [e.id for e in plain.top] == ["2411.00001", "2411.00003", "2411.00002"]

    for user in ("ada", "bo"):
        await store.feedback.record(target, "2411.00002", user, "up")
    await store.feedback.record(target, "2411.00002", "ada", "save")
    await store.feedback.record(target, "2411.00001", "bo", "down")
    assert await store.rollups.feedback_scores(tid, ["2411.00001", "2411.00002"]) == {
        "2411.00002": 3.0,
        "2411.00001": -1.0,
    }
    ranked = await build_rollup(store, target, monday, draw=False)
    assert [e.id for e in ranked.top] == ["2411.00002", "2411.00003", "2411.00001"]
    assert ranked.top[0].feedback == 3.0 and ranked.top[0].matched == ("LoRA",)


async def test_rollups_due_together_read_and_match_the_archive_once(
    store: Store, scheduler: DigestScheduler, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.papers.upsert(
        [Paper("2411.00001", "LoRA for all", upvotes=5)], seen_at=FRIDAY - dt.timedelta(days=1)
    )
    tids = []
    for name, query in (("a", "LoRA"), ("b", "LoRA"), ("c", "diffusion")):
        target, tid = await add_target(store, name, (query,))
        await store.rollups.set(target, "fri", "16:00")
        tids.append(tid)
    reads = []
    real = store.rollups.sighted

    async def counted(start: dt.datetime, end: dt.datetime) -> list:
        reads.append((start, end))
        return await real(start, end)

    monkeypatch.setattr(store.rollups, "sighted", counted)
    await scheduler.start(catch_up=False, ingest_now=False)
    clock.set(FRIDAY + dt.timedelta(seconds=1))
    for tid in tids:
        await scheduler.fire_rollup(tid)
    assert await scheduler.flush_rollups() == 3
    assert len(reads) == 1
    for tid in tids:
        assert await store.rollups.runs(tid) == ["2024-W46"]


@pytest.mark.parametrize(("zone", "expected"), [("UTC", [2, 1, 2]), ("Europe/Berlin", [1, 2, 2])])
async def test_the_channels_time_zone_decides_the_week_of_a_paper_near_midnight(
    store: Store, zone: str, expected: list[int]
) -> None:
    """Stored and read back through the store, on both databases: the archive of
    tests/trend_archive.py, whose paper B was first seen Sunday 23:30 UTC, Monday
    00:30 in Berlin (2025-W52 or 2026-W01, across the year boundary)."""
    from paperboy.delivery import build_rollup
    from paperboy.trends import parse_week
    from tests.trend_archive import load

    await load(store)
    target, _ = await add_target(store, "lab", ("LoRA",), timezone=zone)
    rollup = await build_rollup(store, target, parse_week("2026-W02"), draw=False)
    (lora,) = rollup.chart.series
    assert list(lora.counts[-3:]) == expected
    assert rollup.chart.weeks[-3:] == ("2025-W52", "2026-W01", "2026-W02")
    week1 = await build_rollup(store, target, parse_week("2026-W01"), draw=False)
    assert ("2512.00002" in [e.id for e in week1.top]) is (zone == "Europe/Berlin")
