"""Digest and Reply -> Discord create-message bodies. Pure: no I/O, no discord.py.

A body is exactly what goes on the wire (`content`, `embeds`, `allowed_mentions`),
JSON-serialisable so the outbox can store it. A digest is one embed per paper, packed
by the shared splitter into messages of at most 10 embeds and 6,000 embed characters,
with a short content header on each; what does not fit is never dropped silently.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from typing import Any

from paperboy.models import Digest, DigestEntry, Reply, SearchResults
from paperboy_adapters.discord import limits
from paperboy_adapters.discord.escape import ELLIPSIS, escape, fit, one_line, width
from paperboy_adapters.discord.help import help_embed
from paperboy_adapters.split import pack

Body = dict[str, Any]
Embed = dict[str, Any]

COLOR = 0xFFD21E  # Hugging Face yellow
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
EMBED_LIMITS = {"embeds": limits.EMBEDS_PER_MESSAGE, "chars": limits.EMBED_TOTAL}
LINK_LABELS = {
    "hf": "Hugging Face",
    "arxiv": "arXiv",
    "pdf": "PDF",
    "github": "Code",
    "project": "Project page",
}
_URL_SAFE = "/?#=&%:;,+~!$*'@-._"


def safe_url(url: str | None) -> str | None:
    """`url` if it is a well-formed http(s) URL, with markdown-breaking characters
    percent-encoded; None otherwise (no javascript:, no userinfo, no spaces)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme.lower() not in {"http", "https"} or not host or "@" in parts.netloc:
        return None
    if not all(ch.isalnum() or ch in ".-" for ch in host) or not host.isascii():
        return None
    netloc = host if port is None else f"{host}:{port}"
    path = urllib.parse.quote(parts.path, safe=_URL_SAFE)
    query = urllib.parse.quote(parts.query, safe=_URL_SAFE)
    fragment = urllib.parse.quote(parts.fragment, safe=_URL_SAFE)
    out = urllib.parse.urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))
    return out if len(out) <= limits.URL else None


def embed_chars(embed: Embed) -> int:
    """Characters Discord counts toward the 6,000 limit of a message's embeds."""
    total = width(embed.get("title", "")) + width(embed.get("description", ""))
    total += width(embed.get("footer", {}).get("text", ""))
    total += width(embed.get("author", {}).get("name", ""))
    for item in embed.get("fields", []):
        total += width(item["name"]) + width(item["value"])
    return total


def _links_value(entry: DigestEntry) -> str:
    links = entry.paper.links.as_dict()
    order = ("arxiv", "pdf", "hf", "github", "project")  # PaperLinks' order, every platform
    shown = []
    for name in order:
        url = safe_url(links.get(name))
        if url:
            shown.append(f"[{LINK_LABELS[name]}]({url})")
    value = ""
    for item in shown:  # whole links only, never a cut one
        candidate = f"{value} · {item}" if value else item
        if width(candidate) > limits.ENTRY_FIELD_VALUE:
            break
        value = candidate
    return value


def _visible(text: str) -> str | None:
    """`text` unless it would show as nothing (Discord refuses blank names and values)."""
    return text if text.strip() else None


def render_entry(entry: DigestEntry) -> Embed:
    """One paper as one embed, inside the limits on its own whatever its text."""
    paper = entry.paper
    links = paper.links
    title = _visible(fit(one_line(paper.title), limits.TITLE))
    embed: Embed = {
        "title": title or _visible(fit(one_line(paper.id), limits.TITLE)) or "Untitled",
        "color": COLOR,
    }
    url = safe_url(links.arxiv) or safe_url(links.hf)  # the title links arXiv everywhere
    if url:
        embed["url"] = url
    authors = _visible(fit(one_line(entry.authors_line), limits.AUTHOR_NAME, markdown=False))
    if authors:
        embed["author"] = {"name": authors}
    summary = _visible(fit(entry.summary, limits.ENTRY_DESCRIPTION, entry.summary_highlights))
    if summary:
        embed["description"] = summary
    fields = [{"name": "Votes", "value": f"▲ {int(paper.upvotes)}", "inline": True}]
    terms = _visible(
        fit(", ".join(one_line(t) for t in entry.matched_terms), limits.ENTRY_FIELD_VALUE)
    )
    if terms:
        fields.append({"name": "Matched", "value": terms, "inline": True})
    links_value = _links_value(entry)
    if links_value:
        fields.append({"name": "Links", "value": links_value, "inline": False})
    embed["fields"] = fields
    thumbnail = safe_url(paper.thumbnail_url)
    if thumbnail:
        embed["thumbnail"] = {"url": thumbnail}
    footer = _visible(fit(one_line(paper.id), limits.ENTRY_FOOTER - 6, markdown=False))
    if footer:
        embed["footer"] = {"text": f"arXiv {footer}"}
    return embed


