"""`/papers trends` in chat: the chart reaches the channel as an image (Slack through
files_upload_v2 over Socket Mode, Discord attached to the interaction's answer), and a
Discord channel without Attach Files still gets its rollup, without the chart."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest

from paperboy.clock import ManualClock
from paperboy.commands import Commands
from paperboy.delivery import RollupPlanner
from paperboy.models import Paper
from paperboy.store import Store
from paperboy.trends import plotted_series
from paperboy_adapters.discord.adapter import DiscordAdapter
from paperboy_adapters.slack.adapter import SlackAdapter
from tests.fakes.discord import MANAGER, FakeDiscord
from tests.fakes.discord.harness import running_bot
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, DEFAULT_SCOPES, FakeSlack
from tests.integration.delivery_support import add_target, deliverer_for

GUILD, CHANNEL = "111111111111111111", "222222222222222222"
SLACK_CHANNEL = "C0TRENDS"


async def archive(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    for i, title in enumerate(["LoRA <!channel> @everyone", "QLoRA", "LoRA too"]):
        paper = Paper(f"2601.0000{i}", title, upvotes=i)
        await store.papers.upsert([paper], seen_at=now - dt.timedelta(minutes=5))


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(CHANNEL, guild_id=GUILD)
        yield server


async def test_discord_trends_answers_with_the_chart_attached(
    store: Store, discord_fake: FakeDiscord
) -> None:
    await archive(store)
    commands = Commands(store)
    async with running_bot(discord_fake, commands.handle, defer_after=30.0):
        interaction = await discord_fake.slash(
            "papers",
            "trends",
            {"query": "LoRA", "weeks": 4},
            guild_id=GUILD,
            channel_id=CHANNEL,
            permissions=MANAGER,
        )
        answer = await interaction.answer()
    assert "Trend of LoRA: 3 papers in 4 weeks" in answer.content or any(
        "Trend of LoRA" in json.dumps(e) for e in answer.embeds
    )
    assert answer.live_mentions == []
    ((_, files),) = [u for u in discord_fake.uploads if "/interactions/" in u[0]]
    (chart,) = files
    assert plotted_series(chart.data)["series"] == [{"label": "LoRA", "counts": [0, 0, 0, 3]}]
    assert any(
        e.get("image", {}).get("url") == f"attachment://{chart.filename}" for e in answer.embeds
    )


async def test_discord_rollup_without_attach_files_goes_out_without_its_chart(
    store: Store, discord_fake: FakeDiscord
) -> None:
    discord_fake.channels[CHANNEL].attach_files = False
    friday = dt.datetime(2024, 11, 15, 16, 0, tzinfo=dt.UTC)
    clock = ManualClock(friday)
    target, _ = await add_target(store, CHANNEL, ("LoRA",), platform="discord", workspace=GUILD)
    await store.papers.upsert([Paper("2411.00001", "LoRA")], seen_at=friday - dt.timedelta(days=1))
    schedule = await store.rollups.set(target, "fri", "16:00")
    assert await RollupPlanner(store, clock=clock).plan(schedule, friday)
    poster = DiscordAdapter(discord_fake.token, api_url=discord_fake.api_url, connect=False)
    try:
        stats = await deliverer_for(store, [poster], clock).run_until_idle()
    finally:
        await poster.stop()
    assert (stats.sent, stats.paused) == (1, 0)
    (message,) = discord_fake.channel_messages(CHANNEL)
    assert message.attachments == [] and "image" not in message.embeds[0]
    assert "2024-W46" in message.embeds[0]["title"]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(SLACK_CHANNEL)
        yield fake


async def _slack_trends(slack: FakeSlack, commands: Commands, line: str) -> str:
    adapter = SlackAdapter(BOT_TOKEN, app_token=APP_TOKEN, api_url=slack.base_url)
    task = asyncio.create_task(adapter.start(commands.handle))
    try:
        await slack.wait_connected()
        response_url = slack.response_url()
        payload = {**slack.slash_command(line, response_url=response_url)}
        payload["channel_id"] = SLACK_CHANNEL
        envelope = await slack.send_envelope("slash_commands", payload)
        await slack.wait_ack(envelope, within=3)
        await slack.wait_for(
            lambda: bool(slack.messages(SLACK_CHANNEL) or slack.responses_to(response_url)),
            within=20,
        )
        return response_url
    finally:
        await adapter.stop()
        await asyncio.wait_for(task, 5)


async def test_slack_trends_shares_the_chart_into_the_channel(
    store: Store, slack: FakeSlack
) -> None:
    await archive(store)
    url = await _slack_trends(slack, Commands(store), "trends LoRA weeks:4")
    (message,) = slack.messages(SLACK_CHANNEL)
    (upload,) = slack.uploaded(SLACK_CHANNEL)
    assert plotted_series(upload.data or b"")["series"] == [
        {"label": "LoRA", "counts": [0, 0, 0, 3]}
    ]
    text = json.dumps(message["blocks"])
    assert "Trend of LoRA" in text and "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert slack.responses_to(url) == []


async def test_a_hostile_query_reaches_the_chart_upload_escaped(
    store: Store, slack: FakeSlack
) -> None:
    await archive(store)
    await _slack_trends(slack, Commands(store), 'trends LoRA OR "<!channel>" weeks:4')
    (upload,) = slack.uploaded(SLACK_CHANNEL)
    for text in (upload.title or "", upload.alt_txt or ""):
        assert "<!channel>" not in text and "&lt;!channel&gt;" in text


async def test_slack_trends_without_files_write_answers_with_the_text(store: Store) -> None:
    async with FakeSlack(scopes=DEFAULT_SCOPES - {"files:write"}) as slack:
        slack.add_channel(SLACK_CHANNEL)
        await archive(store)
        url = await _slack_trends(slack, Commands(store), "trends LoRA weeks:4")
        await slack.wait_for(lambda: bool(slack.responses_to(url)), within=10)
        (answer,) = slack.responses_to(url)
        text = json.dumps(answer.payload)
        assert "Trend of LoRA" in text and "could not be posted here: missing" in text
        assert slack.messages(SLACK_CHANNEL) == []


async def test_a_slack_command_leaves_paperboys_own_loggers_alone(
    store: Store, slack: FakeSlack
) -> None:
    """bolt configures the logger named after its app on every request; that must not
    be `paperboy`, whose level the package's INFO lines depend on."""
    import logging

    ours = logging.getLogger("paperboy")
    before = (ours.level, ours.disabled, list(ours.handlers))
    await _slack_trends(slack, Commands(store), "trends LoRA weeks:2")
    assert (ours.level, ours.disabled, list(ours.handlers)) == before
