"""Posts whose outcome Slack left unknown, through the outbox and the real Slack adapter.

- The bot posts to public channels it was never invited to (`chat:write.public`), but
  reading a channel's history needs membership: when the duplicate check after a lost
  answer finds it not a member, it joins (`conversations.join`) and reads again, and a
  channel is never paused because that check could not read it.
- Slack may finish a post after the client gave up: an uncertain part is looked up
  again, spaced, before it is resent.
- A retry of an uncertain post reads the channel's history once, not twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from paperboy.clock import ManualClock, SystemClock
from paperboy.delivery import Deliverer, DueDigest
from paperboy.models import Target
from paperboy.store import Store, outbox_key
from paperboy.store.tables import outbox
from paperboy_adapters.slack.adapter import SlackAdapter
from paperboy_adapters.slack.plugin import create
from paperboy_config import Settings
from tests.fakes.platform import RecordingAdapter
from tests.fakes.slack import BOT_TOKEN, DEFAULT_SCOPES, TEAM_ID, FakeSlack, Fault
from tests.integration.delivery_support import (
    MONDAY,
    add_target,
    deliverer_for,
    lora_papers,
    planner_for,
)

DAY = MONDAY.date()
MEMBER, PUBLIC = "C0GENERAL", "C0NEVERINVITED"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(MEMBER)
        fake.add_channel(PUBLIC, member=False)  # posted to through chat:write.public
        yield fake


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


async def plan(
    store: Store, adapter: SlackAdapter, clock: ManualClock, channel: str
) -> tuple[Target, list[str]]:
    """One digest for `channel`, planned: its target and its parts' keys, in order."""
    target, tid = await add_target(store, channel, platform="slack", workspace=TEAM_ID)
    await store.papers.upsert(lora_papers(30), seen_at=clock.now() - dt.timedelta(hours=1))
    result = await planner_for(store, [adapter], clock).plan([DueDigest(tid, DAY)])
    assert result.parts >= 2
    return target, [outbox_key(tid, DAY, p) for p in range(result.parts)]


def keys_in(slack: FakeSlack, channel: str) -> list[str]:
    """The outbox keys of the digest messages in `channel`, oldest first."""
    return [
        m["metadata"]["event_payload"]["key"]
        for m in slack.messages(channel)
        if m.get("metadata", {}).get("event_payload", {}).get("key")
    ]


async def all_sent(store: Store) -> bool:
    return (await store.outbox.counts()).keys() <= {"sent"}


async def test_lost_answer_in_a_channel_never_joined_is_found_not_paused(
    store: Store, slack: FakeSlack, clock: ManualClock
) -> None:
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
    target, want = await plan(store, adapter, clock, PUBLIC)
    slack.inject(Fault.lost_response(), method="chat.postMessage")  # posted; the 500 is lost
    stats = await deliverer_for(store, [adapter], clock).run_until_idle()
    settings = await store.settings.get(target)
    assert not settings.paused, settings.paused_reason
    assert (stats.paused, stats.found) == (0, 1)
    assert keys_in(slack, PUBLIC) == want  # each part once, in order
    assert await all_sent(store)
    # It joined when the lookup needed it (not before posting), and only once.
    methods = [c.method for c in slack.calls if c.method != "auth.test"]
    assert methods.count("conversations.join") == 1
    joined = methods.index("conversations.join")
    assert methods[0] == "chat.postMessage"
    assert methods[joined - 1] == methods[joined + 1] == "conversations.history"
    assert slack.channels[PUBLIC].member


