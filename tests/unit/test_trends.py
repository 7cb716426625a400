"""Weekly counts, weeks and rising terms (pure), against hand-computed values."""

from __future__ import annotations

import datetime as dt

import pytest

from paperboy.matching import parse
from paperboy.models import Paper
from paperboy.trends import iso_week, parse_week, rising_terms, weekly_counts, weeks_ending
from paperboy.trends.weeks import paper_week
from tests.trend_archive import ARCHIVE, LORA_BERLIN, LORA_UTC, WEEKS


def test_iso_weeks_across_the_year_boundary() -> None:
    assert iso_week(dt.date(2025, 12, 28)) == "2025-W52"
    assert iso_week(dt.date(2025, 12, 29)) == "2026-W01"
    assert iso_week(dt.date(2027, 1, 1)) == "2026-W53"  # 2026 has 53 ISO weeks
    assert parse_week("2026-W01") == dt.date(2025, 12, 29)
    assert parse_week("2026-W53") == dt.date(2026, 12, 28)
    weeks = weeks_ending(dt.date(2026, 1, 7), 3)
    assert [iso_week(w) for w in weeks] == WEEKS


@pytest.mark.parametrize(
    "bad",
    ["2026-W54", "2025-W53", "2026-W00", "2026W01", "26-W01", "", "9999-W52", "0001-W01"],
)
def test_bad_weeks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_week(bad)


@pytest.mark.parametrize(("tz", "expected"), [("UTC", LORA_UTC), ("Europe/Berlin", LORA_BERLIN)])
def test_counts_per_week_match_hand_computed(tz: str, expected: list[int]) -> None:
    mondays = weeks_ending(dt.date(2026, 1, 7), 3)
    counts = weekly_counts(ARCHIVE, {"lora": parse("LoRA")}, mondays, tz)
    assert counts == {"lora": expected}


def test_the_channel_time_zone_decides_a_paper_near_midnight() -> None:
    paper, seen = ARCHIVE[1]
    assert iso_week(paper_week(paper, seen, "UTC")) == "2025-W52"  # type: ignore[arg-type]
    assert iso_week(paper_week(paper, seen, "Europe/Berlin")) == "2026-W01"  # type: ignore[arg-type]
    assert iso_week(paper_week(paper, seen, "America/New_York")) == "2025-W52"  # type: ignore[arg-type]


def test_counts_follow_the_matching_rules() -> None:
    mondays = weeks_ending(dt.date(2026, 1, 7), 3)
    counts = weekly_counts(
        ARCHIVE,
        {"phrase": parse('"low rank adaptation"'), "rl": parse("reinforcement learning")},
        mondays,
        "UTC",
    )
    # "Low-rank adaptation" reads as the phrase; "reinforcement learning" is a phrase too.
    assert counts == {"phrase": [0, 0, 1], "rl": [0, 1, 0]}


def _p(pid: str, title: str) -> Paper:
    return Paper(pid, title)


def test_rising_terms_grow_against_the_previous_weeks() -> None:
    current = [
        _p("1", "Speculative decoding at scale"),
        _p("2", "Faster speculative decoding"),
        _p("3", "Speculative decoding for LoRA"),
        _p("4", "Diffusion transformers"),
    ]
    previous = [
        [_p("a", "Diffusion transformers again"), _p("b", "Diffusion models")],
        [_p("c", "Diffusion transformers, third")],
        [],
        [_p("d", "Speculative sampling")],
    ]
    rises = rising_terms(current, previous)
    assert rises[0].term == "speculative decoding"
    assert (rises[0].count, rises[0].previous) == (3, 0.0)
    terms = [r.term for r in rises]
    # Explained by the phrase (the same count): not listed again on their own.
    assert "decoding" not in terms and "speculative" not in terms
    assert "diffusion" not in terms  # 1 paper now, below the minimum of 2
