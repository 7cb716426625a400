"""Run the `paperboy` command line in this process: the real entry point (`bot.cli.main`,
which turns bad input into one line on stderr and exit code 2) without the second or
so a subprocess costs to import everything.

Use a subprocess instead where the command may take the process down (reading
/dev/zero, say) or needs a process of its own (signals, a crash).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bot.cli import main
from config.settings import get_settings


@dataclass(frozen=True)
class Result:
    """As `subprocess.run(..., capture_output=True, text=True)` would report it."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    """A command may configure logging (`basicConfig` on stderr): undo it afterwards, so
    no handler outlives the captured stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def paperboy(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """`paperboy ARGS...` with `env` added to the environment (settings are read anew)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    get_settings.cache_clear()
    try:
        with (
            _environment(env or {}),
            _logging_kept(),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            try:
                main(list(args))
                code: int | str | None = 0
            except SystemExit as leaving:
                code = leaving.code
    finally:
        get_settings.cache_clear()
    if isinstance(code, str):  # sys.exit("message"): printed, exit code 1
        stderr.write(code + "\n")
        code = 1
    return Result(code or 0, stdout.getvalue(), stderr.getvalue())
