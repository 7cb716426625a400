"""HuggingFaceSource over real HTTP against the loopback fake HF API."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from paperboy import __version__
from paperboy.sources import SourceError
from paperboy.sources.huggingface import HuggingFaceSource
from tests.fakes.hf import FakeHF, Fault

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DAY = dt.date(2024, 11, 11)


def load_fixture(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def make_items(count: int, prefix: str = "2411") -> list[dict]:
    return [
        {
            "paper": {
                "id": f"{prefix}.{n:05d}",
                "title": f"Paper {n}",
                "summary": "An abstract.",
                "upvotes": n,
                "submittedOnDailyAt": "2024-11-11T00:00:00.000Z",
            },
            "publishedAt": "2024-11-11T00:00:00.000Z",
        }
        for n in range(1, count + 1)
    ]


class RecordingSleep:
    """Stands in for asyncio.sleep: records the delays asked for, never waits."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
async def fake() -> AsyncIterator[FakeHF]:
    async with FakeHF() as server:
        yield server


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


def source(fake_or_url: FakeHF | str, sleep: RecordingSleep, **kwargs: object) -> HuggingFaceSource:
    base = fake_or_url if isinstance(fake_or_url, str) else fake_or_url.base_url
    options: dict[str, object] = {"timeout": 10.0, "retries": 3, "page_size": 50, "sleep": sleep}
    options.update(kwargs)
    return HuggingFaceSource(base, **options)  # type: ignore[arg-type]


# -- pagination --------------------------------------------------------------------


async def test_pages_until_a_short_page(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, make_items(120))
    async with source(fake, sleep) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 120
    assert [r.query for r in fake.daily_requests] == [
        {"date": "2024-11-11", "limit": "50", "p": str(p)} for p in range(3)
    ]
    assert sleep.calls == []


async def test_exactly_full_pages_end_with_an_empty_page(
    fake: FakeHF, sleep: RecordingSleep
) -> None:
    fake.add_day(DAY, make_items(100))
    async with source(fake, sleep) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 100
    assert [r.query["p"] for r in fake.daily_requests] == ["0", "1", "2"]


