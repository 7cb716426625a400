"""Trends, pure: papers per ISO week, rising terms, the weekly rollup's data and its chart.

- `weeks`: ISO weeks (`2026-W48`), a paper's week in a time zone;
- `counts`: papers per week matching queries (the one `Matcher`, so counts follow the
  matching rules exactly);
- `terms`: the words and phrases of a set of papers, and those that rose;
- `chart`: the PNG (matplotlib, Agg backend, imported only when a chart is drawn);
- `rollup`: a channel's weekly rollup as platform-neutral data, and its JSON.
"""

from paperboy.trends.chart import ChartData, ChartSeries, plotted_series, render_png
from paperboy.trends.counts import papers_by_week, weekly_counts
from paperboy.trends.rollup import (
    ROLLUP_PAYLOAD,
    ROLLUP_TOP,
    RisingTerm,
    Rollup,
    RollupEntry,
    SubscriptionCount,
    rollup_from_json,
    rollup_text,
    rollup_to_json,
)
from paperboy.trends.terms import rising_terms, terms_of
from paperboy.trends.weeks import (
    check_day,
    iso_week,
    paper_moment,
    paper_week,
    parse_week,
    week_range,
    weeks_ending,
)

__all__ = [
    "ROLLUP_PAYLOAD",
    "ROLLUP_TOP",
    "ChartData",
    "ChartSeries",
    "RisingTerm",
    "Rollup",
    "RollupEntry",
    "SubscriptionCount",
    "check_day",
    "iso_week",
    "paper_moment",
    "paper_week",
    "papers_by_week",
    "parse_week",
    "plotted_series",
    "render_png",
    "rising_terms",
    "rollup_from_json",
    "rollup_text",
    "rollup_to_json",
    "terms_of",
    "week_range",
    "weekly_counts",
    "weeks_ending",
]