def body(content: str, embeds: Sequence[Embed] = ()) -> Body:
    return {"content": content, "embeds": list(embeds), "allowed_mentions": dict(NO_MENTIONS)}


def _heading(digest: Digest) -> str:
    if digest.title:  # search results: the title carries the user's query, so escape it
        return f"**{fit(one_line(digest.title), 400)}**"
    day = digest.date.isoformat() if digest.date else "the latest day"
    return f"**Papers for {day}**"


def _first_header(digest: Digest) -> str:
    counts = f"{digest.matched} matching of {digest.checked} checked"
    line = _heading(digest) if digest.title else f"{_heading(digest)}: {counts}"
    if digest.source_label:
        line += " · _" + fit(one_line(digest.source_label), 300) + "_"
    lines = [line]
    if digest.queries:
        queries = " | ".join(one_line(q) for q in digest.queries)
        lines.append("Subscriptions: " + fit(queries, 1200))
    if not digest.entries:
        lines.append(
            "No paper matched." if digest.title else "No paper matched these subscriptions."
        )
    return "\n".join(lines)


def _more_line(count: int, full_list_url: str | None) -> str:
    noun = "paper" if count == 1 else "papers"
    line = f"{ELLIPSIS} and {count} more matching {noun}"
    url = safe_url(full_list_url)
    if url:
        line += f": <{url}>"  # angle brackets: a link without a preview card
    return line


# -- feedback buttons and suggestions ------------------------------------------------

FEEDBACK_PREFIX = "pbfb"
VOTES = ("up", "down", "save")
#: With feedback buttons a message holds at most this many papers: one action row each,
#: and Discord allows five rows (of five components) per message.
PAPERS_WITH_BUTTONS = limits.ACTION_ROWS
SHORT_TITLE = 45


def feedback_id(vote: str, paper_id: str, token: str) -> str:
    """A feedback button's custom_id: `pbfb:<vote>:<paper id>:<token>` (<= 100)."""
    return f"{FEEDBACK_PREFIX}:{vote}:{paper_id}:{token}"


def parse_feedback_id(value: object) -> tuple[str, str, str] | None:
    """(vote, paper id, token) of a feedback custom_id; None when it is not one."""
    if not isinstance(value, str) or len(value) > limits.CUSTOM_ID:
        return None
    parts = value.split(":")
    if len(parts) != 4 or parts[0] != FEEDBACK_PREFIX or parts[1] not in VOTES:
        return None
    _, vote, paper_id, token = parts
    if not paper_id or not token or any(ch.isspace() for ch in paper_id + token):
        return None
    return vote, paper_id, token


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limits.BUTTON_LABEL else text[: limits.BUTTON_LABEL - 1] + ELLIPSIS


def feedback_row(paper_id: str, title: str, token: str) -> dict[str, Any]:
    """One action row under a message: 👍 (named after the paper), 👎, 🔖 Save."""
    short = " ".join(title.split()) or paper_id
    if len(short) > SHORT_TITLE:
        short = short[: SHORT_TITLE - 1].rstrip() + ELLIPSIS
    labels = {"up": f"👍 {short}", "down": "👎", "save": "🔖 Save"}
    return {
        "type": 1,
        "components": [
            {
                "type": 2,
                "style": 2,  # secondary: grey
                "label": _label(labels[vote]),
                "custom_id": feedback_id(vote, paper_id, token),
            }
            for vote in VOTES
        ],
    }


