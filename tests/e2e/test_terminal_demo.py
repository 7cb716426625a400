"""`make run`'s terminal demo: the chat is the screen. No log line on stdout, and on stderr
only the one line saying the sample day is shown (default settings, Hugging Face offline)."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from tests import cli_in_process as in_process
from tests.cli_in_process import Result

LOG_LINE = re.compile(
    r"(^\d{4}-\d\d-\d\d[ T]\d\d:\d\d|\b(DEBUG|INFO|WARNING|ERROR)\b|apscheduler|paperboy\.\w+:)",
    re.M,
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo(tmp_path: Path, **env: str) -> Result:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    environ = {
        **base,
        "PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}",
        "PAPERBOY_HF_API_URL": f"http://127.0.0.1:{closed_port()}/api/",
        **env,
    }
    return in_process.paperboy(
        "run", environ=environ, stdin="/papers list\n/papers help\n", cwd=tmp_path
    )


def test_the_demo_screen_holds_the_chat_and_no_log_line(tmp_path: Path) -> None:
    out = demo(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Balancing Pipeline Parallelism" in out.stdout
    assert "#1  LoRA" in out.stdout
    assert LOG_LINE.findall(out.stdout) == [], out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0], out.stderr
    assert not LOG_LINE.search(out.stderr)


def test_the_demo_log_goes_to_a_file_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "paperboy.log"
    out = demo(tmp_path, PAPERBOY_LOG_FILE=str(log))
    assert out.returncode == 0, out.stderr
    assert LOG_LINE.findall(out.stdout) == []
    assert "INFO paperboy." in log.read_text("utf-8")


def test_an_explicit_level_is_honoured_on_stderr(tmp_path: Path) -> None:
    out = demo(tmp_path, PAPERBOY_LOG_LEVEL="info", PAPERBOY_LOG_FORMAT="json")
    assert out.returncode == 0, out.stderr
    assert LOG_LINE.findall(out.stdout) == []
    assert '"level": "INFO"' in out.stderr
