"""`/papers search` through `Commands.handle`, and its rendering in the console adapter."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from rich.console import Console

from paperboy.chat import CommandContext
from paperboy.commands import Commands
from paperboy.models import Paper, Target
from paperboy.search import results_json
from paperboy.store import Store
from paperboy_adapters.console.render import render
from tests.seed_corpus import load_seed_papers

CTX = CommandContext(Target("console", "", "lab"), user="tester", can_manage=False)


def printed(item) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    for part in render(item):
        console.print(part)
    return out.getvalue()


async def test_search_command_replies_with_results(store: Store) -> None:
    await store.papers.upsert(load_seed_papers())
    commands = Commands(store)
    reply = await commands.handle(CTX, "/papers search LoRA limit:3")
    assert reply.ok and reply.search is not None  # searching needs no manage permission
    assert len(reply.search.hits) == 3 and reply.search.total == 10
    assert reply.search.terms == "LoRA"
    assert reply.text.startswith("Search LoRA: 10 papers, top 3")
    assert "/papers subscribe LoRA" in reply.text
    shown = printed(reply)
    assert "Search LoRA: 10 papers, top 3" in shown
    assert "Follow new papers like these: /papers subscribe LoRA" in shown
    assert shown.count("Search LoRA") == 1  # the text fallback is not printed as well


async def test_search_command_errors(store: Store) -> None:
    commands = Commands(store)
    empty = await commands.handle(CTX, "search")
    assert not empty.ok and "Usage: /papers search" in empty.text
    bad = await commands.handle(CTX, 'search LoRA "x')
    assert not bad.ok and "column 6" in bad.text and "since:30d" in bad.text
    none = await commands.handle(CTX, "search zzzunknownword")
    assert none.ok and none.search is not None and none.search.total == 0
    assert "No paper in the archive matches" in printed(none)
    help_text = (await commands.handle(CTX, "help")).text
    assert "/papers search" in help_text


async def test_untrusted_titles_stay_text(store: Store) -> None:
    await store.papers.upsert(
        [Paper(id="2411.00001", title="[bold red]LoRA[/] <@U1> <!channel>", abstract="LoRA")]
    )
    reply = await Commands(store).handle(CTX, "search LoRA")
    shown = printed(reply)
    assert "[bold red]LoRA[/] <@U1> <!channel>" in shown
    data = results_json(reply.search)  # type: ignore[arg-type]
    assert data["results"][0]["title"] == "[bold red]LoRA[/] <@U1> <!channel>"


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("search LoRA since:3000y", 12),
        ("search LoRA until:99999y", 12),
        ("search LoRA since:0000-01-01", 12),
        ("search LoRA limit:99999999999999999999", 12),
        ("search LoRA limit:-1", 12),
        ("search LoRA min-upvotes:1000001", 18),
        ("search LoRA min-upvotes:²", 18),
    ],
)
async def test_out_of_range_options_get_their_column(store: Store, line: str, column: int) -> None:
    reply = await Commands(store).handle(CTX, line)
    assert not reply.ok
    assert reply.text.startswith("Bad search: ") and f"at column {column}." in reply.text
    assert "\n" not in reply.text and "Sorry" not in reply.text


async def test_extreme_but_valid_options_search(store: Store) -> None:
    day = dt.date(2024, 11, 11)
    await store.papers.upsert([Paper(id="2411.00001", title="LoRA", daily_date=day)])
    commands = Commands(store)
    reply = await commands.handle(CTX, "search LoRA since:0001-01-01 until:9999-12-31 limit:100")
    assert reply.ok and reply.search is not None and reply.search.total == 1
    reply = await commands.handle(CTX, "search LoRA since:9999-12-31")
    assert reply.ok and reply.search is not None and reply.search.total == 0
