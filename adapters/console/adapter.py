"""ConsoleAdapter: reads `/papers ...` lines from stdin, prints replies with Rich."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.text import Text

from paperboy.chat import CommandContext, CommandHandler, MessageRef
from paperboy.models import Digest, Reply, Target
from paperboy.terminal import terminal_safe
from paperboy_adapters.console.render import render

PROMPT = "papers> "


class ConsoleAdapter:
    """The terminal as one chat channel (`console:<channel>`)."""

    platform = "console"
    #: A terminal keeps no history to look a part up in: delivery resends without waiting.
    finds_sent = False

    def __init__(
        self,
        channel: str = "demo",
        *,
        console: Console | None = None,
        stdin: IO[str] | None = None,
    ) -> None:
        self.target = Target("console", "", channel)
        self.console = console or Console(highlight=False, emoji=False)
        self.stdin = stdin or sys.stdin
        self._sent = 0
        self._stopping = asyncio.Event()

    def render(self, item: Digest | Reply) -> Sequence[RenderableType]:
        return render(item)

    async def post(self, target: Target, part: Any, *, key: str | None = None) -> MessageRef:
        if isinstance(part, str):  # plain text is data, never Rich markup
            part = Text(terminal_safe(part, keep="\n"))
        self.console.print(part)
        self._sent += 1
        return MessageRef(target, str(self._sent))

    async def find_sent(self, target: Target, key: str) -> MessageRef | None:
        """Nothing to look up: the terminal keeps no history."""
        return None

    async def show(self, item: Digest | Reply) -> None:
        for part in self.render(item):
            await self.post(self.target, part)

    async def start(self, on_command: CommandHandler) -> None:
        """Answer commands from stdin until EOF (or `stop()`); a prompt only on a terminal."""
        interactive = self.stdin.isatty()
        ctx = CommandContext(self.target, user="console")
        while not self._stopping.is_set():
            if interactive:
                self.console.print(PROMPT, end="", style="bold")
            line = await asyncio.to_thread(self.stdin.readline)
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            if line in {"exit", "quit"}:
                break
            if not line.startswith("/papers"):
                self.console.print("Commands start with /papers (try /papers help).")
                continue
            await self.show(await on_command(ctx, line))

    async def stop(self) -> None:
        self._stopping.set()
