"""`paperboy similar`, `paperboy search --mode` and `paperboy reindex` end to end (the real
entry point, in this process), and `/papers similar` in chat."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from paperboy.chat import CommandContext
from paperboy.commands import Commands
from paperboy.embeddings import Embeddings
from paperboy.models import Paper, Target
from paperboy.store import Store
from paperboy_adapters.console.render import render
from tests.cli_in_process import paperboy_async
from tests.seed_corpus import load_seed_papers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY_JSON = FIXTURES / "hf_daily_papers_2024-11-11.json"
CTX = CommandContext(Target("console", "", "lab"), user="tester", can_manage=False)


async def paperboy(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    out = await paperboy_async(*args, env={"PAPERBOY_HF_RETRIES": "0", **env})
    return out.returncode, out.stdout, out.stderr


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"PAPERBOY_DATABASE_URL": db_url, "HOME": str(tmp_path)}


async def test_similar_and_search_modes(env: dict[str, str]) -> None:
    code, _, err = await paperboy("ingest", "--source", str(DAY_JSON), env=env)
    assert code == 0, err
    code, out, err = await paperboy(
        "similar", "2411.05288", "--limit", "3", "--format", "json", env=env
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"id", "results"} and data["id"] == "2411.05288"
    assert len(data["results"]) == 3
    assert "2411.05288" not in {r["id"] for r in data["results"]}
    for row in data["results"]:
        assert {"id", "title", "score", "date", "upvotes", "links", "similarity"} <= set(row)
        assert row["links"]["arxiv"] == f"https://arxiv.org/abs/{row['id']}"
    sims = [r["similarity"] for r in data["results"]]
    assert sims == sorted(sims, reverse=True)
    # A link works as well as an id; text output names the paper.
    code, out, err = await paperboy("similar", "https://arxiv.org/abs/2411.05288v2", env=env)
    assert code == 0 and out.startswith("Papers similar to 2411.05288: Balancing"), err

    for mode in ("hybrid", "keyword", "semantic"):
        code, out, err = await paperboy(
            "search", "splitting layers across devices", "--mode", mode, "--format", "json",
            env=env,
        )  # fmt: skip
        assert code == 0, err
        data = json.loads(out)
        assert set(data) == {"query", "total", "results"}
        if mode == "keyword":
            assert data["total"] == 0
        else:
            assert data["results"], mode
    code, out, _ = await paperboy(
        "search", "LoRA", "--mode", "keyword", "--format", "json", env=env
    )
    keyword = json.loads(out)
    code, out, _ = await paperboy("search", "LoRA", "--format", "json", env=env)
    hybrid = json.loads(out)
    exact = {r["id"] for r in keyword["results"]}
    assert {r["id"] for r in hybrid["results"][: len(exact)]} == exact


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("similar", "2411.99999"), "unknown paper"),
        (("similar", "not an id", "--format", "json"), "unknown paper"),
        (("similar", "2411.05288", "--limit", "0"), "--limit"),
        (("similar", "2411.05288", "--format", "xml"), "unknown format"),
        (("search", "LoRA", "--mode", "fuzzy"), "unknown mode"),
    ],
)
async def test_bad_input_exits_2_with_one_line(
    env: dict[str, str], args: tuple[str, ...], needle: str
) -> None:
    code, out, err = await paperboy(*args, env=env)
    lines = err.strip().splitlines()
    assert code == 2 and out == "", err
    assert len(lines) == 1 and lines[0].startswith("paperboy: ") and needle in lines[0], err


async def test_reindex_embeds_papers_archived_before(env: dict[str, str], db_url: str) -> None:
    code, _, err = await paperboy("ingest", "--source", str(DAY_JSON), env=env)
    assert code == 0, err
    async with Store(db_url) as store:  # as if archived before embeddings existed
        await store.papers.upsert(load_seed_papers()[:20])
        before = await Embeddings(store).vectors.count()
    assert before == 9
    code, out, err = await paperboy("reindex", "--quiet", env=env)
    assert code == 0, err
    assert out.strip() == (
        "29 papers indexed for keyword search; 20 papers embedded; 29 papers have an embedding"
    )
    code, out, err = await paperboy("reindex", env=env)
    assert code == 0 and out.strip() == (
        "29 papers indexed for keyword search; 0 papers embedded; 29 papers have an embedding"
    )
    code, out, err = await paperboy(
        "search", "LoRA", "--mode", "keyword", "--format", "json", env=env
    )
    assert code == 0, err
    assert json.loads(out)["total"] >= 1


def printed(item: object) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    for part in render(item):  # type: ignore[arg-type]
        console.print(part)
    return out.getvalue()


async def test_similar_in_chat(store: Store) -> None:
    papers = load_seed_papers()
    hostile = Paper(id="2411.00001", title="<!channel> [bold]LoRA[/] <@U1>", abstract="LoRA, QLoRA")
    await store.papers.upsert([*papers, hostile])
    await Embeddings(store).add_papers([*papers, hostile])
    commands = Commands(store)
    reply = await commands.handle(CTX, "/papers similar seed.0045")
    assert reply.ok and reply.digest is not None
    assert reply.digest.header.startswith("Papers similar to seed.0045: DyLoRA")
    assert len(reply.digest.entries) == 10
    assert "seed.0045" not in {e.paper.id for e in reply.digest.entries}
    shown = printed(reply)
    assert "Papers similar to seed.0045" in shown
    # Untrusted titles stay text in the header.
    reply = await commands.handle(CTX, "similar https://arxiv.org/abs/2411.00001")
    assert reply.ok and reply.digest is not None
    assert "<!channel> [bold]LoRA[/] <@U1>" in printed(reply)
    missing = await commands.handle(CTX, "similar 2499.12345")
    assert not missing.ok and missing.text.count("\n") == 0
    assert "No paper 2499.12345 in the archive" in missing.text
    usage = await commands.handle(CTX, "similar")
    assert not usage.ok and "Usage: /papers similar" in usage.text
