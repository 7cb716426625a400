"""Posting digests through slack_sdk's AsyncWebClient to the fake Slack Web API.

What the outbox relies on: `post()` adds `channel` and the outbox key's metadata,
maps Slack's errors to ChatError (permanent for a gone channel or a removed bot,
`retry_after` for 429, transient for 5xx and timeouts) without retrying on its own,
and `find_sent()` finds a part posted before a crash so it is not posted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.adapter import METADATA_EVENT, SlackAdapter
from adapters.slack.render import THREAD_KEY, render_digest
from bot.chat import ChatAdapter, ChatError, MessageRef
from bot.digest import digest_for_queries
from bot.models import Digest, Paper, Target
from bot.sources.file import FileSource
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack, Fault

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY = dt.date(2024, 11, 11)
CHAN = "C0GENERAL"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(CHAN)
        yield fake


def adapter_for(fake: FakeSlack, **kw) -> SlackAdapter:
    return SlackAdapter(BOT_TOKEN, api_url=fake.base_url, **kw)


def target(channel: str = CHAN) -> Target:
    return Target("slack", TEAM_ID, channel)


async def sample_digest() -> Digest:
    papers = await FileSource(FIXTURES / "hf_daily_papers_2024-11-11.json").fetch_day(None)
    return digest_for_queries(papers, ["LoRA", "pipeline parallelism"], day=DAY)


def many(n: int) -> Digest:
    papers = [
        Paper(id=f"2411.{i:05d}", title=f"LoRA {i}", abstract="We study LoRA. " * 12)
        for i in range(n)
    ]
    return digest_for_queries(papers, ["LoRA"], day=DAY)


async def test_post_sends_channel_and_outbox_metadata(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    parts = adapter.render(await sample_digest())
    ref = await adapter.post(target(), parts[0], key="slack:T0FAKE:C0GENERAL/2024-11-11/0")
    assert isinstance(ref, MessageRef) and ref.target == target()
    [stored] = slack.messages(CHAN)
    assert stored["ts"] == ref.id
    assert stored["blocks"] == parts[0]["blocks"] and stored["text"] == parts[0]["text"]
    assert stored["metadata"] == {
        "event_type": METADATA_EVENT,
        "event_payload": {"key": "slack:T0FAKE:C0GENERAL/2024-11-11/0"},
    }
    [call] = slack.posts()
    assert call.args["channel"] == CHAN and call.args["unfurl_links"] is False


async def test_every_part_of_a_long_digest_is_accepted(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    parts = adapter.render(many(70))
    assert len(parts) > 1
    for i, part in enumerate(parts):
        await adapter.post(target(), part, key=f"k/{i}")
    assert len(slack.messages(CHAN)) == len(parts)


async def test_fake_rejects_over_limit_payloads_like_slack(slack: FakeSlack) -> None:
    """The fake is not a sink: Slack's limits hold, with Slack's errors."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url, retry_handlers=[])
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=CHAN, text="t", blocks=[section])
    data = info.value.response.data
    assert data["ok"] is False and data["error"] == "invalid_blocks"
    assert "[json-pointer:/blocks/0/text/text]" in data["response_metadata"]["messages"][0]
    bad = {
        "51 blocks": [{"type": "divider"}] * 51,
        "header": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        "context": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        "button": [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "a",
                        "text": {"type": "plain_text", "text": "b" * 76},
                    }
                ],
            }
        ],
        "image": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "x"},
                "accessory": {
                    "type": "image",
                    "image_url": "javascript:alert(1)",
                    "alt_text": "x",
                },
            }
        ],
    }
    for name, blocks in bad.items():
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel=CHAN, text="t", blocks=blocks)
        assert info.value.response["error"] == "invalid_blocks", name
    too_much = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 5
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=CHAN, text="t", blocks=too_much)
    assert info.value.response["error"] == "msg_blocks_too_long"
    assert slack.messages(CHAN) == []


async def test_adapter_surfaces_invalid_blocks_as_chat_error(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    part = {
        "text": "t",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 200}}],
    }
    with pytest.raises(ChatError) as info:
        await adapter.post(target(), part, key="bad")
    assert not info.value.permanent and "invalid_blocks" in str(info.value)
    assert slack.messages(CHAN) == []


