"""Adapter discovery. The core never imports `adapters/`: adapters register here.

Each chat adapter package declares an entry point in the `paperboy.adapters` group
(see pyproject.toml) naming an `AdapterPlugin`. The CLI loads them to start the
configured platforms and to offer their output formats (`digest --format slack`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from paperboy.chat import ChatAdapter
from paperboy.models import Digest
from paperboy_config import Settings

GROUP = "paperboy.adapters"

Formatter = Callable[[Digest], str]


@dataclass(frozen=True)
class AdapterPlugin:
    """What an adapter package offers the core."""

    platform: str
    # CLI output formats this adapter renders, e.g. {"slack": to_json_text}.
    formats: Mapping[str, Formatter] = field(default_factory=dict)
    # Build the adapter when its settings are present; None when not configured.
    create: Callable[[Settings], ChatAdapter | None] | None = None
    # Extra hooks by name (e.g. an HTTP app factory), looked up by the CLI.
    hooks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


def load_plugins() -> dict[str, AdapterPlugin]:
    plugins: dict[str, AdapterPlugin] = {}
    for point in entry_points(group=GROUP):
        plugin = point.load()
        if isinstance(plugin, AdapterPlugin):
            plugins[plugin.platform] = plugin
    return plugins


def formats() -> dict[str, Formatter]:
    out: dict[str, Formatter] = {}
    for plugin in load_plugins().values():
        out.update(plugin.formats)
    return out
