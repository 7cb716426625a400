"""Every long-running role serves /healthz, /readyz and /metrics on PAPERBOY_METRICS_PORT:
the bot without a console, the scheduler, the delivery worker and Slack's HTTP process,
each a real process (stopped with SIGTERM afterwards)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

ROLES = {
    "run": ["run", "--no-console"],
    "scheduler": ["run", "--role", "scheduler"],
    "worker": ["run", "--role", "worker"],
    "serve": ["serve", "--host", "127.0.0.1"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def poll(url: str, within: float = 60.0) -> tuple[int, str]:
    """The first answer from `url` (the process may still be starting)."""
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    return response.status, await response.text()
            except aiohttp.ClientConnectionError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)


@pytest.mark.parametrize("role", list(ROLES))
async def test_each_role_serves_health_readiness_and_metrics(role: str, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "SLACK_"))}
    env.pop("DISCORD_TOKEN", None)
    env.update(
        PAPERBOY_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}",
        PAPERBOY_METRICS_PORT=str(port),
        PAPERBOY_METRICS_HOST="127.0.0.1",
        PAPERBOY_HF_API_URL=f"http://127.0.0.1:{free_port()}/api/",
        PAPERBOY_HF_RETRIES="0",
        PAPERBOY_SLACK_PORT=str(free_port()),
    )
    if role == "serve":
        env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="secret")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paperboy.cli", *ROLES[role],
        env=env, cwd=tmp_path, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        live, _ = await poll(f"http://127.0.0.1:{port}/healthz")
        ready, body = await poll(f"http://127.0.0.1:{port}/readyz")
        scraped, metrics = await poll(f"http://127.0.0.1:{port}/metrics")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert (live, ready, scraped) == (200, 200, 200), (body, err.decode())
    answer = json.loads(body)
    assert answer["role"] == ("all" if role == "run" else role)
    assert set(answer["checks"]) == {"database", "migrations"}  # no chat platform connects
    assert "paperboy_outbox_depth" in metrics or "paperboy_paused_channels 0.0" in metrics
    assert "paperboy_ready 1.0" in metrics
    assert "Traceback" not in err.decode()
    if role != "serve":  # serve stops at SIGTERM like any aiohttp server: no cleanup line
        assert proc.returncode == 0, err.decode()