async def test_rate_limit_is_reported_with_retry_after_and_not_retried(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    part = adapter.render(many(2))[0]
    slack.inject(Fault.rate_limited(7), method="chat.postMessage")
    with pytest.raises(ChatError) as info:
        await adapter.post(target(), part, key="k")
    assert info.value.retry_after == 7.0 and not info.value.permanent
    assert len(slack.posts()) == 1  # slack_sdk did not retry behind the outbox's back
    await adapter.post(target(), part, key="k")
    assert len(slack.messages(CHAN)) == 1


@pytest.mark.parametrize("fault", [Fault.server_error(500), Fault.html_error(503)])
async def test_server_errors_are_transient(slack: FakeSlack, fault: Fault) -> None:
    adapter = adapter_for(slack)
    slack.inject(fault, method="chat.postMessage")
    with pytest.raises(ChatError) as info:
        await adapter.post(target(), adapter.render(many(1))[0], key="k")
    assert not info.value.permanent and info.value.retry_after is None
    assert len(slack.posts()) == 1


async def test_timeout_is_transient(slack: FakeSlack) -> None:
    adapter = adapter_for(slack, timeout=0.2)
    slack.inject(Fault.slow(5), method="chat.postMessage")
    with pytest.raises(ChatError) as info:
        await adapter.post(target(), adapter.render(many(1))[0])
    assert not info.value.permanent


async def test_gone_channels_and_removed_bots_are_permanent(slack: FakeSlack) -> None:
    slack.add_channel("C0ARCHIVED", archived=True)
    slack.add_channel("C0PRIVATE", member=False, private=True)
    part = adapter_for(slack).render(many(1))[0]
    cases = {
        "C0MISSING": "channel_not_found",
        "C0ARCHIVED": "is_archived",
        "C0PRIVATE": "channel_not_found",
    }
    for channel, code in cases.items():
        with pytest.raises(ChatError) as info:
            await adapter_for(slack).post(target(channel), part, key="k")
        assert info.value.permanent and code in str(info.value)
    revoked = SlackAdapter("xoxb-revoked", api_url=slack.base_url)
    with pytest.raises(ChatError) as info:
        await revoked.post(target(), part)
    assert info.value.permanent and "invalid_auth" in str(info.value)
    slack.inject(Fault.api_error("token_revoked"))
    with pytest.raises(ChatError) as info:
        await adapter_for(slack).post(target(), part)
    assert info.value.permanent


async def test_not_in_channel_is_permanent() -> None:
    async with FakeSlack(scopes={"commands", "chat:write", "channels:history"}) as slack:
        slack.add_channel("C0PUBLIC", member=False)
        adapter = adapter_for(slack)
        with pytest.raises(ChatError) as info:
            await adapter.post(target("C0PUBLIC"), adapter.render(many(1))[0], key="k")
        assert info.value.permanent and "not_in_channel" in str(info.value)


async def test_public_channel_without_membership_works_with_chat_write_public(
    slack: FakeSlack,
) -> None:
    slack.add_channel("C0PUBLIC", member=False)
    adapter = adapter_for(slack)
    await adapter.post(target("C0PUBLIC"), adapter.render(many(1))[0])
    assert len(slack.messages("C0PUBLIC")) == 1


async def test_crash_between_post_and_record_does_not_post_twice(slack: FakeSlack) -> None:
    parts = adapter_for(slack).render(many(3))
    first = adapter_for(slack)
    posted = await first.post(target(), parts[0], key="digest/0")
    # The process dies before the outbox records `posted`; a new one resumes:
    # it asks find_sent() first, as delivery does for a part that was mid-send.
    for _ in range(130):  # the channel moved on: the part is past the first page
        await first.post(target(), {"text": "chatter", "blocks": []})
    resumed = adapter_for(slack)
    found = await resumed.find_sent(target(), "digest/0")
    assert found == posted
    ref = found or await resumed.post(target(), parts[0], key="digest/0")
    assert ref == posted
    with_key = [m for m in slack.messages(CHAN) if m.get("metadata")]
    assert len(with_key) == 1
    assert await resumed.find_sent(target(), "digest/1") is None
    assert any(c.args.get("include_all_metadata") in ("1", "true") for c in slack.calls)


async def test_lost_response_then_retry_does_not_post_twice(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    part = adapter.render(many(1))[0]
    slack.inject(Fault.lost_response(), method="chat.postMessage")
    with pytest.raises(ChatError) as info:
        await adapter.post(target(), part, key="digest/0")
    assert not info.value.permanent
    assert len(slack.messages(CHAN)) == 1  # Slack did post it
    ref = await adapter.post(target(), part, key="digest/0")  # the outbox's retry
    assert ref.id == slack.messages(CHAN)[0]["ts"]
    assert len(slack.messages(CHAN)) == 1


async def test_find_sent_ignores_other_apps_messages(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    await adapter.post(target(), adapter.render(many(1))[0], key="mine")
    slack.messages(CHAN)  # our message is there; forge another app's copy of the key
    slack.channels[CHAN].messages.append(
        {
            "type": "message",
            "ts": "1800000000.000001",
            "bot_id": "B0OTHER",
            "text": "x",
            "metadata": {"event_type": METADATA_EVENT, "event_payload": {"key": "theirs"}},
        }
    )
    assert await adapter.find_sent(target(), "theirs") is None
    assert await adapter.find_sent(target(), "mine") is not None


async def test_dead_thumbnail_falls_back_to_no_images(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    digest = await sample_digest()
    part = adapter.render(digest)[0]
    slack.broken_images.add(digest.entries[0].paper.thumbnail_url)
    await adapter.post(target(), part, key="k")
    [stored] = slack.messages(CHAN)
    assert all("accessory" not in b for b in stored["blocks"])
    assert len(slack.posts()) == 2


async def test_threaded_digest_parent_then_replies(slack: FakeSlack) -> None:
    adapter = adapter_for(slack, thread_digests=True)
    parts = adapter.render(many(40))
    assert parts[0][THREAD_KEY]["role"] == "parent" and len(parts) >= 3
    refs = [await adapter.post(target(), p, key=f"d/{i}") for i, p in enumerate(parts)]
    stored = slack.messages(CHAN)
    assert [m["ts"] for m in stored] == [r.id for r in refs]
    assert all(m.get("thread_ts") == refs[0].id for m in stored[1:])
    assert "paperboy_thread" not in slack.posts()[0].args
    # After a restart: a reply is found inside the thread, and a missing reply
    # is threaded under the parent found in history.
    fresh = adapter_for(slack, thread_digests=True)
    assert await fresh.find_sent(target(), "d/2") == refs[2]
    slack.channels[CHAN].messages.pop()  # the last reply never made it
    last = len(parts) - 1
    assert await fresh.find_sent(target(), f"d/{last}") is None
    again = await fresh.post(target(), parts[last], key=f"d/{last}")
    assert slack.messages(CHAN)[-1]["thread_ts"] == refs[0].id
    assert again.id == slack.messages(CHAN)[-1]["ts"]


async def test_render_matches_the_cli_format(slack: FakeSlack) -> None:
    digest = await sample_digest()
    assert adapter_for(slack).render(digest) == render_digest(digest)


def test_it_is_a_chat_adapter_whose_lookups_see_posts(slack: FakeSlack) -> None:
    adapter = adapter_for(slack)
    assert isinstance(adapter, ChatAdapter) and adapter.finds_sent


async def test_posting_never_joins_a_lookup_that_needs_it_joins_once(slack: FakeSlack) -> None:
    """Joins only when a history read answers not_in_channel: a restart with thousands
    of channels makes no joins before its digests (conversations.join is Tier 3)."""
    slack.add_channel("C0PUBLIC", member=False)
    adapter = adapter_for(slack)
    parts = adapter.render(many(40))
    for i, part in enumerate(parts[:2]):
        await adapter.post(target("C0PUBLIC"), part, key=f"d/{i}")
    assert slack.posts("conversations.join") == [] and not slack.channels["C0PUBLIC"].member
    # The crash check needs the history: now it joins, once, and reads it.
    assert await adapter.find_sent(target("C0PUBLIC"), "d/1") is not None
    assert await adapter.find_sent(target("C0PUBLIC"), "d/0") is not None
    methods = [c.method for c in slack.calls if c.method != "auth.test"]
    history = "conversations.history"
    assert methods == [*["chat.postMessage"] * 2, history, "conversations.join", history, history]
    assert slack.channels["C0PUBLIC"].member


async def test_a_private_channel_is_never_asked_to_join(slack: FakeSlack) -> None:
    slack.add_channel("C0PRIVATE", private=True)  # invited: a member
    adapter = adapter_for(slack)
    refs = [
        await adapter.post(target("C0PRIVATE"), adapter.render(many(1))[0], key=f"d/{i}")
        for i in range(2)
    ]
    assert await adapter.find_sent(target("C0PRIVATE"), "d/1") == refs[1]
    assert slack.posts("conversations.join") == []
    assert len(slack.messages("C0PRIVATE")) == 2


async def test_a_rate_limited_join_defers_the_lookup_by_its_retry_after(slack: FakeSlack) -> None:
    slack.add_channel("C0PUBLIC", member=False)
    adapter = adapter_for(slack)
    part = adapter.render(many(1))[0]
    await adapter.post(target("C0PUBLIC"), part, key="d/0")
    slack.inject(Fault.rate_limited(30), method="conversations.join")
    # The history cannot be read until the bot can join: look again after the join's
    # Retry-After (a rate limit, not a failed attempt), not "unsent".
    with pytest.raises(ChatError) as info:
        await adapter.find_sent(target("C0PUBLIC"), "d/0")
    assert not info.value.permanent
    assert info.value.retry_after is not None and 29 <= info.value.retry_after <= 30
    with pytest.raises(ChatError) as again:
        await adapter.find_sent(target("C0PUBLIC"), "d/0")
    assert again.value.retry_after is not None and 0 < again.value.retry_after <= 30
    assert len(slack.posts("conversations.join")) == 1  # no more joins while limited
    assert len(slack.messages("C0PUBLIC")) == 1
