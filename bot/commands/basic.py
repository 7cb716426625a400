"""Platform-neutral `/papers` commands.

Every adapter hands the text after `/papers` to `Commands.handle` and renders the
Reply natively. Replies are plain text (no markup): adapters escape it. Bad input
gets one line of usage, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import ClassVar

from paperboy.chat import CommandContext
from paperboy.digest import digest_for_queries
from paperboy.library import papers_for_day
from paperboy.models import Reply
from paperboy.query import QueryError, parse
from paperboy.sources import PaperSource, SourceError
from paperboy.store import Store
from paperboy.store.repositories import (
    MAX_SUBSCRIPTIONS_PER_CHANNEL,
    DuplicateSubscriptionError,
    SubscriptionLimitError,
)
from paperboy.text import escape_controls

log = logging.getLogger(__name__)

Handler = Callable[["Commands", CommandContext, str], Awaitable[Reply]]

USAGE: dict[str, str] = {
    "subscribe": "/papers subscribe <query>  e.g. /papers subscribe LoRA, \"pipeline parallelism\"",
    "unsubscribe": "/papers unsubscribe <id|query>  e.g. /papers unsubscribe 3",
    "list": "/papers list",
    "digest": "/papers digest [YYYY-MM-DD]",
    "help": "/papers help",
}
SUMMARY: dict[str, str] = {
    "subscribe": "follow papers matching a query",
    "unsubscribe": "stop following a subscription",
    "list": "this channel's subscriptions",
    "digest": "preview this channel's digest (today, or a given day)",
    "help": "this help",
}
QUERY_HELP = (
    "Queries: terms separated by commas (either matches); AND, OR, NOT or -term; "
    "\"quoted phrases\"; title:, abstract:, author: prefixes. "
    "Acronyms like LoRA are case-sensitive and match inside words (QLoRA); "
    "other words match whole words and their forms (quantization ~ quantized)."
)
MANAGING: set[str] = set()  # commands that change the channel (need can_manage)


class Commands:
    """The `/papers` command set of one bot: store-backed, platform-neutral."""

    handlers: ClassVar[dict[str, Handler]] = {}

    def __init__(self, store: Store, source: PaperSource | None = None) -> None:
        self.store = store
        self.source = source

    @classmethod
    def command(cls, name: str, usage: str, summary: str, *, manage: bool = False):
        """Register a handler (other modules add commands this way)."""

        def register(fn: Handler) -> Handler:
            cls.handlers[name] = fn
            USAGE[name] = usage
            SUMMARY[name] = summary
            if manage:
                MANAGING.add(name)
            return fn

        return register

    async def handle(self, ctx: CommandContext, text: str) -> Reply:
        """Answer one command line (with or without the leading `/papers`)."""
        line = " ".join(text.split())
        if line.startswith("/papers"):
            line = line[len("/papers") :].strip()
        name, _, args = line.partition(" ")
        name = name.lower()
        if not name:
            return help_reply()
        handler = self.handlers.get(name)
        if handler is None:
            return Reply(f"Unknown command '{name[:40]}'. Try /papers help", ok=False)
        if name in MANAGING and not ctx.can_manage:
            return Reply(
                "You need the Manage Channels permission to change this channel's subscriptions.",
                ok=False,
            )
        try:
            return await handler(self, ctx, args.strip())
        except Exception:  # one line for the user; the details go to the log
            log.exception("command %r failed", name)
            return Reply(f"Sorry, '/papers {name}' failed. Please try again later.", ok=False)


def usage(name: str, problem: str | None = None) -> Reply:
    prefix = f"{problem}. " if problem else ""
    return Reply(f"{prefix}Usage: {USAGE[name]}", ok=False)


def help_reply() -> Reply:
    shorts = {name: usage.split("  ")[0] for name, usage in USAGE.items()}
    width = max(len(short) for short in shorts.values())
    lines = ["paperboy brings this channel the papers it cares about. Commands:"]
    for name, short in shorts.items():
        lines.append(f"  {short.ljust(width)}  {SUMMARY.get(name, '')}")
    lines.append(QUERY_HELP)
    return Reply("\n".join(lines))


def query_error_reply(error: QueryError) -> Reply:
    return Reply(f"Bad query: {error}. {QUERY_HELP}", ok=False)


@Commands.command("subscribe", USAGE["subscribe"], SUMMARY["subscribe"], manage=True)
async def subscribe(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return usage("subscribe", "Give a query to subscribe to")
    try:
        query = parse(args)
    except QueryError as error:
        return query_error_reply(error)
    try:
        sub = await self.store.subscriptions.add(ctx.target, query.source.strip())
    except DuplicateSubscriptionError:
        return Reply(f"This channel already follows: {args}", ok=False)
    except SubscriptionLimitError:
        return Reply(
            f"This channel has {MAX_SUBSCRIPTIONS_PER_CHANNEL} subscriptions, the most it can "
            "have. Remove one with /papers unsubscribe <id> first.",
            ok=False,
        )
    return Reply(f"Subscribed #{sub.id}: {sub.query}")


@Commands.command("unsubscribe", USAGE["unsubscribe"], SUMMARY["unsubscribe"], manage=True)
async def unsubscribe(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return usage("unsubscribe", "Give a subscription id or its query")
    ident = args.removeprefix("#")
    if ident.isascii() and ident.isdigit():
        if len(ident) > 18:
            return Reply(f"No subscription #{ident[:18]}… in this channel.", ok=False)
        removed = await self.store.subscriptions.remove(ctx.target, int(ident))
        missing = f"No subscription #{ident} in this channel. /papers list shows them."
    else:
        removed = await self.store.subscriptions.remove_query(ctx.target, args)
        missing = "No subscription with that query in this channel. /papers list shows them."
    if removed is None:
        return Reply(missing, ok=False)
    return Reply(f"Unsubscribed #{removed.id}: {escape_controls(removed.query)}")


@Commands.command("list", USAGE["list"], SUMMARY["list"])
async def list_subscriptions(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if args:
        return usage("list", "list takes no arguments")
    subs = await self.store.subscriptions.list(ctx.target)
    if not subs:
        return Reply("This channel has no subscriptions yet. Try: /papers subscribe LoRA")
    lines = [f"This channel's subscriptions ({len(subs)} of {MAX_SUBSCRIPTIONS_PER_CHANNEL}):"]
    # Rows stored before queries were checked for control characters show them escaped.
    lines += [f"#{sub.id}  {escape_controls(sub.query)}" for sub in subs]
    return Reply("\n".join(lines))


def parse_day(text: str) -> dt.date | None:
    """A YYYY-MM-DD date, or None when it is not one."""
    try:
        if len(text) != 10:
            return None
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


@Commands.command("digest", USAGE["digest"], SUMMARY["digest"])
async def digest(self: Commands, ctx: CommandContext, args: str) -> Reply:
    day: dt.date | None = None
    if args:
        day = parse_day(args)
        if day is None:
            return usage("digest", f"'{args[:40]}' is not a date like 2024-11-11")
    subs = await self.store.subscriptions.list(ctx.target)
    if not subs:
        return Reply("This channel has no subscriptions yet. Try: /papers subscribe LoRA")
    try:
        listed = await papers_for_day(self.store, self.source, day)
    except SourceError as error:
        return Reply(f"Could not fetch the papers: {error}", ok=False)
    if not listed.papers:
        when = listed.day.isoformat() if listed.day else "that day"
        return Reply(f"No papers are listed for {when} yet.")
    settings = await self.store.settings.get(ctx.target)
    queries = [sub.query for sub in subs]
    return Reply(
        digest=digest_for_queries(
            listed.papers,
            queries,
            day=listed.day,
            max_papers=settings.max_papers,
            min_upvotes=settings.min_upvotes,
            source_label=listed.label,
        )
    )


@Commands.command("help", USAGE["help"], SUMMARY["help"])
async def help_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    return help_reply()


# Commands defined in other modules register themselves on import.
import paperboy.search_commands  # noqa: E402, F401
