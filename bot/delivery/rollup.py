"""Weekly rollups and trend charts: built from the archive, planned into the outbox.

- `trend(store, query, ...)`: papers per ISO week matching a query over the archive (the
  `Matcher`, so counts follow the matching rules exactly), the chart, and the three most
  upvoted papers of the peak week (`/papers trends`, `paperboy trends`).
- `build_rollup(store, target, week, tz)`: a channel's rollup of one ISO week: its top
  papers (the channel's own feedback first, through `RollupRepo.feedback_scores`, then
  Hugging Face votes), its subscriptions by matches, the rising terms of its matched
  papers against the previous four weeks, and the chart of matched papers per week per
  subscription over 12 weeks (the six busiest), this week marked.
- `RollupPlanner`: the scheduler's side: a channel's rollup, once due, built and written
  to the outbox in one transaction under its own key (`pb:<target>:rollup:<week>`);
  planned twice, the second finds the key taken.

Matching and drawing are CPU work and run in a worker thread, never on the event loop.
A rollup set for Monday looks back on the week that just ended; on any other day it
covers the current week up to its time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from paperboy.clock import Clock, SystemClock
from paperboy.errors import QueryError
from paperboy.matching import Query, parse
from paperboy.models import Paper, Target
from paperboy.store import RollupSchedule, Store
from paperboy.trends import (
    ROLLUP_PAYLOAD,
    ChartData,
    ChartSeries,
    RisingTerm,
    Rollup,
    RollupEntry,
    SubscriptionCount,
    iso_week,
    render_png,
    rising_terms,
    rollup_to_json,
    week_range,
    weeks_ending,
)
from paperboy.trends.chart import MAX_SERIES
from paperboy.trends.counts import weekly_matches
from paperboy.trends.rollup import MAX_RISING, ROLLUP_TOP

log = logging.getLogger(__name__)

CHART_WEEKS = 12
RISING_BASE_WEEKS = 4
MAX_TREND_WEEKS = 104


# --------------------------------------------------------------------------- trends


@dataclass(frozen=True, slots=True)
class Trend:
    """Papers per week matching `query` (`weeks`: Mondays, `counts` aligned)."""

    query: str
    weeks: tuple[dt.date, ...]
    counts: tuple[int, ...]
    peak: dt.date | None
    top: tuple[Paper, ...]  # the most upvoted papers of the peak week
    png: bytes | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(iso_week(w) for w in self.weeks)

    def as_json(self, image: str | None) -> dict[str, object]:
        return {
            "query": self.query,
            "weeks": [
                {"week": label, "count": count}
                for label, count in zip(self.labels, self.counts, strict=True)
            ],
            "image": image,
        }


def parse_trend_query(text: str) -> Query:
    """The query of a trend (a QueryError says what is wrong, with its column)."""
    return parse(text)


def _trend_compute(
    sighted: Sequence[tuple[Paper, dt.datetime | None]],
    text: str,
    query: Query,
    weeks: Sequence[dt.date],
    tz: str,
    draw: bool,
) -> Trend:
    found = weekly_matches(sighted, {0: query}, weeks, tz)[0]
    counts = tuple(len(found[w]) for w in weeks)
    peak = max(weeks, key=lambda w: (len(found[w]), w)) if any(counts) else None
    top = (
        tuple(sorted(found[peak], key=lambda p: (-p.upvotes, p.id))[:3]) if peak is not None else ()
    )
    labels = tuple(iso_week(w) for w in weeks)
    png = None
    if draw:
        png = render_png(
            ChartData(
                title=f"Papers per week: {text}",
                weeks=labels,
                series=(ChartSeries(text, counts),),
                marked=iso_week(peak) if peak is not None else None,
            )
        )
    return Trend(text, tuple(weeks), counts, peak, top, png)


async def trend(
    store: Store,
    text: str,
    *,
    weeks: int = CHART_WEEKS,
    until: dt.date | None = None,
    tz: str = "UTC",
    draw: bool = True,
) -> Trend:
    """Papers per week matching `text` over the `weeks` ISO weeks ending with the week of
    `until` (default: today in `tz`). QueryError for a bad query, ValueError for bad weeks."""
    if not 1 <= weeks <= MAX_TREND_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_TREND_WEEKS}")
    query = parse_trend_query(text)
    last = until or dt.datetime.now(ZoneInfo(tz)).date()
    mondays = weeks_ending(last, weeks)
    start, _ = week_range(mondays[0], tz)
    _, end = week_range(mondays[-1], tz)
    sighted = await store.rollups.sighted(start, end)
    return await asyncio.to_thread(_trend_compute, sighted, text, query, mondays, tz, draw)


# --------------------------------------------------------------------------- rollups


def rollup_week(local_day: dt.date) -> dt.date:
    """The Monday of the week a rollup on `local_day` covers (Monday: the week before)."""
    monday = local_day - dt.timedelta(days=local_day.weekday())
    return monday - dt.timedelta(weeks=1) if local_day.weekday() == 0 else monday


Found = dict[Hashable, dict[dt.date, list[Paper]]]


@dataclass(frozen=True, slots=True)
class _Job:
    """One channel's rollup of one week, as a batch computes it."""

    target_id: int
    channel: str
    queries: tuple[str, ...]
    monday: dt.date
    feedback: dict[str, float]


