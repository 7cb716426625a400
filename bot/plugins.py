"""Adapter discovery. The core never imports `adapters/`: adapters register here.

Each chat adapter package declares an entry point in the `paperboy.adapters` group
(see pyproject.toml) naming an `AdapterPlugin`. The CLI loads them to start the
configured platforms and to offer their output formats (`digest --format slack`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from paperboy.chat import ChatAdapter
from paperboy.models import Digest, Subscription, Target

if TYPE_CHECKING:
    from paperboy_config import Settings

GROUP = "paperboy.adapters"

Formatter = Callable[[Digest], str]
SubscriptionLister = Callable[[Target], Awaitable[Sequence[Subscription]]]


@dataclass(frozen=True)
class CoreServices:
    """What the core lends an adapter beyond its settings (built by `paperboy.bootstrap`).

    An adapter uses these for what its platform needs besides answering commands, such
    as Discord's autocomplete of a channel's subscriptions; it never reaches into the
    command handler it is given for them.
    """

    #: A channel's subscriptions, oldest first.
    subscriptions: SubscriptionLister | None = None


@dataclass(frozen=True)
class AdapterPlugin:
    """What an adapter package offers the core."""

    platform: str
    # CLI output formats this adapter renders, e.g. {"slack": to_json_text}.
    formats: Mapping[str, Formatter] = field(default_factory=dict)
    # Build the adapter when its settings are present; None when not configured.
    create: Callable[[Settings, CoreServices], ChatAdapter | None] | None = None
    # Extra hooks by name (e.g. an HTTP app factory), looked up by the CLI.
    hooks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One line of `paperboy doctor`: `level` is ok, warn or fail; `check` names what was
    checked (`slack token`); `message` says what was found and, when not ok, what to do.

    An adapter's `doctor` hook, `async (settings) -> list[Finding]`, checks its platform's
    settings (tokens validated when the platform is reachable, permissions)."""

    level: str
    check: str
    message: str


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
