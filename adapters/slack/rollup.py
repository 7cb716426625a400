"""A weekly rollup or a trend chart as one Slack message with its image.

The message goes out through `files_upload_v2`: the PNG is uploaded
(`files.getUploadURLExternal`, then the bytes to the returned URL) and
`files.completeUploadExternal` shares it into the channel with the message's `blocks`
(Slack ignores `blocks` when `initial_comment` is given, so there is none). One call
posts text and image together. Pure: no I/O here; `adapter.post_rollup` sends.

The image's file name carries the outbox key (`file_name_for`): a rollup whose upload's
outcome is unknown is looked up in the channel's history by it, before it is sent again.
"""

from __future__ import annotations

import hashlib
from typing import Any

from paperboy.trends import Rollup
from paperboy_adapters.slack.limits import FILE_ALT_TEXT, HEADER_TEXT, SECTION_TEXT, slack_len
from paperboy_adapters.slack.mrkdwn import escape, fit, link
from paperboy_adapters.slack.render import DIVIDER, Block, context, section

FILE_PREFIX = "paperboy-"


def file_name_for(key: str | None, week: str = "chart") -> str:
    """The uploaded image's name: a rollup key's week (`pb:12:rollup:2026-W48`) and a
    digest of the key, so a lookup finds the message by the key alone."""
    if not key:
        return f"{FILE_PREFIX}{week}.png"
    if ":rollup:" in key:
        week = key.rsplit(":", 1)[-1]
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"{FILE_PREFIX}{week}-{digest}.png"


def _header(text: str) -> Block:
    plain = " ".join(text.split())
    if slack_len(plain) > HEADER_TEXT:
        plain = plain[: HEADER_TEXT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": plain, "emoji": False}}


def _lines(lines: list[str]) -> str:
    """Lines joined, stopping before the section limit (each line whole)."""
    out = ""
    for line in lines:
        candidate = f"{out}\n{line}" if out else line
        if slack_len(candidate) > SECTION_TEXT:
            break
        out = candidate
    return out


def rollup_blocks(rollup: Rollup) -> list[Block]:
    blocks: list[Block] = [_header(rollup.title)]
    if rollup.top:
        lines = ["*Top papers*"]
        for number, entry in enumerate(rollup.top, 1):
            title = link(entry.url, fit(" ".join(entry.title.split()), 300))
            votes = f"▲ {entry.upvotes}"
            if entry.feedback:
                votes = f"👍 {entry.feedback:g} · " + votes
            lines.append(f"{number}. {title} ({votes})")
        blocks.append(section(_lines(lines)))
    else:
        blocks.append(section("No paper matched this channel's subscriptions this week."))
    most, least = rollup.most_and_least()
    if most:
        said = [f"• {fit(s.query, 200)}: {s.count}" for s in most]
        text = "*Matched most*\n" + "\n".join(said)
        if least:
            text += "\n*Matched least*\n" + "\n".join(
                f"• {fit(s.query, 200)}: {s.count}" for s in least
            )
        blocks.append(DIVIDER)
        blocks.append(section(_lines(text.split("\n"))))
    if rollup.rising:
        terms = ", ".join(
            f"{fit(r.term, 80)} ({r.count}, was {r.previous:g}/week)" for r in rollup.rising
        )
        blocks.append(section(_lines([f"*Rising terms*: {terms}"])))
    blocks.append(context(fit(f"{rollup.channel} · ISO week {rollup.week}", 300)))
    return blocks


def alt_text(rollup: Rollup) -> str:
    """The chart's description for screen readers: plain text, but its queries are
    untrusted, so Slack's three special characters are escaped all the same."""
    names = ", ".join(" ".join(s.label.split()) for s in rollup.chart.series)
    text = f"Matched papers per week over {len(rollup.chart.weeks)} weeks: {names or 'none'}"
    return escaped_within(text, FILE_ALT_TEXT)


def escaped_within(text: str, limit: int) -> str:
    """Untrusted text for a file's title or alt text: one line, Slack's three special
    characters escaped, at most `limit` characters, never cut inside an entity."""
    text = " ".join(text.split())
    out = escape(text)
    while len(out) > limit:
        text = text[: len(text) - (len(out) - limit) - 1]
        out = escape(text)
    return out


def render_rollup(rollup: Rollup, key: str | None = None) -> dict[str, Any]:
    """The files_upload_v2 arguments that post the rollup (the image bytes left out)."""
    return {
        "filename": file_name_for(key, rollup.week),
        "title": f"Matched papers per week, to {rollup.week}",
        "alt_txt": alt_text(rollup),
        "blocks": rollup_blocks(rollup),
    }