def _parsed(target_id: int, queries: Sequence[str]) -> dict[Hashable, Query]:
    """The channel's stored queries keyed (target id, index); one that no longer parses
    is skipped with a warning (it cannot stop the rollup)."""
    out: dict[Hashable, Query] = {}
    for index, text in enumerate(queries):
        try:
            out[(target_id, index)] = parse(text, stored=True)
        except QueryError as error:
            log.warning("rollup: skipping stored query %r: %s", text, error)
    return out


def _assemble(job: _Job, found: Found, draw: bool, charts: dict[ChartData, bytes]) -> Rollup:
    """One channel's rollup from its subscriptions' matches per week (`found`, keyed
    (target id, index) for this channel only). `charts`: PNGs drawn so far in the batch,
    by what they show (channels following the same queries share one)."""
    monday, queries = job.monday, job.queries
    mondays = weeks_ending(monday, CHART_WEEKS)

    def query_of(key: Hashable) -> str:
        return queries[cast(tuple[int, int], key)[1]]

    this_week: dict[str, Paper] = {}
    matched_by: dict[str, list[str]] = {}
    for key, by_week in found.items():
        for paper in by_week[monday]:
            this_week[paper.id] = paper
            matched_by.setdefault(paper.id, []).append(query_of(key))
    feedback = job.feedback
    ranked = sorted(this_week.values(), key=lambda p: (-feedback.get(p.id, 0.0), -p.upvotes, p.id))
    top = tuple(
        RollupEntry(
            id=p.id,
            title=p.title,
            upvotes=p.upvotes,
            feedback=feedback.get(p.id, 0.0),
            matched=tuple(matched_by[p.id]),
            on_hf=p.on_hf,
        )
        for p in ranked[:ROLLUP_TOP]
    )
    counts = {key: [len(by_week[w]) for w in mondays] for key, by_week in found.items()}
    subs = sorted(
        (SubscriptionCount(query_of(key), series[-1]) for key, series in counts.items()),
        key=lambda s: (-s.count, s.query),
    )
    previous: list[list[Paper]] = []
    for w in mondays[-1 - RISING_BASE_WEEKS : -1]:
        seen: dict[str, Paper] = {}
        for by_week in found.values():
            for paper in by_week[w]:
                seen[paper.id] = paper
        previous.append(list(seen.values()))
    rising = tuple(
        RisingTerm(r.term, r.count, r.previous)
        for r in rising_terms(list(this_week.values()), previous, limit=MAX_RISING)
    )
    busiest = sorted(counts.items(), key=lambda kv: (-sum(kv[1]), query_of(kv[0])))[:MAX_SERIES]
    chart = ChartData(
        title=f"Matched papers per week, to {iso_week(monday)}",
        weeks=tuple(iso_week(w) for w in mondays),
        series=tuple(ChartSeries(query_of(k), tuple(v)) for k, v in busiest),
        marked=iso_week(monday),
    )
    png = None
    if draw:
        png = charts.get(chart)
        if png is None:
            png = charts[chart] = render_png(chart)
    return Rollup(
        week=iso_week(monday),
        channel=job.channel,
        matched=len(this_week),
        top=top,
        subscriptions=tuple(subs),
        rising=rising,
        chart=chart,
        png=png,
    )


