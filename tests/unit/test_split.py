"""The shared splitter: every message within limits, order kept, nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboy_adapters.split import ItemTooLarge, pack

LIMITS = {"blocks": 50, "chars": 6000}


def cost(item: tuple[int, int]) -> dict[str, int]:
    return {"blocks": item[0], "chars": item[1]}


items_strategy = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 3000)), max_size=200)


@given(items_strategy, st.integers(0, 5), st.integers(0, 1000))
def test_packs_within_limits_in_order(items, reserve_blocks, reserve_chars) -> None:
    reserve = {"blocks": reserve_blocks, "chars": reserve_chars}
    result = pack(items, cost, LIMITS, reserve=reserve)
    assert [i for m in result.messages for i in m] == items
    assert result.overflow == []
    for message in result.messages:
        assert sum(b for b, _ in message) + reserve_blocks <= 50
        assert sum(c for _, c in message) + reserve_chars <= 6000


@given(items_strategy, st.integers(1, 4))
def test_max_messages_overflow_keeps_everything(items, max_messages) -> None:
    result = pack(items, cost, LIMITS, max_messages=max_messages)
    assert len(result.messages) <= max_messages
    assert [i for m in result.messages for i in m] + result.overflow == items


def test_greedy_uses_few_messages() -> None:
    result = pack([(3, 10)] * 40, cost, LIMITS, reserve={"blocks": 2})
    assert [len(m) for m in result.messages] == [16, 16, 8]


def test_first_message_reserve_function() -> None:
    result = pack([(10, 0)] * 10, cost, LIMITS, reserve=lambda i: {"blocks": 20 if i == 0 else 0})
    assert [len(m) for m in result.messages] == [3, 5, 2]


def test_empty_input_gives_one_empty_message() -> None:
    assert pack([], cost, LIMITS).messages == [[]]


def test_oversized_item_raises() -> None:
    with pytest.raises(ItemTooLarge):
        pack([(51, 0)], cost, LIMITS)
    with pytest.raises(ItemTooLarge):
        pack([(1, 5000)], cost, LIMITS, reserve={"chars": 2000})
