"""A Digest as plain JSON data and back: what the outbox keeps of a digest no adapter has
rendered yet (or whose rendering is not JSON, like the console's).

pydantic's TypeAdapter reads the dataclasses themselves (`paperboy.models`), so a field
added to Digest, DigestEntry or Paper is stored and read back without a codec to keep
in step; a Paper read back is cut to its caps by its own `__post_init__`, as when made.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from paperboy.models import Digest

__all__ = ["digest_from_json", "digest_to_json"]

_SPAN_FIELDS = ("summary_highlights", "title_highlights")


@functools.cache
def _adapter() -> TypeAdapter[Digest]:
    """Built on first use: the schema is made once per process, not at import."""
    return TypeAdapter(Digest)


def digest_to_json(digest: Digest) -> dict[str, Any]:
    """A Digest as plain JSON data (kept until an adapter renders it)."""
    return _adapter().dump_python(digest, mode="json")


def digest_from_json(data: Mapping[str, Any]) -> Digest:
    """The Digest `digest_to_json` made (or an older release made: spans as pairs)."""
    return _adapter().validate_python(_spans_as_objects(data))


def _spans_as_objects(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Outbox rows written before this codec keep highlight spans as [start, end] pairs."""
    entries = data.get("entries") or ()
    if not any(
        isinstance(span, list | tuple)
        for entry in entries
        for name in _SPAN_FIELDS
        for span in entry.get(name) or ()
    ):
        return data
    return {
        **data,
        "entries": [
            {
                **entry,
                **{
                    name: [
                        {"start": span[0], "end": span[1]}
                        if isinstance(span, list | tuple)
                        else span
                        for span in entry.get(name) or ()
                    ]
                    for name in _SPAN_FIELDS
                },
            }
            for entry in entries
        ],
    }
