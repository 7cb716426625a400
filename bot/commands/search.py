"""`/papers search`: the archive search as a chat command (see `paperboy.search`): hybrid,
exact matches first, then papers close in meaning (`paperboy.search.hybrid`).
`/papers similar`: the archive's papers nearest one paper (`paperboy.search.similar`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from paperboy.chat import CommandContext
from paperboy.embeddings import EmbedderError
from paperboy.errors import QueryError
from paperboy.feedback import signer
from paperboy.matching import escape_controls
from paperboy.models import Reply
from paperboy.search import (
    OPTION_HELP,
    find_paper,
    hybrid_search,
    parse_search,
    results_text,
    similar,
    similar_digest,
)

if TYPE_CHECKING:
    from paperboy.commands.dispatch import Commands


async def search_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return self.usage("search", "Give a query to search for")
    try:
        request = parse_search(args, today=dt.datetime.now(dt.UTC).date())
        results = await hybrid_search(self.store, request)
    except QueryError as error:
        return Reply(f"Bad search: {error}. {OPTION_HELP}", ok=False)
    if results.hits:  # feedback buttons on every hit, signed for this channel
        sign = await signer(self.store)
        buttons = sign.tokens(ctx.target, [hit.paper.id for hit in results.hits])
        results = dataclasses.replace(results, feedback=buttons)
    return Reply(text=results_text(results), search=results)


async def similar_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    if not args:
        return self.usage("similar", "Give an arXiv id or link")
    paper = await find_paper(self.store, args)
    if paper is None:
        shown = escape_controls(args.strip()[:64])
        return Reply(f"No paper {shown} in the archive (give an arXiv id or link).", ok=False)
    try:
        found = await similar(self.store, paper)
    except EmbedderError as error:
        return Reply(f"Similar papers are not available: {error}", ok=False)
    return Reply(digest=similar_digest(found))
