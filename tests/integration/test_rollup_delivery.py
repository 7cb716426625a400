"""Weekly rollups through the outbox and the real Slack and Discord adapters, against the
loopback fakes: one message per channel and ISO week with its chart, through 429s, lost
answers and a crash between the upload and the post (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest

from paperboy.clock import ManualClock
from paperboy.delivery import RollupPlanner
from paperboy.models import Paper, Target
from paperboy.store import Store, rollup_key
from paperboy.trends import ROLLUP_PAYLOAD, plotted_series, rollup_from_json
from paperboy.trends.chart import png_size
from paperboy_adapters.discord.adapter import DiscordAdapter
from paperboy_adapters.discord.rest import nonce_for
from paperboy_adapters.slack.adapter import SlackAdapter
from paperboy_adapters.slack.rollup import file_name_for
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack, Fault
from tests.integration.delivery_support import add_target, deliverer_for

#: Friday 16:00 UTC of ISO week 2024-W46.
FRIDAY = dt.datetime(2024, 11, 15, 16, 0, tzinfo=dt.UTC)
WEEK = "2024-W46"
SLACK_CHANNEL = "C0GENERAL"
GUILD, DISCORD_CHANNEL = "111111111111111111", "222222222222222221"


def week_papers() -> list[Paper]:
    return [
        Paper(f"2411.{i:05d}", f"LoRA adapters for speculative decoding, part {i}", upvotes=i)
        for i in range(1, 5)
    ]


async def plan_rollup(store: Store, target: Target, clock: ManualClock) -> int:
    """The week's papers in the archive, the rollup switched on and planned (twice: the
    second plan finds it planned). Returns the target id."""
    await store.papers.upsert(week_papers(), seen_at=FRIDAY - dt.timedelta(days=1))
    schedule = await store.rollups.set(target, "fri", "16:00")
    planner = RollupPlanner(store, clock=clock)
    assert await planner.plan(schedule, FRIDAY)
    assert not await planner.plan(schedule, FRIDAY)
    assert await store.rollups.runs(schedule.target_id) == [WEEK]
    return schedule.target_id


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY)


# ------------------------------------------------------------------------------ Slack


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(SLACK_CHANNEL)
        yield fake


@pytest.fixture
def slack_adapter(slack: FakeSlack) -> SlackAdapter:
    return SlackAdapter(BOT_TOKEN, api_url=slack.base_url)


async def slack_target(store: Store) -> Target:
    target, _ = await add_target(
        store, SLACK_CHANNEL, ("LoRA", "diffusion"), platform="slack", workspace=TEAM_ID
    )
    return target


def check_slack_rollup(slack: FakeSlack, tid: int) -> dict:
    """The channel holds exactly one message: the rollup, its chart shared with it."""
    (message,) = slack.messages(SLACK_CHANNEL)
    (shared,) = message["files"]
    assert shared["name"] == file_name_for(rollup_key(tid, WEEK))
    assert message["blocks"][0]["type"] == "header" and WEEK in message["blocks"][0]["text"]["text"]
    (upload,) = slack.uploaded(SLACK_CHANNEL)
    assert png_size(upload.data or b"") == (1200, 675)
    drawn = plotted_series(upload.data or b"")
    assert drawn["marked"] == WEEK
    assert {"label": "LoRA", "counts": [0] * 11 + [4]} in drawn["series"]
    return message


async def test_slack_rollup_is_one_message_with_its_chart_through_429s(
    store: Store, slack: FakeSlack, slack_adapter: SlackAdapter, clock: ManualClock
) -> None:
    tid = await plan_rollup(store, await slack_target(store), clock)
    slack.inject(Fault.rate_limited(3), method="files.getUploadURLExternal")
    slack.inject(Fault.rate_limited(2), method="files.completeUploadExternal")
    stats = await deliverer_for(store, [slack_adapter], clock).run_until_idle()
    assert (stats.sent, stats.rate_limited, stats.failed) == (1, 2, 0)
    message = check_slack_rollup(slack, tid)
    text = " ".join(b["text"]["text"] for b in message["blocks"] if "text" in b)
    assert "LoRA adapters for speculative decoding, part 4" in text  # the most upvoted first
    complete = slack.posts("files.completeUploadExternal")[-1].args
    assert complete["channel_id"] == SLACK_CHANNEL and "initial_comment" not in complete
    # Planned again (another process, a restart): nothing more is sent.
    assert (await deliverer_for(store, [slack_adapter], clock).run_until_idle()).sent == 0
    assert len(slack.messages(SLACK_CHANNEL)) == 1


async def test_slack_lost_answer_of_the_share_is_found_not_posted_again(
    store: Store, slack: FakeSlack, slack_adapter: SlackAdapter, clock: ManualClock
) -> None:
    tid = await plan_rollup(store, await slack_target(store), clock)
    slack.inject(Fault.lost_response(), method="files.completeUploadExternal")
    stats = await deliverer_for(store, [slack_adapter], clock).run_until_idle()
    assert (stats.found, stats.sent) == (1, 0)
    check_slack_rollup(slack, tid)


async def test_slack_crash_after_the_share_before_the_record_posts_once(
    store: Store, slack: FakeSlack, slack_adapter: SlackAdapter, clock: ManualClock
) -> None:
    tid = await plan_rollup(store, await slack_target(store), clock)
    (part,) = await store.outbox.claim("dead", clock.now(), limit=1, lease=30, platforms=["slack"])
    await slack_adapter.post(part.target, part.payload, key=part.key)  # then the crash
    clock.advance(31)
    stats = await deliverer_for(store, [slack_adapter], clock).run_until_idle()
    assert (stats.found, stats.sent) == (1, 0)
    check_slack_rollup(slack, tid)


async def test_slack_crash_between_upload_and_share_posts_once(
    store: Store, slack: FakeSlack, slack_adapter: SlackAdapter, clock: ManualClock
) -> None:
    tid = await plan_rollup(store, await slack_target(store), clock)
    (part,) = await store.outbox.claim("dead", clock.now(), limit=1, lease=30, platforms=["slack"])
    png = rollup_from_json(part.payload[ROLLUP_PAYLOAD]).png or b""
    # The dead worker got its upload URL and uploaded the bytes, then died before
    # files.completeUploadExternal: nothing is in the channel.
    client = slack_adapter.client
    got = await client.files_getUploadURLExternal(filename=file_name_for(part.key), length=len(png))
    async with aiohttp.ClientSession() as session:
        async with session.post(got["upload_url"], data=png) as answer:
            assert answer.status == 200
    assert slack.messages(SLACK_CHANNEL) == []
    clock.advance(31)
    stats = await deliverer_for(store, [slack_adapter], clock).run_until_idle()
    assert stats.sent == 1
    check_slack_rollup(slack, tid)
    orphan = slack.files[got["file_id"]]
    assert not orphan.completed and orphan.shared_in == ()


async def test_slack_refuses_a_share_without_files_write(store: Store, clock: ManualClock) -> None:
    from tests.fakes.slack import DEFAULT_SCOPES

    async with FakeSlack(scopes=DEFAULT_SCOPES - {"files:write"}) as slack:
        slack.add_channel(SLACK_CHANNEL)
        adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
        target = await slack_target(store)
        await plan_rollup(store, target, clock)
        stats = await deliverer_for(store, [adapter], clock).run_until_idle()
        assert stats.sent == 0 and slack.messages(SLACK_CHANNEL) == []
        settings = await store.settings.get(target)
        assert settings.paused and "missing_scope" in (settings.paused_reason or "")


# ------------------------------------------------------------------------------ Discord


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(DISCORD_CHANNEL, guild_id=GUILD)
        yield server


@pytest.fixture
async def poster(discord_fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(discord_fake.token, api_url=discord_fake.api_url, connect=False)
    yield adapter
    await adapter.stop()


async def discord_target(store: Store) -> Target:
    target, _ = await add_target(
        store, DISCORD_CHANNEL, ("LoRA", "diffusion"), platform="discord", workspace=GUILD
    )
    return target


def check_discord_rollup(fake: FakeDiscord, tid: int) -> None:
    (message,) = fake.channel_messages(DISCORD_CHANNEL)
    assert message.nonce == nonce_for(rollup_key(tid, WEEK))
    (attachment,) = message.attachments
    (embed,) = message.embeds
    assert embed["image"]["url"] == f"attachment://{attachment['filename']}"
    assert WEEK in embed["title"] and message.live_mentions == []
    (upload,) = message.files
    assert upload.content_type == "image/png" and png_size(upload.data) == (1200, 675)
    assert plotted_series(upload.data)["marked"] == WEEK


async def test_discord_rollup_is_one_message_with_the_chart_in_its_embed(
    store: Store, discord_fake: FakeDiscord, poster: DiscordAdapter, clock: ManualClock
) -> None:
    tid = await plan_rollup(store, await discord_target(store), clock)
    discord_fake.rate_limit(r"POST /channels/\d+/messages", retry_after=1.5)
    stats = await deliverer_for(store, [poster], clock).run_until_idle()
    assert (stats.sent, stats.rate_limited) == (1, 1)
    check_discord_rollup(discord_fake, tid)
    (request,) = [r for r in discord_fake.requests if r.method == "POST" and "/messages" in r.path][
        -1:
    ]
    assert request.headers["Content-Type"].startswith("multipart/form-data")


async def test_discord_crash_after_the_post_before_the_record_posts_once(
    store: Store, discord_fake: FakeDiscord, poster: DiscordAdapter, clock: ManualClock
) -> None:
    tid = await plan_rollup(store, await discord_target(store), clock)
    (part,) = await store.outbox.claim(
        "dead", clock.now(), limit=1, lease=30, platforms=["discord"]
    )
    first = await poster.post(part.target, part.payload, key=part.key)  # then the crash
    clock.advance(31)
    stats = await deliverer_for(store, [poster], clock).run_until_idle()
    assert stats.sent == 1  # resent: the nonce answers with the message made before
    check_discord_rollup(discord_fake, tid)
    ((_, _, _, recorded),) = await store.outbox.sent_parts()
    assert recorded == first.id
