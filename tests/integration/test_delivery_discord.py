"""The outbox through the real Discord adapter against the fake Discord REST API."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest

from paperboy.clock import ManualClock
from paperboy.delivery import DueDigest, adapters_by_platform
from paperboy.store import Store, outbox_key
from paperboy_adapters.discord.adapter import DiscordAdapter
from paperboy_adapters.discord.rest import nonce_for
from tests.fakes.discord import FakeDiscord
from tests.integration.delivery_support import (
    MONDAY,
    add_target,
    deliverer_for,
    lora_papers,
    planner_for,
)

GUILD = "111111111111111111"
CHANNELS = ("222222222222222221", "222222222222222222", "222222222222222223")
DAY = MONDAY.date()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        for channel in CHANNELS:
            server.add_channel(channel, guild_id=GUILD)
        yield server


@pytest.fixture
async def poster(fake: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(fake.token, api_url=fake.api_url, connect=False)
    yield adapter
    await adapter.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


async def test_digests_reach_channels_and_webhooks(
    store: Store, fake: FakeDiscord, poster: DiscordAdapter, clock: ManualClock
) -> None:
    adapters = adapters_by_platform([poster])
    assert set(adapters) == {"discord", "discord-webhook"}
    ids = [(await add_target(store, c, platform="discord", workspace=GUILD))[1] for c in CHANNELS]
    hook = fake.add_webhook(CHANNELS[0])
    _, hook_id = await add_target(store, hook, platform="discord-webhook")
    await store.papers.upsert(lora_papers(12), seen_at=clock.now() - dt.timedelta(hours=1))
    planner = planner_for(store, [poster], clock)
    planner.adapters = adapters
    result = await planner.plan([DueDigest(t, DAY) for t in [*ids, hook_id]])
    # 12 papers: three messages of at most five (one row of feedback buttons each) to a
    # channel; two of at most ten to the webhook (its messages cannot have buttons).
    assert result.planned == 4 and result.parts == 3 * 3 + 2
    deliverer = deliverer_for(store, [poster], clock)
    deliverer.adapters = adapters
    stats = await deliverer.run_until_idle()
    assert stats.sent == 11
    for tid, channel in zip(ids, CHANNELS, strict=True):
        messages = fake.channel_messages(channel)
        if channel == CHANNELS[0]:
            messages = [m for m in messages if m.webhook_id is None]
        assert [m.nonce for m in messages] == [nonce_for(outbox_key(tid, DAY, p)) for p in range(3)]
        assert [len(m.embeds) for m in messages] == [5, 5, 2]
        assert [len(m.components) for m in messages] == [5, 5, 2]
    hooked = [m for m in fake.messages if m.webhook_id]
    assert [len(m.embeds) for m in hooked] == [10, 2] and not any(m.components for m in hooked)


async def test_resend_after_crash_is_deduplicated_by_nonce(
    store: Store, fake: FakeDiscord, poster: DiscordAdapter, clock: ManualClock
) -> None:
    _, tid = await add_target(store, CHANNELS[1], platform="discord", workspace=GUILD)
    await store.papers.upsert(lora_papers(3), seen_at=clock.now() - dt.timedelta(hours=1))
    await planner_for(store, [poster], clock).plan([DueDigest(tid, DAY)])
    (part,) = await store.outbox.claim(
        "dead", clock.now(), limit=1, lease=30, platforms=["discord"]
    )
    await poster.post(part.target, part.payload, key=part.key)  # sent, then the crash
    clock.advance(31)
    stats = await deliverer_for(store, [poster], clock).run_until_idle()
    assert stats.sent == 1  # sent again with the same nonce ...
    assert len(fake.channel_messages(CHANNELS[1])) == 1  # ... and Discord kept one message
    ((_, _, _, message_id),) = await store.outbox.sent_parts()
    assert message_id == fake.channel_messages(CHANNELS[1])[0].id


async def test_rate_limit_and_missing_access(
    store: Store,
    fake: FakeDiscord,
    poster: DiscordAdapter,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ok, tid_ok = await add_target(store, CHANNELS[0], platform="discord", workspace=GUILD)
    closed, tid_closed = await add_target(store, CHANNELS[2], platform="discord", workspace=GUILD)
    fake.channels[CHANNELS[2]].access = "missing-access"
    await store.papers.upsert(lora_papers(3), seen_at=clock.now() - dt.timedelta(hours=1))
    await planner_for(store, [poster], clock).plan(
        [DueDigest(tid_ok, DAY), DueDigest(tid_closed, DAY)]
    )
    fake.rate_limit(f"POST /channels/{CHANNELS[0]}/messages", retry_after=4.25)
    start = clock.now()
    with caplog.at_level(logging.WARNING, logger="paperboy.delivery.sender"):
        stats = await deliverer_for(store, [poster], clock).run_until_idle()
    assert (stats.sent, stats.rate_limited, stats.paused) == (1, 1, 1)
    assert clock.now() - start >= dt.timedelta(seconds=4.25)
    assert (await store.settings.get(closed)).paused
    assert not (await store.settings.get(ok)).paused
    paused_lines = [r for r in caplog.records if r.getMessage().startswith("paused")]
    assert len(paused_lines) == 1 and "Missing Access" in paused_lines[0].getMessage()
