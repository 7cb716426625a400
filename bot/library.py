"""The day's papers as the rest of the core needs them: archive first, source on demand."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from paperboy.models import Paper
from paperboy.sources import PaperSource, SourceError
from paperboy.store import Store


@dataclass(frozen=True, slots=True)
class DayPapers:
    day: dt.date | None
    papers: list[Paper]
    label: str | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    day: dt.date | None
    fetched: int
    inserted: int
    updated: int


def day_of(papers: Sequence[Paper]) -> dt.date | None:
    """The daily date most of `papers` carry (a source's "latest day" is not known before)."""
    days = Counter(p.daily_date for p in papers if p.daily_date)
    return days.most_common(1)[0][0] if days else None


async def ingest(store: Store, source: PaperSource, day: dt.date | None) -> IngestResult:
    """Fetch one day from `source` into the archive. Re-ingesting is harmless."""
    papers = await source.fetch_day(day)
    result = await store.papers.upsert(papers)
    return IngestResult(day or day_of(papers), len(papers), result.inserted, result.updated)


async def papers_for_day(
    store: Store, source: PaperSource | None, day: dt.date | None
) -> DayPapers:
    """Papers listed on `day` (None: the newest day archived), fetching it if not archived.

    Raises SourceError when the archive lacks the day and the source cannot give it.
    """
    if day is None:
        day = await store.papers.latest_day()
    if day is not None:
        archived = await store.papers.for_day(day)
        if archived:
            return DayPapers(day, archived)
    if source is None:
        return DayPapers(day, [])
    fetched = await source.fetch_day(day)
    await store.papers.upsert(fetched)
    return DayPapers(day or day_of(fetched), fetched)


__all__ = ["DayPapers", "IngestResult", "SourceError", "day_of", "ingest", "papers_for_day"]
