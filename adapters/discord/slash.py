"""The `/papers` app-command group: typed options mapped to `paperboy.commands` text lines.

Each subcommand builds the same line a user would type after `/papers` on any other
platform (`subscribe LoRA`, `unsubscribe 3`, `schedule 09:00 Europe/Berlin mon-fri`)
and hands it to a `SlashRunner` (the adapter), which answers the interaction.

Discord applies `default_member_permissions` to a top-level command only: it cannot
hide `/papers subscribe` while showing `/papers list` (discord.py ignores the
decorator on subcommands). So the group is visible to everyone and the channel-
changing subcommands are refused unless the member has Manage Channels (the core's
`can_manage`, computed by the adapter from the member's resolved channel permissions).
"""

from __future__ import annotations

import functools
import inspect
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import discord
from discord import app_commands

from paperboy_adapters.discord import limits

MAX_PAPERS = 100  # the core's limit of `/papers settings max`

# Subcommands that change the channel: they need Manage Channels unless relaxed.
MANAGING = frozenset({"subscribe", "unsubscribe", "schedule", "pause", "resume", "weekly"})
WEEKDAY_CHOICES = [
    app_commands.Choice(name=name, value=value)
    for name, value in (
        ("Monday", "mon"),
        ("Tuesday", "tue"),
        ("Wednesday", "wed"),
        ("Thursday", "thu"),
        ("Friday", "fri"),
        ("Saturday", "sat"),
        ("Sunday", "sun"),
        ("off", "off"),
    )
]


class SlashRunner(Protocol):
    async def run(self, interaction: discord.Interaction, line: str) -> None:
        """Answer the interaction with the core's reply to `line`."""

    async def subscription_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The channel's subscriptions matching what the user typed so far."""


@functools.cache
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def timezone_choices(current: str) -> list[app_commands.Choice[str]]:
    needle = current.strip().casefold()
    names = [name for name in _timezones() if needle in name.casefold()]
    names.sort(key=lambda name: (not name.casefold().startswith(needle), name))
    return [app_commands.Choice(name=n, value=n) for n in names[: limits.CHOICES]]


@dataclass(frozen=True)
class SettingOption:
    """One typed option of `/papers settings`: adding a setting is adding one of these.

    `name` is the Discord option (`min-upvotes`), `keyword` the word of the core's
    `/papers settings` line, `kind` the option's type (a `Range`, `bool`, `str`, or a
    `Literal` for fixed choices) and `text` turns a chosen value into the line's word.
    """

    name: str
    keyword: str
    kind: Any
    description: str
    text: Callable[[Any], str] = str


def _on_off(value: bool) -> str:
    return "on" if value else "off"


SETTINGS_OPTIONS: tuple[SettingOption, ...] = (
    SettingOption(
        "max",
        "max",
        app_commands.Range[int, 1, MAX_PAPERS],
        f"Most papers in one digest (1-{MAX_PAPERS}); the rest are counted as 'and N more'",
    ),
    SettingOption(
        "min-upvotes",
        "min-upvotes",
        app_commands.Range[int, 0, 1_000_000],
        "Only papers with at least this many Hugging Face upvotes",
    ),
    SettingOption(
        "post-empty",
        "post-empty",
        bool,
        "Post a short note when no paper matched (true) or stay quiet (false)",
        _on_off,
    ),
    SettingOption(
        "suggest",
        "suggest",
        bool,
        "Add up to 3 'also worth a look' papers this channel's feedback rates highly",
        _on_off,
    ),
)


def settings_command(
    runner: SlashRunner, options: Sequence[SettingOption] = SETTINGS_OPTIONS
) -> app_commands.Command[Any, ..., None]:
    """`/papers settings [option:value ...]`: every option optional and typed; with none
    it shows the settings, with some it changes them all (the core refuses a bad one
    before changing any)."""
    by_param = {option.name.replace("-", "_"): option for option in options}

    async def settings(interaction: discord.Interaction, **values: Any) -> None:
        words = ["settings"]
        for param, option in by_param.items():
            value = values.get(param)
            if value is not None:
                words += [option.keyword, option.text(value)]
        await runner.run(interaction, " ".join(words))

    first = inspect.Parameter(
        "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
    )
    settings.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [first]
        + [
            inspect.Parameter(
                param, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option.kind | None
            )
            for param, option in by_param.items()
        ]
    )
    settings.__annotations__ = {}  # the signature above is the one discord.py reads
    renamed = app_commands.rename(**{p: o.name for p, o in by_param.items() if p != o.name})
    described = app_commands.describe(**{p: o.description for p, o in by_param.items()})
    return app_commands.Command(
        name="settings",
        description="Show this channel's digest options, or change them",
        callback=renamed(described(settings)),
    )


