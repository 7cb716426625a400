"""`/papers schedule`, `pause`, `resume` and `settings`: a channel's schedule and options.

Listed in the command table (`paperboy.commands.table`). A change that affects the
schedule tells the `Commands`' schedule listener (`Commands.schedule_changed`), so a
scheduler in this process rebuilds its jobs at once; schedulers in other processes see
the change at their next periodic check.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperboy.chat import CommandContext
from paperboy.delivery import DAY_PRESETS, describe, is_active, next_fire
from paperboy.errors import InvalidSettingError
from paperboy.models import ChannelSettings, Reply
from paperboy.store import MAX_PAPERS_LIMIT, check_days

if TYPE_CHECKING:
    from paperboy.commands.dispatch import Commands

MANAGE_ONLY = "You need the Manage Channels permission to change this channel's settings."


def _when(settings: ChannelSettings) -> str:
    if not settings.schedule_enabled:
        return "off"
    text = describe(settings)
    upcoming = next_fire(settings, dt.datetime.now(dt.UTC))
    if upcoming is not None:
        local = upcoming.astimezone(ZoneInfo(settings.timezone))
        text += f" (next: {local:%a %Y-%m-%d %H:%M})"
    return text


def _paused_note(settings: ChannelSettings) -> str:
    if not settings.paused:
        return ""
    reason = f" ({settings.paused_reason})" if settings.paused_reason else ""
    return f" Digests are paused{reason}: /papers resume starts them again."


def _time(text: str) -> str | None:
    hours, sep, minutes = text.partition(":")
    if not (sep and text.isascii() and hours.isdigit() and minutes.isdigit()):
        return None  # isascii: "²".isdigit() is true, but int("²") fails
    if len(minutes) != 2 or len(hours) > 2 or int(hours) > 23 or int(minutes) > 59:
        return None
    return f"{int(hours):02d}:{minutes}"


def _is_zone_like(token: str) -> bool:
    return "/" in token or token.upper() in {"UTC", "GMT"}


def _zone(token: str) -> str | None:
    name = "UTC" if token.upper() in {"UTC", "GMT"} else token
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


async def schedule(self: Commands, ctx: CommandContext, args: str) -> Reply:
    tokens = args.split()
    if not tokens:
        current = await self.store.settings.get(ctx.target)
        return Reply(f"Digests for this channel: {_when(current)}.{_paused_note(current)}")
    if tokens[0].lower() == "off":
        if len(tokens) > 1:
            return self.usage("schedule", "'off' takes nothing after it")
        await self.store.settings.update(ctx.target, schedule_enabled=False)
        self.schedule_changed()
        return Reply("Scheduled digests are off here. /papers schedule HH:MM turns them on.")
    at = _time(tokens[0])
    if at is None:
        problem = f"'{tokens[0][:20]}' is not a time like 09:00 (24-hour clock)"
        return self.usage("schedule", problem)
    changes: dict[str, object] = {"schedule_time": at, "schedule_enabled": True}
    day_words: list[str] = []
    for token in tokens[1:]:
        if _is_zone_like(token):
            if "timezone" in changes:
                return self.usage("schedule", "give one time zone")
            zone = _zone(token)
            if zone is None:
                problem = f"'{token[:40]}' is not a time zone like Europe/Berlin"
                return self.usage("schedule", problem)
            changes["timezone"] = zone
        else:
            day_words.append(token)
    if day_words:
        words = ",".join(day_words).lower()
        preset = DAY_PRESETS.get(words)
        try:
            changes["days"] = preset if preset is not None else check_days(words)
        except InvalidSettingError:
            return self.usage(
                "schedule",
                f"'{' '.join(day_words)[:40]}' is not weekdays, daily or days like mon,wed,fri",
            )
    updated = await self.store.settings.update(ctx.target, **changes)
    self.schedule_changed()
    return Reply(f"Digests for this channel: {_when(updated)}.{_paused_note(updated)}")


async def pause(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if args:
        return self.usage("pause", "pause takes no arguments")
    who = f" by {ctx.user}" if ctx.user else ""
    await self.store.settings.update(
        ctx.target, paused=True, paused_reason=f"paused with /papers pause{who}"
    )
    self.schedule_changed()
    return Reply("Paused: no digests here until /papers resume.")


async def resume(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if args:
        return self.usage("resume", "resume takes no arguments")
    before = await self.store.settings.get(ctx.target)
    updated = await self.store.settings.update(ctx.target, paused=False)
    self.schedule_changed()
    if not before.paused:
        return Reply(f"This channel was not paused. Digests: {_when(updated)}.")
    return Reply(f"Resumed. Digests: {_when(updated)}. Any held back go out now.")


_SETTING_NAMES = {
    "max": "max_papers",
    "max-papers": "max_papers",
    "max_papers": "max_papers",
    "min-upvotes": "min_upvotes",
    "min_upvotes": "min_upvotes",
    "upvotes": "min_upvotes",
    "post-empty": "post_empty",
    "post_empty": "post_empty",
}
_ON = {"on", "yes", "true", "1"}
_OFF = {"off", "no", "false", "0"}


def _paused_text(s: ChannelSettings) -> str:
    if not s.paused:
        return "no"
    return f"yes ({s.paused_reason})" if s.paused_reason else "yes"


def _settings_text(s: ChannelSettings) -> str:
    lines = [
        "This channel's settings:",
        f"  schedule: {_when(s)}",
        f"  paused: {_paused_text(s)}",
        f"  max papers per digest: {s.max_papers} (the rest are summarised as 'and N more')",
        f"  minimum upvotes: {s.min_upvotes}",
        f"  post when nothing matched: {'on' if s.post_empty else 'off'}",
        "Change with /papers settings max N | min-upvotes N | post-empty on|off | suggest on|off",
    ]
    if not is_active(s) and s.schedule_enabled and not s.paused:
        lines.insert(2, "  (no weekdays chosen: no digests)")
    return "\n".join(lines)


def _suggest_line(on: bool) -> str:
    state = "on" if on else "off"
    return f"  also worth a look (up to 3 papers no subscription matched, from feedback): {state}"


async def _settings_reply(self: Commands, ctx: CommandContext, s: ChannelSettings) -> Reply:
    lines = _settings_text(s).split("\n")
    lines.insert(-1, _suggest_line(await self.store.feedback.suggest(ctx.target)))
    return Reply("\n".join(lines))


def _setting_value(self: Commands, option: str, raw: str) -> tuple[str, object] | Reply:
    """One `option value` pair of `/papers settings` as (setting name, value), or the
    usage answer saying what is wrong with it."""
    name = _SETTING_NAMES.get(option.lower())
    value = raw.lower()
    if name is None:
        return self.usage("settings", f"unknown option '{option[:30]}'")
    if name == "post_empty":
        if value not in _ON | _OFF:
            return self.usage("settings", "post-empty is on or off")
        return name, value in _ON
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        return self.usage("settings", f"{option} needs a whole number")
    number = int(value)
    if name == "max_papers" and not 1 <= number <= MAX_PAPERS_LIMIT:
        return self.usage("settings", f"max is between 1 and {MAX_PAPERS_LIMIT}")
    return name, number


async def settings_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    """Show the settings, or change one or more (`max 10 min-upvotes 5`), all or none."""
    tokens = args.split()
    if not tokens:
        return await _settings_reply(self, ctx, await self.store.settings.get(ctx.target))
    if not ctx.can_manage:
        return Reply(MANAGE_ONLY, ok=False)
    if len(tokens) % 2:
        return self.usage("settings", "give each option its value")
    changes: dict[str, object] = {}
    suggest: bool | None = None  # kept with the channel's feedback options
    for option, raw in zip(tokens[::2], tokens[1::2], strict=True):
        if option.lower() == "suggest":
            if raw.lower() not in _ON | _OFF:
                return self.usage("settings", "suggest is on or off")
            suggest = raw.lower() in _ON
            continue
        parsed = _setting_value(self, option, raw)
        if isinstance(parsed, Reply):
            return parsed  # nothing is changed when one option is wrong
        changes[parsed[0]] = parsed[1]
    changed = await self.store.settings.update(ctx.target, **changes)
    if suggest is not None:
        await self.store.feedback.set_suggest(ctx.target, suggest)
    return await _settings_reply(self, ctx, changed)
