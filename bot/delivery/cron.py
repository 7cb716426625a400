"""A channel's schedule as an APScheduler `CronTrigger`, and the questions asked about it.

The scheduler, catch-up after downtime, `paperboy deliver`, `paperboy status` and the
`/papers schedule` answer all use these helpers, so they agree on when a digest is due
(daylight saving time included: APScheduler's trigger decides, nobody re-implements it).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from paperboy.models import WEEKDAYS, ChannelSettings

WEEKDAY_SET = WEEKDAYS[:5]
DAY_PRESETS: dict[str, tuple[str, ...]] = {
    "weekdays": WEEKDAY_SET,
    "daily": WEEKDAYS,
    "everyday": WEEKDAYS,
    "weekends": WEEKDAYS[5:],
}


@lru_cache(maxsize=4096)
def _trigger(schedule_time: str, days: tuple[str, ...], timezone: str) -> CronTrigger:
    hour, minute = (int(part) for part in schedule_time.split(":"))
    return CronTrigger(
        day_of_week=",".join(days),
        hour=hour,
        minute=minute,
        second=0,
        timezone=ZoneInfo(timezone),
    )


def trigger_for(settings: ChannelSettings) -> CronTrigger:
    """The channel's trigger: its time on its days, in its time zone."""
    return _trigger(settings.schedule_time, tuple(settings.days), settings.timezone)


def is_active(settings: ChannelSettings) -> bool:
    """Whether the channel gets scheduled digests at all."""
    return settings.schedule_enabled and not settings.paused and bool(settings.days)


def next_fire(settings: ChannelSettings, now: dt.datetime) -> dt.datetime | None:
    """The first scheduled time at or after `now` (None when the schedule has no days)."""
    if not settings.days:
        return None
    return trigger_for(settings).get_next_fire_time(None, now)


def previous_fire(settings: ChannelSettings, now: dt.datetime) -> dt.datetime | None:
    """The most recent scheduled time at or before `now` (looking back at most 8 days)."""
    if not settings.days:
        return None
    trigger = trigger_for(settings)
    for lookback in (dt.timedelta(hours=26), dt.timedelta(days=8)):
        fire = trigger.get_next_fire_time(None, now - lookback)
        found = None
        while fire is not None and fire <= now:
            found = fire
            fire = trigger.get_next_fire_time(fire, fire)
        if found is not None:
            return found
    return None


def local_date(settings: ChannelSettings, when: dt.datetime) -> dt.date:
    """The calendar date of `when` in the channel's time zone: a digest's date."""
    return when.astimezone(ZoneInfo(settings.timezone)).date()


def fire_on(settings: ChannelSettings, day: dt.date) -> dt.datetime | None:
    """The scheduled time on local date `day`, or None when `day` is not a digest day."""
    if not settings.days:
        return None
    midnight = dt.datetime.combine(day, dt.time(), ZoneInfo(settings.timezone))
    fire = trigger_for(settings).get_next_fire_time(None, midnight)
    if fire is None or local_date(settings, fire) != day:
        return None
    return fire


def describe_days(days: tuple[str, ...] | list[str]) -> str:
    chosen = tuple(day for day in WEEKDAYS if day in days)
    for name in ("weekdays", "daily", "weekends"):
        if chosen == DAY_PRESETS[name]:
            return name
    return ",".join(chosen)


def describe(settings: ChannelSettings) -> str:
    """`09:00 Europe/Berlin, weekdays`."""
    return f"{settings.schedule_time} {settings.timezone}, {describe_days(settings.days)}"