async def test_a_rate_limited_join_waits_its_retry_after_and_costs_no_attempt(
    store: Store, slack: FakeSlack, clock: ManualClock
) -> None:
    """The lookup after a lost answer must join first, and Slack rate-limits the join:
    the lookup is made again after the join's Retry-After, like a rate-limited post,
    and the part's attempts are not spent on it."""
    settings = Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        slack_api_url=slack.base_url,
        delivery_send_timeout=5.0,
        delivery_lookups=1,
        delivery_lookup_seconds=0.01,
        delivery_backoff_base=0.01,
        delivery_poll_seconds=0.01,
        channel_min_interval=0.0,
    )
    adapter = create(settings)
    assert adapter is not None
    _, want = await plan(store, adapter, clock, PUBLIC)
    slack.inject(Fault.lost_response(), method="chat.postMessage")
    slack.inject(Fault.rate_limited(0.2), method="conversations.join")
    deliverer = Deliverer.from_settings(store, {"slack": adapter}, settings, clock=SystemClock())
    stats = await asyncio.wait_for(deliverer.run_until_idle(max_wait=10), 30)
    assert keys_in(slack, PUBLIC) == want and await all_sent(store)
    assert (stats.found, stats.rate_limited, stats.paused) == (1, 1, 0)
    async with store.engine.connect() as conn:
        attempts = (await conn.execute(sa.select(outbox.c.attempts))).scalars().all()
    assert max(attempts) == 1  # the post whose answer was lost; not the join


async def test_history_that_stays_unreadable_resends_with_a_warning_never_pauses(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """An app installed before `channels:join` was in the manifest cannot join."""
    async with FakeSlack(scopes=DEFAULT_SCOPES - {"channels:join"}) as slack:
        slack.add_channel(PUBLIC, member=False)
        adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
        target, want = await plan(store, adapter, clock, PUBLIC)
        slack.inject(Fault.lost_response(), method="chat.postMessage")
        with caplog.at_level(logging.WARNING):
            stats = await deliverer_for(store, [adapter], clock).run_until_idle()
        settings = await store.settings.get(target)
        assert not settings.paused, settings.paused_reason
        assert stats.paused == 0 and stats.failed == 0
        assert await all_sent(store)
        keys = keys_in(slack, PUBLIC)
    # Nothing lost; the one part whose answer was lost shows twice, as documented.
    assert keys == [want[0], *want]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("channels:join" in line for line in lines) == 1
    assert sum("may show twice" in line for line in lines) == 1
    assert not any(r.exc_info for r in caplog.records)


async def test_a_retry_of_an_uncertain_post_reads_the_history_once(
    store: Store, slack: FakeSlack, clock: ManualClock
) -> None:
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
    _, want = await plan(store, adapter, clock, MEMBER)
    slack.inject(Fault.server_error(500), method="chat.postMessage")  # not posted
    stats = await deliverer_for(store, [adapter], clock).run_until_idle()
    assert stats.found == 0 and await all_sent(store)
    assert keys_in(slack, MEMBER) == want
    assert len(slack.posts("conversations.history")) == 1


async def test_a_post_slack_finishes_after_the_client_gave_up_is_not_posted_twice(
    store: Store, slack: FakeSlack, clock: ManualClock
) -> None:
    """The client times out (1 s); Slack completes the post 1.5 s after it came. The
    lookups, 0.5 s apart from 0.5 s after the timeout (five of them, to 3.5 s), see it
    before anything is resent."""
    settings = Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        slack_api_url=slack.base_url,
        delivery_send_timeout=1.0,
        delivery_lookups=5,
        delivery_lookup_seconds=0.5,
        delivery_backoff_base=0.02,
        delivery_poll_seconds=0.02,
        channel_min_interval=0.0,
    )
    adapter = create(settings)
    assert adapter is not None
    _, want = await plan(store, adapter, clock, MEMBER)
    slack.inject(Fault.lands_late(1.5, answer_after=5), method="chat.postMessage")
    deliverer = Deliverer.from_settings(store, {"slack": adapter}, settings, clock=SystemClock())
    stats = await asyncio.wait_for(deliverer.run_until_idle(max_wait=10), 30)
    await slack.landed()
    assert keys_in(slack, MEMBER) == want  # the late one once, not twice
    assert stats.found == 1 and await all_sent(store)


