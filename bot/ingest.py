"""How papers enter the archive: every route goes through `ingest` (fetch -> store -> index).

- `ingest(store, source, day)`: fetch one day from a source, upsert it (with its
  first-seen time) and bring the search index up to date. The scheduler's ingest job,
  the `run` startup, `paperboy ingest` and the on-demand fetch of `papers_for_day` all
  call it, and so does `backfill` for each of its days.
- `papers_for_day(store, source, day)`: the day's papers as the rest of the core needs
  them: archive first, the source on demand (what it fetches is ingested).
- `ingest_latest(store, source)`: `paperboy ingest` without dates, the source's latest day.
- `backfill(...)`: a range of days from a source, day by day, resumably.

`paperboy ingest --from 2024-10-01 --to 2024-10-31 --source hf|arxiv` runs `backfill`.
Each day is fetched, upserted (re-ingesting is harmless) and indexed for search, then
recorded in `ingest_progress`; a second run skips the recorded days, so an interrupted
backfill resumes where it stopped. Days that may still change are not recorded: Hugging
Face fills a day's list for hours and votes keep coming, so only days at least
`settle_days` old count as complete.

Politeness: Hugging Face gets at most `concurrency` requests in flight (4: one day per
worker, a day's pages one after another); arXiv one request every 3 s (its source paces
itself, so days are fetched one at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from paperboy.clock import Clock
from paperboy.embeddings import EmbedderError, Embeddings, Prepared
from paperboy.metrics import METRICS
from paperboy.models import Paper
from paperboy.search import SearchIndex
from paperboy.sources import PaperSource, SourceError, day_of
from paperboy.store import Store
from paperboy.store.tables import ingest_progress

log = logging.getLogger(__name__)

#: Days younger than this are fetched but not recorded as complete.
SETTLE_DAYS = 2
#: Longest range one backfill may cover.
MAX_DAYS = 3660


# --------------------------------------------------------------------------- one day


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
    papers: tuple[Paper, ...] = ()


async def ingest(
    store: Store,
    source: PaperSource,
    day: dt.date | None,
    *,
    index: SearchIndex | None = None,
    clock: Clock | None = None,
    write_lock: asyncio.Lock | None = None,
    embeddings: Embeddings | None = None,
) -> IngestResult:
    """Fetch one day from `source` (None: its latest) into the archive and the search
    index. Re-ingesting is harmless. Raises SourceError when the source fails.

    New papers are first seen when written (by `clock`, default the system's): a digest
    planned before takes papers seen up to its own time only. `write_lock` is held
    while they are written and indexed: the scheduler's, so that a plan never sees half
    an ingest; a backfill's, so that one day is written at a time. `index` (default a
    new one) may analyse the papers in a worker while the lock is waited for.
    `embeddings` (default: the archive's, with the shared model) embeds the papers in a
    worker thread meanwhile and stores the vectors of new or changed ones.
    """
    try:
        papers = await source.fetch_day(day)
    except SourceError:
        METRICS.ingest_failures.labels(source.name).inc()
        raise
    index = index or SearchIndex(store)
    index.prepare(papers)
    embeddings = embeddings or Embeddings(store)
    prepared = await _embed(embeddings, papers)
    async with write_lock or contextlib.nullcontext():
        seen_at = clock.now() if clock is not None else None
        upserted = await store.papers.upsert(papers, seen_at=seen_at)
        await index.sync()
        if prepared is not None:
            await embeddings.write(prepared)
    METRICS.papers_ingested.labels(source.name).inc(upserted.inserted)
    return IngestResult(
        day or day_of(papers), len(papers), upserted.inserted, upserted.updated, tuple(papers)
    )


async def _embed(embeddings: Embeddings, papers: Sequence[Paper]) -> Prepared | None:
    """The papers' vectors, or None (logged) when the model cannot be loaded: the archive
    and keyword search do not depend on it, and `paperboy reindex` fills the gap later."""
    if not papers:
        return None
    try:
        return await embeddings.prepare(papers)
    except EmbedderError as error:
        log.warning("papers archived without embeddings: %s", error)
        return None


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
    ingested = await ingest(store, source, day)
    return DayPapers(ingested.day, list(ingested.papers))


# --------------------------------------------------------------------------- backfill


@dataclass(frozen=True, slots=True)
class DayResult:
    day: dt.date | None  # None: a latest-day fetch that found no dated paper
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: bool = False  # recorded as complete by an earlier run
    error: str | None = None


@dataclass(slots=True)
class BackfillReport:
    source: str
    days: list[DayResult] = field(default_factory=list)

    @property
    def fetched(self) -> int:
        return sum(d.fetched for d in self.days)

    @property
    def inserted(self) -> int:
        return sum(d.inserted for d in self.days)

    @property
    def updated(self) -> int:
        return sum(d.updated for d in self.days)

    @property
    def skipped(self) -> int:
        return sum(1 for d in self.days if d.skipped)

    @property
    def failed(self) -> list[DayResult]:
        return [d for d in self.days if d.error is not None]

    def summary(self) -> str:
        done = len(self.days) - self.skipped - len(self.failed)
        line = (
            f"{self.source}: {done} day{'s' if done != 1 else ''} ingested, "
            f"{self.fetched} papers fetched ({self.inserted} new, {self.updated} updated)"
        )
        if self.skipped:
            line += f", {self.skipped} already complete"
        if self.failed:
            line += f", {len(self.failed)} failed (run again to retry them)"
        return line


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every day from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"--from {first.isoformat()} is after --to {last.isoformat()}")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"a backfill covers at most {MAX_DAYS} days, not {count}")
    return [first + dt.timedelta(days=n) for n in range(count)]


async def completed_days(store: Store, source: str, days: Sequence[dt.date]) -> set[dt.date]:
    if not days:
        return set()
    stmt = sa.select(ingest_progress.c.day).where(
        ingest_progress.c.source == source,
        ingest_progress.c.day.between(min(days), max(days)),
    )
    async with store.engine.connect() as conn:
        return set((await conn.execute(stmt)).scalars())


async def _record(store: Store, source: str, day: dt.date, fetched: int) -> None:
    now = dt.datetime.now(dt.UTC)
    async with store.begin_write() as conn:
        await conn.execute(
            sa.delete(ingest_progress).where(
                ingest_progress.c.source == source, ingest_progress.c.day == day
            )
        )
        await conn.execute(
            sa.insert(ingest_progress).values(
                source=source, day=day, fetched=fetched, completed_at=now
            )
        )


OnDay = Callable[[DayResult], object]


async def backfill(
    store: Store,
    source: PaperSource,
    days: Sequence[dt.date],
    *,
    concurrency: int = 1,
    force: bool = False,
    today: dt.date | None = None,
    settle_days: int = SETTLE_DAYS,
    on_day: OnDay | None = None,
    index: SearchIndex | None = None,
) -> BackfillReport:
    """Fetch `days` from `source` into the archive (see the module docstring).

    `on_day` is called once per day as it finishes (skipped days first), for a progress
    display. A failing day is reported and left unrecorded; the others go on.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    if index is None:
        # A worker process analyses each day's papers while they are upserted.
        async with SearchIndex(store, workers=1) as own:
            return await backfill(
                store, source, days, concurrency=concurrency, force=force, today=today,
                settle_days=settle_days, on_day=on_day, index=own,
            )  # fmt: skip
    report = BackfillReport(source.name)
    done = set() if force else await completed_days(store, source.name, days)
    todo = [d for d in days if d not in done]
    for day in days:
        if day in done:
            result = DayResult(day, skipped=True)
            report.days.append(result)
            if on_day:
                on_day(result)
    semaphore = asyncio.Semaphore(max(1, concurrency))
    write_lock = asyncio.Lock()  # one writer: SQLite takes one anyway, and ids stay ordered

    async def one(day: dt.date) -> None:
        async with semaphore:
            try:
                # Analysed in the index's worker while earlier days are written.
                got = await ingest(store, source, day, index=index, write_lock=write_lock)
            except SourceError as error:
                log.warning("%s %s: %s", source.name, day.isoformat(), error)
                result = DayResult(day, error=str(error))
            else:
                if day <= today - dt.timedelta(days=settle_days):
                    async with write_lock:
                        await _record(store, source.name, day, got.fetched)
                result = DayResult(day, got.fetched, got.inserted, got.updated)
        report.days.append(result)
        if on_day:
            on_day(result)

    await asyncio.gather(*(one(day) for day in todo))
    report.days.sort(key=lambda r: r.day or dt.date.min)
    return report


async def ingest_latest(store: Store, source: PaperSource) -> DayResult:
    """One fetch of the source's latest day (or a recorded file), archived and indexed."""
    result = await ingest(store, source, None)
    day = getattr(source, "day", None) or result.day
    return DayResult(day, result.fetched, result.inserted, result.updated)
