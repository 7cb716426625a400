"""The sources' HTTP limits against loopback fakes that misbehave: a body dripped a byte at
a time (a total deadline per request), a gzip bomb and an oversized body (a cap on the
decoded size), hostile error bodies (one clean line), and retries logged at INFO."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import random
import re
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from bot.models import Target
from bot.sources import SourceError
from bot.sources.arxiv import ArxivSource
from bot.sources.huggingface import HuggingFaceSource
from bot.store import Store
from tests.fakes.arxiv import ArxivEntry, FakeArxiv
from tests.fakes.arxiv import Fault as ArxivFault
from tests.fakes.hf import FakeHF, Fault

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DAY = dt.date(2024, 11, 11)
FRIDAY = dt.date(2024, 11, 8)
MB = 1 << 20
CAP = 1 * MB
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


async def no_sleep(seconds: float) -> None:
    """Backoff waits pass at once: the tests are about what is logged and raised."""


def day_items() -> list[dict]:
    return json.loads((FIXTURES / "hf_daily_papers_2024-11-11.json").read_text())


# A generous deadline by default, so a stalled machine fails no test that expects an
# answer; the tests about a slow drip set a short one of their own.
TIMEOUT = 5.0


def hf_source(fake: FakeHF, **kwargs: object) -> HuggingFaceSource:
    options: dict[str, object] = {"timeout": TIMEOUT, "retries": 0, "sleep": no_sleep}
    options.update(kwargs)
    return HuggingFaceSource(fake.base_url, **options)  # type: ignore[arg-type]


def arxiv_source(arxiv: FakeArxiv, **kwargs: object) -> ArxivSource:
    options: dict[str, object] = {"interval": 0.0, "timeout": TIMEOUT, "retries": 0,
                                  "sleep": no_sleep}  # fmt: skip
    options.update(kwargs)
    return ArxivSource(["cs.CL"], api_url=arxiv.api_url, rss_url=arxiv.rss_url, **options)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[FakeHF]:
    async with FakeHF() as server:
        yield server


@pytest.fixture
async def arxiv() -> AsyncIterator[FakeArxiv]:
    async with FakeArxiv() as server:
        yield server


class PeakRSS:
    """The highest resident set size of this process seen while the block runs
    (sampled every few milliseconds by a thread), minus the size before it."""

    def __init__(self) -> None:
        self.growth = 0
        self._process = psutil.Process()

    @contextmanager
    def watch(self) -> Iterator[PeakRSS]:
        start = self._process.memory_info().rss
        peak = start
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.002):
                peak = max(peak, self._process.memory_info().rss)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            done.set()
            thread.join()
            self.growth = max(peak, self._process.memory_info().rss) - start


def assert_one_clean_line(message: str, *, at_most: int = 400) -> None:
    assert "\n" not in message
    assert not CONTROL.search(message), repr(message)
    assert len(message) <= at_most, len(message)


# -- a total deadline per request (a slow drip never ends) ----------------------------


@pytest.mark.timeout(30)
async def test_hf_slow_drip_times_out_with_a_clear_error(fake: FakeHF) -> None:
    fake.fail_always(Fault.slow_drip(0.05))
    async with hf_source(fake, timeout=0.5, retries=1) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    assert str(err.value) == (
        "Hugging Face daily papers for 2024-11-11 failed after 2 tries: timed out after 0.5 s"
    )
    assert len(fake.daily_requests) == 2


@pytest.mark.timeout(30)
async def test_hf_slow_drip_then_a_good_answer(fake: FakeHF) -> None:
    fake.add_day(DAY, day_items())
    fake.inject(Fault.slow_drip(0.05))
    # The drip is cut at 1 s; the good answer after it has as long.
    async with hf_source(fake, timeout=1.0, retries=1) as hf:
        assert len(await hf.fetch_day(DAY)) == 9


@pytest.mark.timeout(30)
async def test_arxiv_slow_drip_times_out_with_a_clear_error(arxiv: FakeArxiv) -> None:
    arxiv.inject(ArxivFault.slow_drip(0.05), times=2)
    with pytest.raises(SourceError) as err:
        await arxiv_source(arxiv, timeout=0.5, retries=1).fetch_day(None)
    assert str(err.value) == (
        "the arXiv RSS feed of cs.CL failed after 2 tries: timed out after 0.5 s"
    )
    assert len(arxiv.requests) == 2


@pytest.mark.timeout(30)
async def test_run_startup_falls_back_to_the_sample_when_hf_drips(
    fake: FakeHF, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import _startup_digest
    from bot.store import migrate
    from config.settings import Settings

    fake.fail_always(Fault.slow_drip(0.05))
    config = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=sqlite_url,
        hf_api_url=fake.base_url,
        hf_timeout=0.5,
        hf_retries=2,
    )
    target = Target("console", "", "demo")
    await migrate(sqlite_url)
    async with Store(sqlite_url) as store:
        await store.targets.ensure(target)
        await store.subscriptions.add(target, "pipeline parallelism")
        digest, source = await _startup_digest(store, config, target, demo=True)
    assert source == "sample"
    assert digest.source_label and "sample data" in digest.source_label
    assert [e.paper.id for e in digest.entries] == ["2411.05288"]
    stderr = capsys.readouterr().err
    assert "timed out after 0.5 s" in stderr and "sample day" in stderr
    assert len(fake.daily_requests) == 1  # the demo start does not retry


# -- a cap on the decoded size --------------------------------------------------------


@pytest.mark.timeout(60)
async def test_hf_gzip_bomb_is_refused_without_inflating_it(fake: FakeHF) -> None:
    fake.fail_always(Fault.gzip_bomb(512 * MB))
    async with hf_source(fake, max_bytes=CAP, retries=2) as hf:
        with PeakRSS().watch() as memory, pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    assert str(err.value) == (
        "Hugging Face daily papers for 2024-11-11: the response is larger than 1,048,576 "
        "bytes (PAPERBOY_HTTP_MAX_BYTES); refusing it"
    )
    assert len(fake.daily_requests) == 1  # not retried: it would be as large again
    assert memory.growth < 100 * MB, memory.growth


@pytest.mark.timeout(60)
@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_hf_oversized_body_is_refused(fake: FakeHF, declare_length: bool) -> None:
    fake.fail_always(Fault.oversized(300 * MB, declare_length=declare_length))
    async with hf_source(fake, max_bytes=CAP, timeout=30) as hf:
        with PeakRSS().watch() as memory, pytest.raises(SourceError, match="larger than 1,048,576"):
            await hf.fetch_day(DAY)
    assert len(fake.daily_requests) == 1
    assert memory.growth < 100 * MB, memory.growth


def encoded_day(encoding: str) -> bytes:
    body = json.dumps(day_items()).encode()
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":  # zlib-wrapped, as the standard says
        return zlib.compress(body)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw, as some servers send
    return raw.compress(body) + raw.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_compressed_answers_are_read(fake: FakeHF, encoding: str) -> None:
    header = "deflate" if encoding == "raw-deflate" else encoding
    fake.inject(Fault(200, encoded_day(encoding), {"Content-Encoding": header}))
    async with hf_source(fake) as hf:
        papers = await hf.fetch_day(DAY)
    assert len(papers) == 9
    assert fake.daily_requests[0].headers["Accept-Encoding"] == "gzip, deflate"


async def test_the_cap_counts_decoded_bytes_exactly(fake: FakeHF) -> None:
    body = json.dumps(day_items()).encode()
    gzipped = gzip.compress(body)
    headers = {"Content-Encoding": "gzip"}
    fake.inject(Fault(200, gzipped, headers), Fault(200, gzipped, headers))
    async with hf_source(fake, max_bytes=len(body)) as hf:
        assert len(await hf.fetch_day(DAY)) == 9
    async with hf_source(fake, max_bytes=len(body) - 1) as hf:
        with pytest.raises(SourceError, match="larger than"):
            await hf.fetch_day(DAY)


async def test_an_unsupported_encoding_is_refused(fake: FakeHF) -> None:
    fake.inject(Fault(200, b"\x1b[31m", {"Content-Encoding": "br"}))
    async with hf_source(fake, retries=2) as hf:
        with pytest.raises(SourceError, match="unsupported Content-Encoding") as err:
            await hf.fetch_day(DAY)
    assert_one_clean_line(str(err.value))
    assert len(fake.daily_requests) == 1


async def test_an_error_with_an_unreadable_body_keeps_its_status(fake: FakeHF) -> None:
    fake.inject(Fault(403, b"\x00\x01", {"Content-Encoding": "br"}))
    async with hf_source(fake) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    assert str(err.value) == "Hugging Face rejected the daily papers request (HTTP 403: Forbidden)"


async def test_a_corrupt_gzip_body_is_retried(fake: FakeHF) -> None:
    fake.add_day(DAY, day_items())
    fake.inject(Fault(200, b"\x1f\x8bnot gzip at all", {"Content-Encoding": "gzip"}))
    async with hf_source(fake, retries=1) as hf:
        assert len(await hf.fetch_day(DAY)) == 9
    assert len(fake.daily_requests) == 2


async def test_redirects_are_followed(fake: FakeHF) -> None:
    fake.add_day(DAY, day_items())
    fake.inject(Fault(302, b"", {"Location": f"{fake.origin}/api/daily_papers?date=2024-11-11"}))
    async with hf_source(fake) as hf:
        assert len(await hf.fetch_day(DAY)) == 9
    assert len(fake.daily_requests) == 2


async def test_endless_redirects_fail_with_one_line(fake: FakeHF) -> None:
    fake.fail_always(Fault(302, b"", {"Location": f"{fake.origin}/api/daily_papers"}))
    async with hf_source(fake, retries=3) as hf:
        with pytest.raises(SourceError, match="more than 10 redirects") as err:
            await hf.fetch_day(DAY)
    assert_one_clean_line(str(err.value))


@pytest.mark.timeout(60)
async def test_arxiv_gzip_bomb_is_refused(arxiv: FakeArxiv) -> None:
    arxiv.inject(ArxivFault.gzip_bomb(512 * MB), times=3)
    with PeakRSS().watch() as memory, pytest.raises(SourceError) as err:
        await arxiv_source(arxiv, max_bytes=CAP, retries=2).fetch_day(None)
    assert str(err.value) == (
        "the arXiv RSS feed of cs.CL: the response is larger than 1,048,576 bytes "
        "(PAPERBOY_HTTP_MAX_BYTES); refusing it"
    )
    assert len(arxiv.requests) == 1
    assert memory.growth < 100 * MB, memory.growth


@pytest.mark.timeout(60)
async def test_arxiv_oversized_body_is_refused(arxiv: FakeArxiv) -> None:
    arxiv.inject(ArxivFault.oversized(300 * MB, declare_length=False))
    with pytest.raises(SourceError, match="larger than 1,048,576 bytes"):
        await arxiv_source(arxiv, max_bytes=CAP, timeout=30).fetch_day(None)


def test_the_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import Settings

    monkeypatch.setenv("PAPERBOY_HTTP_MAX_BYTES", "12345")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert HuggingFaceSource.from_settings(settings).max_bytes == 12345
    assert ArxivSource.from_settings(settings).max_bytes == 12345
    assert Settings(_env_file=None).http_max_bytes == 12345  # type: ignore[call-arg]
    monkeypatch.delenv("PAPERBOY_HTTP_MAX_BYTES")
    assert Settings(_env_file=None).http_max_bytes == 50_000_000  # type: ignore[call-arg]


# -- untrusted error bodies: one line, no control characters, short ---------------------

HOSTILE = (
    "\x1b]8;;https://evil.example/\x07click me\x1b]8;;\x07 \x1b[31mred\x1b[0m\r\n"
    "\u202eevil\u202c \x00\x9b" + "x" * 5000
)


@pytest.mark.parametrize("as_json", [True, False], ids=["hf-error-json", "plain-body"])
async def test_hf_error_body_is_one_clean_short_line(fake: FakeHF, as_json: bool) -> None:
    body = {"error": HOSTILE} if as_json else HOSTILE.encode()
    fake.inject(Fault(403, body))
    async with hf_source(fake) as hf:
        with pytest.raises(SourceError) as err:
            await hf.fetch_day(DAY)
    message = str(err.value)
    assert message.startswith("Hugging Face rejected the daily papers request (HTTP 403: ")
    assert "click me" in message and "red" in message
    assert_one_clean_line(message)


async def test_arxiv_error_feed_is_one_clean_short_line(arxiv: FakeArxiv) -> None:
    # XML 1.0 allows no C0 controls, but C1 ones (CSI) and bidirectional overrides pass.
    hostile = "\x9b31mred\x9b0m \u202eevil\u202c click me\n" + "x" * 5000
    feed = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#x'
        f"</id><summary>{hostile}</summary></entry></feed>"
    )
    arxiv.inject(ArxivFault(400, feed.encode()))
    with pytest.raises(SourceError) as err:
        await arxiv_source(arxiv).fetch_day(FRIDAY)
    message = str(err.value)
    assert "HTTP 400" in message and "click me" in message
    assert_one_clean_line(message)


# -- retries are logged at INFO, with the reason and the wait -------------------------


async def test_hf_retries_are_logged_with_reason_and_wait(
    fake: FakeHF, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_day(DAY, day_items())
    # The third answer never comes in time (1 s); the fourth, a good one, has as long.
    fake.inject(Fault.server_error(503), Fault.rate_limited(retry_after=7), Fault.slow(30.0))
    with caplog.at_level(logging.INFO, logger="bot.sources"):
        async with hf_source(fake, timeout=1.0, retries=3, backoff_base=0.5) as hf:
            assert len(await hf.fetch_day(DAY)) == 9
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.sources.huggingface"]
    assert all(r.levelno == logging.INFO for r in caplog.records if "retry" in r.getMessage())
    assert len(lines) == 3, lines
    prefix = "Hugging Face daily papers for 2024-11-11: "
    assert re.fullmatch(re.escape(prefix) + r"HTTP 503; retry 1 of 3 in 0\.\d s", lines[0])
    assert lines[1] == prefix + "HTTP 429 (rate limited); retry 2 of 3 in 7.0 s"
    assert re.fullmatch(
        re.escape(prefix) + r"timed out after 1 s \((TimeoutError|ReadTimeout)\); "
        r"retry 3 of 3 in [0-2]\.\d s",
        lines[2],
    )


async def test_arxiv_retries_are_logged_with_reason_and_wait(
    arxiv: FakeArxiv, caplog: pytest.LogCaptureFixture
) -> None:
    submitted = dt.datetime(2024, 11, 8, 9, tzinfo=dt.UTC)
    arxiv.add(ArxivEntry("2411.00001", "A title", "An abstract.", ["A. Author"], submitted,
                         ["cs.CL"]))  # fmt: skip
    arxiv.inject(ArxivFault.unavailable(retry_after="5"), ArxivFault.truncated())
    with caplog.at_level(logging.INFO, logger="bot.sources"):
        # (a seeded jitter: the wait is drawn from 0-1 s, and "1.0 s" is not "0.x s")
        source = arxiv_source(arxiv, retries=2, backoff_base=0.5, rng=random.Random(7))
        papers = await source.fetch_day(FRIDAY)
    assert [p.id for p in papers] == ["2411.00001"]
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.sources.arxiv"]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "bot.sources.arxiv")
    what = "the arXiv listing of cs.CL for 2024-11-08: "
    assert lines[0] == what + "HTTP 503; retry 1 of 2 in 5.0 s"
    assert re.fullmatch(re.escape(what) + r"malformed XML \(.*\); retry 2 of 2 in 0\.\d s",
                        lines[1])  # fmt: skip
    assert len(lines) == 2