def _compute_batch(
    jobs: Sequence[_Job],
    sighted: Sequence[tuple[Paper, dt.datetime | None]],
    tz: str,
    draw: bool,
) -> list[Rollup]:
    """The rollups of channels sharing a week and a time zone: the papers matched once,
    by one matcher over all of their subscriptions (CPU only: a worker thread)."""
    if not jobs:
        return []
    monday = jobs[0].monday
    mondays = weeks_ending(monday, CHART_WEEKS)
    parsed: dict[Hashable, Query] = {}
    for job in jobs:
        parsed.update(_parsed(job.target_id, job.queries))
    found = weekly_matches(sighted, parsed, mondays, tz)
    by_target: dict[int, Found] = {}
    for key, by_week in found.items():
        by_target.setdefault(cast(tuple[int, int], key)[0], {})[key] = by_week
    charts: dict[ChartData, bytes] = {}
    return [_assemble(job, by_target.get(job.target_id, {}), draw, charts) for job in jobs]


async def _sighted_for(store: Store, monday: dt.date, tz: str) -> list[tuple[Paper, Any]]:
    mondays = weeks_ending(monday, CHART_WEEKS)
    start, _ = week_range(mondays[0], tz)
    _, end = week_range(monday, tz)
    return await store.rollups.sighted(start, end)


async def build_rollup(
    store: Store,
    target: Target,
    monday: dt.date,
    *,
    tz: str | None = None,
    draw: bool = True,
) -> Rollup:
    """The rollup of `target` for the ISO week starting `monday` (in `tz`, by default
    the channel's time zone)."""
    target_id = await store.targets.get_id(target)
    zone = tz or (await store.settings.get(target)).timezone
    queries = tuple(s.query for s in await store.subscriptions.list(target))
    sighted = await _sighted_for(store, monday, zone)
    feedback: dict[str, float] = {}
    if target_id is not None:
        feedback = await store.rollups.feedback_scores(target_id, [p.id for p, _ in sighted])
    job = _Job(target_id or 0, target.display, queries, monday, feedback)
    (rollup,) = await asyncio.to_thread(_compute_batch, [job], sighted, zone, draw)
    return rollup


# --------------------------------------------------------------------------- scheduling


def rollup_trigger(schedule: RollupSchedule) -> CronTrigger:
    return _trigger(schedule.weekday, schedule.at_time, schedule.timezone)


@lru_cache(maxsize=4096)
def _trigger(weekday: str, at_time: str, timezone: str) -> CronTrigger:
    hour, minute = (int(part) for part in at_time.split(":"))
    return CronTrigger(
        day_of_week=weekday, hour=hour, minute=minute, second=0, timezone=ZoneInfo(timezone)
    )


def previous_rollup(schedule: RollupSchedule, now: dt.datetime) -> dt.datetime | None:
    """The most recent scheduled time of the rollup at or before `now` (within 8 days)."""
    trigger = rollup_trigger(schedule)
    fire = trigger.get_next_fire_time(None, now - dt.timedelta(days=8))
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return last


