"""`PAPERBOY_DELIVERY_SEND_TIMEOUT` is the time every adapter gives one send.

Neither the Slack client (it had a fixed 20 s) nor the Discord one (15 s) keeps a timeout
of its own: a slow platform is given up on when the outbox gives up, with a transient
ChatError (the outbox then looks the part up before resending it).
The deadlines below are safety nets: a client still on its own 15-20 s timeout runs
into them instead of answering ChatError.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from paperboy.chat import ChatError
from paperboy.models import Target
from paperboy_adapters.discord.plugin import create as create_discord
from paperboy_adapters.slack.plugin import create as create_slack
from paperboy_config import Settings
from tests.fakes.loopback import LoopbackServer
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack, Fault

TIMEOUT = 0.3
SAFETY = 5.0


class Silent(LoopbackServer):
    """A platform that takes every request and answers none (until closed)."""

    def build_app(self) -> web.Application:
        async def hang(request: web.Request) -> web.Response:
            await self.delay(60)
            return web.Response(status=503)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hang)
        return app


async def test_slack_gives_a_post_the_configured_send_timeout() -> None:
    async with FakeSlack() as slack:
        slack.add_channel("C0GENERAL")
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            slack_api_url=slack.base_url,
            delivery_send_timeout=TIMEOUT,
        )
        adapter = create_slack(settings)
        assert adapter is not None
        slack.inject(Fault.slow(60), method="chat.postMessage")
        part = {"text": "t", "blocks": []}
        async with asyncio.timeout(SAFETY):
            with pytest.raises(ChatError) as info:
                await adapter.post(Target("slack", TEAM_ID, "C0GENERAL"), part, key="k")
        assert not info.value.permanent


async def test_discord_gives_a_post_the_configured_send_timeout() -> None:
    async with Silent() as silent:
        settings = Settings(
            _env_file=None,
            DISCORD_TOKEN="discord-token",
            discord_api_url=silent.origin,
            delivery_send_timeout=TIMEOUT,
        )
        adapter = create_discord(settings)
        assert adapter is not None
        try:
            async with asyncio.timeout(SAFETY):
                with pytest.raises(ChatError) as info:
                    await adapter.post(
                        Target("discord", "900000000000000001", "910000000000000001"),
                        {"content": "hello", "embeds": []},
                        key="k",
                    )
            assert not info.value.permanent
        finally:
            await adapter.stop()
