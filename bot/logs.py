"""How paperboy logs: timestamped lines (or JSON objects) on stderr or in a file.

- Text lines: `2026-11-29 07:19:08Z INFO paperboy.delivery.leader: this process schedules`;
  `PAPERBOY_LOG_FORMAT=json` writes one JSON object a line instead (time, level, logger,
  message, and `exception` when there is one) for log shippers.
- Third-party libraries (APScheduler, httpx, discord.py, slack_bolt, ...) log at WARNING
  unless `PAPERBOY_LIBRARY_LOG_LEVEL` asks for more; the database libraries stay at
  WARNING always (their DEBUG lines repeat every statement's parameters: webhook URLs).
- When the terminal is the chat (`paperboy run` as a demo), the screen belongs to the
  chat: the log goes to `PAPERBOY_LOG_FILE` when one is set, else only WARNING and above
  reach stderr (unless `PAPERBOY_LOG_LEVEL` was set explicitly).
- The stderr handler looks `sys.stderr` up at each record, so a Rich progress bar or live
  display that redirects stderr prints a log line above the bar instead of through it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import IO, Any

from paperboy.terminal import SafeFormatter, json_safe, terminal_safe

__all__ = [
    "DATABASE_LOGGERS",
    "LIBRARY_LOGGERS",
    "JsonFormatter",
    "TextFormatter",
    "configure",
    "quiet_libraries",
]

# Their DEBUG (and SQLAlchemy's INFO) lines repeat every statement with its parameters:
# channel names, webhook URLs. One line per migration is noise.
DATABASE_LOGGERS = ("alembic", "aiosqlite", "sqlalchemy", "asyncpg")

# Chatty at INFO: one line per scheduled job run, per HTTP request, per gateway event.
LIBRARY_LOGGERS = (
    "apscheduler",
    "httpx",
    "httpcore",
    "discord",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "asyncio",
    "urllib3",
    "multipart",
)


def _utc(record: logging.LogRecord) -> str:
    when = dt.datetime.fromtimestamp(record.created, dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S") + "Z"


class TextFormatter(SafeFormatter):
    """`2026-11-29 07:19:08Z LEVEL logger: message`, UTC, no control characters."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record)


class JsonFormatter(SafeFormatter):
    """One JSON object per record: `time`, `level`, `logger`, `message` (+ `exception`)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json_safe(json.dumps(entry, ensure_ascii=False))

    def formatException(self, ei: Any) -> str:
        return logging.Formatter.formatException(self, ei)  # JSON escapes it


class _StderrHandler(logging.StreamHandler):
    """A handler on whatever `sys.stderr` is when a record comes (see the module doc)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass


def quiet_libraries(library_level: int | str = logging.WARNING) -> None:
    """Third-party loggers at `library_level` (default WARNING), the database's at WARNING."""
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    for name in DATABASE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _ours(handler: logging.Handler) -> bool:
    return isinstance(handler.formatter, SafeFormatter)


def configure(
    level: int | str = logging.WARNING,
    *,
    fmt: str = "text",
    file: str | Path | None = None,
    library_level: int | str = logging.WARNING,
) -> None:
    """Send the log to stderr (or `file`), formatted as `fmt` (text or json), at `level`.

    Calling it again replaces what an earlier call set up (the CLI calls it once early,
    at WARNING, and again when the settings are read).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if _ours(h)]:
        root.removeHandler(old)
        if isinstance(old, logging.FileHandler):
            old.close()
    handler: logging.Handler
    if file is not None:
        path = Path(file).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    quiet_libraries(library_level)


def one_line(error: BaseException) -> str:
    """An expected failure as one line for a log record: `Type: message`, no traceback."""
    text = " ".join(str(error).split()) or type(error).__name__
    return terminal_safe(f"{type(error).__name__}: {text}" if str(error) else text)
