"""A database that cannot be reached is one line naming it (its password hidden) and exit
code 1, never a traceback; `migrate --wait` keeps trying meanwhile."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.cli_in_process import paperboy


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", [["migrate"], ["list"], ["status"], ["migrate", "--wait", "1"]])
def test_an_unreachable_database_is_one_line(command: list[str], tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://bot:hunter2@127.0.0.1:{closed_port()}/papers"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    out = paperboy(*command, environ={**env, "PAPERBOY_DATABASE_URL": url}, cwd=tmp_path)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith("paperboy: cannot use the database postgresql+asyncpg://bot:***@")
    assert "Traceback" not in out.stderr and "hunter2" not in out.stderr
    if "--wait" in command:
        assert lines[0].startswith("paperboy: waiting for the database: ")
        assert len(lines) == 2
    else:
        assert len(lines) == 1


def test_a_password_given_as_a_query_parameter_is_hidden(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://127.0.0.1:{closed_port()}/papers?user=bot&password=hunter2"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    out = paperboy("status", environ={**env, "PAPERBOY_DATABASE_URL": url}, cwd=tmp_path)
    assert out.returncode == 1
    assert "hunter2" not in out.stderr and "Traceback" not in out.stderr
    assert "?user=bot&password=***:" in out.stderr
