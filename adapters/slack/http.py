"""HTTP mode: `POST /slack/events` into the bolt app, `GET /healthz`.

Slack signs every request (`X-Slack-Signature`, `X-Slack-Request-Timestamp`); bolt's
request verification answers 401 for a bad or missing signature and for a timestamp
more than five minutes off. A timestamp that is not a number is answered 401 here,
before bolt (whose verifier would fail on it with a 500).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from adapters.slack.adapter import SlackAdapter
from config import Settings

if TYPE_CHECKING:
    from bot.commands import Commands

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def web_app(bolt: AsyncApp) -> web.Application:
    async def events(request: web.Request) -> web.StreamResponse:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not timestamp.isascii() or not timestamp.isdigit():
            return web.json_response({"error": "invalid request"}, status=401)
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(HEALTH_PATH, healthz)
    return app


def check_http_settings(settings: Settings) -> None:
    """Raise ValueError (one line) unless HTTP mode's two secrets are set."""
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        raise ValueError(f"Slack HTTP mode needs {' and '.join(missing)} (see docs/slack.md)")


async def serve(settings: Settings, commands: Commands, host: str, port: int) -> None:
    """The `serve` hook: answer Slack over HTTP on host:port until cancelled."""
    check_http_settings(settings)
    adapter = SlackAdapter.from_settings(settings)
    runner = web.AppRunner(web_app(adapter.build_app(commands.handle)), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("slack: answering %s on http://%s:%s", EVENTS_PATH, host, port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await adapter.stop()  # closes its delivery session (a shared digest opened one)