async def test_an_uncertain_part_is_looked_up_several_times_spaced_then_resent(
    store: Store, slack: FakeSlack, clock: ManualClock
) -> None:
    """No answer (the client timed out): Slack may still be carrying the post out."""
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
    _, want = await plan(store, adapter, clock, MEMBER)
    unanswered = Fault(500, "internal_error", delay=2.0)  # not posted after all
    slack.inject(unanswered, method="chat.postMessage")
    start = clock.now()
    deliverer = deliverer_for(
        store, [adapter], clock, lookups=3, lookup_spacing=10.0, send_timeout=0.3
    )
    await deliverer.run_until_idle()
    assert keys_in(slack, MEMBER) == want and await all_sent(store)
    calls = [
        c.method for c in slack.calls if c.method in {"chat.postMessage", "conversations.history"}
    ]
    post, look = "chat.postMessage", "conversations.history"
    assert calls[:5] == [post, look, look, look, post]
    assert look not in calls[5:]
    assert clock.now() - start >= dt.timedelta(seconds=30)  # the test clock's time


@pytest.mark.parametrize(
    "fault",
    [Fault.server_error(500), Fault.server_error(503)],
    ids=["500", "503"],
)
async def test_an_error_slack_answered_itself_is_looked_up_once_then_resent(
    store: Store, slack: FakeSlack, clock: ManualClock, fault: Fault
) -> None:
    """Slack's own error body means it has finished with the call: what it posted is
    visible now, so one lookup decides, after the backoff, not after the lookup spacing."""
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
    _, want = await plan(store, adapter, clock, MEMBER)
    slack.inject(fault, method="chat.postMessage")  # not posted
    deliverer = deliverer_for(store, [adapter], clock, lookups=3, lookup_spacing=10.0)
    await deliverer.run_until_idle()
    assert keys_in(slack, MEMBER) == want and await all_sent(store)
    calls = [
        c.method for c in slack.calls if c.method in {"chat.postMessage", "conversations.history"}
    ]
    post, look = "chat.postMessage", "conversations.history"
    assert calls[:3] == [post, look, post]
    assert look not in calls[3:]
    assert all(wait < 10.0 for wait in clock.slept)  # no lookup spacing


async def test_a_post_landed_before_slack_answered_500_is_found_by_the_one_lookup(
    store: Store, slack: FakeSlack, clock: ManualClock
) -> None:
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
    _, want = await plan(store, adapter, clock, MEMBER)
    slack.inject(Fault.lands_late(0.2), method="chat.postMessage")  # posted, then a 500
    deliverer = deliverer_for(store, [adapter], clock, lookups=3, lookup_spacing=10.0)
    stats = await deliverer.run_until_idle()
    await slack.landed()
    assert keys_in(slack, MEMBER) == want  # once, not twice
    assert stats.found == 1 and await all_sent(store)


async def test_a_proxy_error_page_is_not_settled_and_gets_the_spaced_lookups(
    store: Store, slack: FakeSlack, clock: ManualClock
) -> None:
    """A load balancer's 503 page is not Slack's answer: the post may still be running."""
    adapter = SlackAdapter(BOT_TOKEN, api_url=slack.base_url)
    _, want = await plan(store, adapter, clock, MEMBER)
    slack.inject(Fault.html_error(503), method="chat.postMessage")
    deliverer = deliverer_for(store, [adapter], clock, lookups=3, lookup_spacing=10.0)
    await deliverer.run_until_idle()
    assert keys_in(slack, MEMBER) == want and await all_sent(store)
    calls = [
        c.method for c in slack.calls if c.method in {"chat.postMessage", "conversations.history"}
    ]
    post, look = "chat.postMessage", "conversations.history"
    assert calls[:5] == [post, look, look, look, post]


async def test_a_platform_whose_lookups_see_nothing_is_not_held_for_them(
    store: Store, clock: ManualClock
) -> None:
    """Discord-like: find_sent cannot tell (the nonce dedups a resend instead)."""

    class NonceOnly(RecordingAdapter):
        finds_sent = False

    fake = NonceOnly(clock=clock, idempotent=True, find_by_key=False)
    _, tid = await add_target(store, "c1")
    await store.papers.upsert(lora_papers(3), seen_at=clock.now() - dt.timedelta(hours=1))
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    fake.fail_next("c1", TimeoutError())
    deliverer = deliverer_for(store, [fake], clock, lookups=3, lookup_spacing=10.0)
    await deliverer.run_until_idle()
    assert len(fake.sent) == 1 and await all_sent(store)
    assert fake.lookups == 1
    assert all(wait < 10.0 for wait in clock.slept)  # backoff only, no lookup spacing
