"""`/papers help` as one Discord embed: the intro as its description, one field per
command (the command in code style as the name; what it does and an example as the
value), then the query language with examples. Within Discord's limits (25 fields,
256 characters a name, 1,024 a value, 6,000 in all), which the fake Discord enforces.
"""

from __future__ import annotations

from typing import Any

from paperboy.models import Help
from paperboy_adapters.discord import limits

Embed = dict[str, Any]
TITLE = "paperboy: /papers commands"
COLOR = 0x5865F2


def code(text: str) -> str:
    """`text` as an inline code span (inside one, markdown and mentions are inert)."""
    return "`" + text.replace("`", "\u02cb") + "`"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def help_embed(guide: Help) -> Embed:
    fields: list[dict[str, Any]] = []
    for entry in guide.commands[: limits.FIELDS - 1]:  # one field stays for the queries
        value = entry.summary
        if entry.example:
            value += f"\n*e.g.* {code(entry.example)}"
        fields.append(
            {
                "name": _cut(code(entry.usage), limits.FIELD_NAME),
                "value": _cut(value, limits.FIELD_VALUE),
                "inline": False,
            }
        )
    queries = guide.queries
    if guide.query_examples:
        queries += "\n" + "  ".join(code(e) for e in guide.query_examples)
    fields.append({"name": "Queries", "value": _cut(queries, limits.FIELD_VALUE), "inline": False})
    return {
        "title": TITLE,
        "description": _cut(guide.intro, limits.DESCRIPTION),
        "color": COLOR,
        "fields": fields,
    }
