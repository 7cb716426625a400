"""The arXiv source against a loopback fake of its RSS feeds and API (tests/fakes/arxiv.py)."""

from __future__ import annotations

import datetime as dt
import itertools

import httpx
import pytest

from paperboy.sources import SourceError
from paperboy.sources.arxiv import ArxivSource
from tests.fakes.arxiv import ArxivEntry, FakeArxiv, Fault

MONDAY = dt.date(2024, 11, 11)
SATURDAY = dt.date(2024, 11, 16)
FRIDAY = dt.date(2024, 11, 8)


class FakeTime:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)


def entry(n: int, *, day: dt.date = FRIDAY, cats: tuple[str, ...] = ("cs.CL",), **kw) -> ArxivEntry:
    submitted = dt.datetime.combine(day, dt.time(9, n % 60), tzinfo=dt.UTC)
    return ArxivEntry(
        id=f"2411.{n:05d}",
        title=kw.pop("title", f"Paper {n}: LoRA  adapters for   pipeline parallelism"),
        summary=kw.pop("summary", f"We study QLoRA number {n}. It is efficient."),
        authors=kw.pop("authors", ["Ada Lovelace", "Alan Turing"]),
        submitted=submitted,
        categories=list(cats),
        **kw,
    )


def make_source(arxiv: FakeArxiv, clock: FakeTime, **kw) -> ArxivSource:
    return ArxivSource(
        kw.pop("categories", ["cs.CL", "cs.LG"]),
        api_url=arxiv.api_url,
        rss_url=arxiv.rss_url,
        clock=clock.clock,
        sleep=clock.sleep,
        **kw,
    )


def gaps(starts: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(starts)]


async def test_rss_lists_new_and_cross_listed_papers_of_the_announcement() -> None:
    async with FakeArxiv() as arxiv:
        arxiv.add(
            entry(1),
            entry(2, cats=("cs.LG",), announce_type="cross", version=2),
            entry(3, announce_type="replace", version=3),
            entry(4, announce_type="replace-cross"),
            entry(5, cats=("cs.CV",)),  # another category: not in this feed
        )
        arxiv.announce(MONDAY, [f"2411.0000{n}" for n in range(1, 6)])
        clock = FakeTime()
        source = make_source(arxiv, clock)
        papers = await source.fetch_day(None)
        request = arxiv.requests[-1]
    assert request.path == "/rss/cs.CL+cs.LG"
    assert request.headers["User-Agent"].startswith("paperboy/")
    assert [p.id for p in papers] == ["2411.00001", "2411.00002"]
    first = papers[0]
    assert first.title == "Paper 1: LoRA adapters for pipeline parallelism"
    assert first.abstract == "We study QLoRA number 1. It is efficient."
    assert first.authors == ("Ada Lovelace", "Alan Turing")
    assert first.daily_date == MONDAY and source.day == MONDAY
    assert first.source == "arxiv" and not first.on_hf and first.upvotes == 0
    assert first.links.hf is None and first.links.arxiv == "https://arxiv.org/abs/2411.00001"


async def test_empty_weekend_feed_is_a_day_without_papers() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        arxiv.announce(SATURDAY, ["2411.00001"])
        source = make_source(arxiv, FakeTime())
        assert await source.fetch_day(None) == []
        assert source.day == SATURDAY


async def test_holiday_feed_is_empty_too() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        arxiv.announce(MONDAY, ["2411.00001"])
        arxiv.holidays.add(MONDAY)
        assert await make_source(arxiv, FakeTime()).fetch_day(None) == []


