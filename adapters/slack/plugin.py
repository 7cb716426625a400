"""Registers the Slack adapter with the core (entry point `paperboy.adapters`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paperboy.plugins import AdapterPlugin, CoreServices, Finding
from paperboy.trends import Rollup
from paperboy_adapters.slack.render import to_json
from paperboy_adapters.slack.rollup import render_rollup
from paperboy_config import Settings

if TYPE_CHECKING:
    from paperboy.commands import Commands
    from paperboy_adapters.slack.adapter import SlackAdapter

# slack-bolt (and aiohttp) load only when an adapter is built or the server runs:
# `digest --format slack` and the commands that use no chat platform never import them.


def create(settings: Settings, services: CoreServices | None = None) -> SlackAdapter | None:
    """The adapter when a bot token is set (else None).

    With an app token it connects in Socket Mode on `start()`; with only a bot token it
    delivers digests and leaves commands to `paperboy serve` (HTTP mode).
    """
    token = settings.slack_bot_token
    if token is None or not token.get_secret_value():
        return None
    from paperboy_adapters.slack.adapter import SlackAdapter

    return SlackAdapter.from_settings(settings)


async def serve(settings: Settings, commands: Commands, host: str, port: int) -> None:
    """The `serve` hook: answer Slack over HTTP on host:port until cancelled."""
    from paperboy_adapters.slack.http import serve as serve_http

    await serve_http(settings, commands, host, port)


async def doctor(settings: Settings) -> list[Finding]:
    """The `doctor` hook: the tokens validated, the scopes compared (see doctor.py)."""
    from paperboy_adapters.slack.doctor import doctor as check

    return await check(settings)


def rollup_message(rollup: Rollup) -> dict[str, Any]:
    """`paperboy rollup --format slack`: the files_upload_v2 arguments, as sent (the image
    itself written to a file by the CLI)."""
    return {"method": "files_upload_v2", **render_rollup(rollup), "file": rollup.image_name}


PLUGIN = AdapterPlugin(
    platform="slack",
    formats={"slack": to_json},
    create=create,
    hooks={"serve": serve, "doctor": doctor, "rollup": rollup_message},
)
