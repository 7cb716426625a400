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
from paperboy.trends.counts import weekly_matches
from paperboy.trends.rollup import MAX_RISING, MAX_SUBS, ROLLUP_TOP

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


def _parsed(queries: Sequence[str]) -> dict[Hashable, Query]:
    out: dict[Hashable, Query] = {}
    for index, text in enumerate(queries):
        try:
            out[index] = parse(text, stored=True)
        except QueryError as error:
            log.warning("rollup: skipping stored query %r: %s", text, error)
    return out


def _rollup_compute(
    channel: str,
    queries: Sequence[str],
    sighted: Sequence[tuple[Paper, dt.datetime | None]],
    monday: dt.date,
    tz: str,
    feedback: dict[str, float],
    draw: bool,
) -> tuple[Rollup, list[str]]:
    mondays = weeks_ending(monday, CHART_WEEKS)
    parsed = _parsed(queries)
    found = weekly_matches(sighted, parsed, mondays, tz)
    this_week: dict[str, Paper] = {}
    matched_by: dict[str, list[str]] = {}
    for key, by_week in found.items():
        for paper in by_week[monday]:
            this_week[paper.id] = paper
            matched_by.setdefault(paper.id, []).append(queries[int(str(key))])
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
        (SubscriptionCount(queries[int(str(key))], series[-1]) for key, series in counts.items()),
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
    busiest = sorted(counts.items(), key=lambda kv: (-sum(kv[1]), int(str(kv[0]))))[:6]
    labels = tuple(iso_week(w) for w in mondays)
    chart = ChartData(
        title=f"Matched papers per week, to {iso_week(monday)}",
        weeks=labels,
        series=tuple(ChartSeries(queries[int(str(k))], tuple(v)) for k, v in busiest),
        marked=iso_week(monday),
    )
    rollup = Rollup(
        week=iso_week(monday),
        channel=channel,
        matched=len(this_week),
        top=top,
        subscriptions=tuple(subs[:MAX_SUBS] if len(subs) <= MAX_SUBS else subs[:5] + subs[-5:]),
        rising=rising,
        chart=chart,
        png=render_png(chart) if draw else None,
    )
    return rollup, list(this_week)


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
    queries = [s.query for s in await store.subscriptions.list(target)]
    mondays = weeks_ending(monday, CHART_WEEKS)
    start, _ = week_range(mondays[0], zone)
    _, end = week_range(monday, zone)
    sighted = await store.rollups.sighted(start, end)
    feedback: dict[str, float] = {}
    if target_id is not None:
        feedback = await store.rollups.feedback_scores(target_id, [p.id for p, _ in sighted])
    rollup, _ = await asyncio.to_thread(
        _rollup_compute, target.display, queries, sighted, monday, zone, feedback, draw
    )
    return rollup


# --------------------------------------------------------------------------- scheduling


def rollup_trigger(schedule: RollupSchedule) -> CronTrigger:
    hour, minute = (int(part) for part in schedule.at_time.split(":"))
    return CronTrigger(
        day_of_week=schedule.weekday,
        hour=hour,
        minute=minute,
        second=0,
        timezone=ZoneInfo(schedule.timezone),
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
    """Builds due rollups and writes them to the outbox (see the module docstring)."""

    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    async def plan(self, schedule: RollupSchedule, fired: dt.datetime) -> bool:
        """Plan the rollup the run at `fired` stands for; False when planned already."""
        local = fired.astimezone(ZoneInfo(schedule.timezone)).date()
        monday = rollup_week(local)
        week = iso_week(monday)
        if await self.store.rollups.planned(schedule.target_id, week):
            return False
        rollup = await build_rollup(self.store, schedule.target, monday, tz=schedule.timezone)
        payload = {ROLLUP_PAYLOAD: rollup_to_json(rollup, embed=True)}
        done = await self.store.rollups.plan(
            schedule.target_id, week, local, payload, rollup.matched, self.clock.now()
        )
        if done:
            log.info(
                "planned the %s rollup of %s (%d papers)", week, schedule.target, rollup.matched
            )
        return done

    async def catch_up(self, grace: dt.timedelta) -> int:
        """Plan each channel's latest rollup when missed and still within `grace`."""
        now = self.clock.now()
        planned = 0
        for schedule in await self.store.rollups.active():
            if schedule.paused:
                continue
            fired = previous_rollup(schedule, now)
            if fired is None or now - fired > grace:
                continue
            if schedule.since is not None and fired < schedule.since:
                continue  # set after that run: the first rollup is the next one
            try:
                planned += int(await self.plan(schedule, fired))
            except Exception:
                log.exception("planning the rollup of %s failed", schedule.target)
        return planned
