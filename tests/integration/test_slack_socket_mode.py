"""Socket Mode end to end against the fake: apps.connections.open, then a local websocket.

slack-bolt's AsyncSocketModeHandler (slack_sdk's aiohttp SocketModeClient) asks
`apps.connections.open` for a URL through the same `base_url` as every Web API call,
so the fake hands out a `ws://127.0.0.1` URL and plays Slack's side of the socket:
`hello`, then envelopes; the client acknowledges each envelope on the socket and
answers through the envelope's response_url. The whole path runs as in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.render import SHARE_ACTION
from bot.chat import CommandContext
from bot.commands import Commands
from bot.models import Reply, Target
from bot.sources.registry import source_from_spec
from bot.store import Store, migrate
from config import Settings
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, TEAM_ID, FakeSlack, settled

CHAN = "C0GENERAL"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(CHAN)
        yield fake


@pytest.fixture
async def commands(sqlite_url: str) -> AsyncIterator[Commands]:
    await migrate(sqlite_url)
    async with Store(sqlite_url) as store:
        yield Commands(store, source_from_spec("sample", Settings(_env_file=None)))


async def running(adapter: SlackAdapter, on_command) -> asyncio.Task:
    task = asyncio.create_task(adapter.start(on_command))
    return task


async def stop(adapter: SlackAdapter, task: asyncio.Task) -> None:
    await adapter.stop()
    await asyncio.wait_for(task, 5)


async def test_slash_command_over_socket_mode(slack: FakeSlack, commands: Commands) -> None:
    adapter = SlackAdapter(BOT_TOKEN, app_token=APP_TOKEN, api_url=slack.base_url)
    task = await running(adapter, commands.handle)
    try:
        await slack.wait_connected()
        assert [c.method for c in slack.calls][:2] == ["auth.test", "apps.connections.open"]
        assert slack.calls[1].token == APP_TOKEN
        response_url = slack.response_url()
        envelope = await slack.send_envelope(
            "slash_commands", slack.slash_command("subscribe LoRA", response_url=response_url)
        )
        ack = await slack.wait_ack(envelope, within=3)  # Slack's 3 s
        assert ack["envelope_id"] == envelope
        await slack.wait_for(lambda: bool(slack.responses_to(response_url)))
        [answer] = slack.responses_to(response_url)
        assert answer.accepted and answer.payload["response_type"] == "ephemeral"
        assert "Subscribed #" in json.dumps(answer.payload)
        subs = await commands.store.subscriptions.list(Target("slack", TEAM_ID, CHAN))
        assert [s.query for s in subs] == ["LoRA"]

        preview_url = slack.response_url()
        envelope = await slack.send_envelope(
            "slash_commands", slack.slash_command("digest 2024-11-11", response_url=preview_url)
        )
        await slack.wait_ack(envelope, within=3)
        await slack.wait_for(
            lambda: any(
                SHARE_ACTION in json.dumps(r.payload) for r in slack.responses_to(preview_url)
            )
        )
        click_url = slack.response_url()
        envelope = await slack.send_envelope(
            "interactive",
            slack.block_action(SHARE_ACTION, '{"date": "2024-11-11"}', response_url=click_url),
        )
        await slack.wait_ack(envelope, within=3)
        await slack.wait_for(lambda: bool(slack.responses_to(click_url)))
        assert slack.messages(CHAN) and "2024-11-11" in slack.messages(CHAN)[0]["text"]
    finally:
        await stop(adapter, task)
    assert task.done() and task.exception() is None


async def test_ack_does_not_wait_for_slow_work(slack: FakeSlack) -> None:
    release = asyncio.Event()

    async def slow(ctx: CommandContext, text: str) -> Reply:
        await release.wait()
        return Reply("finally")

    adapter = SlackAdapter(BOT_TOKEN, app_token=APP_TOKEN, api_url=slack.base_url)
    task = await running(adapter, slow)
    try:
        await slack.wait_connected()
        response_url = slack.response_url()
        envelope = await slack.send_envelope(
            "slash_commands", slack.slash_command("digest", response_url=response_url)
        )
        await slack.wait_ack(envelope, within=3)
        assert slack.responses_to(response_url) == []
        release.set()
        await slack.wait_for(lambda: bool(slack.responses_to(response_url)))
    finally:
        await stop(adapter, task)


async def test_bad_app_token_does_not_hang(slack: FakeSlack) -> None:
    adapter = SlackAdapter(BOT_TOKEN, app_token="xapp-wrong", api_url=slack.base_url)

    async def never(ctx: CommandContext, text: str) -> Reply:
        raise AssertionError

    await asyncio.wait_for(adapter.start(never), 5)  # logs the error and returns
    assert slack.calls[-1].method == "apps.connections.open"


async def test_without_app_token_start_returns_at_once(slack: FakeSlack) -> None:
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)

    async def never(ctx: CommandContext, text: str) -> Reply:
        raise AssertionError

    await asyncio.wait_for(adapter.start(never), 5)
    assert slack.calls == []


async def test_what_paperboy_does_not_answer_is_refused_without_a_traceback(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Not acknowledged (Slack shows the user that it failed), one warning each, and
    never handed to bolt; an event is acknowledged and dropped."""
    seen: list[str] = []

    async def handler(ctx: CommandContext, text: str) -> Reply:
        seen.append(text)
        return Reply("ok")

    def click(**changes: object) -> dict[str, object]:
        payload = slack.block_action(SHARE_ACTION, '{"date": null}')
        payload.update(changes)
        return payload

    def command(**changes: object) -> dict[str, object]:
        payload: dict[str, object] = {**slack.slash_command("list")}
        payload.update(changes)
        return payload

    view = {"id": "V1", "callback_id": "x", "team_id": TEAM_ID}
    refused = [
        ("interactive", click(actions="share")),
        ("interactive", click(actions=[1])),
        ("interactive", click(actions=[])),
        ("interactive", click(channel=CHAN)),
        ("interactive", click(actions=[{"action_id": "not_ours", "value": "{}"}])),
        ("interactive", {"type": "view_submission", "view": {"id": "V1"}}),
        ("interactive", {"type": "view_submission", "view": view}),
        ("interactive", {"type": "view_closed", "view": view}),
        ("interactive", {"type": "shortcut", "callback_id": "x"}),
        ("interactive", {"type": "message_action", "callback_id": "x", "message": []}),
        ("slash_commands", command(type="view_submission", view=view)),
        ("slash_commands", command(response_url="not a url")),
        ("slash_commands", command(authorizations="x")),
    ]
    events = [
        {"type": "event_callback", "event": "x"},
        {"type": "event_callback", "event": {"type": "message", "channel_type": "im"}},
    ]

    adapter = SlackAdapter(BOT_TOKEN, app_token=APP_TOKEN, api_url=slack.base_url)
    before = asyncio.all_tasks()
    task = await running(adapter, handler)
    try:
        await slack.wait_connected()
        with caplog.at_level(logging.DEBUG):
            envelopes = [await slack.send_envelope(kind, body) for kind, body in refused]
            acked = [await slack.send_envelope("events_api", body) for body in events]
            for envelope in acked:
                await slack.wait_ack(envelope)
            # A command Slack sends after them is answered: the socket is still served.
            response_url = slack.response_url()
            last = await slack.send_envelope(
                "slash_commands", slack.slash_command("help", response_url=response_url)
            )
            await slack.wait_ack(last)
            await slack.wait_for(lambda: bool(slack.responses_to(response_url)))
    finally:
        await stop(adapter, task)
    await settled(before)  # whatever was started has run by now
    assert seen == ["help"] and slack.messages(CHAN) == []
    assert not any(slack.acked(envelope) for envelope in envelopes)
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= 40] == []
    warnings = [r for r in caplog.records if "did not acknowledge" in r.getMessage()]
    assert len(warnings) == len(refused)
    assert all(r.levelno == logging.WARNING for r in warnings)
