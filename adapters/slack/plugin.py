"""Registers the Slack adapter with the core (entry point `paperboy.adapters`)."""

from __future__ import annotations

from paperboy.plugins import AdapterPlugin, CoreServices
from paperboy_adapters.slack.adapter import SlackAdapter
from paperboy_adapters.slack.http import serve
from paperboy_adapters.slack.render import to_json
from paperboy_config import Settings


def create(settings: Settings, services: CoreServices | None = None) -> SlackAdapter | None:
    """The adapter when a bot token is set (else None).

    With an app token it connects in Socket Mode on `start()`; with only a bot token it
    delivers digests and leaves commands to `paperboy serve` (HTTP mode).
    """
    token = settings.slack_bot_token
    if token is None or not token.get_secret_value():
        return None
    return SlackAdapter.from_settings(settings)


PLUGIN = AdapterPlugin(
    platform="slack",
    formats={"slack": to_json},
    create=create,
    hooks={"serve": serve},
)