async def test_api_day_pages_through_submissions_politely() -> None:
    async with FakeArxiv() as arxiv:
        arxiv.add(*(entry(n) for n in range(1, 6)))
        arxiv.add(entry(6, cats=("cs.LG", "cs.AI")))
        arxiv.add(entry(7, cats=("cs.CV",)))  # not a configured category
        arxiv.add(entry(8, day=MONDAY))  # another day
        clock = FakeTime()
        source = make_source(arxiv, clock, page_size=2)
        papers = await source.fetch_day(FRIDAY)
        requests = arxiv.api_requests
    assert [p.id for p in papers] == [f"2411.{n:05d}" for n in range(1, 7)]
    assert all(p.daily_date == FRIDAY for p in papers)
    assert papers[0].title == "Paper 1: LoRA adapters for pipeline parallelism"
    assert papers[0].published_at == dt.datetime(2024, 11, 8, 9, 1, tzinfo=dt.UTC)
    assert [r.query["start"] for r in requests] == ["0", "2", "4"]
    query = requests[0].query
    assert query["search_query"] == (
        "(cat:cs.CL OR cat:cs.LG) AND submittedDate:[202411080000 TO 202411082359]"
    )
    assert query["sortBy"] == "submittedDate" and query["max_results"] == "2"
    # One request at a time, three seconds apart (by the injected clock).
    assert len(source.pacer.starts) == 3
    assert all(gap >= 3.0 for gap in gaps(source.pacer.starts))


async def test_a_day_without_submissions_is_empty() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        assert await make_source(arxiv, FakeTime()).fetch_day(SATURDAY) == []


async def test_503_is_retried_after_retry_after() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        arxiv.inject(Fault.unavailable(retry_after="7"))
        clock = FakeTime()
        source = make_source(arxiv, clock, retries=2)
        papers = await source.fetch_day(FRIDAY)
    assert [p.id for p in papers] == ["2411.00001"]
    assert len(arxiv.api_requests) == 2
    assert 7.0 in clock.sleeps
    assert all(gap >= 3.0 for gap in gaps(source.pacer.starts))


async def test_503_without_retry_after_backs_off_and_keeps_the_pace() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        arxiv.inject(Fault.unavailable(), Fault.unavailable())
        clock = FakeTime()
        source = make_source(arxiv, clock, retries=3, backoff_base=0.01)
        assert len(await source.fetch_day(FRIDAY)) == 1
    assert len(source.pacer.starts) == 3
    assert all(gap >= 3.0 for gap in gaps(source.pacer.starts))


async def test_persistent_503_fails_with_one_line() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        arxiv.inject(Fault.unavailable(retry_after="1"), times=5)
        source = make_source(arxiv, FakeTime(), retries=2)
        with pytest.raises(SourceError) as info:
            await source.fetch_day(FRIDAY)
        assert len(arxiv.api_requests) == 3
    message = str(info.value)
    assert "HTTP 503" in message and "3 tries" in message and "\n" not in message


async def test_api_error_feed_becomes_the_message() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        source = make_source(arxiv, FakeTime())
        source.page_size = 40_000  # beyond what the API serves: it answers an error feed
        with pytest.raises(SourceError, match="max_results must be <= 30000"):
            await source.fetch_day(FRIDAY)
        assert len(arxiv.api_requests) == 1  # a 400 is not retried


async def test_truncated_xml_is_retried() -> None:
    async with FakeArxiv([entry(1)]) as arxiv:
        arxiv.inject(Fault.truncated())
        papers = await make_source(arxiv, FakeTime(), retries=1).fetch_day(FRIDAY)
    assert [p.id for p in papers] == ["2411.00001"]


async def test_document_type_declarations_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;">]><rss><channel><title>&lol2;</title></channel></rss>'
    )
    async with FakeArxiv() as arxiv:
        arxiv.inject(Fault(200, bomb))
        with pytest.raises(SourceError, match="document type declaration"):
            await make_source(arxiv, FakeTime()).fetch_day(None)


async def test_unreachable_arxiv_fails_after_retries() -> None:
    async with FakeArxiv() as arxiv:
        url = arxiv.api_url
    clock = FakeTime()
    source = ArxivSource(["cs.CL"], api_url=url, rss_url=url, clock=clock.clock,
                         sleep=clock.sleep, retries=1)  # fmt: skip
    with pytest.raises(SourceError, match="2 tries"):
        await source.fetch_day(FRIDAY)


async def test_shared_client_is_used() -> None:
    async with FakeArxiv([entry(1)]) as arxiv, httpx.AsyncClient() as client:
        source = make_source(arxiv, FakeTime(), client=client)
        assert len(await source.fetch_day(FRIDAY)) == 1
