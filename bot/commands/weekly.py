"""`/papers weekly` and `/papers trends`: the weekly rollup's schedule, and a trend chart.

`/papers weekly fri 16:00` (in the channel's time zone, `/papers schedule` sets it) turns
the rollup on, `/papers weekly off` off, `/papers weekly` says when the next one is. A
change tells the schedule listener like `/papers schedule` does.

`/papers trends <query> [weeks:N]` answers with the chart of papers per ISO week matching
the query (the `Matcher`: the subscription rules exactly) over the archive, and the three
most upvoted papers of the peak week. The chart travels in `Reply.extra["image"]`
(`{"name", "png", "alt"}`); an adapter that cannot show images shows the text alone.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from paperboy.chat import CommandContext
from paperboy.delivery import next_rollup, trend
from paperboy.errors import QueryError
from paperboy.models import HF_PAPERS, Reply
from paperboy.store import ROLLUP_WEEKDAYS
from paperboy.trends import iso_week

if TYPE_CHECKING:
    from paperboy.commands.dispatch import Commands

DEFAULT_TREND_WEEKS = 12
MAX_TREND_WEEKS = 104
_DAY_NAMES = {
    **{day: day for day in ROLLUP_WEEKDAYS},
    "monday": "mon",
    "tuesday": "tue",
    "tues": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "thur": "thu",
    "thurs": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


def _time(text: str) -> str | None:
    hours, sep, minutes = text.partition(":")
    if not (sep and text.isascii() and hours.isdigit() and minutes.isdigit()):
        return None
    if len(minutes) != 2 or len(hours) > 2 or int(hours) > 23 or int(minutes) > 59:
        return None
    return f"{int(hours):02d}:{minutes}"


async def weekly(self: Commands, ctx: CommandContext, args: str) -> Reply:
    tokens = args.split()
    current = await self.store.rollups.get(ctx.target)
    if not tokens:
        if current is None or not current.enabled:
            return Reply("No weekly rollup here. /papers weekly fri 16:00 turns it on.")
        upcoming = next_rollup(current, dt.datetime.now(dt.UTC))
        when = ""
        if upcoming is not None:
            local = upcoming.astimezone(ZoneInfo(current.timezone))
            when = f" (next: {local:%a %Y-%m-%d %H:%M})"
        return Reply(
            f"Weekly rollup: {current.weekday} {current.at_time} {current.timezone}{when}."
        )
    if not ctx.can_manage:
        return Reply("You need the Manage Channels permission to change the rollup.", ok=False)
    if tokens[0].lower() == "off":
        if len(tokens) > 1:
            return self.usage("weekly", "'off' takes nothing after it")
        was_on = await self.store.rollups.disable(ctx.target)
        self.schedule_changed()
        if not was_on:
            return Reply("There was no weekly rollup here. /papers weekly fri 16:00 turns it on.")
        return Reply("The weekly rollup is off here. /papers weekly <day> HH:MM turns it on.")
    if len(tokens) != 2:
        return self.usage("weekly", "give a day and a time")
    day = _DAY_NAMES.get(tokens[0].lower())
    if day is None:
        return self.usage("weekly", f"'{tokens[0][:20]}' is not a day like fri")
    at = _time(tokens[1])
    if at is None:
        return self.usage("weekly", f"'{tokens[1][:20]}' is not a time like 16:00 (24-hour)")
    schedule = await self.store.rollups.set(ctx.target, day, at)
    self.schedule_changed()
    upcoming = next_rollup(schedule, dt.datetime.now(dt.UTC))
    when = ""
    if upcoming is not None:
        local = upcoming.astimezone(ZoneInfo(schedule.timezone))
        when = f" The first: {local:%a %Y-%m-%d %H:%M}."
    return Reply(
        f"Weekly rollup: {day} {at} {schedule.timezone} (this channel's time zone; "
        f"/papers schedule changes it).{when}"
    )


def _weeks_option(tokens: list[str]) -> tuple[list[str], int | None, str | None]:
    """The query words and a `weeks:N` option (None: not given); a problem, if any."""
    words: list[str] = []
    weeks: int | None = None
    for token in tokens:
        name, sep, value = token.partition(":")
        if sep and name.lower() == "weeks":
            if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_TREND_WEEKS:
                return (
                    words,
                    None,
                    f"weeks:{value[:10]} is not a number from 1 to {MAX_TREND_WEEKS}",
                )
            weeks = int(value)
        else:
            words.append(token)
    return words, weeks, None


async def trends_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    words, weeks, problem = _weeks_option(args.split())
    if problem is not None:
        return self.usage("trends", problem)
    query = " ".join(words)
    if not query:
        return self.usage("trends", "give a query")
    tz = (await self.store.settings.get(ctx.target)).timezone
    try:
        result = await trend(self.store, query, weeks=weeks or DEFAULT_TREND_WEEKS, tz=tz)
    except QueryError as error:
        return Reply(f"Bad query: {error}", ok=False)
    total = sum(result.counts)
    first, last = iso_week(result.weeks[0]), iso_week(result.weeks[-1])
    lines = [
        f"Trend of {query}: {total} paper{'s' if total != 1 else ''} in {len(result.weeks)} "
        f"weeks ({first} to {last}); per week: " + ", ".join(str(c) for c in result.counts)
    ]
    if result.peak is not None:
        peak_count = result.counts[result.weeks.index(result.peak)]
        lines.append(f"Peak: {iso_week(result.peak)} with {peak_count}. Most upvoted that week:")
        for number, paper in enumerate(result.top, 1):
            lines.append(f"{number}. {paper.title} (▲ {paper.upvotes}) {HF_PAPERS}{paper.id}")
    extra: dict[str, object] = {}
    if result.png is not None:
        extra["image"] = {
            "name": f"paperboy-trend-{last}.png",
            "png": result.png,
            "alt": f"Papers per week matching {query}, {first} to {last}",
        }
    return Reply("\n".join(lines), ephemeral=False, extra=extra)
