"""The fake Discord itself: it refuses what Discord refuses, the way Discord does.

A fake that accepts anything proves nothing; these pin its checks with raw requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from paperboy.chat import ChatError
from paperboy.models import Target
from paperboy_adapters.discord.adapter import DiscordAdapter
from tests.fakes.discord import FakeDiscord

CHANNEL = "222222222222222222"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(CHANNEL, guild_id="111111111111111111")
        yield server


async def send(fake: FakeDiscord, body: Any, *, token: str | None = None) -> tuple[int, Any, dict]:
    headers = {"Authorization": f"Bot {token or fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.api_url}/channels/{CHANNEL}/messages", json=body, headers=headers
        ) as response:
            return response.status, await response.json(), dict(response.headers)


def embed(**changes: Any) -> dict[str, Any]:
    return {"title": "t", "description": "d", **changes}


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"content": "x" * 2001}, ["content"], "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [embed(title="x" * 257)]}, ["embeds", "0", "title"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"embeds": [embed(description="x" * 4097)]},
            ["embeds", "0", "description"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        ({"embeds": [embed()] * 11}, ["embeds"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"embeds": [embed(description="x" * 3000), embed(description="y" * 3000)]},
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        (
            {"embeds": [embed(fields=[{"name": "n", "value": "v"}] * 26)]},
            ["embeds", "0", "fields"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [embed(fields=[{"name": "n", "value": "v" * 1025}])]},
            ["embeds", "0", "fields", "0", "value"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [embed(fields=[{"name": "n" * 257, "value": "v"}])]},
            ["embeds", "0", "fields", "0", "name"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [embed(fields=[{"name": "n", "value": ""}])]},
            ["embeds", "0", "fields", "0", "value"],
            "BASE_TYPE_REQUIRED",
        ),
        (
            {"embeds": [embed(footer={"text": "f" * 2049})]},
            ["embeds", "0", "footer", "text"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [embed(author={"name": "a" * 257})]},
            ["embeds", "0", "author", "name"],
            "BASE_TYPE_MAX_LENGTH",
        ),
        (
            {"embeds": [embed(url="javascript:alert(1)")]},
            ["embeds", "0", "url"],
            "URL_TYPE_INVALID_SCHEME",
        ),
        (
            {"embeds": [embed(thumbnail={"url": "not a url"})]},
            ["embeds", "0", "thumbnail", "url"],
            "URL_TYPE_INVALID_SCHEME",
        ),
        ({"content": "x", "nonce": "n" * 26}, ["nonce"], "BASE_TYPE_MAX_LENGTH"),
        (
            {"content": "x", "allowed_mentions": {"parse": ["all"]}},
            ["allowed_mentions", "parse"],
            "ENUM_TYPE_COERCE",
        ),
    ],
)
async def test_over_limit_bodies_get_discords_invalid_form_body(
    fake: FakeDiscord, body: dict[str, Any], path: list[str], code: str
) -> None:
    status, answer, _ = await send(fake, body)
    assert status == 400
    assert answer["code"] == 50035 and answer["message"] == "Invalid Form Body"
    node = answer["errors"]
    for key in path:
        node = node[key]
    assert node["_errors"][0]["code"] == code
    assert fake.messages == []


async def test_limits_themselves_are_accepted(fake: FakeDiscord) -> None:
    body = {
        "content": "x" * 2000,
        "embeds": [embed(title="t" * 256, description="d" * 344)] * 10,  # exactly 6,000
    }
    status, answer, _ = await send(fake, body)
    assert status == 200 and answer["id"]


async def test_empty_message_and_bad_token(fake: FakeDiscord) -> None:
    status, answer, _ = await send(fake, {"content": "   "})
    assert (status, answer["code"]) == (400, 50006)
    status, answer, _ = await send(fake, {"content": "hi"}, token="nope")
    assert (status, answer["message"]) == (401, "401: Unauthorized")


async def test_adapter_sees_the_rejection_as_permanent_with_the_field(fake: FakeDiscord) -> None:
    adapter = DiscordAdapter(fake.token, api_url=fake.api_url)
    with pytest.raises(ChatError) as refused:
        await adapter.post(
            Target("discord", "1", CHANNEL),
            {"content": "x", "embeds": [embed(title="x" * 300)]},
            key="k",
        )
    assert refused.value.permanent
    assert "50035" in str(refused.value) and "embeds.0.title" in str(refused.value)
    await adapter.stop()


async def test_rate_limit_answer_looks_like_discords(fake: FakeDiscord) -> None:
    fake.rate_limit(r"POST /channels/", retry_after=1.25, global_=True)
    status, answer, headers = await send(fake, {"content": "hi"})
    assert status == 429
    assert answer["retry_after"] == 1.25 and answer["global"] is True
    assert headers["Retry-After"] == "2"
    assert headers["X-RateLimit-Global"] == "true"
    assert headers["X-RateLimit-Remaining"] == "0"
    status, _, _ = await send(fake, {"content": "hi"})
    assert status == 200


async def test_nonce_deduplicates_only_when_enforced(fake: FakeDiscord) -> None:
    _, first, _ = await send(fake, {"content": "a", "nonce": "n1", "enforce_nonce": True})
    _, again, _ = await send(fake, {"content": "a", "nonce": "n1", "enforce_nonce": True})
    assert first["id"] == again["id"] and again["nonce"] == "n1"
    _, loose1, _ = await send(fake, {"content": "a", "nonce": "n2"})
    _, loose2, _ = await send(fake, {"content": "a", "nonce": "n2"})
    assert loose1["id"] != loose2["id"]
    assert len(fake.channel_messages(CHANNEL)) == 3


async def test_default_allowed_mentions_would_ping(fake: FakeDiscord) -> None:
    await send(fake, {"content": "hi @everyone"})
    await send(fake, {"content": "hi @everyone", "allowed_mentions": {"parse": []}})
    pinging, quiet = fake.channel_messages(CHANNEL)
    assert pinging.live_mentions == ["@everyone"]
    assert quiet.live_mentions == []
