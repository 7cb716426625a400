"""Papers per week matching queries: one compiled `Matcher`, the matching rules exactly.

CPU only (the callers run it in a worker thread): the papers come in with the time the
archive first saw them, are bucketed into weeks (`weeks.paper_week`) and matched once
against every query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping, Sequence

from paperboy.matching import Matcher, Query
from paperboy.models import Paper
from paperboy.trends.weeks import paper_week

Sighted = tuple[Paper, dt.datetime | None]


def papers_by_week(
    papers: Sequence[Sighted], weeks: Sequence[dt.date], tz: str
) -> dict[dt.date, list[Paper]]:
    """The papers of each week in `weeks` (Mondays), in the time zone `tz`."""
    wanted: dict[dt.date, list[Paper]] = {monday: [] for monday in weeks}
    for paper, seen in papers:
        monday = paper_week(paper, seen, tz)
        if monday is not None and monday in wanted:
            wanted[monday].append(paper)
    return wanted


def weekly_matches(
    papers: Sequence[Sighted],
    queries: Mapping[Hashable, Query],
    weeks: Sequence[dt.date],
    tz: str,
) -> dict[Hashable, dict[dt.date, list[Paper]]]:
    """Per query key: per week, the papers that match it."""
    by_week = papers_by_week(papers, weeks, tz)
    out: dict[Hashable, dict[dt.date, list[Paper]]] = {
        key: {monday: [] for monday in weeks} for key in queries
    }
    if not queries:
        return out
    week_of: dict[str, dt.date] = {}
    flat: list[Paper] = []
    for monday, listed in by_week.items():
        for paper in listed:
            if paper.id not in week_of:
                week_of[paper.id] = monday
                flat.append(paper)
    if not flat:
        return out
    result = Matcher.compile(list(queries.items())).match(flat)
    for key in queries:
        if key not in result:
            continue
        # Positions only: the matches' highlight spans are not needed here.
        for position in result.positions(key):
            paper = flat[position]
            out[key][week_of[paper.id]].append(paper)
    return out


def weekly_counts(
    papers: Sequence[Sighted],
    queries: Mapping[Hashable, Query],
    weeks: Sequence[dt.date],
    tz: str,
) -> dict[Hashable, list[int]]:
    """Per query key, the number of matching papers of each week in `weeks`."""
    found = weekly_matches(papers, queries, weeks, tz)
    return {key: [len(found[key][monday]) for monday in weeks] for key in queries}
