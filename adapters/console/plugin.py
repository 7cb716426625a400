"""Registers the console adapter with the core (entry point `paperboy.adapters`)."""

from __future__ import annotations

import io

from rich.console import Console

from paperboy.models import Digest
from paperboy.plugins import AdapterPlugin, CoreServices
from paperboy_adapters.console.adapter import ConsoleAdapter
from paperboy_adapters.console.render import render_digest
from paperboy_config import Settings


def to_text(digest: Digest, width: int = 100) -> str:
    """The console rendering as plain text (no colour codes), e.g. for a pipe."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, no_color=True, highlight=False, emoji=False)
    for part in render_digest(digest):
        console.print(part)
    return buffer.getvalue()


def create(settings: Settings, services: CoreServices | None = None) -> ConsoleAdapter:
    return ConsoleAdapter(settings.console_channel)


PLUGIN = AdapterPlugin(platform="console", formats={"text": to_text}, create=create)
