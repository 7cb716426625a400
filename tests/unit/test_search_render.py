"""Search results rendered by each adapter: valid messages, inert text, a way to subscribe."""

from __future__ import annotations

import asyncio
from pathlib import Path

from paperboy.digest import make_entry
from paperboy.models import Reply, SearchHit, SearchResults
from paperboy.sources.file import FileSource
from paperboy_adapters.discord.render import render_reply as discord_reply
from paperboy_adapters.slack.render import SUBSCRIBE_ACTION
from paperboy_adapters.slack.render import render_reply as slack_reply
from tests.unit.test_discord_render import assert_inert as discord_inert
from tests.unit.test_discord_render import assert_valid as discord_valid
from tests.unit.test_slack_render import assert_valid as slack_valid

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE_TERMS = "LoRA <!channel> @everyone <@U1> [x](http://evil.example)"


def results(name: str, terms: str = "LoRA", total: int | None = None) -> SearchResults:
    papers = asyncio.run(FileSource(FIXTURES / name).fetch_day(None))
    hits = []
    for i, paper in enumerate(papers):
        entry = make_entry(paper, ["LoRA"])
        hits.append(
            SearchHit(
                paper=paper,
                score=10.0 - i,
                matched_terms=entry.matched_terms,
                summary=entry.summary,
                summary_highlights=entry.summary_highlights,
                title_highlights=entry.title_highlights,
                authors=entry.authors,
                more_authors=entry.more_authors,
                date=paper.daily_date,
            )
        )
    return SearchResults(
        query=terms, terms=terms, total=total or len(hits), hits=tuple(hits), filters=("since 30d",)
    )


def test_slack_search_is_valid_inert_and_offers_a_subscribe_button() -> None:
    found = results("hf_hostile_public.json", HOSTILE_TERMS, total=40)
    parts = slack_reply(Reply("plain fallback", search=found))
    slack_valid(parts)
    blocks = [b for p in parts for b in p["blocks"]]
    assert blocks[0]["type"] == "header" and "Search" in blocks[0]["text"]["text"]
    [actions] = [b for b in blocks if b["type"] == "actions"]
    [button] = actions["elements"]
    assert button["action_id"] == SUBSCRIBE_ACTION and button["value"] == HOSTILE_TERMS
    assert "and 35 more" in str(blocks)  # 40 found, 5 shown: nothing dropped silently
    assert "plain fallback" not in str(parts)


def test_discord_search_is_valid_inert_and_hints_the_subscription() -> None:
    found = results("hf_daily_papers_2024-11-11.json", HOSTILE_TERMS)
    bodies = discord_reply(Reply("plain fallback", search=found))
    discord_valid(bodies)
    discord_inert(bodies)
    assert sum(len(b["embeds"]) for b in bodies) == len(found.hits)
    assert "Follow new papers like these: /papers subscribe" in bodies[-1]["content"]
    assert "@everyone" not in bodies[-1]["content"].replace("@\u200beveryone", "")


def test_empty_search_says_so_without_a_button() -> None:
    empty = SearchResults(query="zzz", terms="zzz", total=0)
    parts = slack_reply(Reply("", search=empty))
    slack_valid(parts)
    assert not [b for p in parts for b in p["blocks"] if b["type"] == "actions"]
    assert discord_reply(Reply("", search=empty))
