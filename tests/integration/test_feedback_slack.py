"""Feedback on Slack end to end: signed `block_actions` clicks into the real bolt app (HTTP
mode) answering at the fake's response_url, digests delivered through the real adapter,
and the reading list uploaded with files_upload_v2 (the fake's real three-step flow)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from paperboy.clock import ManualClock
from paperboy.commands import Commands
from paperboy.delivery import DueDigest
from paperboy.feedback import signer
from paperboy.models import Target
from paperboy.sources.registry import source_from_spec
from paperboy.store import Store
from paperboy_adapters.slack.adapter import SlackAdapter
from paperboy_adapters.slack.render import VOTE_ACTIONS
from paperboy_config import Settings
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack, interaction_body
from tests.integration.delivery_support import MONDAY, deliverer_for, lora_papers, planner_for
from tests.integration.test_slack_http import CHAN, bolt_server, command, post_signed

OTHER = "C0RANDOM"
LAB = Target("slack", TEAM_ID, CHAN)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(CHAN)
        fake.add_channel(OTHER)
        yield fake


@pytest.fixture
def commands(store: Store) -> Commands:
    return Commands(store, source_from_spec("sample", Settings(_env_file=None)))


def vote_buttons(payloads: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """paper id -> {vote: button value} of every feedback button in the messages."""
    found: dict[str, dict[str, str]] = {}
    for payload in payloads:
        for block in payload.get("blocks", []):
            if block["type"] != "actions":
                continue
            for element in block["elements"]:
                vote = next((v for v, a in VOTE_ACTIONS.items() if a == element["action_id"]), None)
                if vote is not None:
                    paper_id = element["value"].split(" ")[0]
                    found.setdefault(paper_id, {})[vote] = element["value"]
    return found


async def click(
    slack: FakeSlack,
    url: str,
    vote: str,
    value: str,
    *,
    channel: str = CHAN,
    user: str = "U0ALICE",
    in_channel: bool = False,
) -> list[dict[str, Any]]:
    """Click a feedback button as Slack would; the answers at its response_url."""
    answer_url = slack.response_url()
    payload = slack.block_action(
        VOTE_ACTIONS[vote], value, channel_id=channel, user_id=user, response_url=answer_url
    )
    payload["actions"][0]["block_id"] = f"paperboy_feedback_{value.split(' ')[0]}"
    if in_channel:  # a button on a message posted in the channel, not an ephemeral one
        payload["container"] = {
            "type": "message",
            "message_ts": "1700000001.000001",
            "channel_id": channel,
            "is_ephemeral": False,
        }
    resp = await post_signed(url, interaction_body(payload))  # within Slack's 3 s
    assert resp.status == 200
    await slack.wait_for(lambda: bool(slack.responses_to(answer_url)))
    answers = slack.responses_to(answer_url)
    assert all(a.accepted for a in answers)
    return [a.payload for a in answers]


def answer_text(payloads: list[dict[str, Any]]) -> str:
    return json.dumps([b for p in payloads for b in p["blocks"]], ensure_ascii=False)


async def votes(store: Store) -> list[tuple[str, int, bool, str]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT paper_id, vote, saved_at IS NOT NULL AS saved, user_hash"
                " FROM feedback_votes ORDER BY paper_id, user_hash"
            )
        )
        return [(r.paper_id, r.vote, bool(r.saved), r.user_hash) for r in rows]


async def test_preview_buttons_record_votes_once_and_replace(
    slack: FakeSlack, commands: Commands, store: Store
) -> None:
    async with bolt_server(slack, commands.handle) as url:
        await command(slack, url, "subscribe LoRA, parallelism")
        preview = await command(
            slack, url, "digest 2024-11-11", until=lambda p: bool(vote_buttons(p))
        )
        buttons = vote_buttons(preview)
        assert "2411.05288" in buttons and set(buttons["2411.05288"]) == {"up", "down", "save"}
        value = buttons["2411.05288"]["up"]

        noted = await click(slack, url, "up", value)
        assert "noted" in answer_text(noted).lower()
        assert all(p.get("replace_original") is False for p in noted)  # the digest stays
        assert all(p["response_type"] == "ephemeral" for p in noted)
        again = await click(slack, url, "up", value)
        assert "already noted" in answer_text(again).lower()
        [(paper_id, vote, saved, user_hash)] = await votes(store)
        assert (paper_id, vote, saved) == ("2411.05288", 1, False)
        assert "U0ALICE" not in user_hash and len(user_hash) == 32

        await click(slack, url, "down", buttons["2411.05288"]["down"])
        await click(slack, url, "save", buttons["2411.05288"]["save"])
        [(_, vote, saved, _)] = await votes(store)
        assert (vote, saved) == (-1, True)
        await click(slack, url, "up", value, user="U0BOB")
        assert [v for _, v, _, _ in await votes(store)] and len(await votes(store)) == 2

        summary = await command(slack, url, "feedback")
        assert "1 👍, 1 👎, 1 🔖" in answer_text(summary)


async def test_tampered_clicks_are_refused(
    slack: FakeSlack, commands: Commands, store: Store
) -> None:
    async with bolt_server(slack, commands.handle) as url:
        await command(slack, url, "subscribe LoRA")
        preview = await command(
            slack, url, "digest 2024-11-11", until=lambda p: bool(vote_buttons(p))
        )
        _, values = next(iter(vote_buttons(preview).items()))
        # The same button clicked in another channel (copied, or the payload edited).
        moved = await click(slack, url, "up", values["up"], channel=OTHER)
        assert "does not belong" in answer_text(moved)
        # The paper edited in the value: the token no longer matches.
        token = values["up"].split(" ")[1]
        edited = await click(slack, url, "up", f"2411.04997 {token}")
        assert "does not belong" in answer_text(edited)
        # A valid token for a paper the archive does not hold.
        sign = await signer(store)
        unknown = "2499.99999 " + sign.token(LAB, "2499.99999")
        gone = await click(slack, url, "up", unknown)
        assert "No paper 2499.99999" in answer_text(gone)
        # Not a value a paperboy button has.
        junk = await click(slack, url, "up", "not-a-value")
        assert "not one of paperboy's" in answer_text(junk)
    assert await votes(store) == []


async def test_delivered_digest_carries_buttons_that_work_in_its_channel(
    slack: FakeSlack, commands: Commands, store: Store
) -> None:
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
    clock = ManualClock(MONDAY)
    target_id = await store.targets.ensure(LAB)
    await store.subscriptions.add(LAB, "LoRA")
    await store.papers.upsert(lora_papers(20), seen_at=clock.now() - dt.timedelta(hours=1))
    result = await planner_for(store, [adapter], clock).plan([DueDigest(target_id, MONDAY.date())])
    # Three blocks a paper (the row of buttons takes the divider's place): 16 a message.
    assert result.parts == 2
    await deliverer_for(store, [adapter], clock).run_until_idle()
    await adapter.stop()
    posted = slack.messages(CHAN)
    assert len(posted) == result.parts and all(len(m["blocks"]) <= 50 for m in posted)
    buttons = vote_buttons(posted)
    assert len(buttons) == 20  # every paper, in every part
    async with bolt_server(slack, commands.handle) as url:
        first = next(iter(buttons))
        noted = await click(slack, url, "save", buttons[first]["save"], in_channel=True)
        assert "saved" in answer_text(noted).lower()
    assert [(p, v, s) for p, v, s, _ in await votes(store)] == [(first, 0, True)]


async def test_saved_export_uploads_a_bibtex_file(
    slack: FakeSlack, commands: Commands, store: Store
) -> None:
    async with bolt_server(slack, commands.handle) as url:
        await command(slack, url, "subscribe LoRA")
        await command(slack, url, "digest 2024-11-11")  # brings the day into the archive
        await command(slack, url, "feedback save 2411.05288")
        listed = await command(slack, url, "saved")
        assert "2411.05288" in answer_text(listed) and "user " in answer_text(listed)
        assert "U0ALICE" not in answer_text(listed)
        answer = await command(slack, url, "saved export")
        assert "BibTeX" in answer_text(answer)
        await slack.wait_for(lambda: bool(slack.uploaded(CHAN)))
    [upload] = slack.uploaded(CHAN)
    assert upload.name.endswith(".bib") and upload.data is not None
    assert b"eprint = {2411.05288}" in upload.data
    methods = [c.method for c in slack.calls]
    assert methods.index("files.getUploadURLExternal") < methods.index(
        "files.completeUploadExternal"
    )
    assert slack.messages(CHAN)[-1]["files"][0]["id"] == upload.id  # shared in the channel


async def test_saved_export_without_files_write_says_so(
    slack: FakeSlack, commands: Commands, store: Store
) -> None:
    slack.scopes.discard("files:write")
    async with bolt_server(slack, commands.handle) as url:
        await command(slack, url, "subscribe LoRA")
        await command(slack, url, "digest 2024-11-11")
        await command(slack, url, "feedback save 2411.05288")
        answer = await command(slack, url, "saved export", until=lambda p: len(p) >= 2)
    assert "files:write" in answer_text(answer)
    assert slack.uploaded(CHAN) == []


async def test_a_click_over_socket_mode_is_acked_and_noted(
    slack: FakeSlack, commands: Commands, store: Store
) -> None:
    from tests.fakes.slack import APP_TOKEN

    adapter = SlackAdapter(BOT_TOKEN, app_token=APP_TOKEN, api_url=slack.base_url)
    task = asyncio.create_task(adapter.start(commands.handle))
    try:
        await slack.wait_connected()
        await store.subscriptions.add(LAB, "LoRA")
        preview_url = slack.response_url()
        envelope = await slack.send_envelope(
            "slash_commands", slack.slash_command("digest 2024-11-11", response_url=preview_url)
        )
        await slack.wait_ack(envelope, within=3)
        await slack.wait_for(lambda: bool(slack.responses_to(preview_url)))
        buttons = vote_buttons([r.payload for r in slack.responses_to(preview_url)])
        paper_id, values = next(iter(buttons.items()))
        click_url = slack.response_url()
        payload = slack.block_action(VOTE_ACTIONS["up"], values["up"], response_url=click_url)
        envelope = await slack.send_envelope("interactive", payload)
        await slack.wait_ack(envelope, within=3)  # acknowledged on the socket within 3 s
        await slack.wait_for(lambda: bool(slack.responses_to(click_url)))
        assert "noted" in answer_text([r.payload for r in slack.responses_to(click_url)])
    finally:
        await adapter.stop()
        await asyncio.wait_for(task, 5)
    assert [(p, v) for p, v, _, _ in await votes(store)] == [(paper_id, 1)]
