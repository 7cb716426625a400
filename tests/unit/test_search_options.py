"""Search options (`bot.search.parse_search`): options out, the rest is a subscription query."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.query import QueryError
from bot.search import SearchOptions, parse_search

TODAY = dt.date(2024, 11, 20)


def parse(text: str):
    return parse_search(text, today=TODAY)


def test_options_anywhere_outside_quotes() -> None:
    req = parse("speculative decoding since:30d has:code min-upvotes:5 limit:20")
    assert req.terms == "speculative decoding"
    assert req.options == SearchOptions(
        since=dt.date(2024, 10, 21), min_upvotes=5, has_code=True, limit=20
    )
    assert [t.text for t in req.query.terms] == ["speculative decoding"]
    req = parse('until:2024-11-01 LoRA, "since:30d" (MoE limit:3)')
    assert req.options == SearchOptions(until=dt.date(2024, 11, 1), limit=3)
    assert [t.text for t in req.query.terms] == ["LoRA", "since:30d", "MoE"]
    assert req.terms == 'LoRA, "since:30d" (MoE )'
    assert parse("LoRA SINCE:2w Has:CODE").options == SearchOptions(
        since=dt.date(2024, 11, 6), has_code=True
    )


@pytest.mark.parametrize(
    ("value", "day"),
    [("1d", dt.date(2024, 11, 19)), ("3m", dt.date(2024, 8, 22)), ("1y", dt.date(2023, 11, 21)),
     ("2024-02-29", dt.date(2024, 2, 29)), ("0d", TODAY)],
)  # fmt: skip
def test_dates(value: str, day: dt.date) -> None:
    assert parse(f"LoRA since:{value}").options.since == day


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("LoRA since:yesterday", 12, "since: takes"),
        ("LoRA since:2024-02-30", 12, "since: takes"),
        ("LoRA since:", 12, "needs a value"),
        ("LoRA limit:0", 12, "between 1 and 100"),
        ("LoRA limit:101", 12, "between 1 and 100"),
        ("LoRA limit:ten", 12, "whole number"),
        ("LoRA min-upvotes:-1", 18, "whole number"),
        ("LoRA has:paper", 10, "has:code"),
        ("LoRA since:1d since:2d", 15, "given twice"),
        ("LoRA -since:1d", 6, "cannot be negated"),
        ("since:1d", 1, "give some words"),
        ("LoRA since:2024-11-02 until:2024-11-01", 1, "after until"),
        ("LoRA sinse:30d", 6, "unknown field"),
        ('LoRA "x since:1d', 6, "unclosed quote"),
        ("x" * 401, 401, "at most"),
    ],
)
def test_errors_point_at_the_problem(text: str, column: int, words: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    assert info.value.column == column
    assert words in info.value.message


def test_unknown_field_error_mentions_search_options() -> None:
    with pytest.raises(QueryError, match="since:30d"):
        parse("LoRA sinse:30d")
