"""Registers the Discord adapter with the core (entry point `paperboy.adapters`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paperboy.plugins import AdapterPlugin, CoreServices, Finding
from paperboy.trends import Rollup
from paperboy_adapters.discord.render import to_json
from paperboy_adapters.discord.rollup import render_rollup
from paperboy_config import Settings

if TYPE_CHECKING:
    from paperboy_adapters.discord.adapter import DiscordAdapter

# discord.py loads only when an adapter is built: `digest --format discord` and the
# commands that use no chat platform never import it.


def create(settings: Settings, services: CoreServices | None = None) -> DiscordAdapter | None:
    """The gateway adapter, when a bot token is configured. Its autocomplete lists a
    channel's subscriptions through `services.subscriptions`."""
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        return None
    from paperboy_adapters.discord.adapter import DiscordAdapter

    return DiscordAdapter(
        settings.discord_token.get_secret_value().strip(),
        api_url=settings.discord_api_url,
        dev_guild=settings.discord_dev_guild,
        require_manage_channels=settings.discord_require_manage_channels,
        timeout=settings.delivery_send_timeout,
        subscriptions=services.subscriptions if services is not None else None,
    )


def create_webhook_poster(settings: Settings) -> DiscordAdapter:
    """An adapter for delivery only: posts to `discord-webhook:` targets (no token
    needed) and, when a token is set, to channels. Its `start()` connects nothing."""
    from paperboy_adapters.discord.adapter import DiscordAdapter

    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else None
    return DiscordAdapter(
        token or None,
        api_url=settings.discord_api_url,
        connect=False,
        timeout=settings.delivery_send_timeout,
    )


async def doctor(settings: Settings) -> list[Finding]:
    """The `doctor` hook: the bot token validated (see doctor.py)."""
    from paperboy_adapters.discord.doctor import doctor as check

    return await check(settings)


def rollup_message(rollup: Rollup) -> dict[str, Any]:
    """`paperboy rollup --format discord`: the multipart create-message request, as sent:
    its `payload_json` and the names of its `files[n]` (the image written by the CLI)."""
    return {"payload_json": render_rollup(rollup), "files": [rollup.image_name]}


PLUGIN = AdapterPlugin(
    platform="discord",
    formats={"discord": to_json},
    create=create,
    hooks={"poster": create_webhook_poster, "doctor": doctor, "rollup": rollup_message},
)
