"""Untrusted text -> Slack mrkdwn that stays text. Pure functions, no I/O.

Slack's mrkdwn has no backslash escape, so the strategy is escape-free:

* `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` (Slack's own rule), so `<!channel>`,
  `<@U1>`, `<#C1>` or `<http://x|label>` in a title shows as written and is never a
  mention or a link.
* The formatting characters `*`, `_`, `~` and the backtick are replaced by look-alikes
  (U+2217 ∗, U+02CD ˍ, U+223C ∼, U+02CB ˋ). Untrusted text then contains no
  character Slack formats with, so it cannot open, close or break the renderer's
  own `*bold*` (a lone `*` in an abstract would otherwise pair with ours).
* All whitespace (newlines included) collapses to single spaces and control and
  bidi-override characters are dropped, so untrusted text never starts a line
  (a line-leading `>` would be a quote) nor reorders what follows it.
* Bold markers get a zero-width space on the outside when a letter or digit is
  adjacent, since Slack formats only at word boundaries (`Q*LoRA*` stays literal).
* Links: only http(s) URLs with a host, percent-encoded so `|`, `<`, `>` and spaces
  cannot end the `<url|label>` early; anything else renders as plain text. A `|` in
  a link's label becomes U+2223 ∣.

Every text object that carries untrusted text is sent with `verbatim: true`, which
also turns off Slack's auto-linking of bare URLs, channel names and `@here`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from paperboy.models import Span
from paperboy_adapters.slack.limits import URL_LENGTH, slack_len

ELLIPSIS = "…"
ZWSP = "\u200b"
DIVIDES = "\u2223"  # ∣ stands in for "|" inside a link label
LOOKALIKES = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Bidi embeddings/overrides/isolates: they could visually reorder the renderer's text.
_BIDI = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
# Kept as they are when a URL is percent-encoded (`%` so existing escapes survive).
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


def _char(c: str) -> str:
    """One untrusted character as it may appear in mrkdwn ('' drops it, ' ' is a break)."""
    if c in _ENTITIES:
        return _ENTITIES[c]
    if c in LOOKALIKES:
        return LOOKALIKES[c]
    if c.isspace():
        return " "
    if c in _BIDI or unicodedata.category(c) in {"Cc", "Cs"}:
        return ""
    return c


def escape(text: str) -> str:
    """`&`, `<`, `>` as entities; nothing else changed (for text the renderer trusts)."""
    return "".join(_ENTITIES.get(c, c) for c in text)


def unescape(text: str) -> str:
    """Undo Slack's three entities (Slack escapes them in slash-command text)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def plain(raw: str) -> str:
    """Untrusted text as inert mrkdwn (no length limit)."""
    return fit(raw, None)


def fit(raw: str, limit: int | None) -> str:
    """Untrusted text as inert mrkdwn of at most `limit` (UTF-16) characters."""
    return emphasised(raw, (), limit)


def emphasised(raw: str, spans: Sequence[Span], limit: int | None) -> str:
    """Untrusted text as inert mrkdwn with `spans` (offsets into `raw`) in bold.

    Cut at a word with an ellipsis when longer than `limit`; a bold run cut short
    stays well-formed (closed before the ellipsis).
    """
    runs, complete = _runs(raw, spans, None if limit is None else limit + 8)
    text = _join(runs)
    if complete and (limit is None or slack_len(text) <= limit):
        return text
    return _cut(runs, limit if limit is not None else slack_len(text))


