"""Escaping untrusted text for Discord, and cutting it to a limit without breaking escapes.

Two kinds of places take text in a Discord message:

- *markdown* places (content, embed title, description, field values) render Discord
  markdown: every markup character is backslash-escaped, so `**x**`, `[label](url)`,
  `> quote` or `# heading` in a paper title stay text;
- *plain* places (embed author name, footer, autocomplete choices) render no markdown,
  so a backslash would show: only the live-syntax neutralisation below applies.

In both, mentions and links are broken with an invisible zero-width space (the same
trick as discord.py's `escape_mentions`): `@​everyone`, `@​here`, `<​@123>`, `<​#1>`,
`<​t:…>`, and `http​://` so that a bare URL in untrusted text is not auto-linked.
Every send also carries `allowed_mentions` parsing nothing: belt and braces.

Lengths are measured in UTF-16 code units (`width`), never less than the number of
code points Discord counts, so a payload that fits here fits there.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from paperboy.models import Span

ZWSP = "\u200b"
ELLIPSIS = "…"
BOLD = "**"

# Characters that are markdown anywhere in a line.
_ALWAYS = frozenset("\\*_~`|>[]<")  # ( ) are inert once [ ] are escaped
# Characters that are markdown at the start of a line only (headings, subtext, lists).
_LINE_START = frozenset("#-+")
_ORDERED_ITEM = re.compile(r"\d+(?=\.\s)")
_EVERYONE = re.compile(r"@(?=(?:everyone|here))", re.IGNORECASE)
_SCHEME_SEP = re.compile(r"://")
_MASKED = re.compile(r"\]\(")


def width(text: str) -> int:
    """Length in UTF-16 code units: what a JavaScript client counts, >= code points."""
    return len(text.encode("utf-16-le")) // 2


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in {"Cc", "Cf"} and ch not in "\n\u200d"


def _zwsp_before(text: str) -> set[int]:
    """Positions before which a zero-width space breaks a mention or a link."""
    points = {m.start() + 1 for m in _EVERYONE.finditer(text)}
    points.update(m.start() for m in _SCHEME_SEP.finditer(text))
    points.update(m.start() + 1 for m in _MASKED.finditer(text))
    points.update(i + 1 for i, ch in enumerate(text) if ch == "<")
    return points


def merge_spans(spans: Iterable[Span], text: str) -> list[Span]:
    """Sorted, clipped, non-touching spans without edge whitespace (bold needs that)."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = max(0, span.start), min(len(text), span.end)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        if out and start <= out[-1].end:
            out[-1] = Span(out[-1].start, max(out[-1].end, end))
        else:
            out.append(Span(start, end))
    return out


def escape(
    text: str,
    spans: Sequence[Span] = (),
    *,
    markdown: bool = True,
    multiline: bool = False,
) -> str:
    """`text` made inert for Discord; `spans` (markdown places only) come out in bold.

    Control characters become spaces (and newlines too unless `multiline`), so span
    offsets into `text` stay valid.
    """
    bold = merge_spans(spans, text) if markdown else []
    starts = {s.start for s in bold}
    ends = {s.end for s in bold}
    zwsp = _zwsp_before(text)
    out: list[str] = []
    line_start = True
    index = 0
    length = len(text)
    while index < length:
        ch = text[index]
        if ch == "\n" and not multiline:
            ch = " "
        elif ch != "\n" and _is_control(ch):
            ch = " "
        if index in starts:
            out.append(BOLD)
        if index in zwsp:
            out.append(ZWSP)
        if markdown and line_start and ch not in " \t\n":
            ordered = _ORDERED_ITEM.match(text, index)
            if ordered and not (starts | ends).intersection(range(index + 1, ordered.end() + 1)):
                # "1. item": escape the dot that makes a list.
                digits = text[index : ordered.end()]
                out.append(digits + "\\.")
                index = ordered.end() + 1
                line_start = False
                if index in ends:
                    out.append(BOLD)
                continue
            if ch in _LINE_START:
                out.append("\\")
        if markdown and ch in _ALWAYS:
            out.append("\\")
        out.append(ch)
        if ch == "\n":
            line_start = True
        elif ch not in " \t":
            line_start = False
        index += 1
        if index in ends:
            out.append(BOLD)
    return "".join(out)


def _clip(spans: Sequence[Span], end: int) -> list[Span]:
    return [Span(s.start, min(s.end, end)) for s in spans if s.start < end]


def fit(
    text: str,
    limit: int,
    spans: Sequence[Span] = (),
    *,
    markdown: bool = True,
    multiline: bool = False,
) -> str:
    """`escape(text)` when it fits `limit` (UTF-16 units), else the longest escaped
    prefix (cut at a word when one is near) plus an ellipsis.

    The raw text is cut before escaping, so an escape is never split in half.
    """

    def render(n: int) -> str:
        return escape(text[:n], _clip(spans, n), markdown=markdown, multiline=multiline)

    full = render(len(text))
    if width(full) <= limit:
        return full
    budget = limit - width(ELLIPSIS)
    if budget <= 0:
        return ELLIPSIS[: max(0, limit)]
    low, high = 0, len(text)
    while low < high:  # escaped width grows with the prefix: binary search it
        mid = (low + high + 1) // 2
        if width(render(mid)) <= budget:
            low = mid
        else:
            high = mid - 1
    cut = low
    space = text.rfind(" ", 0, cut + 1)
    if space > 0 and space >= cut - 40:
        cut = space
    head = text[:cut].rstrip()
    return render(len(head)) + ELLIPSIS


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) collapsed to single spaces."""
    return " ".join(text.split())
