"""Platform-neutral `/papers` commands: one command line in, one Reply out.

Every adapter hands the text after `/papers` to `Commands.handle` and renders the
Reply natively. Replies are plain text (no markup): adapters escape it. Bad input
gets one line of usage, never a traceback. Which commands exist is the command table
(`paperboy.commands.table`), whatever else was imported before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from paperboy.chat import CommandContext
from paperboy.commands.basic import QUERY_HELP
from paperboy.commands.table import COMMANDS, Command
from paperboy.models import Reply
from paperboy.sources import PaperSource
from paperboy.store import Store

log = logging.getLogger(__name__)

#: Called after a command changed a channel's schedule.
ScheduleListener = Callable[[], None]


class Commands:
    """The `/papers` command set of one bot: store-backed, platform-neutral.

    `on_schedule_change` is called after every schedule change a command makes, so a
    scheduler in this process rebuilds its jobs at once; schedulers in other processes
    see the change at their next periodic check.
    """

    def __init__(
        self,
        store: Store,
        source: PaperSource | None = None,
        *,
        on_schedule_change: ScheduleListener | None = None,
        table: Sequence[Command] = COMMANDS,
    ) -> None:
        self.store = store
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
        try:
            return await command.handler(self, ctx, args.strip())
        except Exception:  # one line for the user; the details go to the log
            log.exception("command %r failed", name)
            return Reply(f"Sorry, '/papers {name}' failed. Please try again later.", ok=False)

    def usage(self, name: str, problem: str | None = None) -> Reply:
        """A refusal: the problem, then the command's usage line."""
        prefix = f"{problem}. " if problem else ""
        return Reply(f"{prefix}Usage: {self.commands[name].usage}", ok=False)

    def help_reply(self) -> Reply:
        shorts = {name: command.usage.split("  ")[0] for name, command in self.commands.items()}
        width = max(len(short) for short in shorts.values())
        lines = ["paperboy brings this channel the papers it cares about. Commands:"]
        for name, short in shorts.items():
            lines.append(f"  {short.ljust(width)}  {self.commands[name].summary}")
        lines.append(QUERY_HELP)
        return Reply("\n".join(lines))

    def schedule_changed(self) -> None:
        """Tell the schedule listener, if any, that a channel's schedule changed."""
        if self.on_schedule_change is None:
            return
        try:
            self.on_schedule_change()
        except Exception:  # a listener's trouble is not the user's
            log.exception("a schedule listener failed")
