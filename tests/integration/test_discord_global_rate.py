"""Discord's global rate limit: bot requests are paced below it, and a global 429 holds
every bot request until its Retry-After (paperboy_adapters.discord.rest.Pacer).

The fake enforces the limit like Discord (more than N bot requests within one second:
429 with `"global": true`), so a fan-out that ignored it would be refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from paperboy.chat import ChatError
from paperboy.models import Target
from paperboy_adapters.discord import limits
from paperboy_adapters.discord.adapter import DiscordAdapter
from paperboy_adapters.discord.rest import Pacer
from tests.fakes.discord import FakeDiscord

GUILD = "111111111111111111"
CHANNELS = [str(333_000_000_000_000_000 + i) for i in range(60)]
PART = {"content": "**Papers for 2024-11-11**", "embeds": [], "allowed_mentions": {"parse": []}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(global_limit=limits.GLOBAL_REQUESTS_PER_SECOND) as server:
        for channel in CHANNELS:
            server.add_channel(channel, guild_id=GUILD)
        yield server


async def _burst(fake: FakeDiscord, pacer: Pacer) -> list[BaseException | object]:
    """One send to each channel, all at once (a fan-out's sends in flight)."""
    adapter = DiscordAdapter(fake.token, api_url=fake.api_url)
    adapter.rest.pacer = pacer
    try:
        return await asyncio.gather(
            *(
                adapter.post(Target("discord", GUILD, channel), PART, key=f"k/{channel}")
                for channel in CHANNELS
            ),
            return_exceptions=True,
        )
    finally:
        await adapter.stop()


async def test_a_burst_of_sends_is_paced_under_the_global_limit(fake: FakeDiscord) -> None:
    """60 sends at once: all accepted, none refused. (Paced slower than the default, so
    that a stalled test machine cannot bunch them past the limit; the default's margin
    is checked below.)"""
    results = await _burst(fake, Pacer(25))
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert fake.global_limited == 0
    assert sum(len(fake.channel_messages(c)) for c in CHANNELS) == len(CHANNELS)


async def test_without_pacing_the_fake_refuses_the_burst(fake: FakeDiscord) -> None:
    """The control: the same burst unpaced meets Discord's global 429s."""
    results = await _burst(fake, Pacer(1_000_000))
    refused = [r for r in results if isinstance(r, ChatError)]
    assert fake.global_limited > 0 and len(refused) == fake.global_limited
    assert all(r.retry_after is not None and "global" in str(r) for r in refused)


def test_default_pace_stays_below_the_limit() -> None:
    assert limits.PACED_REQUESTS_PER_SECOND < limits.GLOBAL_REQUESTS_PER_SECOND


async def test_pacer_spaces_requests_and_holds_after_a_global_429(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a clock of its own: evenly spaced turns, and none during a hold."""
    now = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    pacer = Pacer(10, clock=lambda: now[0])
    await pacer.wait()  # first: at once
    assert slept == []
    await pacer.wait()  # next: a tenth of a second later
    assert slept == [0.1]
    pacer.hold(2.5)  # Discord said: global limit, retry after 2.5 s
    await pacer.wait()
    assert slept[-1] == 2.5 and now[0] == pytest.approx(102.6)
    await pacer.wait()
    assert slept[-1] == 0.1
