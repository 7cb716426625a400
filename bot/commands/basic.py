"""The basic `/papers` commands: subscribe, unsubscribe, list, digest and help.

Listed in the command table (`paperboy.commands.table`) with their usage lines.
Replies are plain text (no markup): adapters escape it. Bad input gets one line of
usage, never a traceback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from typing import TYPE_CHECKING

from paperboy.chat import CommandContext
from paperboy.errors import DuplicateSubscriptionError, QueryError, SubscriptionLimitError
from paperboy.feedback import channel_digest, model_for, signer
from paperboy.ingest import papers_for_day
from paperboy.matching import escape_controls, parse
from paperboy.models import Reply
from paperboy.sources import SourceError
from paperboy.store import MAX_SUBSCRIPTIONS_PER_CHANNEL

if TYPE_CHECKING:
    from paperboy.commands.dispatch import Commands

QUERY_HELP = (
    "Queries: terms separated by commas (either matches); AND, OR, NOT or -term; "
    '"quoted phrases"; title:, abstract:, author: prefixes. '
    "Acronyms like LoRA are case-sensitive and match inside words (QLoRA); "
    "other words match whole words and their forms (quantization ~ quantized)."
)

#: Shown under the query notes of `/papers help`.
QUERY_EXAMPLES = (
    'LoRA, "pipeline parallelism"',
    "title:diffusion AND (video OR 3D) -survey",
    'author:"Yann LeCun"',
)


def query_error_reply(error: QueryError) -> Reply:
    return Reply(f"Bad query: {error}. {QUERY_HELP}", ok=False)


async def subscribe(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return self.usage("subscribe", "Give a query to subscribe to")
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


async def unsubscribe(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return self.usage("unsubscribe", "Give a subscription id or its query")
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


async def list_subscriptions(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if args:
        return self.usage("list", "list takes no arguments")
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


async def digest(self: Commands, ctx: CommandContext, args: str) -> Reply:
    day: dt.date | None = None
    if args:
        day = parse_day(args)
        if day is None:
            return self.usage("digest", f"'{args[:40]}' is not a date like 2024-11-11")
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
    model = await model_for(self.store, ctx.target, listed.papers)
    suggest = await self.store.feedback.suggest(ctx.target)
    sign = await signer(self.store)
    # Matching a whole day is CPU work: in a worker thread, not on the event loop.
    built, _ = await asyncio.to_thread(
        channel_digest,
        listed.papers,
        queries,
        model,
        settings,
        day=listed.day,
        suggest=suggest,
        source_label=listed.label,
        sign=functools.partial(sign.tokens, ctx.target),
    )
    return Reply(digest=built)


async def help_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    return self.help_reply()
