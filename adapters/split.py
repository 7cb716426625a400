"""The one splitter: packs rendered items into as few messages as the limits allow.

Renderers measure each item (a paper's blocks or embed) along the dimensions their
platform limits — Slack: blocks per message; Discord: embeds per message and
characters over all embeds — and this module packs them in order. An item must fit
an empty message on its own (renderers truncate fields first); one that cannot is a
renderer bug and raises. Nothing is dropped silently: items past `max_messages` come
back as `overflow`, for an "and N more" line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Cost = Mapping[str, int]


class ItemTooLarge(ValueError):
    """An item exceeds a limit even in an otherwise empty message."""


@dataclass(frozen=True)
class Packing(Generic[T]):
    messages: list[list[T]]
    overflow: list[T] = field(default_factory=list)


def _fits(used: dict[str, int], cost: Cost, limits: Cost) -> bool:
    return all(used.get(k, 0) + v <= limits.get(k, v) for k, v in cost.items() if v)


def _add(used: dict[str, int], cost: Cost) -> None:
    for k, v in cost.items():
        used[k] = used.get(k, 0) + v


def pack(
    items: Sequence[T],
    cost: Callable[[T], Cost],
    limits: Cost,
    *,
    reserve: Cost | Callable[[int], Cost] = {},  # noqa: B006 - read-only default
    max_messages: int | None = None,
) -> Packing[T]:
    """Pack `items` greedily, in order, into messages within `limits`.

    `reserve` is the room every message keeps for its own header/footer (or a
    function of the message index, since the first message often has a header).
    Dimensions missing from `limits` are unlimited.
    """
    if max_messages is not None and max_messages < 1:
        raise ValueError("max_messages must be at least 1")

    def reserved(index: int) -> Cost:
        return reserve(index) if callable(reserve) else reserve

    messages: list[list[T]] = []
    current: list[T] = []
    used: dict[str, int] = dict(reserved(0))
    for position, item in enumerate(items):
        item_cost = cost(item)
        if current and not _fits(used, item_cost, limits):
            messages.append(current)
            if max_messages is not None and len(messages) >= max_messages:
                return Packing(messages, list(items[position:]))
            current, used = [], dict(reserved(len(messages)))
        if not _fits(used, item_cost, limits):
            over = {k: v for k, v in item_cost.items() if used.get(k, 0) + v > limits.get(k, v)}
            raise ItemTooLarge(f"item {position} does not fit an empty message: {over}")
        current.append(item)
        _add(used, item_cost)
    if current or not messages:
        messages.append(current)
    return Packing(messages)