async def test_latest_day_omits_the_date(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day("2024-11-08", make_items(3, prefix="2411"))
    fake.add_day(DAY, make_items(7, prefix="2412"))
    async with source(fake, sleep, page_size=5) as hf:
        papers = await hf.fetch_day(None)
    assert len(papers) == 7
    assert all("date" not in r.query for r in fake.daily_requests)
    assert [r.query["p"] for r in fake.daily_requests] == ["0", "1"]


async def test_empty_day(fake: FakeHF, sleep: RecordingSleep) -> None:
    async with source(fake, sleep) as hf:
        assert await hf.fetch_day(dt.date(2020, 1, 1)) == []
    assert len(fake.daily_requests) == 1


async def test_server_ignoring_the_page_parameter_stops(
    fake: FakeHF, sleep: RecordingSleep
) -> None:
    # Every page answers the same 5 items: a full page adding nothing new ends the walk.
    items = make_items(5)
    fake.fail_always(Fault(200, items))
    async with source(fake, sleep, page_size=5) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 5
    assert len(fake.daily_requests) == 2


async def test_sends_user_agent(fake: FakeHF, sleep: RecordingSleep) -> None:
    async with source(fake, sleep) as hf:
        await hf.fetch_day(DAY)
    assert fake.daily_requests[0].headers["User-Agent"] == f"paperboy/{__version__}"


async def test_shared_client_is_not_closed(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, make_items(2))
    async with httpx.AsyncClient() as client:
        async with source(fake, sleep, client=client) as hf:
            assert len(await hf.fetch_day(DAY)) == 2
        assert not client.is_closed
        assert fake.daily_requests[0].headers["User-Agent"] == f"paperboy/{__version__}"


async def test_without_async_with_each_fetch_uses_its_own_client(
    fake: FakeHF, sleep: RecordingSleep
) -> None:
    fake.add_day(DAY, make_items(2))
    hf = source(fake, sleep)
    assert len(await hf.fetch_day(DAY)) == 2
    assert len(await hf.fetch_day(DAY)) == 2
    await hf.aclose()  # nothing to close, harmless
    await hf.aclose()


# -- retries -----------------------------------------------------------------------


async def test_429_honours_retry_after_seconds(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, make_items(3))
    fake.inject(Fault.rate_limited(retry_after=7))
    async with source(fake, sleep) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 3
    assert len(sleep.calls) == 1 and sleep.calls[0] >= 7
    assert len(fake.daily_requests) == 2


async def test_429_retry_after_http_date_is_capped(fake: FakeHF, sleep: RecordingSleep) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    fake.inject(Fault.rate_limited(retry_after=email.utils.format_datetime(later, usegmt=True)))
    async with source(fake, sleep, max_retry_after=120.0) as hf:
        await hf.fetch_day(DAY)
    assert sleep.calls == [120.0]


async def test_429_without_retry_after_backs_off(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.inject(Fault.rate_limited())
    async with source(fake, sleep, backoff_base=0.5) as hf:
        await hf.fetch_day(DAY)
    assert len(sleep.calls) == 1 and 0 <= sleep.calls[0] <= 0.5


async def test_5xx_then_success(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, make_items(4))
    fake.inject(Fault.server_error(500), Fault.server_error(502), Fault.server_error(503))
    async with source(fake, sleep, backoff_base=1.0, max_backoff=3.0) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 4
    assert len(fake.daily_requests) == 4
    # Full jitter within an exponentially growing, capped ceiling: 1, 2, then 3 (cap).
    assert len(sleep.calls) == 3
    for delay, ceiling in zip(sleep.calls, [1.0, 2.0, 3.0], strict=True):
        assert 0 <= delay <= ceiling


async def test_5xx_forever_fails_with_one_line(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.fail_always(Fault.server_error(503))
    async with source(fake, sleep, retries=4) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    assert str(err.value) == (
        "Hugging Face daily papers for 2024-11-11 failed after 5 tries: HTTP 503"
    )
    assert len(fake.daily_requests) == 5
    assert len(sleep.calls) == 4


async def test_failure_on_a_later_page_names_the_page(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, make_items(60))
    fake.inject(Fault())  # page 1 answers normally
    fake.fail_always(Fault.server_error(500))
    async with source(fake, sleep, retries=1) as hf:
        with pytest.raises(SourceError, match=r"\(page 2\) failed after 2 tries: HTTP 500"):
            await hf.fetch_day(DAY)


async def test_timeout_then_success(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, make_items(2))
    fake.inject(Fault.slow(5.0))
    # 1 s: far below the slow answer, and time enough for the normal one on a loaded
    # machine (0.2 s was not, once: a third request).
    async with source(fake, sleep, timeout=1.0) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 2
    assert len(fake.daily_requests) == 2
    assert len(sleep.calls) == 1


async def test_timeout_forever(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.fail_always(Fault.slow(5.0))
    async with source(fake, sleep, timeout=0.2, retries=2) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    assert str(err.value) == (
        "Hugging Face daily papers for 2024-11-11 failed after 3 tries: timed out after 0.2 s"
    )
    assert len(fake.daily_requests) == 3


async def test_malformed_json_is_retried(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, make_items(2))
    fake.inject(Fault.malformed())
    async with source(fake, sleep) as hf:
        assert len(await hf.fetch_day(DAY)) == 2
    assert len(fake.daily_requests) == 2


async def test_malformed_json_forever(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.fail_always(Fault.malformed())
    async with source(fake, sleep, retries=1) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    message = str(err.value)
    assert message.startswith(
        "Hugging Face daily papers for 2024-11-11 failed after 2 tries: malformed JSON"
    )
    assert "\n" not in message


async def test_json_that_is_not_a_list_is_not_retried(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.inject(Fault(200, {"papers": []}))
    async with source(fake, sleep) as hf:
        with pytest.raises(SourceError, match="is not a daily_papers list"):
            await hf.fetch_day(DAY)
    assert len(fake.daily_requests) == 1


async def test_400_for_a_bad_date_is_not_retried(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.inject(Fault.error(400, "Invalid date"))
    async with source(fake, sleep) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    assert str(err.value) == "Hugging Face rejected date 2024-11-11 (HTTP 400: Invalid date)"
    assert len(fake.daily_requests) == 1
    assert sleep.calls == []


async def test_limit_over_100_is_rejected_by_the_fake(fake: FakeHF, sleep: RecordingSleep) -> None:
    async with source(fake, sleep, page_size=101) as hf:
        with pytest.raises(SourceError, match=r"HTTP 400: \"limit\" must be"):
            await hf.fetch_day(None)
    assert len(fake.daily_requests) == 1
    assert sleep.calls == []


async def test_404_is_not_retried(fake: FakeHF, sleep: RecordingSleep) -> None:
    async with source(fake.base_url + "nowhere/", sleep) as hf:
        with pytest.raises(SourceError, match=r"rejected the daily papers request \(HTTP 404"):
            await hf.fetch_day(DAY)
    assert len(fake.requests) == 1


async def test_connection_refused(sleep: RecordingSleep) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/"
    async with source(base, sleep, retries=2) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    assert str(err.value) == (
        f"could not reach Hugging Face at {base} after 3 tries: connection refused"
    )
    assert len(sleep.calls) == 2


async def test_unusable_base_url(sleep: RecordingSleep) -> None:
    async with source("ftp://example.invalid/api/", sleep) as hf:
        with pytest.raises(SourceError, match="cannot request Hugging Face"):
            await hf.fetch_day(DAY)
    assert sleep.calls == []


# -- the fake's own HF behaviour ---------------------------------------------------


@pytest.mark.parametrize("bad", ["2024-13-45", "2024-02-30", "11/11/2024", "yesterday"])
async def test_fake_rejects_bad_dates_like_hf(fake: FakeHF, bad: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(fake.base_url + "daily_papers", params={"date": bad})
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


async def test_fake_default_limit_is_50(fake: FakeHF) -> None:
    fake.add_day(DAY, make_items(60))
    async with httpx.AsyncClient() as client:
        response = await client.get(fake.base_url + "daily_papers")
    assert len(response.json()) == 50


# -- real fixtures through the fake -----------------------------------------------


async def test_real_day_through_the_fake(fake: FakeHF, sleep: RecordingSleep) -> None:
    fake.add_day(DAY, load_fixture("hf_daily_papers_2024-11-11.json"))
    async with source(fake, sleep) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 9
    by_id = {paper.id: paper for paper in papers}
    first = by_id["2411.05288"]
    assert first.title == "Balancing Pipeline Parallelism with Vocabulary Parallelism"
    assert first.upvotes == 10
    assert first.authors[0] == "Penghui Qi"
    assert first.daily_date == DAY
    assert first.published_at == dt.datetime(2024, 11, 8, tzinfo=dt.UTC)
    assert first.source == "hf"
    assert first.thumbnail_url and first.thumbnail_url.startswith("https://")
    assert all(paper.daily_date == DAY for paper in papers)
    assert all(paper.abstract and "\n" not in paper.title for paper in papers)


async def test_hostile_day_through_the_fake(fake: FakeHF, sleep: RecordingSleep) -> None:
    items = load_fixture("hf_hostile_public.json")
    fake.add_day(DAY, items)
    async with source(fake, sleep, page_size=2) as hf:
        papers = await hf.fetch_day(DAY)
    assert [paper.id for paper in papers] == [f"2501.0000{n}" for n in range(1, 6)]
    assert [r.query["p"] for r in fake.daily_requests] == ["0", "1", "2"]
    titles = {paper.id: paper.title for paper in papers}
    assert titles["2501.00001"].startswith("LoRA for everyone <!channel>")  # kept as text
    assert max(len(paper.authors) for paper in papers) == 300
    assert all("LoRA" in paper.title for paper in papers)
    for paper in papers:
        for url in (paper.github_url, paper.project_url, paper.thumbnail_url):
            assert url is None or url.startswith(("https://", "http://"))
