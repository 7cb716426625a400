"""`--source PATH` given something that is not a papers file: exit 2 with one line on
stderr, at once, whatever the path is (a device that never ends, a directory, a file far
too large, a missing file, garbage).

Through the real entry point, in this process; a device that never ends gets a process
of its own, so a regression cannot take the test run down with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli_in_process import Result, paperboy


def paperboy_process(*args: str, env: dict[str, str] | None = None) -> Result:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,  # a safety net: /dev/zero used to be read until memory ran out
    )
    return Result(out.returncode, out.stdout, out.stderr)


def assert_exit_2_one_line(out: Result, needle: str) -> None:
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines[:5]
    assert needle in lines[0], lines[0]
    assert "Traceback" not in out.stderr


def huge_sparse_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(size)  # no disk space used, and never read
    return path


def test_digest_refuses_dev_zero() -> None:
    out = paperboy_process("digest", "--source", "/dev/zero", "--query", "LoRA")
    assert_exit_2_one_line(out, "/dev/zero: not a regular file")


def test_ingest_refuses_dev_zero(tmp_path: Path) -> None:
    env = {"PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}"}
    out = paperboy_process("ingest", "--source", "/dev/zero", env=env)
    assert_exit_2_one_line(out, "/dev/zero: not a regular file")


def test_digest_refuses_a_missing_file() -> None:
    out = paperboy("digest", "--source", "/nonexistent/papers.json", "--query", "LoRA")
    assert_exit_2_one_line(out, "/nonexistent/papers.json: no such file")


def test_digest_refuses_a_directory(tmp_path: Path) -> None:
    out = paperboy("digest", "--source", str(tmp_path), "--query", "LoRA")
    assert_exit_2_one_line(out, f"{tmp_path}: it is a directory")


def test_digest_refuses_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b"\x00\xff not json")
    out = paperboy("digest", "--source", str(path), "--query", "LoRA")
    assert_exit_2_one_line(out, "is not valid JSON")


def test_digest_refuses_a_huge_file_without_reading_it(tmp_path: Path) -> None:
    path = huge_sparse_file(tmp_path, 60_000_000)
    out = paperboy("digest", "--source", str(path), "--query", "LoRA")
    assert_exit_2_one_line(out, f"papers file {path} is larger than 50,000,000 bytes")


def test_the_file_cap_is_the_http_setting(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    path.write_text("[" + " " * 2000 + "]")
    env = {"PAPERBOY_HTTP_MAX_BYTES": "1000"}
    out = paperboy("digest", "--source", str(path), "--query", "LoRA", env=env)
    assert_exit_2_one_line(out, "is larger than 1,000 bytes (PAPERBOY_HTTP_MAX_BYTES)")


def test_a_good_file_still_gives_a_digest(tmp_path: Path) -> None:
    """The in-process runner sees what a user sees: the digest on stdout, exit 0."""
    day = Path(__file__).resolve().parents[1] / "fixtures" / "hf_daily_papers_2024-11-11.json"
    out = paperboy("digest", "--source", str(day), "--query", "LoRA", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert '"2411.' in out.stdout


def test_the_environment_is_restored() -> None:
    before = os.environ.get("PAPERBOY_HTTP_MAX_BYTES")
    paperboy("digest", "--source", "/nonexistent", "--query", "x",
             env={"PAPERBOY_HTTP_MAX_BYTES": "5"})  # fmt: skip
    assert os.environ.get("PAPERBOY_HTTP_MAX_BYTES") == before
