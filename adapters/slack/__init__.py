"""Slack: slack-bolt AsyncApp (Socket Mode and HTTP mode), Block Kit rendering.

`SlackAdapter` is resolved on first use (PEP 562), so that importing a light module of
this package (`render`, `plugin`) does not load slack-bolt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paperboy_adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]


def __getattr__(name: str) -> Any:
    if name == "SlackAdapter":
        from paperboy_adapters.slack.adapter import SlackAdapter

        return SlackAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