def next_rollup(schedule: RollupSchedule, now: dt.datetime) -> dt.datetime | None:
    return rollup_trigger(schedule).get_next_fire_time(None, now)


class RollupPlanner:
    """Builds due rollups and writes them to the outbox (see the module docstring).

    Rollups due together (`plan_many`: a minute's jobs, a catch-up) are built together:
    per ISO week and time zone the archive is read once and matched once, by one matcher
    over every channel's subscriptions; channels following the same queries share one
    drawing of their chart. Each rollup is then written in its own transaction.
    """

    def __init__(self, store: Store, *, clock: Clock | None = None, batch_size: int = 200) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.batch_size = batch_size

    async def plan(self, schedule: RollupSchedule, fired: dt.datetime) -> bool:
        """Plan the rollup the run at `fired` stands for; False when planned already."""
        return await self.plan_many([(schedule, fired)]) == 1

    async def plan_many(self, due: Sequence[tuple[RollupSchedule, dt.datetime]]) -> int:
        """Plan the rollups of these runs not planned yet; returns how many were."""
        wanted: dict[tuple[int, str], tuple[RollupSchedule, dt.date, dt.date]] = {}
        for schedule, fired in due:
            local = fired.astimezone(ZoneInfo(schedule.timezone)).date()
            monday = rollup_week(local)
            wanted[(schedule.target_id, iso_week(monday))] = (schedule, local, monday)
        taken = await self.store.rollups.planned_weeks(wanted)
        groups: dict[tuple[dt.date, str], list[tuple[RollupSchedule, dt.date]]] = {}
        for key, (schedule, local, monday) in wanted.items():
            if key not in taken:
                groups.setdefault((monday, schedule.timezone), []).append((schedule, local))
        planned = 0
        for (monday, tz), members in groups.items():
            sighted = await _sighted_for(self.store, monday, tz)
            ids = [p.id for p, _ in sighted]
            subs = await self.store.outbox.subscriptions_of([s.target_id for s, _ in members])
            for start in range(0, len(members), self.batch_size):
                chunk = members[start : start + self.batch_size]
                jobs = [
                    _Job(
                        s.target_id,
                        s.target.display,
                        tuple(subs.get(s.target_id, ())),
                        monday,
                        await self.store.rollups.feedback_scores(s.target_id, ids),
                    )
                    for s, _ in chunk
                ]
                rollups = await asyncio.to_thread(_compute_batch, jobs, sighted, tz, True)
                for (schedule, local), rollup in zip(chunk, rollups, strict=True):
                    payload = {ROLLUP_PAYLOAD: rollup_to_json(rollup, embed=True)}
                    done = await self.store.rollups.plan(
                        schedule.target_id, rollup.week, local, payload, rollup.matched,
                        self.clock.now(),
                    )  # fmt: skip
                    planned += int(done)
                    if done:
                        log.debug("planned the %s rollup of %s", rollup.week, schedule.target)
        return planned

    async def due(
        self, grace: dt.timedelta, schedules: Sequence[RollupSchedule] | None = None
    ) -> list[tuple[RollupSchedule, dt.datetime]]:
        """Each active channel's latest rollup run within `grace` (not one from before
        the rollup was switched on)."""
        now = self.clock.now()
        out = []
        for schedule in schedules if schedules is not None else await self.store.rollups.active():
            if schedule.paused:
                continue
            fired = previous_rollup(schedule, now)
            if fired is None or now - fired > grace:
                continue
            if schedule.since is not None and fired < schedule.since:
                continue  # set after that run: the first rollup is the next one
            out.append((schedule, fired))
        return out

    async def catch_up(self, grace: dt.timedelta) -> int:
        """Plan each channel's latest rollup when missed and still within `grace`."""
        try:
            return await self.plan_many(await self.due(grace))
        except Exception:
            log.exception("catching up weekly rollups failed; trying again at the next check")
            return 0
