"""Text helpers shared by the summaries: cutting at a word, cleaning model output."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def cut_at_word(text: str, limit: int) -> str:
    """`text` if it fits, else cut at the last space before `limit` with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def one_line(text: str) -> str:
    """White space runs (newlines too) as one space; control and format characters
    (bidi overrides, zero-width joiners aside) dropped."""
    kept = "".join(
        ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cf"} or ch == "\u200d"
    )
    return _SPACES.sub(" ", kept).strip()


def clean_part(text: object, limit: int) -> str:
    """Model output made one plain line within `limit` characters (it is untrusted: the
    renderers escape it like any paper text; this only bounds its shape and size)."""
    if not isinstance(text, str):
        return ""
    return cut_at_word(one_line(text), limit)
