"""`/papers help` as Block Kit: a header, one section per command (the command in code
style, what it does, an example), then the query language with examples.

The text is the core's own, but it is escaped all the same (`<query>` must not read as a
link) and a backtick inside a code span becomes a look-alike, so no span breaks.
Within limits: a dozen sections of a few hundred characters (Slack: 50 blocks,
3,000 characters a section, about 12,000 in all).
"""

from __future__ import annotations

from typing import Any

from paperboy.models import Help
from paperboy_adapters.slack.limits import BLOCKS_PER_MESSAGE, HEADER_TEXT, SECTION_TEXT
from paperboy_adapters.slack.mrkdwn import ELLIPSIS, LOOKALIKES, escape

Block = dict[str, Any]
TITLE = "paperboy: /papers commands"


def code(text: str) -> str:
    """`text` as an inline code span of mrkdwn."""
    return "`" + escape(text.replace("`", LOOKALIKES["`"])) + "`"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def help_blocks(guide: Help) -> list[Block]:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(TITLE, HEADER_TEXT)}},
        _section(escape(guide.intro)),
    ]
    room = BLOCKS_PER_MESSAGE - len(blocks) - 3  # the divider and the query blocks
    for entry in guide.commands[:room]:
        text = f"{code(entry.usage)}\n{escape(entry.summary)}"
        if entry.example:
            text += f"\n_e.g._ {code(entry.example)}"
        blocks.append(_section(_cut(text, SECTION_TEXT)))
    blocks.append({"type": "divider"})
    blocks.append(_section(_cut("*Queries* " + escape(guide.queries), SECTION_TEXT)))
    if guide.query_examples:
        examples = "  ".join(code(e) for e in guide.query_examples)
        elements = [{"type": "mrkdwn", "text": _cut("Examples: " + examples, SECTION_TEXT)}]
        blocks.append({"type": "context", "elements": elements})
    return blocks
