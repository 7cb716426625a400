"""Feedback buttons and suggestions in the Slack and Discord renderings: inside each
platform's limits (checked by the fakes' own validators), hostile titles inert, every
paper with its three buttons, one click each."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from paperboy.digest import digest_for_queries, make_entry
from paperboy.feedback import FeedbackSigner
from paperboy.feedback.model import liked_reason
from paperboy.models import Digest, Paper, Reply, Target
from paperboy.sources.file import FileSource
from paperboy_adapters.discord.render import parse_feedback_id
from paperboy_adapters.discord.render import render_digest as discord_digest
from paperboy_adapters.discord.render import render_reply as discord_reply
from paperboy_adapters.slack.render import VOTE_ACTIONS, parse_vote_value, sendable
from paperboy_adapters.slack.render import render_digest as slack_digest
from paperboy_adapters.slack.render import render_reply as slack_reply
from tests.fakes.discord.validate import live_mentions, message_errors
from tests.fakes.slack import check_message, live_markup, mrkdwn_texts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TARGET = Target("slack", "T1", "C1")
SIGN = FeedbackSigner(b"k" * 32)


def load(name: str) -> list[Paper]:
    return asyncio.run(FileSource(FIXTURES / name).fetch_day(None))


def with_feedback(digest: Digest, suggested: list[Paper] = ()) -> Digest:
    """The digest as the core makes it for TARGET: tokens, and suggestions with why."""
    suggestions = tuple(
        dataclasses.replace(make_entry(p, ()), why=liked_reason(digest.entries[0].paper.title))
        for p in suggested
    )
    ids = [e.paper.id for e in (*digest.entries, *suggestions)]
    return dataclasses.replace(digest, suggestions=suggestions, feedback=SIGN.tokens(TARGET, ids))


def hostile_digest(many: int = 1) -> Digest:
    papers = load("hf_hostile_public.json") + load("hf_daily_papers_2024-11-11.json")
    copies = [
        dataclasses.replace(p, id=f"{p.id}{n}" if n else p.id) for n in range(many) for p in papers
    ]
    digest = digest_for_queries(copies[:-3], ["LoRA", "model"], day=None)
    return with_feedback(digest, copies[-3:])


def slack_buttons(parts: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for part in parts:
        for block in part["blocks"]:
            if block["type"] == "actions" and block["block_id"].startswith("paperboy_feedback_"):
                for element in block["elements"]:
                    parsed = parse_vote_value(element["value"])
                    assert parsed is not None and SIGN.check(TARGET, *parsed)
                    vote = [v for v, a in VOTE_ACTIONS.items() if a == element["action_id"]]
                    found.setdefault(parsed[0], set()).update(vote)
    return found


@pytest.mark.parametrize("many", [1, 4])
def test_slack_every_paper_has_its_buttons_within_the_limits(many: int) -> None:
    digest = hostile_digest(many)
    for parts in (
        slack_digest(digest),
        slack_digest(digest, thread=True),
        slack_reply(Reply(digest=digest)),
    ):
        for part in parts:
            sent = sendable(part)
            assert check_message(sent) is None, check_message(sent)
            for text in [*mrkdwn_texts(part["blocks"]), part["text"]]:
                assert live_markup(text) == [], text
    parts = slack_digest(digest)
    buttons = slack_buttons(parts)
    shown = [e.paper.id for e in (*digest.entries, *digest.suggestions)]
    assert set(buttons) == set(shown)
    assert all(votes == {"up", "down", "save"} for votes in buttons.values())
    body = json.dumps(parts, ensure_ascii=False)
    assert "Also worth a look" in body and "which this channel liked" in body


def test_slack_without_tokens_has_no_buttons() -> None:
    digest = dataclasses.replace(hostile_digest(), feedback=())
    assert slack_buttons(slack_digest(digest)) == {}


@pytest.mark.parametrize("many", [1, 4])
def test_discord_five_papers_a_message_each_with_a_row(many: int) -> None:
    digest = hostile_digest(many)
    bodies = discord_digest(digest)
    rows_seen: dict[str, set[str]] = {}
    for body in bodies:
        assert message_errors(body) == {}, message_errors(body)
        assert live_mentions(body) == []
        assert len(body["embeds"]) <= 5 and len(body["components"]) == len(body["embeds"])
        for row in body["components"]:
            assert len(row["components"]) == 3
            for button in row["components"]:
                parsed = parse_feedback_id(button["custom_id"])
                assert parsed is not None and SIGN.check(TARGET, parsed[1], parsed[2])
                assert len(button["custom_id"]) <= 100 and len(button["label"]) <= 80
                assert "\n" not in button["label"]
                rows_seen.setdefault(parsed[1], set()).add(parsed[0])
    shown = [e.paper.id for e in (*digest.entries, *digest.suggestions)]
    assert set(rows_seen) == set(shown)
    assert sum(len(b["embeds"]) for b in bodies) == len(shown)  # nothing dropped
    why = [f for b in bodies for e in b["embeds"] for f in e["fields"]]
    assert any(f["name"] == "Also worth a look" for f in why)
    for body in discord_reply(Reply(digest=digest)):
        assert message_errors(body) == {}


def test_discord_without_tokens_keeps_ten_a_message() -> None:
    digest = dataclasses.replace(hostile_digest(4), feedback=())
    bodies = discord_digest(digest)
    assert max(len(b["embeds"]) for b in bodies) == 10
    assert not any("components" in b for b in bodies)


def test_feedback_ids_refuse_what_is_not_one() -> None:
    assert parse_feedback_id("pbfb:up:2411.05288:" + "a" * 16) == ("up", "2411.05288", "a" * 16)
    for bad in ("pbfb:meh:2411.05288:x", "other:up:1:2", "pbfb:up::t", None, 42, "x" * 200):
        assert parse_feedback_id(bad) is None
    assert parse_vote_value("2411.05288 tok") == ("2411.05288", "tok")
    for bad in ("2411.05288", "a b c", " tok", "x" * 300):
        assert parse_vote_value(bad) is None
