"""A loopback fake Discord (REST + gateway) for tests; see `server.py`."""

from tests.fakes.discord.server import (
    MANAGE_CHANNELS,
    MANAGER,
    MEMBER,
    FakeChannel,
    FakeDiscord,
    FakeInteraction,
    FakeMessage,
)
from tests.fakes.discord.validate import embed_size, live_mentions, message_errors

__all__ = [
    "MANAGER",
    "MANAGE_CHANNELS",
    "MEMBER",
    "FakeChannel",
    "FakeDiscord",
    "FakeInteraction",
    "FakeMessage",
    "embed_size",
    "live_mentions",
    "message_errors",
]