def build_group(runner: SlashRunner) -> app_commands.Group:
    """The `/papers` group, wired to `runner`."""
    group = app_commands.Group(
        name="papers",
        description="Research papers matched to this channel's subscriptions",
        guild_only=True,
    )

    @group.command(name="subscribe", description="Follow papers matching a query")
    @app_commands.describe(
        query='Terms separated by commas, e.g. LoRA, "pipeline parallelism"; AND, OR, NOT'
    )
    async def subscribe(
        interaction: discord.Interaction, query: app_commands.Range[str, 1, 500]
    ) -> None:
        await runner.run(interaction, f"subscribe {query}")

    @group.command(name="unsubscribe", description="Stop following a subscription of this channel")
    @app_commands.describe(subscription="The subscription (its id or its query)")
    async def unsubscribe(
        interaction: discord.Interaction, subscription: app_commands.Range[str, 1, 500]
    ) -> None:
        await runner.run(interaction, f"unsubscribe {subscription}")

    @unsubscribe.autocomplete("subscription")
    async def unsubscribe_complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await runner.subscription_choices(interaction, current)

    @group.command(name="list", description="This channel's subscriptions")
    async def list_(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "list")

    @group.command(name="digest", description="Preview this channel's digest (today or a day)")
    @app_commands.describe(date="A day as YYYY-MM-DD (default: the latest)")
    async def digest(
        interaction: discord.Interaction, date: app_commands.Range[str, 1, 10] | None = None
    ) -> None:
        await runner.run(interaction, f"digest {date}" if date else "digest")

    @group.command(name="schedule", description="When this channel's digest is posted")
    @app_commands.describe(
        time="HH:MM (24-hour), or off",
        timezone="An IANA time zone, e.g. Europe/Berlin (default: the channel's)",
        days="Days, e.g. mon-fri or mon,wed,fri (default: the channel's)",
    )
    async def schedule(
        interaction: discord.Interaction,
        time: app_commands.Range[str, 1, 10],
        timezone: app_commands.Range[str, 1, 64] | None = None,
        days: app_commands.Range[str, 1, 60] | None = None,
    ) -> None:
        if time.strip().lower() == "off":
            line = "schedule off"
        else:
            line = " ".join(p for p in ("schedule", time, timezone, days) if p)
        await runner.run(interaction, line)

    @schedule.autocomplete("timezone")
    async def schedule_timezone(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @group.command(name="pause", description="Stop posting digests here until resumed")
    async def pause(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "pause")

    @group.command(name="resume", description="Post digests here again")
    async def resume(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "resume")

    group.add_command(settings_command(runner))

    @group.command(name="search", description="Search every paper the bot has seen")
    @app_commands.describe(query="Words, a phrase, or author:name")
    async def search(
        interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]
    ) -> None:
        await runner.run(interaction, f"search {query}")

    @group.command(name="feedback", description="What this channel's votes taught its digests")
    @app_commands.describe(
        action="show (default); reset (forget the votes); up, down, save or clear a paper",
        paper="An arXiv id, e.g. 2411.05288 (for up, down, save, clear)",
    )
    @app_commands.choices(
        action=[
            app_commands.Choice(name=name, value=name)
            for name in ("show", "reset", "up", "down", "save", "clear")
        ]
    )
    async def feedback(
        interaction: discord.Interaction,
        action: app_commands.Choice[str] | None = None,
        paper: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        words = ["feedback"]
        if action is not None and action.value != "show":
            words.append(action.value)
        if paper:
            words.append(paper)
        await runner.run(interaction, " ".join(words))

    @group.command(name="saved", description="This channel's reading list")
    @app_commands.describe(export="Attach the list as a BibTeX file")
    async def saved(interaction: discord.Interaction, export: bool = False) -> None:
        await runner.run(interaction, "saved export" if export else "saved")

    @group.command(name="similar", description="Papers closest in meaning to one paper")
    @app_commands.describe(paper="An arXiv id or link, e.g. 2106.09685")
    async def similar(
        interaction: discord.Interaction, paper: app_commands.Range[str, 1, 300]
    ) -> None:
        await runner.run(interaction, f"similar {paper}")

    @group.command(name="weekly", description="A weekly rollup with a chart, or off")
    @app_commands.describe(
        day="The day of the rollup, or off", time="HH:MM (24-hour, the channel's time zone)"
    )
    @app_commands.choices(day=WEEKDAY_CHOICES)
    async def weekly(
        interaction: discord.Interaction,
        day: app_commands.Choice[str] | None = None,
        time: app_commands.Range[str, 1, 10] | None = None,
    ) -> None:
        if day is None:
            line = "weekly"
        elif day.value == "off":
            line = "weekly off"
        else:
            line = " ".join(p for p in ("weekly", day.value, time) if p)
        await runner.run(interaction, line)

    @group.command(name="trends", description="A chart of papers per week matching a query")
    @app_commands.describe(query="Words, a phrase, or a query", weeks="How many weeks (12)")
    async def trends(
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 300],
        weeks: app_commands.Range[int, 1, 104] | None = None,
    ) -> None:
        await runner.run(interaction, f"trends {query}" + (f" weeks:{weeks}" if weeks else ""))

    @group.command(name="help", description="What /papers can do")
    async def help_(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "help")

    return group
