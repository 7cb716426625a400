"""Delivery through Discord: `DiscordAdapter.post` against the fake's REST.

Channel sends carry `nonce` + `enforce_nonce` derived from the outbox key, so a retried
send creates one message; gone or closed channels and webhooks are permanent errors
(the outbox pauses the target), 429 carries `retry_after`, 5xx is transient.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paperboy.chat import ChatError
from paperboy.digest import digest_for_queries
from paperboy.models import Target
from paperboy.sources.file import FileSource
from paperboy_adapters.discord.adapter import DiscordAdapter
from paperboy_adapters.discord.render import render_digest
from paperboy_adapters.discord.rest import nonce_for
from tests.fakes.discord import FakeDiscord

GUILD = "111111111111111111"
CHANNEL = "222222222222222222"
TARGET = Target("discord", GUILD, CHANNEL)
HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hf_hostile_public.json"
PART = {"content": "**Papers for 2024-11-11**", "embeds": [], "allowed_mentions": {"parse": []}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(CHANNEL, guild_id=GUILD)
        yield server


@pytest.fixture
async def adapter(fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    poster = DiscordAdapter(fake.token, api_url=fake.api_url)
    yield poster
    await poster.stop()


def sends(fake: FakeDiscord) -> list:
    return [r for r in fake.requests if r.method == "POST"]


async def test_post_carries_nonce_and_no_mentions(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    part = dict(PART, allowed_mentions={"parse": ["everyone"]}, content="hi @everyone")
    ref = await adapter.post(TARGET, part, key="discord:111:222/2024-11-11/0")
    (request,) = sends(fake)
    assert request.path == f"/channels/{CHANNEL}/messages"
    assert request.headers["Authorization"] == f"Bot {fake.token}"
    assert request.body["nonce"] == nonce_for("discord:111:222/2024-11-11/0")
    assert len(request.body["nonce"]) <= 25
    assert request.body["enforce_nonce"] is True
    assert request.body["allowed_mentions"] == {"parse": []}  # whatever the part said
    (message,) = fake.channel_messages(CHANNEL)
    assert ref.id == message.id and ref.target == TARGET
    assert message.live_mentions == []


async def test_retried_send_with_the_same_key_creates_one_message(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    first = await adapter.post(TARGET, PART, key="outbox-key-1")
    again = await adapter.post(TARGET, PART, key="outbox-key-1")
    assert again.id == first.id
    assert len(fake.channel_messages(CHANNEL)) == 1
    other = await adapter.post(TARGET, PART, key="outbox-key-2")
    assert other.id != first.id
    assert len(fake.channel_messages(CHANNEL)) == 2


async def test_a_send_lost_after_discord_created_it_is_not_duplicated(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    """The crash case: the message was created but the answer never came back."""
    await adapter.post(TARGET, PART, key="k")  # the attempt whose answer was lost
    fake.fail(r"POST /channels/\d+/messages", 502, count=1)
    with pytest.raises(ChatError) as failed:
        await adapter.post(TARGET, PART, key="k")
    assert not failed.value.permanent
    await adapter.post(TARGET, PART, key="k")  # the outbox's retry
    assert len(fake.channel_messages(CHANNEL)) == 1


@pytest.mark.parametrize(
    ("access", "code", "reason"),
    [
        ("missing-access", 50001, "Missing Access"),
        ("missing-permissions", 50013, "Missing Permissions"),
        (None, 10003, "Unknown Channel"),
    ],
)
async def test_gone_or_closed_channels_are_permanent(
    fake: FakeDiscord, adapter: DiscordAdapter, access: str | None, code: int, reason: str
) -> None:
    if access is None:
        target = Target("discord", GUILD, "333333333333333333")  # never registered
    else:
        fake.add_channel("444444444444444444", guild_id=GUILD, access=access)
        target = Target("discord", GUILD, "444444444444444444")
    with pytest.raises(ChatError) as failed:
        await adapter.post(target, PART, key="k")
    assert failed.value.permanent
    assert failed.value.retry_after is None
    assert reason in str(failed.value) and str(code) in str(failed.value)
    assert fake.messages == []


async def test_rate_limit_carries_retry_after(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    fake.rate_limit(r"POST /channels/\d+/messages", retry_after=2.5)
    with pytest.raises(ChatError) as limited:
        await adapter.post(TARGET, PART, key="k")
    assert limited.value.retry_after == 2.5
    assert not limited.value.permanent
    assert fake.messages == []
    await adapter.post(TARGET, PART, key="k")  # the retry goes through
    assert len(fake.channel_messages(CHANNEL)) == 1


async def test_server_errors_and_timeouts_are_transient(fake: FakeDiscord) -> None:
    adapter = DiscordAdapter(fake.token, api_url=fake.api_url)
    fake.fail(r"POST /channels/\d+/messages", 503)
    with pytest.raises(ChatError) as failed:
        await adapter.post(TARGET, PART, key="k")
    assert not failed.value.permanent and failed.value.retry_after is None
    await adapter.stop()
    closed = FakeDiscord()
    await closed.start()
    url = closed.api_url
    await closed.close()  # nothing listens there any more
    unreachable = DiscordAdapter(fake.token, api_url=url)
    with pytest.raises(ChatError) as down:
        await unreachable.post(TARGET, PART, key="k")
    assert not down.value.permanent
    await unreachable.stop()


async def test_bad_token_is_permanent(fake: FakeDiscord) -> None:
    adapter = DiscordAdapter("wrong-token", api_url=fake.api_url)
    with pytest.raises(ChatError) as failed:
        await adapter.post(TARGET, PART, key="k")
    assert failed.value.permanent and "401" in str(failed.value)
    await adapter.stop()


async def test_hostile_digest_delivers_valid_and_inert(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    papers = await FileSource(HOSTILE).fetch_day(None)
    digest = digest_for_queries(papers, ["LoRA"], day=None)
    for index, part in enumerate(adapter.render(digest)):
        await adapter.post(TARGET, part, key=f"hostile/{index}")
    assert fake.rejections == []
    messages = fake.channel_messages(CHANNEL)
    assert sum(len(m.embeds) for m in messages) == 5
    assert all(m.live_mentions == [] for m in messages)


async def test_webhook_target(fake: FakeDiscord) -> None:
    url = fake.add_webhook(CHANNEL)
    poster = DiscordAdapter(None, api_url=fake.api_url)  # no bot token needed
    target = Target.parse(f"discord-webhook:{url}")
    assert target.channel == url
    parts = render_digest(
        digest_for_queries(await FileSource(HOSTILE).fetch_day(None), ["LoRA"], day=None)
    )
    ref = await poster.post(target, parts[0], key="webhook/0")
    (request,) = sends(fake)
    assert request.query.get("wait") == "true"
    assert "Authorization" not in request.headers
    assert "nonce" not in request.body and "enforce_nonce" not in request.body
    assert request.body["allowed_mentions"] == {"parse": []}
    (message,) = fake.channel_messages(CHANNEL)
    assert message.webhook_id and ref.id == message.id
    assert fake.rejections == []
    await poster.stop()


async def test_webhook_errors_are_permanent(fake: FakeDiscord) -> None:
    poster = DiscordAdapter(None, api_url=fake.api_url)
    url = fake.add_webhook(CHANNEL)
    webhook_id = url.split("/webhooks/")[1].split("/")[0]
    cases = {
        f"{fake.api_url}/webhooks/999999999999999999/tok": "Unknown Webhook",
        f"{fake.api_url}/webhooks/{webhook_id}/wrong-token": "Invalid Webhook Token",
        "https://evil.example/api/webhooks/1/tok": "not a Discord webhook URL",
        "javascript:alert(1)": "not a Discord webhook URL",
    }
    for bad, reason in cases.items():
        with pytest.raises(ChatError) as failed:
            await poster.post(Target("discord-webhook", "", bad), PART, key="k")
        assert failed.value.permanent, bad
        assert reason in str(failed.value)
        assert "wrong-token" not in str(failed.value)  # never the credential
    assert fake.messages == []
    await poster.stop()


async def test_posting_without_a_token_to_a_channel_is_permanent(fake: FakeDiscord) -> None:
    poster = DiscordAdapter(None, api_url=fake.api_url)
    with pytest.raises(ChatError) as failed:
        await poster.post(TARGET, PART)
    assert failed.value.permanent
    await poster.stop()


async def test_find_sent_is_none_and_start_without_token_waits(fake: FakeDiscord) -> None:
    poster = DiscordAdapter(None, api_url=fake.api_url)
    assert await poster.find_sent(TARGET, "k") is None

    async def handler(ctx, line):  # never called
        raise AssertionError

    task = asyncio.create_task(poster.start(handler))
    await asyncio.sleep(0)
    assert not task.done()
    await poster.stop()
    await asyncio.wait_for(task, 5)
    assert fake.sessions == []
