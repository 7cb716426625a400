"""A weekly rollup as one Discord message: an embed whose image is the attached chart.

The body is sent as multipart/form-data: `payload_json` (this body) and the PNG as
`files[0]`; the embed shows it through `attachment://<name>`, and `attachments` names
it. Pure: no I/O here; `DiscordREST.create_message_with_file` sends. Untrusted text
(titles, queries, terms) is escaped like a digest's; no mention is ever parsed.
"""

from __future__ import annotations

from typing import Any

from paperboy.trends import Rollup
from paperboy_adapters.discord import limits
from paperboy_adapters.discord.escape import fit, one_line, width
from paperboy_adapters.discord.render import COLOR, NO_MENTIONS, safe_url

Body = dict[str, Any]


def _value(lines: list[str]) -> str:
    out = ""
    for line in lines:
        candidate = f"{out}\n{line}" if out else line
        if width(candidate) > limits.FIELD_VALUE:
            break
        out = candidate
    return out or "—"


def render_rollup(rollup: Rollup) -> Body:
    """The create-message body (`payload_json`) of a rollup with its chart attached."""
    name = rollup.image_name
    top: list[str] = []
    for number, entry in enumerate(rollup.top, 1):
        title = fit(one_line(entry.title), 200)
        url = safe_url(entry.url)
        shown = f"[{title}]({url})" if url else title
        votes = f"▲ {entry.upvotes}"
        if entry.feedback:
            votes = f"👍 {entry.feedback:g} · " + votes
        top.append(f"{number}\\. {shown} ({votes})")
    fields = [
        {
            "name": "Top papers",
            "value": _value(top) if top else "No paper matched this week.",
            "inline": False,
        }
    ]
    most, least = rollup.most_and_least()
    if most:
        fields.append(
            {
                "name": "Matched most",
                "value": _value([f"{fit(one_line(s.query), 200)}: {s.count}" for s in most]),
                "inline": True,
            }
        )
    if least:
        fields.append(
            {
                "name": "Matched least",
                "value": _value([f"{fit(one_line(s.query), 200)}: {s.count}" for s in least]),
                "inline": True,
            }
        )
    if rollup.rising:
        fields.append(
            {
                "name": "Rising terms",
                "value": _value(
                    [
                        f"{fit(one_line(r.term), 100)}: {r.count} (was {r.previous:g}/week)"
                        for r in rollup.rising
                    ]
                ),
                "inline": False,
            }
        )
    embed = {
        "title": fit(one_line(rollup.title), limits.TITLE),
        "color": COLOR,
        "fields": fields,
        "image": {"url": f"attachment://{name}"},
        "footer": {"text": fit(f"{rollup.channel} · ISO week {rollup.week}", 200, markdown=False)},
    }
    return {
        "content": "",
        "embeds": [embed],
        "attachments": [{"id": 0, "filename": name, "description": "Matched papers per week"}],
        "allowed_mentions": dict(NO_MENTIONS),
    }
