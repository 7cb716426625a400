"""FileSource: recorded daily_papers JSON from a file or the bundled sample."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from paperboy.sources import SourceError
from paperboy.sources.file import SAMPLE_DATE, FileSource, most_common_day, sample_resource
from paperboy.sources.huggingface import HuggingFaceSource
from paperboy.sources.registry import source_from_spec
from paperboy_config.settings import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


async def test_sample_loads_nine_papers_of_its_day() -> None:
    source = FileSource.sample()
    assert source.name == "file"
    assert source.day is None  # known once read
    papers = await source.fetch_day(None)
    assert len(papers) == 9
    assert source.day == SAMPLE_DATE == dt.date(2024, 11, 11)
    assert {paper.daily_date for paper in papers} == {SAMPLE_DATE}


async def test_a_file_is_a_recorded_day_whatever_day_is_asked() -> None:
    source = FileSource.sample()
    papers = await source.fetch_day(dt.date(2030, 1, 1))
    assert len(papers) == 9
    assert source.day == SAMPLE_DATE


def test_sample_is_a_package_resource() -> None:
    assert sample_resource().is_file()


async def test_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    shutil.copy(FIXTURES / "hf_hostile_public.json", path)
    for spec in (path, str(path)):
        papers = await FileSource(spec).fetch_day(None)
        assert len(papers) == 5


async def test_empty_list_has_no_day(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("[]")
    source = FileSource(path)
    assert await source.fetch_day(None) == []
    assert source.day is None


def assert_one_line_naming(err: pytest.ExceptionInfo[SourceError], path: Path) -> str:
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    return message


async def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(SourceError) as err:
        await FileSource(path).fetch_day(None)
    assert assert_one_line_naming(err, path) == f"cannot read papers file {path}: no such file"


async def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        await FileSource(tmp_path).fetch_day(None)
    assert assert_one_line_naming(err, tmp_path).endswith("it is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
async def test_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text("[]")
    path.chmod(0)
    with pytest.raises(SourceError) as err:
        await FileSource(path).fetch_day(None)
    assert assert_one_line_naming(err, path).endswith("permission denied")


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b'[{"paper": {"id": "2411.05288"', b"\xff\xfe\x00garbage", b"[" * 100_000],
)
async def test_invalid_json(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        await FileSource(path).fetch_day(None)
    assert assert_one_line_naming(err, path).startswith(f"papers file {path} is not valid JSON: ")


async def test_a_device_is_refused_without_reading_it() -> None:
    with pytest.raises(SourceError) as err:
        await FileSource("/dev/zero").fetch_day(None)
    assert str(err.value) == "cannot read papers file /dev/zero: not a regular file"


async def test_a_file_over_the_cap_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(10**12)  # sparse: a terabyte that would take long to read
    with pytest.raises(SourceError) as err:
        await FileSource(path, max_bytes=1000).fetch_day(None)
    assert str(err.value) == (
        f"papers file {path} is larger than 1,000 bytes (PAPERBOY_HTTP_MAX_BYTES)"
    )


async def test_a_file_of_exactly_the_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    path.write_bytes(b"[" + b" " * 998 + b"]")
    assert await FileSource(path, max_bytes=1000).fetch_day(None) == []
    with pytest.raises(SourceError, match="larger than 999 bytes"):
        await FileSource(path, max_bytes=999).fetch_day(None)


@pytest.mark.timeout(30)
async def test_a_pipe_is_read_no_further_than_the_cap(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    written: list[int] = []

    def write_forever() -> None:
        with contextlib.suppress(BrokenPipeError), fifo.open("wb") as pipe:
            while True:
                written.append(pipe.write(b" " * 65536))

    writer = threading.Thread(target=write_forever, daemon=True)
    writer.start()
    with pytest.raises(SourceError, match="larger than 100,000 bytes"):
        await FileSource(fifo, max_bytes=100_000).fetch_day(None)
    writer.join(timeout=10)
    assert not writer.is_alive()  # the reader closed the pipe once past the cap


async def test_a_small_pipe_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    body = (FIXTURES / "hf_hostile_public.json").read_bytes()

    def write() -> None:
        with fifo.open("wb") as pipe:
            pipe.write(body)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert len(await FileSource(fifo).fetch_day(None)) == 5
    writer.join(timeout=10)


@pytest.mark.parametrize("data", [{"papers": []}, {"error": "Invalid date"}, "text", 1, None])
async def test_wrong_shape(tmp_path: Path, data: object) -> None:
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SourceError) as err:
        await FileSource(path).fetch_day(None)
    message = assert_one_line_naming(err, path)
    assert message.startswith(f"papers file {path} is not a daily_papers list")


async def test_bad_items_are_skipped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([None, {"paper": {"id": "nope"}}, {"paper": {"id": "2411.05288"}}]))
    assert [p.id for p in await FileSource(path).fetch_day(None)] == ["2411.05288"]


def test_most_common_day() -> None:
    from paperboy.models import Paper

    a, b = dt.date(2024, 11, 8), dt.date(2024, 11, 11)
    papers = [
        Paper(id=f"2411.0000{n}", title="", daily_date=d)
        for n, d in enumerate([a, b, b, None, a, b])
    ]
    assert most_common_day(papers) == b
    assert most_common_day(papers[:2]) == b  # a tie goes to the later day
    assert most_common_day([]) is None


# -- registry ----------------------------------------------------------------------

#: Settings from their defaults only (no environment file).
PLAIN = Settings(_env_file=None)


def test_registry_hf() -> None:
    settings = Settings(
        hf_api_url="http://127.0.0.1:9/api", hf_timeout=3, hf_retries=2, hf_page_size=20
    )
    source = source_from_spec("hf", settings)
    assert isinstance(source, HuggingFaceSource)
    assert source.name == "hf"
    assert (source.base_url, source.timeout, source.retries, source.page_size) == (
        "http://127.0.0.1:9/api/",
        3,
        2,
        20,
    )


async def test_registry_sample_and_path(tmp_path: Path) -> None:
    sample = source_from_spec("sample", PLAIN)
    assert isinstance(sample, FileSource)
    assert len(await sample.fetch_day(None)) == 9
    path = tmp_path / "day.json"
    path.write_text("[]")
    source = source_from_spec(f" {path} ", PLAIN)
    assert isinstance(source, FileSource) and source.path == path


@pytest.mark.parametrize("spec", ["", "  "])
def test_registry_rejects_an_empty_spec(spec: str) -> None:
    with pytest.raises(SourceError) as err:
        source_from_spec(spec, PLAIN)
    assert (
        str(err.value) == "no source given: use hf, sample or the path of a daily_papers JSON file"
    )


async def test_registry_missing_file_fails_at_fetch(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such.json"
    source = source_from_spec(str(path), PLAIN)  # commands that never fetch still work
    with pytest.raises(SourceError, match="no such file"):
        await source.fetch_day(None)
