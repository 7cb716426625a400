"""`paperboy ingest` and `paperboy search` end to end, as a user runs them (through the real
entry point, in this process: tests/cli_in_process.py)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from tests.cli_in_process import paperboy_async
from tests.fakes.arxiv import ArxivEntry, FakeArxiv
from tests.fakes.hf import FakeHF

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY_JSON = FIXTURES / "hf_daily_papers_2024-11-11.json"
HOSTILE_JSON = FIXTURES / "hf_hostile_public.json"


async def paperboy(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    out = await paperboy_async(*args, env={"PAPERBOY_HF_RETRIES": "0", **env})
    return out.returncode, out.stdout, out.stderr


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"PAPERBOY_DATABASE_URL": db_url, "HOME": str(tmp_path)}


async def test_ingest_file_then_search_json_contract(env: dict[str, str]) -> None:
    code, out, err = await paperboy("ingest", "--source", str(DAY_JSON), env=env)
    assert code == 0, err
    assert "9 papers fetched (9 new" in out
    code, out, err = await paperboy("search", "LoRA", "--format", "json", env=env)
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"query", "total", "results"}
    assert data["query"] == "LoRA" and data["total"] == len(data["results"]) >= 1
    for result in data["results"]:
        assert {"id", "title", "score", "date", "upvotes", "links"} <= set(result)
        assert result["links"]["arxiv"] == f"https://arxiv.org/abs/{result['id']}"
        assert result["date"] == "2024-11-11"
        assert isinstance(result["score"], float) and isinstance(result["upvotes"], int)
    code, out, err = await paperboy(
        "search", "pipeline parallelism, LoRA", "--limit", "1", "--format", "json", env=env
    )
    data = json.loads(out)
    assert code == 0 and len(data["results"]) == 1 and data["total"] >= 2
    # Words given as separate arguments form one query; options live in the query.
    code, out, _ = await paperboy("search", "pipeline", "parallelism", "has:code", env=env)
    assert code == 0 and "Search pipeline parallelism:" in out
    code, out, _ = await paperboy("search", "zzzunknownword", "--format", "json", env=env)
    assert code == 0 and json.loads(out) == {"query": "zzzunknownword", "total": 0, "results": []}
    code, out, _ = await paperboy("search", "LoRA", env=env)
    assert code == 0 and "/papers subscribe LoRA" in out


@pytest.mark.parametrize(
    "args",
    [
        ("search", 'LoRA "unclosed', "--format", "json"),
        ("search", "LoRA AND"),
        ("search", "since:2024-13-01 LoRA"),
        ("search", "LoRA limit:0"),
        ("search", "LoRA", "--format", "xml"),
        ("search", "LoRA", "--limit", "0"),
        ("ingest", "--to", "2024-11-11"),
        ("ingest", "--from", "2024-11-31"),
        ("ingest", "--from", "2024-11-12", "--to", "2024-11-11"),
        ("ingest", "--source", str(DAY_JSON), "--from", "2024-11-11"),
    ],
)
async def test_bad_input_exits_2_with_one_line(env: dict[str, str], args: tuple[str, ...]) -> None:
    code, out, err = await paperboy(*args, env=env)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paperboy: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("search", "LoRA since:3000y"), "at column 12"),
        (("search", "LoRA", "until:99999y"), "at column 12"),
        (("search", "LoRA since:0000-01-01"), "at column 12"),
        (("search", "LoRA limit:99999999999999999999"), "at column 12"),
        (("search", "LoRA min-upvotes:-5"), "at column 18"),
        (("search", "LoRA\x1b[31m"), "U+001B"),
        (("search", "LoRA", "--limit", "99999999999999999999"), "--limit"),
        (("search", "LoRA", "--limit", "-1"), "--limit"),
    ],
)
async def test_out_of_range_options_exit_2_with_the_column(
    env: dict[str, str], args: tuple[str, ...], needle: str
) -> None:
    code, out, err = await paperboy(*args, env=env)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paperboy: ") and needle in lines[0], err
    assert "\x1b" not in err and out == ""


async def test_the_widest_dates_search(env: dict[str, str]) -> None:
    code, _, err = await paperboy("ingest", "--source", str(DAY_JSON), env=env)
    assert code == 0, err
    wide = "LoRA since:0001-01-01 until:9999-12-31 min-upvotes:0 limit:100"
    code, out, err = await paperboy("search", wide, "--format", "json", env=env)
    assert code == 0, err
    assert json.loads(out)["total"] >= 1
    code, out, err = await paperboy("search", "LoRA since:9999-12-31", "--format", "json", env=env)
    assert code == 0, err
    assert json.loads(out)["total"] == 0


async def test_hostile_titles_print_as_text(env: dict[str, str]) -> None:
    code, _, err = await paperboy("ingest", "--source", str(HOSTILE_JSON), env=env)
    assert code == 0, err
    code, out, err = await paperboy("search", "LoRA", "--limit", "100", "--format", "json", env=env)
    assert code == 0, err
    assert json.loads(out)["total"] == 5
    code, out, err = await paperboy("search", "LoRA", env=env)
    assert code == 0, err


async def test_ingest_range_from_hf_with_progress(env: dict[str, str]) -> None:
    items = json.loads(DAY_JSON.read_text())
    days = {}
    for n, day in enumerate([dt.date(2024, 11, 4), dt.date(2024, 11, 5), dt.date(2024, 11, 6)]):
        day_items = copy.deepcopy(items[:2])
        for k, item in enumerate(day_items):
            item["paper"]["id"] = f"2411.{n}{k:04d}"
            item["paper"]["submittedOnDailyAt"] = f"{day.isoformat()}T00:00:00.000Z"
        days[day] = day_items
    async with FakeHF(days) as hf:
        hf_env = {**env, "PAPERBOY_HF_API_URL": hf.base_url}
        args = ("ingest", "--from", "2024-11-04", "--to", "2024-11-06", "--source", "hf")
        code, out, err = await paperboy(*args, env=hf_env)
        assert code == 0, err
        assert "3 days ingested, 6 papers fetched (6 new, 0 updated)" in out
        assert "hf backfill" in err  # the progress bar goes to stderr
        code, out, err = await paperboy(*args, env=hf_env)
        assert code == 0 and "3 already complete" in out
        assert len(hf.daily_requests) == 3
    code, out, _ = await paperboy(
        "search", "pipeline parallelism until:2024-11-05", "--format", "json", env=env
    )
    assert sorted(r["id"] for r in json.loads(out)["results"]) == ["2411.00000", "2411.10000"]


async def test_ingest_latest_arxiv_listing(env: dict[str, str]) -> None:
    async with FakeArxiv() as arxiv:
        arxiv.add(
            ArxivEntry(
                "2411.07777", "QLoRA on a budget", "We fine-tune with QLoRA.", ["A. Author"],
                dt.datetime(2024, 11, 8, 12, tzinfo=dt.UTC), ["cs.CL"],
            )
        )  # fmt: skip
        arxiv.announce(dt.date(2024, 11, 11), ["2411.07777"])
        arxiv_env = {
            **env,
            "PAPERBOY_ARXIV_RSS_URL": arxiv.rss_url,
            "PAPERBOY_ARXIV_API_URL": arxiv.api_url,
            "PAPERBOY_ARXIV_CATEGORIES": "cs.CL,cs.LG,cs.DC",
        }
        code, out, err = await paperboy("ingest", "--source", "arxiv", env=arxiv_env)
        assert code == 0, err
        assert arxiv.requests[0].path == "/rss/cs.CL+cs.LG+cs.DC"
    code, out, _ = await paperboy("search", "LoRA", "--format", "json", env=env)
    result = json.loads(out)["results"][0]
    assert result["id"] == "2411.07777" and "hf" not in result["links"]


async def test_failed_days_exit_1(env: dict[str, str]) -> None:
    async with FakeHF({}) as hf:
        url = hf.base_url
    code, out, err = await paperboy(
        "ingest", "--from", "2024-11-04", "--to", "2024-11-05",
        env={**env, "PAPERBOY_HF_API_URL": url},
    )  # fmt: skip
    assert code == 1
    assert "2 failed" in out
    assert "2024-11-04" in err and "Traceback" not in err
