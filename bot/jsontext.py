"""JSON as text, fast: orjson with the standard library's answers.

A morning's fan-out writes every digest part to the outbox as JSON, reads it back to send
it and serializes it again for the platform's API: with the standard `json` module that
was a fifth of the bot's CPU at 10,000 channels (docs/benchmarks.md, "Fan-out"). orjson
does the same work several times faster. Where its answers differ from `json`'s, `json`
answers:

- what `json` refuses (sets, bytes, datetimes, dataclasses, objects, keys that are not
  strings) raises TypeError here too: the planner's "is this part JSON?" check relies on
  it. Two gaps are left, as orjson cannot be told to refuse them: a plain `Enum` member
  and a `uuid.UUID` are written as their value (nothing the bot renders holds either);
- integers beyond 64 bits and NaN / Infinity are written by `json`, and NaN / Infinity
  read by it. One gap is left on reading: orjson reads an integer beyond 64 bits as a
  float. Nothing the bot stores or is sent holds one (vote and star counts are clamped at
  ingest to 2**31 - 1, platform ids are strings or fit), and guarding every read against
  it (a scan of the text for long digit runs) would cost five times the parse.

orjson's text is compact UTF-8 (`["Zoë","B. Li"]`), not `json.dumps`'s spaced ASCII, so
the database's JSON columns are written by the standard library (`column_dumps`): the
papers' upsert compares the stored text to decide whether a paper changed. Only the
outbox's parts, written and read once per message and never compared, are written here
(`Serialized`, through the outbox's column type).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> str:
    """`json.dumps(value)` (the same data; compact, non-ASCII written as UTF-8).

    Raises TypeError for what `json.dumps` refuses (see the module docstring).
    """
    try:
        text = orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits (json writes them), non-string keys and deep nesting
        # (json decides); anything else json refuses as well.
        return json.dumps(value)
    if "null" in text and _has_nonfinite(value):
        return json.dumps(value)  # NaN / Infinity: orjson would write null
    return text


def dumps_bytes(value: Any) -> bytes:
    """`dumps(value)` as UTF-8 bytes (an HTTP body: no detour through a str)."""
    try:
        data = orjson.dumps(value, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode()
    if b"null" in data and _has_nonfinite(value):
        return json.dumps(value).encode()
    return data


def check(value: Any) -> None:
    """Raise TypeError (or ValueError) where `json.dumps(value)` would; nothing else."""
    try:
        orjson.dumps(value, option=_OPTIONS)
    except orjson.JSONEncodeError:
        json.dumps(value)  # a 65-bit integer is JSON; a set or a datetime raises


def _has_nonfinite(value: Any) -> bool:
    """Whether `value` holds NaN or an infinity (orjson writes them as null)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_nonfinite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nonfinite(v) for v in value)
    return False


def loads(text: str | bytes) -> Any:
    """`json.loads(text)`; NaN / Infinity (which only `json` writes) are read by `json`
    (an integer beyond 64 bits is read as a float: see the module docstring)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class Serialized:
    """JSON text made already, for a JSON column: `column_dumps` writes it as it is.

    Not a str, so that an engine whose serializer does not know it fails loudly
    (`json.dumps` refuses it) instead of storing the text as a JSON string.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def column_dumps(value: Any) -> str:
    """The database engine's JSON serializer: `json.dumps`, or a `Serialized` as it is."""
    if isinstance(value, Serialized):
        return value.text
    return json.dumps(value)
