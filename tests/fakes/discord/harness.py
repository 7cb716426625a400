"""Running the real DiscordAdapter (discord.py inside) against a FakeDiscord in a test.

Kept apart from `server.py` so the fake itself knows nothing of the code under test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from paperboy.chat import CommandHandler
from paperboy_adapters.discord.adapter import DiscordAdapter
from tests.fakes.discord.server import FakeDiscord


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord,
    handler: CommandHandler,
    *,
    adapter: DiscordAdapter | None = None,
    **options: Any,
) -> AsyncIterator[DiscordAdapter]:
    """Start the adapter on `fake` (a new one made with `options`, or `adapter`), wait
    until discord.py is READY, stop it afterwards."""
    if adapter is None:
        options.setdefault("client_options", {"guild_ready_timeout": 0.05})
        adapter = DiscordAdapter(fake.token, api_url=fake.api_url, **options)
    task = asyncio.create_task(adapter.start(handler))
    ready = asyncio.create_task(adapter.ready.wait())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=30, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()  # start() ended early: raise its error
            raise RuntimeError("the Discord adapter stopped before it was ready")
        if ready not in done:
            raise TimeoutError("discord.py never became ready against the fake")
        yield adapter
    finally:
        ready.cancel()
        await adapter.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
