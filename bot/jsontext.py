"""JSON as text, fast: orjson with the standard library's behaviour kept.

A morning's fan-out writes every digest part to the outbox as JSON, reads it back to send
it and serializes it again for the platform's API: with the standard `json` module that
was a fifth of the bot's CPU at 10,000 channels. orjson does the same work several times
faster. Its defaults differ from `json`'s in a few places, which are kept as `json` has
them, so that what the store holds and what a platform receives does not change:

- datetimes and dataclasses are not JSON to `json`: they raise here too (the planner's
  "is this part JSON?" check relies on it);
- numbers orjson refuses (integers beyond 64 bits) and the non-standard NaN / Infinity
  that `json` reads and writes go through `json` itself.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any) -> str:
    """`json.dumps(value)` (same data; non-ASCII characters are written as UTF-8).

    Raises TypeError for what `json.dumps` refuses (sets, datetimes, objects).
    """
    try:
        text = orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits (json writes them); anything else json refuses as well.
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
    """`json.loads(text)`; NaN / Infinity (which only `json` writes) are read too."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
