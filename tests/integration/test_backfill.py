"""Backfill (`paperboy.ingest`) through the real sources against loopback fakes, both stores."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import json
from pathlib import Path

import httpx

from paperboy.digest import digest_for_queries
from paperboy.ingest import backfill, completed_days, days_between, ingest_latest, papers_for_day
from paperboy.search import search
from paperboy.sources.arxiv import ArxivSource
from paperboy.sources.file import FileSource
from paperboy.sources.huggingface import HuggingFaceSource
from paperboy.store import Store
from tests.fakes.arxiv import ArxivEntry, FakeArxiv
from tests.fakes.arxiv import Fault as ArxivFault
from tests.fakes.hf import FakeHF, Fault

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY_ITEMS = json.loads((FIXTURES / "hf_daily_papers_2024-11-11.json").read_text())
TODAY = dt.date(2024, 11, 20)
FIRST = dt.date(2024, 11, 1)


def items_for(day: dt.date, n: int = 3) -> list[dict]:
    """HF items for `day`: copies of the recorded ones with ids of that day."""
    out = []
    for k, item in enumerate(DAY_ITEMS[:n]):
        item = copy.deepcopy(item)
        item["paper"]["id"] = f"2411.{day.day:02d}{k:03d}"
        item["paper"]["submittedOnDailyAt"] = f"{day.isoformat()}T00:00:00.000Z"
        out.append(item)
    return out


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests in flight, to check the backfill's concurrency limit."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.active = 0
        self.peak = 0
        self.total = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.active += 1
        self.total += 1
        self.peak = max(self.peak, self.active)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.active -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_hf_backfill_is_concurrent_within_limits_and_resumable(store: Store) -> None:
    days = days_between(FIRST, dt.date(2024, 11, 19))
    async with FakeHF({d: items_for(d) for d in days}) as hf:
        hf.fail_always(Fault.slow(0.05))  # slow answers: days overlap if they can
        transport = CountingTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            source = HuggingFaceSource(hf.base_url, client=client, retries=0)
            seen: list[dt.date | None] = []
            report = await backfill(
                store, source, days, concurrency=4, today=TODAY,
                on_day=lambda r: seen.append(r.day),
            )  # fmt: skip
            assert 1 < transport.peak <= 4
            assert report.fetched == 3 * len(days) and report.inserted == 3 * len(days)
            assert not report.failed and sorted(d for d in seen if d) == days
            # Days two or more days old are complete; the last day may still fill up.
            done = await completed_days(store, "hf", days)
            assert done == set(days_between(FIRST, dt.date(2024, 11, 18)))
            # A second run fetches only what is not complete.
            before = transport.total
            again = await backfill(store, source, days, concurrency=4, today=TODAY)
            assert again.skipped == len(days) - 1 and transport.total == before + 1
            assert "18 already complete" in again.summary()
            forced = await backfill(store, source, days[:2], concurrency=4, force=True, today=TODAY)
            assert forced.skipped == 0 and forced.updated == 0
    assert await store.papers.count() == 3 * len(days)
    # Backfilled papers are searchable at once, by date too.
    results = await search(store, "pipeline parallelism since:2024-11-19")
    assert [h.paper.id for h in results.hits] == ["2411.19000"]


async def test_failed_day_is_reported_and_retried_next_run(store: Store) -> None:
    days = days_between(dt.date(2024, 11, 4), dt.date(2024, 11, 6))
    async with FakeHF({d: items_for(d, 1) for d in days}) as hf:
        source = HuggingFaceSource(hf.base_url, retries=0)
        hf.inject(Fault.server_error(503))  # the first request fails
        report = await backfill(store, source, days, concurrency=1, today=TODAY)
        assert [r.day for r in report.failed] == [days[0]]
        assert "1 failed" in report.summary()
        assert await completed_days(store, "hf", days) == set(days[1:])
        again = await backfill(store, source, days, concurrency=1, today=TODAY)
        assert not again.failed and again.skipped == 2 and again.inserted == 1
        assert [r.query["date"] for r in hf.daily_requests][-1] == days[0].isoformat()


def arxiv_entry(n: int, day: dt.date, cats: tuple[str, ...] = ("cs.CL",)) -> ArxivEntry:
    return ArxivEntry(
        id=f"2411.{day.day:02d}{n:03d}",
        title=f"Speculative decoding {n}",
        summary="Draft models propose tokens.",
        authors=["Ada Lovelace"],
        submitted=dt.datetime.combine(day, dt.time(10, n), tzinfo=dt.UTC),
        categories=list(cats),
    )


async def test_arxiv_backfill_keeps_one_request_every_three_seconds(store: Store) -> None:
    days = days_between(dt.date(2024, 11, 4), dt.date(2024, 11, 8))
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    async with FakeArxiv() as arxiv:
        for day in days:
            arxiv.add(*(arxiv_entry(n, day) for n in range(3)))
        arxiv.inject(ArxivFault.unavailable(retry_after="10"))
        source = ArxivSource(
            ["cs.CL", "cs.LG"], api_url=arxiv.api_url, rss_url=arxiv.rss_url, page_size=2,
            clock=lambda: now[0], sleep=sleep, retries=2,
        )  # fmt: skip
        report = await backfill(store, source, days, concurrency=4, today=TODAY)
        requests = len(arxiv.api_requests)
    assert report.fetched == 15 and not report.failed
    assert requests == 2 * len(days) + 1  # two pages a day, and one 503
    starts = source.pacer.starts
    assert len(starts) == requests
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(starts))
    assert 10.0 in sleeps
    results = await search(store, "speculative decoding since:2024-11-08")
    assert results.total == 3


async def test_hf_and_arxiv_merge_into_one_paper(store: Store) -> None:
    """The same paper from both sources: one row, HF's votes and links, listed once."""
    day = dt.date(2024, 11, 11)
    hf_items = copy.deepcopy(DAY_ITEMS[:2])
    shared = hf_items[0]["paper"]
    shared["githubRepo"] = "https://github.com/sail-sg/VocabularyParallelism"
    async with FakeArxiv() as arxiv, FakeHF({day: hf_items}) as hf:
        arxiv.add(
            ArxivEntry(
                id=shared["id"],
                title=shared["title"],
                summary="Pipeline parallelism with vocabulary layers balanced over stages.",
                authors=[a["name"] for a in shared["authors"]],
                submitted=dt.datetime(2024, 11, 8, 16, tzinfo=dt.UTC),
                categories=["cs.DC", "cs.LG"],
                version=2,
            ),
            arxiv_entry(1, day),
        )
        arxiv.announce(day, [shared["id"], "2411.11001"])
        clock = [0.0]

        async def sleep(seconds: float) -> None:
            clock[0] += seconds

        source = ArxivSource(["cs.LG", "cs.CL"], api_url=arxiv.api_url, rss_url=arxiv.rss_url,
                             clock=lambda: clock[0], sleep=sleep)  # fmt: skip
        first = await ingest_latest(store, source)
        assert first.day == day and first.fetched == 2
        second = await backfill(store, HuggingFaceSource(hf.base_url), [day], today=TODAY)
        assert second.updated == 1 and second.inserted == 1
        again = await ingest_latest(store, source)  # arXiv again: HF's data stays
        assert again.inserted == 0
    merged = (await store.papers.get_many([shared["id"]])).get(shared["id"])
    assert merged is not None
    assert merged.on_hf and merged.upvotes == shared["upvotes"] > 0
    assert merged.github_url == shared["githubRepo"]
    assert merged.ai_summary and merged.ai_summary == shared.get("ai_summary")
    assert merged.source == "arxiv"  # first seen there
    listed = await papers_for_day(store, None, day)
    ids = [p.id for p in listed.papers]
    assert sorted(ids) == sorted({shared["id"], hf_items[1]["paper"]["id"], "2411.11001"})
    digest = digest_for_queries(listed.papers, ["pipeline parallelism"], day=day)
    assert [e.paper.id for e in digest.entries] == [shared["id"]]
    results = await search(store, "pipeline parallelism")
    assert [h.paper.id for h in results.hits].count(shared["id"]) == 1


