"""The ChatAdapter protocol: the only way the core talks to a chat platform.

Adapters implement it; the core never imports them. A command arriving on any
platform is handed to a `CommandHandler` (see `paperboy.commands`) with the same
arguments, and its Reply is rendered natively by the adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from paperboy.errors import ChatError as ChatError  # the adapters raise it
from paperboy.models import Digest, Reply, Target


@dataclass(frozen=True, slots=True)
class MessageRef:
    """The platform's reference to a posted message (Slack ts, Discord message id)."""

    target: Target
    id: str


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked and where: enough for the core to answer without platform knowledge."""

    target: Target
    user: str = ""
    can_manage: bool = True


CommandHandler = Callable[[CommandContext, str], Coroutine[Any, Any, Reply]]


@runtime_checkable
class ChatAdapter(Protocol):
    platform: str
    #: Whether `find_sent()` can see a posted part (Slack: its history). True by default
    #: (an adapter that predates this attribute is read as True); False (Discord, whose
    #: nonce makes a resend harmless instead) tells delivery not to wait and look again
    #: before resending a part whose outcome was unknown.
    finds_sent: bool = True

    async def start(self, on_command: CommandHandler) -> None:
        """Connect and route incoming `/papers` commands to `on_command`."""

    async def stop(self) -> None: ...

    def render(self, item: Digest | Reply) -> Sequence[Any]:
        """Turn a digest or reply into the platform payloads (one per message).

        Pure, and safe to call from a worker thread: the planner renders there.
        """

    async def post(self, target: Target, part: Any, *, key: str | None = None) -> MessageRef:
        """Send one rendered part; `key` is the outbox key, for idempotent sends.

        Raises ChatError: `permanent=True` for a gone channel or a removed bot,
        `retry_after` set for a rate limit.
        """

    async def find_sent(self, target: Target, key: str) -> MessageRef | None:
        """The message already posted under outbox `key`, if the platform can tell.

        Delivery asks this before resending a part that was mid-send at a crash.
        Platforms with an idempotency key of their own (Discord's nonce) return None.
        """
