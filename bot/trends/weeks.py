"""ISO weeks, and the week a paper belongs to in a channel's time zone.

A week is named `YYYY-Www` (ISO 8601: weeks start on Monday; week 1 holds the year's first
Thursday, so 2024-12-30 is in 2025-W01) and handled as its Monday.

A paper's moment is when the bot first saw it (`first_seen_at`): that is when it reached
the channels' digests, so a rollup counts what a channel was shown that week. A paper
fetched long after it was listed (a backfill months later) would pile up in the week of
the backfill; when the first sighting is more than `LATE_SIGHTING` after the start of
the paper's listing day (`daily_date`, a UTC day), its moment is noon UTC of that day
instead, which is the same local date in every time zone from UTC-11 to UTC+11.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from paperboy.models import Paper

LATE_SIGHTING = dt.timedelta(days=2)
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
#: The days a week can end on: a chart reaches 104 weeks back and a week's end 7 days on,
#: which must stay within `datetime.date`'s years 1 to 9999.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)


def iso_week(day: dt.date) -> str:
    """`2026-W48` for any day of that ISO week."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def parse_week(text: str) -> dt.date:
    """The Monday of an ISO week written `YYYY-Www`; ValueError (one line) otherwise."""
    found = _WEEK.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text[:40]!r} is not an ISO week like 2026-W48")
    year, week = int(found.group(1)), int(found.group(2))
    try:
        monday = dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{text[:40]!r}: {year} has no week {week}") from None
    if not FIRST_DAY <= monday <= LAST_DAY:
        raise ValueError(f"{text[:40]!r}: years {FIRST_DAY.year} to {LAST_DAY.year} only")
    return monday


def check_day(day: dt.date) -> dt.date:
    """`day` when weeks can end on it; ValueError (one line) for years out of range."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(
            f"{day.isoformat()} is out of range: years {FIRST_DAY.year} to {LAST_DAY.year}"
        )
    return day


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weeks_ending(day: dt.date, count: int) -> list[dt.date]:
    """The Mondays of the `count` weeks ending with the week of `day`, oldest first."""
    last = week_start(day)
    return [last - dt.timedelta(weeks=count - 1 - i) for i in range(count)]


def week_range(monday: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The week as [start, end) instants in the time zone `tz`."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(monday, dt.time(), zone)
    end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def paper_moment(paper: Paper, first_seen: dt.datetime | None) -> dt.datetime | None:
    """When a paper counts as listed (see the module docstring)."""
    listed = (
        dt.datetime.combine(paper.daily_date, dt.time(), dt.UTC)
        if paper.daily_date is not None
        else None
    )
    if first_seen is None:
        return listed + dt.timedelta(hours=12) if listed is not None else None
    if first_seen.tzinfo is None:
        first_seen = first_seen.replace(tzinfo=dt.UTC)
    if listed is not None and first_seen - listed > LATE_SIGHTING:
        return listed + dt.timedelta(hours=12)
    return first_seen


def paper_week(paper: Paper, first_seen: dt.datetime | None, tz: str) -> dt.date | None:
    """The Monday of the paper's week in the time zone `tz` (None: no time known)."""
    moment = paper_moment(paper, first_seen)
    if moment is None:
        return None
    return week_start(moment.astimezone(ZoneInfo(tz)).date())
