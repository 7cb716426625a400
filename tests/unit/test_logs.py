"""The log's shape: timestamps, JSON lines, quiet libraries, a stderr that may move."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperboy import logs
from paperboy.terminal import SafeFormatter

# Library loggers the tests log through: their own level left to their package's.
CHILDREN = ("apscheduler.scheduler", "httpx", "discord.gateway", "slack_bolt.App")

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) ")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = (*logs.LIBRARY_LOGGERS, *CHILDREN, "sqlalchemy", "sqlalchemy.engine", "logs-test")
    named = {n: logging.getLogger(n).level for n in names}
    disabled = logging.root.manager.disable
    logging.disable(logging.NOTSET)  # whatever an earlier test left
    for name in (*CHILDREN, "sqlalchemy.engine", "logs-test", "logs-test.sample", "logs-test.x"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.NOTSET)
        logger.disabled, logger.propagate = False, True
    yield
    logging.disable(disabled)
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, lvl in named.items():
        logging.getLogger(name).setLevel(lvl)


@contextlib.contextmanager
def captured() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        yield buffer


def test_text_lines_carry_a_utc_timestamp_and_no_control_characters() -> None:
    with captured() as err:
        logs.configure(logging.INFO)
        logging.getLogger("logs-test.sample").info("hello \x1b[31m%s", "red\nforged line")
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert STAMP.match(lines[0]), lines[0]
    assert "\x1b" not in lines[0] and "logs-test.sample: hello" in lines[0]


def test_json_lines_for_log_shippers() -> None:
    with captured() as err:
        logs.configure(logging.INFO, fmt="json")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("logs-test.sample").exception("failed for \u202e%s", "x")
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["level"] == "ERROR" and entry["logger"] == "logs-test.sample"
    assert entry["message"] == "failed for \u202ex"  # the data exactly, escaped in the line
    assert "\u202e" not in lines[0]
    assert "RuntimeError: boom" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_libraries_stay_at_warning_unless_asked() -> None:
    with captured() as err:
        logs.configure(logging.DEBUG)
        for name in CHILDREN:
            logging.getLogger(name).info("chatter from %s", name)
        logging.getLogger("logs-test.x").info("ours")
    assert "chatter" not in err.getvalue() and "ours" in err.getvalue()
    with captured() as err:
        logs.configure(logging.DEBUG, library_level="INFO")
        logging.getLogger("httpx").info("a request")
        logging.getLogger("sqlalchemy.engine").info("SELECT secret")  # never
    assert "a request" in err.getvalue() and "SELECT" not in err.getvalue()


def test_the_handler_follows_a_redirected_stderr() -> None:
    """A Rich progress bar swaps sys.stderr for a proxy: a log line must go through it."""
    logs.configure(logging.INFO)
    with captured() as first:
        logging.getLogger("logs-test.x").info("one")
    with captured() as second:
        logging.getLogger("logs-test.x").info("two")
    assert "one" in first.getvalue() and "two" in second.getvalue()
    assert "two" not in first.getvalue()


def test_configure_again_replaces_the_handler_and_a_file_takes_the_log(tmp_path: Path) -> None:
    logs.configure(logging.INFO)
    path = tmp_path / "sub" / "paperboy.log"
    with captured() as err:
        logs.configure(logging.INFO, file=path)
        logging.getLogger("logs-test.x").info("to the file")
    assert err.getvalue() == ""
    assert "to the file" in path.read_text("utf-8")
    ours = [h for h in logging.getLogger().handlers if isinstance(h.formatter, SafeFormatter)]
    assert len(ours) == 1


def test_one_line_names_the_error_without_a_traceback() -> None:
    error = ConnectionError("refused\n  by host")
    assert logs.one_line(error) == "ConnectionError: refused by host"
    assert logs.one_line(TimeoutError()) == "TimeoutError"
