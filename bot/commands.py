"""Platform-neutral `/papers` commands.

Every adapter hands the text after `/papers` to `Commands.handle` and renders the
Reply natively. Replies are plain text (no markup): adapters escape it. Bad input
gets one line of usage, never a traceback.

Under a burst, commands wait their turn (`CommandLine`): at most as many run at once as
the database pool keeps connections, so none waits for a connection until the pool's
timeout; the rest wait in line, in order. Past the line's length, or when the
database says it is overloaded, the answer is "busy, try again in a moment", never
"failed". CPU-heavy work (matching a day's papers) runs in a worker thread, so the
event loop keeps acknowledging other commands meanwhile.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

from bot.chat import CommandContext
from bot.digest import digest_for_queries
from bot.library import papers_for_day
from bot.models import Reply
from bot.query import QueryError, parse
from bot.sources import PaperSource, SourceError
from bot.store import Store, overloaded
from bot.store.repositories import (
    MAX_SUBSCRIPTIONS_PER_CHANNEL,
    DuplicateSubscriptionError,
    SubscriptionLimitError,
)
from bot.text import escape_controls

log = logging.getLogger(__name__)

Handler = Callable[["Commands", CommandContext, str], Awaitable[Reply]]

USAGE: dict[str, str] = {
    "subscribe": '/papers subscribe <query>  e.g. /papers subscribe LoRA, "pipeline parallelism"',
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
    '"quoted phrases"; title:, abstract:, author: prefixes. '
    "Acronyms like LoRA are case-sensitive and match inside words (QLoRA); "
    "other words match whole words and their forms (quantization ~ quantized)."
)
MANAGING: set[str] = set()  # commands that change the channel (need can_manage)
BUSY = "paperboy is busy right now. Please try again in a moment."
#: Commands waiting for their turn, at most (more are answered BUSY).
DEFAULT_QUEUE = 10_000


class CommandLine:
    """Commands take turns: `running` at once, up to `waiting` more in line (FIFO)."""

    def __init__(self, running: int, waiting: int = DEFAULT_QUEUE) -> None:
        if running < 1 or waiting < 0:
            raise ValueError("a command line needs running >= 1 and waiting >= 0")
        self.running = running
        self.limit = waiting
        self.waiting = 0
        self._slots = asyncio.Semaphore(running)
        self._turned_away = 0
        self._reported = 0.0

    def full(self) -> bool:
        """No room: every slot taken and the line at its length."""
        return self._slots.locked() and self.waiting >= self.limit

    async def __aenter__(self) -> None:
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()

    def turned_away(self, why: str) -> None:
        """Count a BUSY answer; log at most one line a minute about them."""
        self._turned_away += 1
        now = time.monotonic()
        if now - self._reported >= 60:
            log.warning(
                "busy: %d command(s) answered 'try again' (%s; %d running, %d waiting)",
                self._turned_away,
                why,
                self.running,
                self.waiting,
            )
            self._turned_away = 0
            self._reported = now


class Commands:
    """The `/papers` command set of one bot: store-backed, platform-neutral.

    `concurrency` commands run at once (default: as many as the store's connection pool
    keeps, leaving its overflow to delivery and scheduling in the same process); up to
    `queue` more wait their turn.
    """

    handlers: ClassVar[dict[str, Handler]] = {}

    def __init__(
        self,
        store: Store,
        source: PaperSource | None = None,
        *,
        concurrency: int | None = None,
        queue: int = DEFAULT_QUEUE,
    ) -> None:
        self.store = store
        self.source = source
        self.line = CommandLine(concurrency or store.pool_size, queue)

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
        if self.line.full():
            self.line.turned_away("too many commands waiting")
            return Reply(BUSY, ok=False)
        async with self.line:
            try:
                return await handler(self, ctx, args.strip())
            except Exception as error:  # one line for the user; the details go to the log
                if overloaded(error):
                    self.line.turned_away(f"the database: {type(error).__name__}")
                    return Reply(BUSY, ok=False)
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
    # Matching a whole day is CPU work: in a worker thread, not on the event loop.
    built = await asyncio.to_thread(
        digest_for_queries,
        listed.papers,
        queries,
        day=listed.day,
        max_papers=settings.max_papers,
        min_upvotes=settings.min_upvotes,
        source_label=listed.label,
    )
    return Reply(digest=built)


@Commands.command("help", USAGE["help"], SUMMARY["help"])
async def help_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    return help_reply()


# Commands defined in other modules register themselves on import.
import bot.search_commands  # noqa: E402, F401
