"""The `paperboy` CLI end to end, as a user runs it: through its real entry point, in this
process (tests/cli_in_process.py); the installed console script once, in a subprocess."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from paperboy.models import Target
from paperboy.store import Store
from tests import cli_in_process as in_process
from tests.cli_in_process import Result

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY_JSON = FIXTURES / "hf_daily_papers_2024-11-11.json"


def paperboy(*args: str, env: dict[str, str] | None = None, stdin: str = "", cwd=None) -> Result:
    return in_process.paperboy(
        *args, env={"PAPERBOY_HF_RETRIES": "0", **(env or {})}, stdin=stdin, cwd=cwd
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_digest_json_contract() -> None:
    out = paperboy(
        "digest",
        "--source",
        "sample",
        "--query",
        "LoRA",
        "--query",
        "pipeline parallelism",
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["date"] == "2024-11-11"
    assert data["queries"] == ["LoRA", "pipeline parallelism"]
    assert data["checked"] == 9
    ids = [e["id"] for e in data["entries"]]
    assert "2411.05288" in ids and "2411.02462" in ids
    for entry in data["entries"]:
        keys = {"id", "title", "authors", "upvotes", "matched_terms", "summary", "links"}
        assert keys <= set(entry)
        assert entry["links"]["arxiv"].startswith("https://arxiv.org/abs/")
        assert len(entry["summary"]) <= 300
    upvotes = [e["upvotes"] for e in data["entries"]]
    assert upvotes == sorted(upvotes, reverse=True)


def test_digest_from_path_and_date() -> None:
    out = paperboy(
        "digest",
        "--source",
        str(DAY_JSON),
        "--date",
        "2024-11-11",
        "--query",
        "LoRA",
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["date"] == "2024-11-11"


def test_digest_of_a_file_with_a_megabyte_long_word(tmp_path: Path) -> None:
    """A 1 MB abstract of "y" once took 330 s to stem; the test timeout is the net."""
    items = json.loads(DAY_JSON.read_text("utf-8"))[:2]
    items[0]["paper"]["summary"] = "LoRA " + "y" * 1_000_000
    items[0]["paper"]["title"] = "y" * 1_000_000
    items[1]["paper"]["summary"] = "Speculative decoding. " + "yes " * 250_000
    day = tmp_path / "day.json"
    day.write_text(json.dumps(items), "utf-8")
    out = paperboy("digest", "--source", str(day), "--query", "LoRA", "--query", "decoding",
                   "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    entries = {e["id"]: e for e in json.loads(out.stdout)["entries"]}
    assert set(entries) == {items[0]["paper"]["id"], items[1]["paper"]["id"]}
    assert entries[items[0]["paper"]["id"]]["matched_terms"] == ["LoRA"]


def test_digest_zero_entries_is_success() -> None:
    out = paperboy("digest", "--source", "sample", "--query", "zzzunknownword", "--format", "json")
    assert out.returncode == 0
    assert json.loads(out.stdout)["entries"] == []


def test_digest_markdown_table() -> None:
    out = paperboy("digest", "--source", "sample", "--query", "LoRA", "--format", "markdown")
    assert out.returncode == 0, out.stderr
    assert "| Title | Authors | Summary |" in out.stdout
    assert "[arXiv](https://arxiv.org/abs/2411.02462)" in out.stdout


def test_digest_text_labels_sample() -> None:
    out = paperboy("digest", "--source", "sample", "--query", "LoRA")
    assert out.returncode == 0, out.stderr
    assert "sample data" in out.stdout
    assert "Parameter-Efficient Fine-Tuning" in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--source", "sample", "--query", 'LoRA "x'], "column"),
        (["--source", "sample", "--query", "LoRA", "--date", "2024-02-30"], "invalid date"),
        (["--source", "/nonexistent/file.json", "--query", "LoRA"], "file.json"),
        (["--source", "sample", "--query", "LoRA", "--format", "pdf"], "unknown format"),
    ],
)
def test_digest_bad_input_exit_2_one_line(args: list[str], needle: str) -> None:
    out = paperboy("digest", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_digest_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = paperboy("digest", "--source", str(bad), "--query", "LoRA")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_digest_unreachable_hf_exit_2() -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/"
    out = paperboy("digest", "--source", "hf", "--query", "LoRA", env={"PAPERBOY_HF_API_URL": url})
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


def test_the_installed_console_script_starts() -> None:
    """The `paperboy` script pip installs, in a process of its own (the one smoke test of it)."""
    script = shutil.which("paperboy", path=str(Path(sys.executable).parent))
    assert script is not None
    out = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout and "digest" in out.stdout


def test_help_everywhere() -> None:
    for cmd in ([], ["run"], ["digest"], ["subscribe"], ["unsubscribe"], ["list"], ["migrate"]):
        out = paperboy(*cmd, "--help")
        assert out.returncode == 0, (cmd, out.stderr)
        assert "Usage" in out.stdout


def test_subscribe_list_unsubscribe_cli(tmp_path: Path) -> None:
    env = {"PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}"}
    assert paperboy("migrate", env=env).returncode == 0
    out = paperboy("subscribe", "LoRA", "--channel", "console:lab", env=env)
    assert out.returncode == 0, out.stderr
    assert "Subscribed #1" in out.stdout
    bad = paperboy("subscribe", "(LoRA", "--channel", "console:lab", env=env)
    assert bad.returncode == 2 and "column" in bad.stderr
    listed = paperboy("list", "--channel", "console:lab", env=env)
    assert "#1  LoRA" in listed.stdout
    assert paperboy("unsubscribe", "1", "--channel", "console:lab", env=env).returncode == 0
    assert "no subscriptions" in paperboy("list", "--channel", "console:lab", env=env).stdout
    wrong = paperboy("list", "--channel", "nochannel", env=env)
    assert wrong.returncode == 2


def test_control_characters_never_get_in_nor_out(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}"
    env = {"PAPERBOY_DATABASE_URL": url}
    assert paperboy("migrate", env=env).returncode == 0
    for query, control in [("LoRA\x1b[2J", "\x1b"), ("LoRA \u202eTXET", "\u202e")]:
        bad = paperboy("subscribe", query, "--channel", "console:lab", env=env)
        assert bad.returncode == 2 and bad.stdout == ""
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and f"(U+{ord(control):04X})" in lines[0], bad.stderr
        assert "at column" in lines[0] and control not in bad.stderr

    async def store_a_row_from_before_the_check() -> None:
        async with Store(url) as store:
            await store.subscriptions.add(Target.parse("console:lab"), "MoE\x1b]8;;x\x07\u2066")

    asyncio.run(store_a_row_from_before_the_check())
    listed = paperboy("list", "--channel", "console:lab", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "#1  MoE\\x1b]8;;x\\x07\\u2066" in listed.stdout
    assert not any(c in listed.stdout for c in "\x1b\x07\u2066")


def test_run_offline_uses_labelled_sample_and_reads_commands(tmp_path: Path) -> None:
    env = {
        "PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}",
        "PAPERBOY_HF_API_URL": f"http://127.0.0.1:{closed_port()}/api/",
    }
    out = paperboy("run", env=env, stdin="/papers list\n/papers subscribe (bad\n", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "unreachable" in out.stderr and "sample" in out.stderr
    assert "sample data" in out.stdout
    assert "Balancing Pipeline Parallelism" in out.stdout  # demo subscription matched
    assert "LoRA" in out.stdout and "pipeline parallelism" in out.stdout
    assert "column" in out.stdout  # the bad subscribe was answered, not crashed
    assert "Traceback" not in out.stderr
