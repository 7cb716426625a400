"""Where papers come from. Every source yields `Paper`s for a day.

Also what every source shares: `SourceError`, the `Sleep` hook tests replace,
`DEFAULT_MAX_BYTES` (the cap on what a source reads, a response or a file) and
`clean_text()` for text a source did not write.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.models import Paper

#: Default of `PAPERBOY_HTTP_MAX_BYTES`: the largest response (decoded) or papers file a
#: source reads.
DEFAULT_MAX_BYTES = 50_000_000

#: How a source waits (`asyncio.sleep`; tests pass one that returns at once).
Sleep = Callable[[float], Awaitable[object]]

# C0 and C1 controls and DEL (they break databases and terminals), and the
# bidirectional embeddings, overrides and isolates (they reorder what a reader sees).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Lone surrogates cannot be encoded as UTF-8 at all.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(value: object, limit: int | None = None) -> str:
    """Untrusted text (a paper's fields, a server's error) as one clean line.

    Control and bidirectional-formatting characters become spaces, lone surrogates
    U+FFFD, whitespace runs collapse to one space; past `limit` characters the text is
    cut, marked with "...". Anything that is not a string reads as "".
    """
    if not isinstance(value, str):
        return ""
    line = " ".join(_SURROGATE.sub("\ufffd", _UNSAFE.sub(" ", value)).split())
    if limit is None or len(line) <= limit:
        return line
    return line[: max(limit - 3, 0)].rstrip() + "..."


class SourceError(Exception):
    """A source could not deliver (after its retries); the message is one line for a user."""


class PaperSource(Protocol):
    name: str

    async def fetch_day(self, day: dt.date | None) -> list[Paper]:
        """The papers listed for `day` (None: the source's latest day)."""
