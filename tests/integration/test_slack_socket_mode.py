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
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, TEAM_ID, FakeSlack

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


async def test_malformed_interactions_are_refused_without_a_traceback(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Not acknowledged (Slack shows the user that the click failed), one warning each."""
    seen: list[str] = []

    async def handler(ctx: CommandContext, text: str) -> Reply:
        seen.append(text)
        return Reply("ok")

    def refused() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "malformed" in r.getMessage()]

    all_refused = asyncio.Event()

    class Watch(logging.Handler):
        seen = 0

        def emit(self, record: logging.LogRecord) -> None:
            self.seen += "malformed" in record.getMessage()
            if self.seen >= len(cases):
                all_refused.set()

    adapter = SlackAdapter(BOT_TOKEN, app_token=APP_TOKEN, api_url=slack.base_url)
    task = await running(adapter, handler)
    cases = ({"actions": "share"}, {"actions": [1]}, {"actions": []}, {"channel": CHAN})
    try:
        await slack.wait_connected()
        watch = Watch()
        logging.getLogger("adapters.slack").addHandler(watch)
        with caplog.at_level(logging.DEBUG):
            for changes in cases:
                payload = slack.block_action(SHARE_ACTION, '{"date": null}')
                payload.update(changes)
                await slack.send_envelope("interactive", payload)
            await asyncio.wait_for(all_refused.wait(), 5)
            await asyncio.sleep(0.05)  # a listener that did start would have run by now
    finally:
        logging.getLogger("adapters.slack").removeHandler(watch)
        await stop(adapter, task)
    assert seen == [] and slack.messages(CHAN) == []
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= 40] == []
    assert all(r.levelno == logging.WARNING for r in refused())
