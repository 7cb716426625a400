"""One bad item never spoils the day: numbers out of any column's range, fields of the
wrong type and absurd ids, ingested through the real path (source -> archive -> search
index) into SQLite and PostgreSQL, in-process and through `paperboy ingest`."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from paperboy.ingest import ingest_latest
from paperboy.sources.huggingface import HuggingFaceSource
from paperboy.store import Store
from tests.cli_in_process import paperboy
from tests.fakes.hf import FakeHF, Fault

DAY = dt.date(2024, 11, 11)
MAX_INTEGER = 2**31 - 1  # the archive's upvotes column: INTEGER (32 bits on PostgreSQL)
HUGE = "9" * 5000  # more digits than Python reads as an integer (4300)


def item(paper_id: str, title: object, **fields: str) -> str:
    """One daily_papers item as JSON text; `fields` are raw JSON values (numbers too
    long for json.dumps, or for Python at all, are written as they are)."""
    extra = "".join(f', "{name}": {value}' for name, value in fields.items())
    day = '"submittedOnDailyAt": "2024-11-11T00:00:00.000Z"'
    title_json = f'"{title}"' if isinstance(title, str) else str(title)
    return f'{{"paper": {{"id": "{paper_id}", "title": {title_json}, {day}{extra}}}}}'


HOSTILE_DAY = (
    "["
    + ", ".join(
        [
            item("2411.00001", "Votes of 2**63", upvotes=str(2**63), numComments=str(2**64)),
            item("2411.00002", "Votes just past INTEGER", upvotes=str(2**31)),
            item("2411.00003", "Negative votes", upvotes=str(-(2**63) - 1)),
            item("2411.00004", "Votes as a huge string", upvotes=f'"{"9" * 30}"'),
            item("2411.00005", "Votes as a huge float", upvotes="1e308", githubStars="1e999"),
            item("2411.00006", "Five thousand digits", upvotes=HUGE, numComments=HUGE),
            item(
                "2411.00007",
                12,
                upvotes='{"n": 1}',
                authors='"nobody"',
                summary="[1]",
                ai_keywords='"x"',
                githubRepo="42",
                publishedAt="true",
            ),
            item(
                "2411.00008",
                "Far past and future",
                upvotes="-0.5",
                publishedAt='"0001-01-01T00:00:00+14:00"',
            ),
            item(
                "2411.00009",
                "Last day of the calendar",
                upvotes="1",
                publishedAt='"9999-12-31T23:59:59-05:00"',
            ),
            item("hep-th" + "-x" * 40 + "/9901001", "An id longer than the key column"),
            item("2411.00010", "An ordinary paper about LoRA", upvotes="10"),
        ]
    )
    + "]"
).encode()

EXPECTED_VOTES = {
    "2411.00001": MAX_INTEGER,
    "2411.00002": MAX_INTEGER,
    "2411.00003": 0,
    "2411.00004": MAX_INTEGER,
    "2411.00005": MAX_INTEGER,
    "2411.00006": MAX_INTEGER,
    "2411.00007": 0,
    "2411.00008": 0,
    "2411.00009": 1,
    "2411.00010": 10,
}


@pytest.mark.parametrize("votes", [2**63, 2**31], ids=["2**63", "2**31"])
async def test_one_paper_with_absurd_votes_is_kept_with_the_rest(store: Store, votes: int) -> None:
    day = f"[{item('2411.00001', 'Absurd', upvotes=str(votes))}, {item('2411.00002', 'Fine')}]"
    async with FakeHF() as fake:
        fake.inject(Fault(200, day.encode()))
        result = await ingest_latest(store, HuggingFaceSource(fake.base_url, retries=0))
    assert (result.fetched, result.inserted) == (2, 2)
    stored = await store.papers.get_many(["2411.00001", "2411.00002"])
    assert [stored[pid].upvotes for pid in sorted(stored)] == [MAX_INTEGER, 0]


async def test_hostile_numbers_and_types_never_spoil_the_day(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeHF() as fake:
        fake.inject(Fault(200, HOSTILE_DAY))
        with caplog.at_level(logging.WARNING, logger="paperboy.sources"):
            result = await ingest_latest(store, HuggingFaceSource(fake.base_url, retries=0))
    assert result.fetched == len(EXPECTED_VOTES)  # only the over-long id is skipped
    stored = await store.papers.get_many(EXPECTED_VOTES)
    assert {pid: paper.upvotes for pid, paper in stored.items()} == EXPECTED_VOTES
    assert stored["2411.00007"].title == "" and stored["2411.00007"].authors == ()
    # Past the ends of the calendar once in UTC: no date rather than an error.
    assert stored["2411.00008"].published_at is None
    assert stored["2411.00009"].published_at is None
    assert stored["2411.00010"].daily_date == DAY
    clamped = [r.getMessage() for r in caplog.records if "upvotes" in r.getMessage()]
    assert len(clamped) == 5  # one warning per clamped item, nothing else
    # The archive is searchable, the clamped counts included.
    assert len(await store.papers.for_day(DAY)) == len(EXPECTED_VOTES)


def test_paperboy_ingest_of_a_hostile_file_exits_0(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.json"
    path.write_bytes(HOSTILE_DAY)
    env = {"PAPERBOY_DATABASE_URL": db_url}
    out = paperboy("ingest", "--source", str(path), env=env)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "10 papers fetched (10 new, 0 updated)" in out.stdout
    search = paperboy("search", "LoRA", "--format", "json", env=env)
    assert search.returncode == 0, search.stderr
    assert "2411.00010" in search.stdout


async def test_the_store_keeps_a_count_past_its_column_in_range(store: Store) -> None:
    from paperboy.models import Paper

    await store.papers.upsert(
        [Paper(id="2411.00001", title="t", upvotes=2**70), Paper(id="2411.00002", title="u")]
    )
    stored = await store.papers.get_many(["2411.00001", "2411.00002"])
    assert [stored[pid].upvotes for pid in sorted(stored)] == [MAX_INTEGER, 0]