async def test_recorded_file_loads_one_day(store: Store) -> None:
    result = await ingest_latest(store, FileSource(FIXTURES / "hf_daily_papers_2024-11-11.json"))
    assert result.fetched == 9 and result.inserted == 9
    assert result.day == dt.date(2024, 11, 11)
    assert (await search(store, "LoRA")).total >= 1


async def test_days_between_validates() -> None:
    assert days_between(FIRST, FIRST) == [FIRST]
    for first, last in [(TODAY, FIRST), (dt.date(2000, 1, 1), dt.date(2024, 1, 1))]:
        try:
            days_between(first, last)
        except ValueError:
            continue
        raise AssertionError("expected a ValueError")


async def test_backfill_days_finish_in_any_order(store: Store) -> None:
    """A slow early day does not block the later ones (up to the concurrency limit)."""
    days = days_between(dt.date(2024, 11, 1), dt.date(2024, 11, 3))
    order: list[dt.date | None] = []

    class Slow:
        name = "slow"

        async def fetch_day(self, day: dt.date | None) -> list:
            await asyncio.sleep(0.1 if day == days[0] else 0)
            return []

    await backfill(store, Slow(), days, concurrency=3, today=TODAY,
                   on_day=lambda r: order.append(r.day))  # fmt: skip
    assert order[-1] == days[0]
