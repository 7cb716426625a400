"""Run the `paperboy` command line in this process: the real entry point (`paperboy.cli.main`,
which turns bad input into one line on stderr and exit code 2) without the second or
so a subprocess costs to import everything.

What a subprocess would have of its own is given to each call and taken back afterwards:
the environment (`env` adds to it; `environ` replaces it, as `subprocess.run(env=...)`
does), the working directory (`cwd`), stdin (`stdin`, a string read to its end), stdout
and stderr (captured), the settings (read anew), the logging configuration (handlers,
levels) and the event loop (`asyncio.run` inside the command).

From an async test, whose event loop may be serving a fake the command talks to, call
`paperboy_async`: the command runs in a thread of its own, and what the test's own loop
logs meanwhile stays out of the command's stderr.

Use a subprocess instead where the command may take the process down (reading
/dev/zero, say) or needs a process of its own (signals, a crash, a second process).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from paperboy.cli import main
from paperboy.terminal import SafeFormatter
from paperboy_config.settings import get_settings


@dataclass(frozen=True)
class Result:
    """As `subprocess.run(..., capture_output=True, text=True)` would report it."""

    returncode: int
    stdout: str
    stderr: str


# One command at a time: the environment, the working directory and sys.std* are the
# process's own.
_one_at_a_time = threading.Lock()


@contextlib.contextmanager
def _environment(changes: Mapping[str, str], whole: Mapping[str, str] | None) -> Iterator[None]:
    saved = dict(os.environ)
    if whole is not None:
        os.environ.clear()
        os.environ.update(whole)
    os.environ.update(changes)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _directory(cwd: str | os.PathLike[str] | None) -> Iterator[None]:
    if cwd is None:
        yield
        return
    before = Path.cwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _stdin(text: str) -> Iterator[None]:
    before = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = before


class _NotFromThread(logging.Filter):
    """Drops the records of one thread (the test's, while the command runs in another)."""

    def __init__(self, ident: int) -> None:
        super().__init__()
        self.ident = ident

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.ident


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    """A command configures logging (a handler on stderr, levels): undo it afterwards, so
    no handler outlives the captured stream. A handler such a configuration left behind
    earlier (a test that called `configure_logging` itself) is set aside meanwhile: the
    command adds its own, on this call's stderr, as in a new process."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    aside = [h for h in handlers if isinstance(h.formatter, SafeFormatter)]
    for handler in aside:
        root.removeHandler(handler)
    named = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in aside:
            root.addHandler(handler)
        root.setLevel(level)
        for name, logger in list(logging.root.manager.loggerDict.items()):
            if isinstance(logger, logging.Logger):
                logger.setLevel(named.get(name, logging.NOTSET))


def paperboy(
    *args: str,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: str = "",
    cwd: str | os.PathLike[str] | None = None,
    _caller: int | None = None,
) -> Result:
    """`paperboy ARGS...`, as `subprocess.run([...], env=..., input=stdin, cwd=cwd,
    capture_output=True, text=True)` would run it.

    Called where an event loop runs (an async test), the command runs in a thread of its
    own while this one waits, as it would wait for `subprocess.run`."""
    if _caller is None and _loop_running():
        with ThreadPoolExecutor(1) as pool:
            call = functools.partial(
                paperboy, *args, env=env, environ=environ, stdin=stdin, cwd=cwd,
                _caller=threading.get_ident(),
            )  # fmt: skip
            return pool.submit(call).result()
    stdout, stderr = io.StringIO(), io.StringIO()
    with _one_at_a_time:
        get_settings.cache_clear()
        try:
            with (
                _environment(env or {}, environ),
                _directory(cwd),
                _stdin(stdin),
                _logging_kept(),
                contextlib.redirect_stdout(stdout),
                contextlib.redirect_stderr(stderr),
                _filtered(_caller),
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


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def _filtered(caller: int | None) -> Iterator[None]:
    """Every handler the command adds to the root logger leaves `caller`'s records out."""
    if caller is None:
        yield
        return
    root = logging.getLogger()
    add = root.addHandler

    def add_filtered(handler: logging.Handler) -> None:
        handler.addFilter(_NotFromThread(caller))
        add(handler)

    root.addHandler = add_filtered  # type: ignore[method-assign]
    try:
        yield
    finally:
        del root.addHandler


async def paperboy_async(
    *args: str,
    env: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: str = "",
    cwd: str | os.PathLike[str] | None = None,
) -> Result:
    """`paperboy` from an async test: in a thread, while the test's loop serves its fakes."""
    return await asyncio.to_thread(
        paperboy,
        *args,
        env=env,
        environ=environ,
        stdin=stdin,
        cwd=cwd,
        _caller=threading.get_ident(),
    )