def render_suggestion(entry: DigestEntry) -> Embed:
    """An "also worth a look" paper: its embed, with why it is suggested."""
    embed = render_entry(entry)
    why = _visible(fit(one_line(entry.why or ""), 300))
    if why:
        embed["fields"] = [
            {"name": "Also worth a look", "value": why, "inline": False},
            *embed.get("fields", []),
        ]
    return embed


def render_digest(digest: Digest, *, max_messages: int | None = None) -> list[Body]:
    """The digest as create-message bodies: all entries, unless `max_messages` caps it
    (then the rest is counted in the last message's "and N more" line).

    With feedback tokens (`digest.feedback`) each paper gets a row of buttons, so a
    message holds at most five papers (Discord's five action rows)."""
    tokens = dict(digest.feedback)
    papers = [*digest.entries, *digest.suggestions]
    embeds = [render_entry(e) for e in digest.entries]
    embeds += [render_suggestion(e) for e in digest.suggestions]
    rows = {
        id(embed): feedback_row(entry.paper.id, entry.paper.title, tokens[entry.paper.id])
        for embed, entry in zip(embeds, papers, strict=True)
        if entry.paper.id in tokens
    }
    embed_limits = dict(EMBED_LIMITS)
    if rows:
        embed_limits["embeds"] = min(embed_limits["embeds"], PAPERS_WITH_BUTTONS)
    packing = pack(
        embeds,
        lambda e: {"embeds": 1, "chars": embed_chars(e)},
        embed_limits,
        max_messages=max_messages,
    )
    messages = packing.messages
    count = len(messages)
    out: list[Body] = []
    for index, group in enumerate(messages):
        lines = [_first_header(digest) if index == 0 else _heading(digest)]
        if count > 1:
            lines[0] += f" (part {index + 1} of {count})"
        if index == count - 1:
            more = digest.omitted + len(packing.overflow)
            if more:
                lines.append(_more_line(more, digest.full_list_url))
        content = "\n".join(lines)
        if width(content) > limits.CONTENT:  # cannot happen with the caps above; be sure
            content = content[: limits.CONTENT - 1] + ELLIPSIS
        message = body(content, group)
        buttons = [rows[id(e)] for e in group if id(e) in rows]
        if buttons:
            message["components"] = buttons
        out.append(message)
    return out


def render_text(text: str) -> list[Body]:
    """Plain reply text, escaped, split at line ends into messages of <= 2,000."""
    if not text.strip():
        return []
    lines = [fit(line.rstrip(), limits.CONTENT - 10) for line in text.strip("\n").split("\n")]
    packing = pack(lines, lambda line: {"chars": width(line) + 1}, {"chars": limits.CONTENT + 1})
    contents = ("\n".join(group).strip("\n") for group in packing.messages)
    return [body(content) for content in contents if content.strip()]


def render_search(results: SearchResults) -> list[Body]:
    """Search hits as embeds (like a digest), then how to follow such papers."""
    parts = render_digest(results.as_digest())
    if results.hits:
        hint = "Follow new papers like these: " + fit(one_line(results.subscribe_command), 1500)
        parts.append(body(hint))
    return parts


def render_reply(reply: Reply) -> list[Body]:
    if reply.search is not None:  # `text` is only a plain fallback of the results
        return render_search(reply.search)
    if reply.help is not None:  # `text` is only a plain fallback of the help
        return [body("", [help_embed(reply.help)])]
    parts = render_text(reply.text)
    if reply.digest is not None:
        parts += render_digest(reply.digest)
    return parts or [body("Done.")]


def render(item: Digest | Reply) -> list[Body]:
    return render_digest(item) if isinstance(item, Digest) else render_reply(item)


def to_json(digest: Digest) -> str:
    """The `--format discord` contract: a JSON array of create-message bodies."""
    return json.dumps(render_digest(digest), ensure_ascii=False, indent=2)


__all__ = [
    "body",
    "embed_chars",
    "escape",
    "render",
    "render_digest",
    "render_entry",
    "render_reply",
    "safe_url",
    "to_json",
]