def _runs(
    raw: str, spans: Sequence[Span], enough: int | None = None
) -> tuple[list[tuple[str, bool]], bool]:
    """Mapped characters grouped into (text, bold) runs; whitespace collapsed, edges trimmed.

    Stops once more than `enough` characters are out (the caller cuts anyway):
    the second value says whether all of `raw` was read.
    """
    intervals: list[list[int]] = []  # spans sorted and merged: disjoint, increasing
    for start, end in sorted((s.start, s.end) for s in spans if s.end > s.start):
        if intervals and start <= intervals[-1][1]:
            intervals[-1][1] = max(intervals[-1][1], end)
        else:
            intervals.append([start, end])
    out: list[tuple[str, bool]] = []  # (mapped text, bold)
    last_space = True  # at the start: leading spaces dropped
    emitted = 0
    complete = True
    span_index = 0
    for i, c in enumerate(raw):
        if enough is not None and emitted > enough:
            complete = False
            break
        while span_index < len(intervals) and intervals[span_index][1] <= i:
            span_index += 1
        bold = span_index < len(intervals) and intervals[span_index][0] <= i
        mapped = _char(c)
        if not mapped:
            continue
        if mapped == " ":
            if last_space:
                continue
            last_space = True
            bold = False  # a bold run never starts or ends with a space
        else:
            last_space = False
        emitted += len(mapped)
        if out and out[-1][1] == bold:
            out[-1] = (out[-1][0] + mapped, bold)
        else:
            out.append((mapped, bold))
    runs = out
    # Merge "bold, space, bold" into one bold run ("pipeline parallelism").
    merged: list[tuple[str, bool]] = []
    for text, bold in runs:
        if bold and len(merged) >= 2 and merged[-1] == (" ", False) and merged[-2][1]:
            merged.pop()
            prev, _ = merged.pop()
            merged.append((prev + " " + text, True))
        else:
            merged.append((text, bold))
    if merged and not merged[-1][1]:
        text = merged[-1][0].rstrip(" ")
        merged[-1] = (text, False)
        if not text:
            merged.pop()
    return merged, complete


def _bold(text: str, before: str, after: str) -> str:
    left = ZWSP if before and before[-1].isalnum() else ""
    right = ZWSP if after and after[0].isalnum() else ""
    return f"{left}*{text}*{right}"


def _join(runs: Sequence[tuple[str, bool]]) -> str:
    parts: list[str] = []
    for i, (text, bold) in enumerate(runs):
        if bold:
            before = runs[i - 1][0] if i > 0 else ""
            after = runs[i + 1][0] if i + 1 < len(runs) else ""
            parts.append(_bold(text, before, after))
        else:
            parts.append(text)
    return "".join(parts)


def _cut(runs: Sequence[tuple[str, bool]], limit: int) -> str:
    """The longest prefix of `runs` (cut at a word when sensible) that fits with an ellipsis."""
    budget = limit - slack_len(ELLIPSIS)
    if budget <= 0:
        return ""
    kept: list[tuple[str, bool]] = []
    for text, bold in runs:
        candidate = [*kept, (text, bold)]
        if slack_len(_join(candidate)) <= budget:
            kept = candidate
            continue
        # Largest prefix of this run that fits (entities are never split).
        pieces = _entity_pieces(text)
        lo, hi = 0, len(pieces)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            head = "".join(pieces[:mid]).rstrip(" ")
            trial = [*kept, (head, bold)] if head else kept
            if slack_len(_join(trial) + ELLIPSIS) <= limit:
                lo = mid
            else:
                hi = mid - 1
        head = "".join(pieces[:lo])
        space = head.rfind(" ")
        if space >= len(head) // 2 and lo < len(pieces):
            head = head[:space]
        head = head.rstrip(" ")
        if head:
            kept.append((head, bold))
        break
    while kept and not kept[-1][1] and not kept[-1][0].strip():
        kept.pop()
    return (_join(kept) + ELLIPSIS) if kept else ELLIPSIS


def _entity_pieces(text: str) -> list[str]:
    """`text` split into characters, keeping `&amp;` etc. whole."""
    pieces: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "&":
            end = text.find(";", i)
            if end != -1 and text[i : end + 1] in _ENTITIES.values():
                pieces.append(text[i : end + 1])
                i = end + 1
                continue
        pieces.append(text[i])
        i += 1
    return pieces


def safe_url(url: str | None) -> str | None:
    """`url` percent-encoded if it is an http(s) URL with a host, else None."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if any(c.isspace() or unicodedata.category(c) in {"Cc", "Cf", "Cs"} for c in url):
        return None
    encoded = quote(url, safe=_URL_SAFE)
    try:
        parts = urlsplit(encoded)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if len(encoded) > URL_LENGTH:
        return None
    return encoded


def link(url: str | None, label: str) -> str:
    """`<url|label>` for a safe URL (label already mrkdwn), else the label alone."""
    safe = safe_url(url)
    if safe is None:
        return label
    # A second "|" inside the label is not specified by Slack: use a look-alike.
    return f"<{escape(safe)}|{label.replace('|', DIVIDES)}>"


def guard_line(line: str) -> str:
    """A line of mrkdwn that cannot start a quote (`&gt;` first would)."""
    return ZWSP + line if line.startswith("&gt;") else line
