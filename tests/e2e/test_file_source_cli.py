"""`--source PATH` given something that is not a papers file: exit 2 with one line on
stderr, at once, whatever the path is (a device that never ends, a directory, a file far
too large, a missing file, garbage)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def paperboy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,  # a safety net: /dev/zero used to be read until memory ran out
    )


def assert_exit_2_one_line(out: subprocess.CompletedProcess[str], needle: str) -> None:
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


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("/dev/zero", "/dev/zero: not a regular file"),
        ("/nonexistent/papers.json", "/nonexistent/papers.json: no such file"),
    ],
)
def test_digest_refuses_what_is_not_a_papers_file(source: str, needle: str) -> None:
    assert_exit_2_one_line(paperboy("digest", "--source", source, "--query", "LoRA"), needle)


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


def test_ingest_refuses_dev_zero(tmp_path: Path) -> None:
    env = {"PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}"}
    out = paperboy("ingest", "--source", "/dev/zero", env=env)
    assert_exit_2_one_line(out, "/dev/zero: not a regular file")
