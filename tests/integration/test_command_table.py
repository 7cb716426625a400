"""Commands exist because the command table lists them, not because of what was imported.

Each check runs in a fresh interpreter that imports `Commands` before anything else:
in-process, the suite has long since imported every module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from paperboy.commands import COMMANDS

ALL = ("subscribe", "unsubscribe", "list", "digest", "help", "search", "similar", "schedule",
       "pause", "resume", "settings", "feedback", "saved", "weekly", "trends")  # fmt: skip

FRESH = """
import asyncio, json, sys
from paperboy.commands import Commands
from paperboy.chat import CommandContext
from paperboy.models import Target
from paperboy.store import Store, migrate

async def main(url, lines):
    await migrate(url)
    async with Store(url) as store:
        ctx = CommandContext(Target("console", "", "demo"), user="u")
        for line in lines:
            reply = await Commands(store).handle(ctx, line)
            print(json.dumps([line, reply.ok, reply.text]))

asyncio.run(main(sys.argv[1], sys.argv[2:]))
"""


def fresh_replies(sqlite_url: str, *lines: str) -> dict[str, tuple[bool, str]]:
    done = subprocess.run(
        [sys.executable, "-c", FRESH, sqlite_url, *lines],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    return {line: (ok, text) for line, ok, text in map(json.loads, done.stdout.splitlines())}


def test_the_table_lists_every_command_once_in_help_order() -> None:
    assert tuple(command.name for command in COMMANDS) == ALL


def test_a_fresh_interpreter_answers_every_command(sqlite_url: str) -> None:
    lines = ["subscribe LoRA", "list", "schedule 08:30 Europe/Berlin weekdays", "schedule",
             "pause", "resume", "settings", "settings max 5", "search LoRA", "digest",
             "unsubscribe 1", "feedback", "saved", "settings suggest on", "help"]  # fmt: skip
    replies = fresh_replies(sqlite_url, *lines)
    for line in lines:
        ok, text = replies[line]
        assert ok and not text.startswith("Unknown command"), (line, text)
    assert replies["schedule 08:30 Europe/Berlin weekdays"][1].startswith(
        "Digests for this channel: 08:30 Europe/Berlin, weekdays (next: "
    )
    assert replies["pause"][1] == "Paused: no digests here until /papers resume."
    assert "max papers per digest: 5" in replies["settings max 5"][1]
    shown = [line.split()[1] for line in replies["help"][1].splitlines()[1:-1]]
    assert tuple(shown) == ALL
