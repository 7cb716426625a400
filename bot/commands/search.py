"""`/papers search`: the archive search as a chat command (see `paperboy.search`)."""

from __future__ import annotations

import datetime as dt

from paperboy.chat import CommandContext
from paperboy.commands import Commands, usage
from paperboy.models import Reply
from paperboy.query import QueryError
from paperboy.search import OPTION_HELP, parse_search, results_text, search

SEARCH_USAGE = (
    "/papers search <query> [since:30d|since:YYYY-MM-DD] [until:...] [min-upvotes:N] "
    "[has:code] [limit:N]  e.g. /papers search speculative decoding since:30d"
)


@Commands.command("search", SEARCH_USAGE, "search every paper the bot has seen")
async def search_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return usage("search", "Give a query to search for")
    try:
        request = parse_search(args, today=dt.datetime.now(dt.UTC).date())
        results = await search(self.store, request)
    except QueryError as error:
        return Reply(f"Bad search: {error}. {OPTION_HELP}", ok=False)
    return Reply(text=results_text(results), search=results)
