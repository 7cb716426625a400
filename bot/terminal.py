"""Text from untrusted sources made safe to show in a terminal (and in plain text).

Paper titles, error bodies of remote servers, users' queries and channel names may hold
control characters: an ESC starts a sequence that recolours the terminal, moves the
cursor or plants a clickable OSC 8 link; C1 controls (U+0080-U+009F) do the same on some
terminals; bidirectional overrides (U+202A-U+202E, U+2066-U+2069) make text read in
another order than it is written. None of them may reach a terminal raw.

- :func:`terminal_safe` replaces each such character by one visible character (C0 by
  its Unicode "control picture", ESC as ␛; DEL as ␡; C1 and bidi controls as U+FFFD).
  It keeps the text's length, so highlight spans computed on the original still fit.
- :func:`json_safe` escapes the same characters as ``\\uXXXX`` inside a JSON document:
  the data stays exactly the same, only its spelling changes.
- :class:`SafeFormatter` is a logging formatter that does the former for every record.

Rich markup is a separate matter: data goes into `rich.text.Text` objects (or is printed
with ``markup=False``), never into a string Rich parses as markup.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["BIDI_CONTROLS", "SafeFormatter", "json_safe", "terminal_safe", "unsafe_chars"]

BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
"""Embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI)."""

REPLACEMENT = "\ufffd"

_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}  # ␀ ... ␟ (ESC: ␛)
_TABLE[0x7F] = "\u2421"  # ␡
_TABLE.update({c: REPLACEMENT for c in range(0x80, 0xA0)})
_TABLE.update({ord(c): REPLACEMENT for c in BIDI_CONTROLS})

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")


def unsafe_chars(text: str, keep: str = "") -> list[str]:
    """The characters of `text` a terminal must not get raw (those in `keep` allowed)."""
    return [ch for ch in _UNSAFE.findall(text) if ch not in keep]


def terminal_safe(text: str, keep: str = "") -> str:
    """`text` with every control and bidi-override character made visible and inert.

    `keep` lists the characters layout needs (for example "\\n\\t" for a multi-line
    reply); everything else of C0, DEL, C1 and the bidi controls is replaced, one
    character for one.
    """
    if not _UNSAFE.search(text):
        return text
    if not keep:
        return text.translate(_TABLE)
    table = {c: r for c, r in _TABLE.items() if chr(c) not in keep}
    return text.translate(table)


def json_safe(document: str) -> str:
    """A JSON document with DEL, C1 and bidi controls written as ``\\uXXXX`` escapes.

    `json.dumps(..., ensure_ascii=False)` escapes C0 itself but leaves these raw; inside
    a JSON document they can only occur in strings, where the escape means the same.
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", document)


class SafeFormatter(logging.Formatter):
    """A formatter whose lines never carry control characters from the data they log.

    A record's message is one line (a newline in logged data is shown as ␊, so data
    cannot forge a second record); a traceback keeps its own line breaks.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return terminal_safe(super().formatException(ei), keep="\n")

    def formatStack(self, stack_info: str) -> str:
        return terminal_safe(super().formatStack(stack_info), keep="\n")
