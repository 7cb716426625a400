"""Platform-neutral `/papers` commands: one command line in, one Reply out.

Every adapter hands the text after `/papers` to `Commands.handle` and renders the
Reply natively. Replies are plain text (no markup): adapters escape it. Bad input
gets one line of usage, never a traceback. Which commands exist is the command table
(`paperboy.commands.table`), whatever else was imported before.

Under a burst, commands wait their turn (`CommandLine`): at most as many run at once as
the database pool keeps connections, so none waits for a connection until the pool's
timeout; the rest wait in line, in order. Past the line's length, or when the
database says it is overloaded, the answer is "busy, try again in a moment", never
"failed". CPU-heavy work (matching a day's papers) runs in a worker thread, so the
event loop keeps acknowledging other commands meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from paperboy.chat import CommandContext
from paperboy.commands.basic import QUERY_EXAMPLES, QUERY_HELP
from paperboy.commands.table import COMMANDS, Command
from paperboy.models import Help, HelpEntry, Reply
from paperboy.sources import PaperSource
from paperboy.store import Store, overloaded

log = logging.getLogger(__name__)

#: Called after a command changed a channel's schedule.
ScheduleListener = Callable[[], None]

BUSY = "paperboy is busy right now. Please try again in a moment."
#: Commands waiting for their turn, at most (more are answered BUSY).
DEFAULT_QUEUE = 10_000


class CommandLine:
    """Commands take turns: `running` at once, up to `waiting` more in line (FIFO)."""

    def __init__(self, running: int, waiting: int = DEFAULT_QUEUE) -> None:
        if running < 1 or waiting < 0:
            raise ValueError("a command line needs running >= 1 and waiting >= 0")
        self.running = running
        self.limit = waiting
        self.waiting = 0
        self._slots = asyncio.Semaphore(running)
        self._turned_away = 0
        self._reported = 0.0

    def full(self) -> bool:
        """No room: every slot taken and the line at its length."""
        return self._slots.locked() and self.waiting >= self.limit

    async def __aenter__(self) -> None:
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()

    def turned_away(self, why: str) -> None:
        """Count a BUSY answer; log at most one line a minute about them."""
        self._turned_away += 1
        now = time.monotonic()
        if now - self._reported >= 60:
            log.warning(
                "busy: %d command(s) answered 'try again' (%s; %d running, %d waiting)",
                self._turned_away,
                why,
                self.running,
                self.waiting,
            )
            self._turned_away = 0
            self._reported = now


class Commands:
    """The `/papers` command set of one bot: store-backed, platform-neutral.

    `on_schedule_change` is called after every schedule change a command makes, so a
    scheduler in this process rebuilds its jobs at once; schedulers in other processes
    see the change at their next periodic check.

    `concurrency` commands run at once (default: as many as the store's connection pool
    keeps, leaving its overflow to delivery and scheduling in the same process); up to
    `queue` more wait their turn.
    """

    def __init__(
        self,
        store: Store,
        source: PaperSource | None = None,
        *,
        on_schedule_change: ScheduleListener | None = None,
        table: Sequence[Command] = COMMANDS,
        concurrency: int | None = None,
        queue: int = DEFAULT_QUEUE,
    ) -> None:
        self.store = store
        self.line = CommandLine(concurrency or store.pool_size, queue)
        self.source = source
        self.on_schedule_change = on_schedule_change
        self.commands = {command.name: command for command in table}

    async def handle(self, ctx: CommandContext, text: str) -> Reply:
        """Answer one command line (with or without the leading `/papers`)."""
        line = " ".join(text.split())
        if line.startswith("/papers"):
            line = line[len("/papers") :].strip()
        name, _, args = line.partition(" ")
        name = name.lower()
        if not name:
            return self.help_reply()
        command = self.commands.get(name)
        if command is None:
            return Reply(f"Unknown command '{name[:40]}'. Try /papers help", ok=False)
        if command.manage and not ctx.can_manage:
            return Reply(
                "You need the Manage Channels permission to change this channel's subscriptions.",
                ok=False,
            )
        if self.line.full():
            self.line.turned_away("too many commands waiting")
            return Reply(BUSY, ok=False)
        async with self.line:
            try:
                return await command.handler(self, ctx, args.strip())
            except Exception as error:  # one line for the user; the details go to the log
                if overloaded(error):
                    self.line.turned_away(f"the database: {type(error).__name__}")
                    return Reply(BUSY, ok=False)
                log.exception("command %r failed", name)
                return Reply(f"Sorry, '/papers {name}' failed. Please try again later.", ok=False)

    def usage(self, name: str, problem: str | None = None) -> Reply:
        """A refusal: the problem, then the command's usage line."""
        prefix = f"{problem}. " if problem else ""
        return Reply(f"{prefix}Usage: {self.commands[name].usage}", ok=False)

    def help_reply(self) -> Reply:
        """Every command of the table with its example, and the query language."""
        entries = []
        for command in self.commands.values():
            short, _, rest = command.usage.partition("  ")
            example = rest.strip().removeprefix("e.g.").strip() or None
            entries.append(HelpEntry(short.strip(), command.summary, example))
        guide = Help(
            intro="paperboy brings this channel the papers it cares about. Commands:",
            commands=tuple(entries),
            queries=QUERY_HELP,
            query_examples=QUERY_EXAMPLES,
        )
        return Reply(guide.text(), help=guide)

    def schedule_changed(self) -> None:
        """Tell the schedule listener, if any, that a channel's schedule changed."""
        if self.on_schedule_change is None:
            return
        try:
            self.on_schedule_change()
        except Exception:  # a listener's trouble is not the user's
            log.exception("a schedule listener failed")
