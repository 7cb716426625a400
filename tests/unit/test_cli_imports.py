"""The CLI imports only what a command uses (issue: a fast CLI).

`--help` and `digest` (no database) must start without the store's and the chat
platforms' libraries. Checked in a fresh interpreter through the real entry point
(`paperboy.cli.main`); what is asserted is the set of loaded modules, not a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("sqlalchemy", "alembic", "slack_bolt", "slack_sdk", "discord", "apscheduler", "aiohttp")

PROBE = """
import json, sys
from paperboy.cli import main
after_import = sorted(m for m in {heavy!r} if m in sys.modules)
code = None
try:
    main({argv!r})
except SystemExit as exit:
    code = exit.code
after_run = sorted(m for m in {heavy!r} if m in sys.modules)
sys.stdout.flush()
print(json.dumps({{"import": after_import, "run": after_run, "code": code}}), file=sys.stderr)
"""


def probe(argv: list[str], cwd: Path) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env["PAPERBOY_DATABASE_URL"] = f"sqlite+aiosqlite:///{cwd / 'unused.db'}"
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY, argv=argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report, done.stdout


def test_importing_the_cli_loads_no_database_or_chat_library(tmp_path: Path) -> None:
    report, out = probe(["--help"], tmp_path)
    assert report["code"] == 0
    assert "digest" in out
    assert report["import"] == []
    assert report["run"] == []


def test_a_sample_digest_as_json_loads_no_database_or_chat_library(tmp_path: Path) -> None:
    argv = ["digest", "--source", "sample", "-q", "LoRA", "--format", "json"]
    report, out = probe(argv, tmp_path)
    assert report["code"] == 0
    assert json.loads(out)["date"] == "2024-11-11"
    assert report["run"] == []
    assert not (tmp_path / "unused.db").exists()
