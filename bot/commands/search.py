"""`/papers search`: the archive search as a chat command (see `paperboy.search`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from paperboy.chat import CommandContext
from paperboy.errors import QueryError
from paperboy.feedback import signer
from paperboy.models import Reply
from paperboy.search import OPTION_HELP, parse_search, results_text, search

if TYPE_CHECKING:
    from paperboy.commands.dispatch import Commands


async def search_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return self.usage("search", "Give a query to search for")
    try:
        request = parse_search(args, today=dt.datetime.now(dt.UTC).date())
        results = await search(self.store, request)
    except QueryError as error:
        return Reply(f"Bad search: {error}. {OPTION_HELP}", ok=False)
    if results.hits:  # feedback buttons on every hit, signed for this channel
        sign = await signer(self.store)
        buttons = sign.tokens(ctx.target, [hit.paper.id for hit in results.hits])
        results = dataclasses.replace(results, feedback=buttons)
    return Reply(text=results_text(results), search=results)
