"""`paperboy deliver`, `paperboy status` and `paperboy run --role` as an operator runs them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.models import Target
from bot.store import Store, migrate
from tests.integration.delivery_support import add_target, lora_papers

ROOT = Path(__file__).resolve().parents[2]


def paperboy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture
async def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    await migrate(db_url)
    async with Store(db_url) as store:
        await add_target(store, "lab", platform="console", days="mon,tue,wed,thu,fri,sat,sun")
        await add_target(store, "quiet", platform="console", schedule_enabled=False)
        await add_target(store, "C1", platform="slack", workspace="T1", paused=True)
        await store.papers.upsert(
            lora_papers(3), seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        )
    out = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": db_url,
        "PAPERBOY_DIGEST_SETTLE_SECONDS": "0",
        "PAPERBOY_LOG_LEVEL": "WARNING",
        "PAPERBOY_SOURCE": str(tmp_path / "none.json"),
    }
    for name in ("SLACK_BOT_TOKEN", "PAPERBOY_SLACK_BOT_TOKEN", "DISCORD_TOKEN"):
        out.pop(name, None)
    out.pop("PAPERBOY_DISCORD_TOKEN", None)
    return out


async def test_deliver_twice_sends_once(env: dict[str, str], db_url: str) -> None:
    first = paperboy("deliver", "--date", "2024-11-11", env=env)
    assert first.returncode == 0, first.stderr
    assert "LoRA adapters, part 2" in first.stdout  # the console printed the digest
    assert "due: 1 digest(s); planned now: 1" in first.stdout
    sent = int(re.search(r"sent: (\d+) message", first.stdout)[1])  # type: ignore[index]
    assert sent >= 1 and "still pending: 0; failed: 0" in first.stdout
    second = paperboy("deliver", "--date", "2024-11-11", env=env)
    assert second.returncode == 0, second.stderr
    assert "planned now: 0" in second.stdout and "already planned: 1" in second.stdout
    assert "sent: 0 message(s)" in second.stdout
    assert "LoRA adapters" not in second.stdout
    async with Store(db_url) as store:
        parts = await store.outbox.sent_parts()
    assert len(parts) == sent and {p[0] for p in parts} == {Target("console", "", "lab")}


def test_deliver_bad_date_is_one_line_exit_2(env: dict[str, str]) -> None:
    out = paperboy("deliver", "--date", "2024-13-45", env=env)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "YYYY-MM-DD" in out.stderr


def test_run_unknown_role_is_exit_2(env: dict[str, str]) -> None:
    out = paperboy("run", "--role", "boss", env=env)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


async def test_status_shows_schedules_deliveries_and_pauses(env: dict[str, str]) -> None:
    paperboy("deliver", "--date", "2024-11-11", env=env)
    out = paperboy("status", env=env)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "console:lab" in text and "09:00 UTC, daily" in text
    assert "console:quiet" not in text.split("Deliveries")[0]  # schedule off: no next run
    assert re.search(r"Deliveries: 0 pending, [1-9]\d* sent, 0 failed", text)
    assert "Paused channels" in text and "slack:T1:C1" in text


async def test_worker_role_stops_cleanly_on_sigterm(env: dict[str, str]) -> None:
    env = {**env, "PAPERBOY_LOG_LEVEL": "INFO"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--role", "worker",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        while not any("running as worker" in line for line in lines):
            raw = await asyncio.wait_for(proc.stderr.readline(), 60)
            assert raw, f"the worker ended early: {lines}"
            lines.append(raw.decode())
        # The paused Slack channel has nothing waiting; nothing else to say.
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert b"Traceback" not in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
