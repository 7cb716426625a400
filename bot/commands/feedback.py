"""`/papers feedback` and `/papers saved`: votes, the channel's model, the reading list.

- `/papers feedback`: counts and the topics the channel liked most;
- `/papers feedback reset`: the model forgets the votes (Manage Channels);
- `/papers feedback up|down|save|clear <arXiv id>`: a vote typed by hand. The feedback
  buttons send the same line with the button's token after the id: a token that is not
  this channel's (a button copied from, or forged for, another channel) is refused;
- `/papers saved`: the reading list, newest first, with how many papers each (hashed)
  person saved; `/papers saved export` uploads it as a BibTeX file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperboy.chat import CommandContext
from paperboy.errors import UnknownPaperError
from paperboy.feedback import (
    ACTIONS,
    examples,
    is_paper_id,
    is_token,
    record,
    signer,
    to_bibtex,
    top_topics,
    user_label,
)
from paperboy.models import Reply, ReplyFile

if TYPE_CHECKING:
    from paperboy.commands.dispatch import Commands

MANAGE_ONLY = "You need the Manage Channels permission to reset this channel's feedback."
SAVED_SHOWN = 30
BIBTEX_NAME = "paperboy-reading-list.bib"
_DONE = {
    "up": "👍 noted",
    "down": "👎 noted: fewer papers like this one",
    "save": "🔖 saved to this channel's reading list",
    "clear": "your feedback is cleared",
}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


async def feedback_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    tokens = args.split()
    if not tokens:
        return await _summary(self, ctx)
    action = tokens[0].lower()
    if action == "reset":
        if len(tokens) > 1:
            return self.usage("feedback", "reset takes nothing after it")
        if not ctx.can_manage:
            return Reply(MANAGE_ONLY, ok=False)
        cleared = await self.store.feedback.reset(ctx.target)
        return Reply(
            f"This channel's model forgot {_plural(cleared, 'vote')}: digests are ordered by "
            "Hugging Face votes and recency again until new feedback comes in. "
            "The reading list (/papers saved) is kept."
        )
    if action not in ACTIONS or len(tokens) not in (2, 3):
        return self.usage("feedback")
    paper_id = tokens[1]
    if not is_paper_id(paper_id):
        return Reply(f"'{paper_id[:40]}' is not an arXiv id like 2411.05288.", ok=False)
    if len(tokens) == 3:  # a button: its token must be this channel's
        sign = await signer(self.store)
        if not is_token(tokens[2]) or not sign.check(ctx.target, paper_id, tokens[2]):
            return Reply(
                "That button does not belong to this channel's messages; nothing was recorded.",
                ok=False,
            )
    try:
        state = await record(self.store, ctx.target, ctx.user, paper_id, action)
    except UnknownPaperError:
        return Reply(f"No paper {paper_id} in the archive; nothing was recorded.", ok=False)
    papers = await self.store.papers.get_many([paper_id])
    title = papers[paper_id].title if paper_id in papers else paper_id
    short = " ".join(title.split())
    short = short if len(short) <= 80 else short[:79] + "…"
    note = _DONE[action] if state.changed else "already noted"
    return Reply(f"{note.capitalize()}: {short} ({paper_id}).")


async def _summary(self: Commands, ctx: CommandContext) -> Reply:
    counts = await self.store.feedback.counts(ctx.target)
    target_id = await self.store.targets.get_id(ctx.target)
    taught = (await examples(self.store, [target_id])).get(target_id, []) if target_id else []
    lines = [
        f"Feedback in this channel: {counts.ups} 👍, {counts.downs} 👎, {counts.saves} 🔖 "
        f"on {_plural(counts.papers, 'paper')} from {_people(counts.people)}."
    ]
    if taught:
        liked = [e for e in taught if e.weight > 0]
        topics = top_topics(taught)
        lines.append(
            f"The digest order learns from {_plural(len(taught), 'paper')} "
            f"({len(liked)} liked, {len(taught) - len(liked)} not)."
        )
        if topics:
            lines.append("Top liked topics: " + ", ".join(topics))
    else:
        lines.append(
            "No votes to learn from yet: digests are ordered by Hugging Face votes and recency. "
            "Use the 👍 👎 🔖 buttons under each paper."
        )
    if counts.reset_at is not None:
        lines.append(f"Last reset: {counts.reset_at:%Y-%m-%d %H:%M} UTC.")
    lines.append("/papers feedback reset forgets the votes; /papers saved lists saved papers.")
    return Reply("\n".join(lines))


async def saved_command(self: Commands, ctx: CommandContext, args: str) -> Reply:
    tokens = args.split()
    if tokens and (tokens[0].lower() != "export" or len(tokens) > 1):
        return self.usage("saved")
    listing = await self.store.feedback.reading_list(ctx.target)
    if not listing.papers:
        return Reply("This channel's reading list is empty. Save papers with the 🔖 button.")
    found = await self.store.papers.get_many([s.paper_id for s in listing.papers])
    if tokens:
        papers = [found[s.paper_id] for s in listing.papers if s.paper_id in found]
        name = BIBTEX_NAME
        return Reply(
            f"The reading list as BibTeX: {_plural(len(papers), 'paper')} in {name}.",
            files=(ReplyFile(name, to_bibtex(papers), "paperboy reading list", "text/x-bibtex"),),
        )
    lines = [
        f"This channel's reading list ({_plural(len(listing.papers), 'paper')}, newest first):"
    ]
    for item in listing.papers[:SAVED_SHOWN]:
        paper = found.get(item.paper_id)
        title = " ".join(paper.title.split()) if paper else "(no longer in the archive)"
        title = title if len(title) <= 100 else title[:99] + "…"
        by = f"saved by {_people(item.savers)}"
        lines.append(f"  {item.paper_id}  {title} ({by}, {item.saved_at:%Y-%m-%d})")
    if len(listing.papers) > SAVED_SHOWN:
        lines.append(f"  … and {len(listing.papers) - SAVED_SHOWN} more (/papers saved export)")
    savers = ", ".join(f"{user_label(h)}: {n}" for h, n in listing.savers[:10])
    lines.append(f"Who saved how many: {savers}")
    return Reply("\n".join(lines))
