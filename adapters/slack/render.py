"""Digest and Reply -> Block Kit message arguments. Pure: no I/O, no clock.

A rendered *part* is the argument object of one `chat.postMessage` call without
`channel` (the adapter adds `channel` and the outbox key's `metadata`): JSON-ready
dicts with a `text` notification fallback and `blocks`.

Layout of a digest: a header block (date; N matching of M checked), a context line
with the subscriptions (and the source label), then per paper a section (numbered,
linked bold title; votes · authors · matched terms; a structured summary as a second
section of labelled parts (bold labels) followed by the thumbnail as a full-width image,
or a paragraph / tl;dr summary as a quote, without an image; matched terms in bold; the
sentence where a hidden matched term occurs, "Why:"), a context line with the
arXiv / PDF / Hugging Face / GitHub / project links, and a divider. Papers are packed
into as few messages as Slack's limits allow by the shared splitter
(`paperboy_adapters.split.pack`); a continuation message starts with a "continued (k/n)"
line. Nothing is dropped: a digest the core capped ends with "… and N more", and a
preview too long for a response_url says how many papers it leaves to the shared
version. Escaping of untrusted text is `paperboy_adapters.slack.mrkdwn`'s job.

A paper's blocks cost far more to build (escaping, highlighting, link checks) than the
rest of a digest, and at fan-out the same paper is in the digests of many channels:
`RenderCache` keeps them, keyed by everything they are made from (the entry and its
number). The adapter holds one; output is the same with and without it. Rendered parts
share those block objects, so a part is read-only data (the outbox stores a JSON copy).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paperboy.models import Digest, DigestEntry, Reply, SearchResults
from paperboy_adapters.slack.help import help_blocks
from paperboy_adapters.slack.limits import (
    BLOCKS_PER_MESSAGE,
    BLOCKS_TEXT_BUDGET,
    HEADER_TEXT,
    RESPONSE_URL_MESSAGES,
    SECTION_TEXT,
    TEXT_FALLBACK_BUDGET,
    slack_len,
)
from paperboy_adapters.slack.mrkdwn import (
    ELLIPSIS,
    emphasised,
    escape,
    fit,
    guard_line,
    link,
    safe_url,
)
from paperboy_adapters.split import pack

Part = dict[str, Any]
Block = dict[str, Any]

SHARE_ACTION = "paperboy_share"
SUBSCRIBE_ACTION = "paperboy_subscribe"
#: The feedback buttons under each paper, by vote (the value: `<paper id> <token>`).
VOTE_ACTIONS = {
    "up": "paperboy_vote_up",
    "down": "paperboy_vote_down",
    "save": "paperboy_vote_save",
}
VOTE_LABELS = {"up": "👍", "down": "👎", "save": "🔖 Save"}
THREAD_KEY = "paperboy_thread"  # private part field: stripped by the adapter before sending
TITLE_LIMIT = 400
AUTHOR_LIMIT = 80
BYLINE_LIMIT = 600
TERMS_LIMIT = 300
QUERIES_LIMIT = 1500
FALLBACK_TITLE_LIMIT = 150
LIMITS = {"blocks": BLOCKS_PER_MESSAGE, "chars": BLOCKS_TEXT_BUDGET}


# -- block helpers ---------------------------------------------------------------


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object; `verbatim` stops auto-linking of URLs, #channels, @here."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts]}


DIVIDER: Block = {"type": "divider"}


def blocks_text_len(blocks: Sequence[Block]) -> int:
    """Characters of text in `blocks` (what Slack's cumulative limit counts)."""
    total = 0

    def walk(node: Any) -> None:
        nonlocal total
        if isinstance(node, dict):
            if node.get("type") in {"mrkdwn", "plain_text"} and isinstance(node.get("text"), str):
                total += slack_len(node["text"])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(list(blocks))
    return total


@dataclass(frozen=True)
class Item:
    """A unit the splitter packs: one paper's blocks, or a line of the digest's own."""

    blocks: tuple[Block, ...]
    fallback: str = ""  # its line in the notification text, if any
    is_entry: bool = False

    def cost(self) -> dict[str, int]:
        """Measured once (a cached item is packed into many digests); read-only."""
        cost = self.__dict__.get("_cost")
        if cost is None:
            cost = {"blocks": len(self.blocks), "chars": blocks_text_len(self.blocks)}
            self.__dict__["_cost"] = cost  # a memo, not a field: frozen stays frozen
        return cost


class RenderCache:
    """Papers' rendered blocks, reused across digests (least recently used dropped first).

    The key is the entry itself (paper, matched terms, summary, highlights, authors) and
    its number in the digest, so a hit is exactly what rendering again would give. Safe
    to share between threads: the planner renders in a worker thread while the event
    loop may render a preview.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[int, DigestEntry], Item] = OrderedDict()
        # The same entry objects come back digest after digest (the planner makes a
        # paper's entry once per plan): found by identity first, without hashing the
        # whole entry (paper, abstract, summary) on every lookup. The entry is kept in
        # the value, so its id cannot be reused while the item is cached.
        self._by_id: dict[tuple[int, int], tuple[DigestEntry, Item]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def entry_item(self, number: int, entry: DigestEntry) -> Item:
        fast = (number, id(entry))
        with self._lock:
            found = self._by_id.get(fast)
            if found is not None and found[0] is entry:
                self.hits += 1  # recency is refreshed by the slow path only: good enough
                return found[1]
            key = (number, entry)
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self._by_id[fast] = (entry, item)
                self.hits += 1
                return item
        item = entry_item(number, entry)
        item.cost()
        with self._lock:
            self.misses += 1
            self._items[key] = item
            self._by_id[fast] = (entry, item)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
            if len(self._by_id) > self.maxsize:
                self._by_id.clear()  # rebuilt from `_items` as lookups come
        return item


def entry_items(entries: Sequence[DigestEntry], cache: RenderCache | None) -> list[Item]:
    """The digest's papers, numbered from 1 (through `cache` when given)."""
    render = entry_item if cache is None else cache.entry_item
    return [render(i, e) for i, e in enumerate(entries, start=1)]


# -- digest pieces ---------------------------------------------------------------

#: Room for each labelled part and the "why" line inside one section (3,000 characters).
PART_ROOM = 850
WHY_ROOM = 400


def why_line(entry: DigestEntry, room: int) -> str:
    """`_why:_ matched X in the abstract: "… *X* …"` (inert, within `room`), or ""."""
    why = entry.match_why
    if why is None or room < 40:
        return ""
    lead = f"_Why:_ {fit(', '.join(why.terms), 100)} in the {why.field.replace('_', ' ')}: "
    rest = room - slack_len(lead)
    body = emphasised(why.text, why.highlights, min(rest, WHY_ROOM)) if rest > 10 else ""
    return lead + body if body else ""


def sections_text(entry: DigestEntry) -> str:
    """The labelled parts of a structured summary as mrkdwn lines (bold labels)."""
    lines = []
    for part in entry.sections:
        if part.text.strip():
            lines.append(f"*{part.label}:* {emphasised(part.text, part.highlights, PART_ROOM)}")
    text = "\n".join(lines)
    why = why_line(entry, SECTION_TEXT - slack_len(text) - 1)
    return f"{text}\n{why}" if text and why else text or why


def entry_item(number: int, entry: DigestEntry) -> Item:
    paper = entry.paper
    links = paper.links
    title = fit(paper.title, TITLE_LIMIT) or "(untitled)"
    first = f"*{number}. {link(links.arxiv, title)}*"
    authors = [
        name if len(name) <= AUTHOR_LIMIT else name[: AUTHOR_LIMIT - 1] + ELLIPSIS
        for name in entry.authors
    ]
    byline_raw = ", ".join(authors) + (" et al." if entry.more_authors else "")
    # Votes first: a line never starts with untrusted text (a leading "&gt;" would quote).
    meta = [f"▲ {int(paper.upvotes)}"]
    if byline_raw.strip():
        meta.append(fit(byline_raw, BYLINE_LIMIT))
    if entry.matched_terms:
        meta.append("matched: " + fit(", ".join(entry.matched_terms), TERMS_LIMIT))
    second = " · ".join(m for m in meta if m)
    text = f"{first}\n{second}"
    blocks: list[Block] = []
    thumbnail = safe_url(paper.thumbnail_url)
    if entry.sections:
        # Structured: the labelled parts in a section of their own (bold labels), the
        # thumbnail large below them (an accessory would be an 80 px crop).
        blocks.append(section(text))
        parts = sections_text(entry)
        if parts:
            blocks.append(section(parts))
        if thumbnail:
            blocks.append(
                {"type": "image", "image_url": thumbnail, "alt_text": "paper thumbnail"}
            )
    else:
        # Paragraph and tl;dr: one compact section, the summary as a quote, no image.
        room = SECTION_TEXT - slack_len(text) - 2  # "\n>"
        summary = emphasised(entry.summary, entry.summary_highlights, room) if room > 1 else ""
        if summary:
            text += f"\n>{summary}"
        why = why_line(entry, SECTION_TEXT - slack_len(text) - 1)
        if why:
            text += f"\n{why}"
        blocks.append(section(text))
    link_names = (
        ("arXiv", links.arxiv),
        ("PDF", links.pdf),
        ("Hugging Face", links.hf),
        ("GitHub", links.github),
        ("Project page", links.project),
    )
    shown = [f"<{escape(url)}|{name}>" for name, raw in link_names if (url := safe_url(raw))]
    if shown:
        blocks.append(context(" · ".join(shown)))
    blocks.append(DIVIDER)
    fallback = f"{number}. {fit(paper.title, FALLBACK_TITLE_LIMIT) or '(untitled)'}"
    return Item(tuple(blocks), fallback, is_entry=True)


# -- feedback buttons and suggestions ----------------------------------------------


def vote_value(paper_id: str, token: str) -> str:
    """A feedback button's value: the paper and its token for the channel."""
    return f"{paper_id} {token}"


def parse_vote_value(value: str) -> tuple[str, str] | None:
    """(paper id, token) from a feedback button's value; None when it is not one."""
    paper_id, sep, token = value.partition(" ")
    if not sep or not paper_id or not token or " " in token or len(value) > 200:
        return None
    return paper_id, token


#: The buttons without their value: their labels are shared by every button made (a
#: message's blocks are only read after rendering, never changed).
_BUTTON_TEXTS = {
    vote: {"type": "plain_text", "text": label, "emoji": True}
    for vote, label in VOTE_LABELS.items()
}


def feedback_actions(paper_id: str, token: str) -> Block:
    """One click each: 👍, 👎 and 🔖 Save under a paper (a block of its own, so the
    paper's cached blocks stay the same for every channel)."""
    value = vote_value(paper_id, token)
    return {
        "type": "actions",
        "block_id": f"paperboy_feedback_{paper_id}"[:255],
        "elements": [
            {"type": "button", "action_id": action, "text": _BUTTON_TEXTS[vote], "value": value}
            for vote, action in VOTE_ACTIONS.items()
        ],
    }


#: Characters of the buttons' labels (what Slack's cumulative text limit counts).
BUTTONS_CHARS = sum(slack_len(label) for label in VOTE_LABELS.values())


def with_buttons(item: Item, paper_id: str, token: str) -> Item:
    """`item` (a paper's blocks) with its feedback buttons in place of the closing divider:
    the row of buttons separates the papers, so a paper keeps its three blocks."""
    actions = feedback_actions(paper_id, token)
    blocks = item.blocks[:-1] if item.blocks and item.blocks[-1] == DIVIDER else item.blocks
    made = Item((*blocks, actions), item.fallback, is_entry=item.is_entry)
    base = item.cost()
    made.__dict__["_cost"] = {  # the paper's cost, measured once, plus the buttons'
        "blocks": len(made.blocks),
        "chars": base["chars"] + BUTTONS_CHARS,
    }
    return made


SUGGESTIONS_HEADING = (
    "*Also worth a look* · matched no subscription, suggested from this channel's feedback"
)


def paper_items(digest: Digest, cache: RenderCache | None = None) -> list[Item]:
    """The digest's papers, with feedback buttons where the digest has their tokens, then
    its suggestions ("also worth a look"), each with why it is suggested."""
    tokens = dict(digest.feedback)
    items = entry_items(digest.entries, cache)
    if tokens:
        items = [
            with_buttons(item, entry.paper.id, tokens[entry.paper.id])
            if entry.paper.id in tokens
            else item
            for item, entry in zip(items, digest.entries, strict=True)
        ]
    if digest.suggestions:
        items.append(Item((section(SUGGESTIONS_HEADING),)))
        start = len(digest.entries) + 1
        for number, entry in enumerate(digest.suggestions, start=start):
            item = entry_item(number, entry)
            why = context(":bulb: " + fit(entry.why or "", 500)) if entry.why else None
            blocks = list(item.blocks[:-1])
            if why is not None:
                blocks.append(why)
            made = Item((*blocks, DIVIDER), item.fallback, is_entry=False)
            if entry.paper.id in tokens:
                made = with_buttons(made, entry.paper.id, tokens[entry.paper.id])
            items.append(made)
    return items


def header_blocks(digest: Digest) -> list[Block]:
    # The header is the core's own text (a date and two counts): plain_text, no markup.
    header = digest.header
    if len(header) > HEADER_TEXT:
        header = header[: HEADER_TEXT - 1] + ELLIPSIS
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": header}}]
    notes: list[str] = []
    if digest.queries:
        notes.append("Subscriptions: " + fit(" | ".join(digest.queries), QUERIES_LIMIT))
    if digest.source_label:
        notes.append(":warning: " + fit(digest.source_label, 300))
    if notes:
        blocks.append(context(*notes))
    return blocks


def continuation_block(digest: Digest, index: int, total: int) -> Block:
    return context(f"{escape(digest.header)} · continued ({index + 1}/{total})")


CONTINUATION_RESERVE = {"blocks": 1, "chars": 200}


def omitted_line(count: int, url: str | None, what: str = "matching papers") -> str:
    line = f"{ELLIPSIS} and {count} more {what}"
    if safe_url(url):
        line += " · " + link(url, "see the full list")
    return line


def digest_items(digest: Digest, cache: RenderCache | None = None) -> list[Item]:
    items = paper_items(digest, cache)
    if not digest.entries:
        items.append(Item((section("No paper matched these subscriptions."),)))
    if digest.omitted:
        line = omitted_line(digest.omitted, digest.full_list_url)
        items.append(Item((section(line),), line))
    return items


def _fallback_text(lead: str, items: Sequence[Item]) -> str:
    text = lead
    for item in items:
        if item.fallback:
            candidate = f"{text}\n{item.fallback}"
            if slack_len(candidate) > TEXT_FALLBACK_BUDGET - 2:
                return text + "\n" + ELLIPSIS
            text = candidate
    return text


def _strip_trailing_divider(blocks: list[Block]) -> list[Block]:
    return blocks[:-1] if len(blocks) > 1 and blocks[-1] == DIVIDER else blocks


def message(text: str, blocks: list[Block]) -> Part:
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _pack(
    items: Sequence[Item],
    first_reserve: Mapping[str, int],
    *,
    extra_reserve: Mapping[str, int] | None = None,
    max_messages: int | None = None,
):
    extra = dict(extra_reserve or {})

    def reserve(index: int) -> dict[str, int]:
        base = first_reserve if index == 0 else CONTINUATION_RESERVE
        return {k: base.get(k, 0) + extra.get(k, 0) for k in set(base) | set(extra)}

    return pack(items, Item.cost, LIMITS, reserve=reserve, max_messages=max_messages)


def _cost(blocks: Sequence[Block]) -> dict[str, int]:
    return {"blocks": len(blocks), "chars": blocks_text_len(blocks)}


# -- digests -----------------------------------------------------------------------


def render_digest(
    digest: Digest, *, thread: bool = False, cache: RenderCache | None = None
) -> list[Part]:
    """The `chat.postMessage` arguments (without `channel`) that post `digest`.

    `cache` reuses papers rendered for other digests (see `RenderCache`).
    """
    if thread:
        return render_digest_thread(digest, cache)
    header = header_blocks(digest)
    packing = _pack(digest_items(digest, cache), _cost(header))
    total = len(packing.messages)
    parts: list[Part] = []
    for index, chunk in enumerate(packing.messages):
        lead = escape(digest.header) + (f" (continued, {index + 1}/{total})" if index else "")
        blocks = list(header) if index == 0 else [continuation_block(digest, index, total)]
        for item in chunk:
            blocks.extend(item.blocks)
        parts.append(message(_fallback_text(lead, chunk), _strip_trailing_divider(blocks)))
    return parts


def thread_id(digest: Digest) -> str:
    """A stable id of this digest's thread (same digest, same id: a resend finds its parent)."""
    key = {
        "date": digest.date.isoformat() if digest.date else None,
        "queries": list(digest.queries),
        "checked": digest.checked,
        "papers": [e.paper.id for e in digest.entries],
        "omitted": digest.omitted,
    }
    body = json.dumps(key, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def render_digest_thread(digest: Digest, cache: RenderCache | None = None) -> list[Part]:
    """A parent summary in the channel, then one thread reply per chunk of papers."""
    tid = thread_id(digest)
    header = header_blocks(digest)
    entries = paper_items(digest, cache)
    count = len(digest.entries)
    if count:
        summary = f"*{count} paper{'s' if count != 1 else ''}* in the thread below."
    else:
        summary = "No paper matched these subscriptions."
    parent_blocks = [*header, section(summary)]
    if digest.omitted:
        parent_blocks.append(section(omitted_line(digest.omitted, digest.full_list_url)))
    parent = message(_fallback_text(escape(digest.header), entries), parent_blocks)
    parent[THREAD_KEY] = {"id": tid, "role": "parent"}
    parts = [parent]
    if not entries:
        return parts
    packing = _pack(entries, CONTINUATION_RESERVE)
    total = len(packing.messages)
    for index, chunk in enumerate(packing.messages):
        blocks = [context(f"{escape(digest.header)} · part {index + 1}/{total}")]
        for item in chunk:
            blocks.extend(item.blocks)
        lead = f"{escape(digest.header)} (part {index + 1}/{total})"
        reply = message(_fallback_text(lead, chunk), _strip_trailing_divider(blocks))
        reply[THREAD_KEY] = {"id": tid, "role": "reply"}
        parts.append(reply)
    return parts


# -- replies (answers to /papers, sent through the response_url) -------------------


def text_blocks(text: str, ok: bool = True) -> list[Block]:
    """Plain reply text as sections of at most 3000 characters, split at lines."""
    lines = [_line(raw) for raw in text.splitlines()] or [""]
    if not ok:
        lines[0] = ":warning: " + lines[0]
    blocks: list[Block] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if current and slack_len(candidate) > SECTION_TEXT:
            blocks.append(section(current))
            current = line
        else:
            current = candidate
    if current.strip():
        blocks.append(section(current))
    return blocks or [section(ELLIPSIS)]


INDENT = "\u2007"  # figure space: Slack keeps it where it would trim ordinary spaces


def _line(raw: str) -> str:
    """One line of reply text: inert mrkdwn of at most 2900 characters, indentation kept."""
    stripped = raw.lstrip(" ")
    indent = INDENT * min(len(raw) - len(stripped), 8)
    return guard_line(indent + fit(stripped, SECTION_TEXT - 100))


def subscribe_actions(results: SearchResults) -> list[Block]:
    """How to follow such papers: the command as text and a button that runs it."""
    hint = "Follow new papers like these: /papers subscribe " + fit(results.terms, 300)
    return [
        context(hint),
        {
            "type": "actions",
            "block_id": SUBSCRIBE_ACTION,
            "elements": [
                {
                    "type": "button",
                    "action_id": SUBSCRIBE_ACTION,
                    "text": {"type": "plain_text", "text": "Subscribe this channel"},
                    "value": results.terms[:2000],
                }
            ],
        },
    ]


def render_search(results: SearchResults) -> list[Part]:
    """Search hits laid out like a digest preview, ending with a subscribe button."""
    parts = render_preview(results.as_digest(), RESPONSE_URL_MESSAGES, share=False)
    if results.hits:
        parts[-1]["blocks"].extend(subscribe_actions(results))
    return parts


def render_reply(reply: Reply, *, share: bool = True) -> list[Part]:
    """Messages for a command's answer, at most five (a response_url takes five).

    A digest in the reply is a preview: its last message gets a "Share in channel"
    button (when `share` and it has papers); papers beyond what the messages hold are
    counted in a closing line rather than dropped silently.
    """
    if reply.search is not None:  # `text` is only a plain fallback of the results
        return render_search(reply.search)
    if reply.help is not None:  # `text` is only a plain fallback of the help
        return [message(fit(reply.help.intro, TEXT_FALLBACK_BUDGET), help_blocks(reply.help))]
    parts: list[Part] = []
    cap = RESPONSE_URL_MESSAGES - (1 if reply.digest is not None else 0)
    if reply.text or reply.digest is None:
        blocks = text_blocks(reply.text or "Done.", reply.ok)
        packing = pack(
            [Item((b,)) for b in blocks],
            Item.cost,
            LIMITS,
            reserve={"blocks": 1, "chars": 100},
            max_messages=cap,
        )
        lead = fit(reply.text or "Done.", TEXT_FALLBACK_BUDGET)
        for chunk in packing.messages:
            parts.append(message(lead, [b for item in chunk for b in item.blocks]))
        if packing.overflow:
            cut = section(f"{ELLIPSIS} (the rest of this answer is too long for Slack)")
            parts[-1]["blocks"].append(cut)
    if reply.digest is not None:
        parts += render_preview(reply.digest, RESPONSE_URL_MESSAGES - len(parts), share)
    return parts


def share_value(digest: Digest) -> str:
    return json.dumps({"date": digest.date.isoformat() if digest.date else None})


def share_actions(digest: Digest) -> Block:
    return {
        "type": "actions",
        "block_id": SHARE_ACTION,
        "elements": [
            {
                "type": "button",
                "action_id": SHARE_ACTION,
                "text": {"type": "plain_text", "text": "Share in channel"},
                "value": share_value(digest),
                "style": "primary",
            }
        ],
    }


# The "not shown" line and the actions (share, or a search's hint and subscribe button).
PREVIEW_RESERVE = {"blocks": 3, "chars": 800}


def render_preview(digest: Digest, max_messages: int, share: bool = True) -> list[Part]:
    header = header_blocks(digest)
    items = digest_items(digest)
    packing = _pack(items, _cost(header), extra_reserve=PREVIEW_RESERVE, max_messages=max_messages)
    total = len(packing.messages)
    parts: list[Part] = []
    for index, chunk in enumerate(packing.messages):
        lead = escape(digest.header) + (f" (continued, {index + 1}/{total})" if index else "")
        blocks = list(header) if index == 0 else [continuation_block(digest, index, total)]
        for item in chunk:
            blocks.extend(item.blocks)
        blocks = _strip_trailing_divider(blocks)
        if index == total - 1:
            hidden = sum(1 for item in packing.overflow if item.is_entry)
            if hidden:
                more = hidden + digest.omitted
                blocks.append(
                    section(
                        f"{ELLIPSIS} and {more} more matching papers not shown in this preview"
                        + (" (sharing posts them all)." if share else ".")
                    )
                )
            if share and digest.entries:
                blocks.append(share_actions(digest))
        parts.append(message(_fallback_text(lead, chunk), blocks))
    return parts


def render(item: Digest | Reply, *, thread: bool = False) -> list[Part]:
    return render_digest(item, thread=thread) if isinstance(item, Digest) else render_reply(item)


def to_json(digest: Digest) -> str:
    """The CLI's `--format slack`: the chat.postMessage argument objects, as sent."""
    return json.dumps(render_digest(digest), ensure_ascii=False, indent=2)


def sendable(part: Mapping[str, Any]) -> Part:
    """`part` without the renderer's private fields (what goes to Slack)."""
    return {k: v for k, v in part.items() if not k.startswith("paperboy_")}
