"""The command table: every `/papers` command, its usage line and help summary.

A command exists because it is listed here, not because some module was imported:
`Commands` answers the same commands whatever was imported first. The order is the
order `/papers help` lists them in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from paperboy.chat import CommandContext
from paperboy.commands import basic, channel, feedback, search, weekly
from paperboy.models import Reply

if TYPE_CHECKING:
    from paperboy.commands.dispatch import Commands

Handler = Callable[["Commands", CommandContext, str], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    """One `/papers` command. `usage`: its short form, two spaces, then an example;
    `manage`: it changes the channel, so it needs the Manage Channels permission."""

    name: str
    usage: str
    summary: str
    handler: Handler
    manage: bool = False


COMMANDS: tuple[Command, ...] = (
    Command(
        "subscribe",
        '/papers subscribe <query>  e.g. /papers subscribe LoRA, "pipeline parallelism"',
        "follow papers matching a query",
        basic.subscribe,
        manage=True,
    ),
    Command(
        "unsubscribe",
        "/papers unsubscribe <id|query>  e.g. /papers unsubscribe 3",
        "stop following a subscription",
        basic.unsubscribe,
        manage=True,
    ),
    Command("list", "/papers list", "this channel's subscriptions", basic.list_subscriptions),
    Command(
        "digest",
        "/papers digest [YYYY-MM-DD]",
        "preview this channel's digest (today, or a given day)",
        basic.digest,
    ),
    Command("help", "/papers help", "this help", basic.help_command),
    Command(
        "search",
        "/papers search <query> [since:30d|since:YYYY-MM-DD] [until:...] [min-upvotes:N] "
        "[has:code] [limit:N]  e.g. /papers search speculative decoding since:30d",
        "search every paper the bot has seen",
        search.search_command,
    ),
    Command(
        "similar",
        "/papers similar <arXiv id or link>  e.g. /papers similar 2106.09685",
        "the archive's papers closest in meaning to one paper",
        search.similar_command,
    ),
    Command(
        "schedule",
        "/papers schedule HH:MM [Area/City] [weekdays|daily|mon,wed,fri]  "
        "e.g. /papers schedule 08:30 Europe/Berlin weekdays, or /papers schedule off",
        "when this channel gets its digest",
        channel.schedule,
        manage=True,
    ),
    Command(
        "pause",
        "/papers pause",
        "stop this channel's digests for now",
        channel.pause,
        manage=True,
    ),
    Command(
        "resume",
        "/papers resume",
        "start this channel's digests again",
        channel.resume,
        manage=True,
    ),
    Command(
        "settings",
        "/papers settings [max N | min-upvotes N | post-empty on|off | suggest on|off]  "
        "e.g. /papers settings max 10",
        "show or change this channel's digest options",
        channel.settings_command,
    ),
    Command(
        "feedback",
        "/papers feedback [reset | up|down|save|clear <arXiv id>]  "
        "e.g. /papers feedback, or /papers feedback up 2411.05288",
        "what this channel's votes taught its digest order",
        feedback.feedback_command,
    ),
    Command(
        "saved",
        "/papers saved [export]  e.g. /papers saved export (a BibTeX file)",
        "this channel's reading list",
        feedback.saved_command,
    ),
    Command(
        "weekly",
        "/papers weekly <day> HH:MM  e.g. /papers weekly fri 16:00, or /papers weekly off",
        "a weekly rollup here: top papers, busiest subscriptions, rising terms, a chart",
        weekly.weekly,
    ),
    Command(
        "trends",
        "/papers trends <query> [weeks:N]  e.g. /papers trends speculative decoding weeks:26",
        "a chart of papers per week matching a query, and the peak week's top papers",
        weekly.trends_command,
    ),
)
