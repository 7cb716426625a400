"""A mistyped setting: one line per bad variable on stderr, exit code 2, never a traceback
(the CLI as a user runs it, through its real entry point in this process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import cli_in_process as in_process
from tests.cli_in_process import Result

ROOT = Path(__file__).resolve().parents[2]


def paperboy(*args: str, env: dict[str, str], cwd: Path) -> Result:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    return in_process.paperboy(
        *args,
        environ={**base, "PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'pb.db'}", **env},
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("command", "name", "value", "accepted"),
    [
        ("run", "PAPERBOY_DEFAULT_TZ", "Mars/Olympus", "an IANA time zone such as UTC"),
        ("deliver", "PAPERBOY_LOG_LEVEL", "verbose", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("list", "PAPERBOY_HF_RETRIES", "99", "a whole number from 0 to 10"),
        ("status", "PAPERBOY_HF_TIMEOUT", "soon", "a number above 0"),
        ("serve", "PAPERBOY_SLACK_PORT", "70000", "a whole number from 1 to 65535"),
        ("migrate", "PAPERBOY_DATABASE_URL", "mysql://db.example/x", "sqlite+aiosqlite:///"),
        ("run", "PAPERBOY_SLACK_THREAD_DIGESTS", "maybe", "true or false"),
    ],
)
def test_a_bad_variable_is_one_line_and_exit_2(
    command: str, name: str, value: str, accepted: str, tmp_path: Path
) -> None:
    out = paperboy(command, env={name: value}, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"paperboy: {name}={value}: ")
    assert f"; accepted: {accepted}" in lines[0]
    assert out.stdout == ""


def test_every_bad_variable_gets_its_line_and_no_secret_is_repeated(tmp_path: Path) -> None:
    env = {
        "PAPERBOY_DEFAULT_TZ": "Mars/Olympus",
        "PAPERBOY_LOG_LEVEL": "verbose",
        "PAPERBOY_DATABASE_URL": "mysql://app:hunter2@db.example/papers",
        "PAPERBOY_FANOUT_CONCURRENCY": "\x1b[31m5",
    }
    out = paperboy("run", env=env, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 4, out.stderr
    assert {line.split("=", 1)[0] for line in lines} == {f"paperboy: {n}" for n in env}
    assert "hunter2" not in out.stderr and "\x1b" not in out.stderr
    assert "Traceback" not in out.stderr


def test_a_bad_variable_in_the_env_file_is_reported_the_same(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PAPERBOY_LOG_LEVEL=chatty\n")
    out = paperboy("list", env={}, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "paperboy: PAPERBOY_LOG_LEVEL=chatty: unknown log level; "
        "accepted: DEBUG, INFO, WARNING, ERROR, CRITICAL (any case)"
    ]
