"""Search options (`paperboy.search.request.parse_search`): options out, the rest a query."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperboy.matching import QueryError
from paperboy.search import SearchOptions, parse_search

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


# --- numbers and dates at and beyond their limits (issue #10, item 2) -------------------


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("LoRA since:3000y", 12, "goes back at most 2025y"),
        ("LoRA until:3000y", 12, "goes back at most 2025y"),
        ("LoRA since:99999y", 12, "goes back at most"),
        ("LoRA since:99999m", 12, "goes back at most 24640m"),
        ("LoRA until:99999y", 12, "until: goes back at most"),
        ("LoRA since:739000d", 12, "since: takes"),  # six digits
        ("LoRA since:0000-01-01", 12, "since: takes"),  # there is no year 0
        ("LoRA until:10000-01-01", 12, "until: takes"),
        ("LoRA since:2024-W01-1", 12, "since: takes"),  # ISO week dates are not dates here
        ("LoRA since:+2024-11-01", 12, "since: takes"),
        ("LoRA since:-5d", 12, "since: takes"),
        ("LoRA since:٣d", 12, "since: takes"),  # not an ASCII digit
        ("LoRA since:²d", 12, "since: takes"),
        ("LoRA limit:-1", 12, "whole number"),
        ("LoRA limit:" + "9" * 200, 12, "whole number"),
        ("LoRA limit:1e3", 12, "whole number"),
        ("LoRA limit:٣", 12, "whole number"),
        ("LoRA min-upvotes:1000001", 18, "between 0 and 1000000"),
        ("LoRA min-upvotes:999999999", 18, "between 0 and 1000000"),
        ("LoRA min-upvotes:9999999999", 18, "whole number"),
        ("LoRA min-upvotes:²", 18, "whole number"),
    ],
)
def test_out_of_range_numbers_are_errors_with_a_column(text: str, column: int, words: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    assert info.value.column == column
    assert words in info.value.message


def test_the_furthest_dates_there_are() -> None:
    furthest = TODAY.toordinal() - 1  # days back to 0001-01-01
    assert parse(f"LoRA since:{furthest // 365}y").options.since.year == 1
    with pytest.raises(QueryError, match="at most 2025y"):
        parse(f"LoRA since:{furthest // 365 + 1}y")
    options = parse("LoRA since:0001-01-01 until:9999-12-31").options
    assert (options.since, options.until) == (dt.date.min, dt.date.max)
    assert parse("LoRA since:9999-12-31").options.since == dt.date.max
    assert parse("LoRA min-upvotes:1000000 limit:100").options == SearchOptions(
        min_upvotes=1_000_000, limit=100
    )


@given(
    st.sampled_from(["since", "until", "limit", "min-upvotes", "has"]),
    st.one_of(
        st.integers(-(10**30), 10**30).map(str),
        st.builds("{}{}".format, st.integers(0, 10**7), st.sampled_from("dwmyDWMYx")),
        st.dates().map(dt.date.isoformat),
        st.from_regex(r"[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}", fullmatch=True),
        st.text(max_size=30),
    ),
)
@hypothesis_settings(max_examples=500, deadline=None)
def test_any_option_value_is_an_answer_or_an_error_with_a_column(name: str, value: str) -> None:
    text = f"LoRA {name}:{value}"
    try:
        request = parse(text)
    except QueryError as error:
        assert 1 <= error.column <= len(text) + 1
        return
    since, until = request.options.since, request.options.until
    for day in (since, until):
        assert day is None or dt.date.min <= day <= dt.date.max
