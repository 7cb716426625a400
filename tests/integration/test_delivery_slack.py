"""The outbox through the real Slack adapter against the fake Slack Web API.

Slack has no idempotency key: a part found mid-send after a crash is looked up in
the channel's recent history (message metadata carries the outbox key) before it
is sent again. A gone channel or a removed bot pauses the target.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest

from paperboy.clock import ManualClock
from paperboy.delivery import DueDigest
from paperboy.store import Store, outbox_key
from paperboy_adapters.slack.adapter import SlackAdapter
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack
from tests.integration.delivery_support import (
    MONDAY,
    add_target,
    deliverer_for,
    lora_papers,
    planner_for,
)

DAY = MONDAY.date()
OK, GONE, OUTSIDE = "C0GENERAL", "C0DELETED", "C0NOTJOINED"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(OK)
        # A public channel the bot was never invited to, for an app without
        # chat:write.public and channels:join: Slack answers not_in_channel.
        fake.add_channel(OUTSIDE, member=False)
        fake.scopes.discard("chat:write.public")
        fake.scopes.discard("channels:join")
        yield fake


@pytest.fixture
def adapter(slack: FakeSlack) -> SlackAdapter:
    return SlackAdapter(BOT_TOKEN, api_url=slack.base_url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


async def test_digest_parts_reach_the_channel_once_with_their_keys(
    store: Store, slack: FakeSlack, adapter: SlackAdapter, clock: ManualClock
) -> None:
    _, tid = await add_target(store, OK, platform="slack", workspace=TEAM_ID)
    await store.papers.upsert(lora_papers(30), seen_at=clock.now() - dt.timedelta(hours=1))
    result = await planner_for(store, [adapter], clock).plan([DueDigest(tid, DAY)])
    assert result.parts >= 2  # 20 papers of 3 blocks each do not fit one 50-block message
    stats = await deliverer_for(store, [adapter], clock).run_until_idle()
    assert stats.sent == result.parts
    messages = slack.messages(OK)
    keys = [m["metadata"]["event_payload"]["key"] for m in messages]
    assert keys == [outbox_key(tid, DAY, p) for p in range(result.parts)]
    # A second run of the same day finds every key taken and sends nothing.
    again = await planner_for(store, [adapter], clock).plan([DueDigest(tid, DAY)])
    assert again.parts == 0
    assert (await deliverer_for(store, [adapter], clock).run_until_idle()).sent == 0
    assert len(slack.messages(OK)) == result.parts


async def test_crash_between_post_and_record_does_not_post_twice(
    store: Store, slack: FakeSlack, adapter: SlackAdapter, clock: ManualClock
) -> None:
    _, tid = await add_target(store, OK, platform="slack", workspace=TEAM_ID)
    await store.papers.upsert(lora_papers(3), seen_at=clock.now() - dt.timedelta(hours=1))
    await planner_for(store, [adapter], clock).plan([DueDigest(tid, DAY)])
    (part,) = await store.outbox.claim("dead", clock.now(), limit=1, lease=30, platforms=["slack"])
    posted = await adapter.post(part.target, part.payload, key=part.key)  # then the crash
    clock.advance(31)  # the dead worker's lease runs out
    stats = await deliverer_for(store, [adapter], clock).run_until_idle()
    assert len(slack.messages(OK)) == 1  # found in history, not posted again
    assert (stats.found, stats.sent) == (1, 0)
    ((_, _, _, message_ref),) = await store.outbox.sent_parts()
    assert message_ref == posted.id


@pytest.mark.parametrize(
    ("channel", "error"), [(GONE, "channel_not_found"), (OUTSIDE, "not_in_channel")]
)
async def test_gone_channel_or_removed_bot_pauses_the_target(
    store: Store,
    slack: FakeSlack,
    adapter: SlackAdapter,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    channel: str,
    error: str,
) -> None:
    good, tid_good = await add_target(store, OK, platform="slack", workspace=TEAM_ID)
    bad, tid_bad = await add_target(store, channel, platform="slack", workspace=TEAM_ID)
    await store.papers.upsert(lora_papers(3), seen_at=clock.now() - dt.timedelta(hours=1))
    await planner_for(store, [adapter], clock).plan(
        [DueDigest(tid_good, DAY), DueDigest(tid_bad, DAY)]
    )
    with caplog.at_level(logging.WARNING, logger="paperboy.delivery.sender"):
        stats = await deliverer_for(store, [adapter], clock).run_until_idle()
    assert stats.sent == 1 and stats.paused == 1
    settings = await store.settings.get(bad)
    assert settings.paused and error in (settings.paused_reason or "")
    assert not (await store.settings.get(good)).paused
    assert len(slack.messages(OK)) == 1
    paused = [r for r in caplog.records if r.getMessage().startswith("paused")]
    assert len(paused) == 1 and error in paused[0].getMessage()
