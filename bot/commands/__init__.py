"""`/papers` commands: one command line in, one Reply out, the same on every platform.

`Commands(store, source)` answers every command of the command table
(`paperboy.commands.table`); `on_schedule_change` tells a scheduler in this process
that a channel's schedule changed.
"""

from paperboy.commands.dispatch import BUSY, CommandLine, Commands, ScheduleListener
from paperboy.commands.table import COMMANDS, Command

__all__ = ["BUSY", "COMMANDS", "Command", "CommandLine", "Commands", "ScheduleListener"]
