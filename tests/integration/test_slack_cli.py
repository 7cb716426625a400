"""The CLI contract of the Slack adapter, run as a user runs it (the digest through the real
entry point in this process, `serve` in a subprocess).

- `paperboy digest ... --format slack` prints the JSON array of chat.postMessage
  argument objects (text and blocks, no channel), all entries unless `--max N`.
- `paperboy serve --port N` with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and
  PAPERBOY_SLACK_API_URL answers signed slash commands on /slack/events: 401 for a
  bad or missing signature or a stale timestamp, 200 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests import cli_in_process as in_process
from tests.cli_in_process import Result
from tests.fakes.slack import BOT_TOKEN, FakeSlack, check_message, form_body, live_markup, sign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRET = "cli-signing-secret"


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "PAPERBOY_SLACK_", "DISCORD_", "PAPERBOY_DISCORD_"))
    }
    return {**env, "PAPERBOY_HF_RETRIES": "0", **extra}


def paperboy(*args: str, cwd: Path) -> Result:
    return in_process.paperboy(*args, environ=clean_env(), cwd=cwd)


def numbered(parts: list[dict]) -> list[str]:
    sections = [b["text"]["text"] for p in parts for b in p["blocks"] if b["type"] == "section"]
    return re.findall(r"\*(\d+)\. <", "\n".join(sections))


def test_digest_format_slack(tmp_path: Path) -> None:
    args = ["digest", "--source", "sample", "-q", "LoRA", "-q", "pipeline parallelism"]
    out = paperboy(*args, "--format", "slack", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    parts = json.loads(out.stdout)
    ref = json.loads(paperboy(*args, "--format", "json", cwd=tmp_path).stdout)
    assert isinstance(parts, list) and parts
    for part in parts:
        assert {"text", "blocks"} <= set(part) and "channel" not in part
        assert check_message(part) is None
    assert numbered(parts) == [str(i) for i in range(1, len(ref["entries"]) + 1)]
    for entry in ref["entries"]:
        assert f"<https://arxiv.org/abs/{entry['id']}|" in out.stdout

    capped = paperboy(*args, "--format", "slack", "--max", "1", cwd=tmp_path)
    assert capped.returncode == 0, capped.stderr
    capped_parts = json.loads(capped.stdout)
    assert numbered(capped_parts) == ["1"]
    if len(ref["entries"]) > 1:
        assert f"and {len(ref['entries']) - 1} more" in capped.stdout


def test_digest_format_slack_hostile(tmp_path: Path) -> None:
    source = str(FIXTURES / "hf_hostile_public.json")
    out = paperboy("digest", "--source", source, "-q", "LoRA", "--format", "slack", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    parts = json.loads(out.stdout)
    assert numbered(parts) == ["1", "2", "3", "4", "5"]
    for part in parts:
        assert check_message(part) is None
        for block in part["blocks"]:
            for element in [block.get("text"), *block.get("elements", [])]:
                if isinstance(element, dict) and element.get("type") == "mrkdwn":
                    assert live_markup(element["text"]) == []


# -- serve ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel("C0GENERAL")
        yield fake


async def test_serve_answers_signed_commands(slack: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        PAPERBOY_SLACK_API_URL=slack.base_url,
        PAPERBOY_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'paperboy.db'}",
        PAPERBOY_SOURCE="sample",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paperboy.cli", "serve", "--port", str(port), "--host", "127.0.0.1",
        env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    body = form_body(slack.slash_command("help", response_url=slack.response_url("cli")))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(url + "/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    assert process.returncode is None, await process.stderr.read()
                    await asyncio.sleep(0.05)

            async def post(headers: dict[str, str]) -> int:
                async with asyncio.timeout(3):
                    async with session.post(
                        url + "/slack/events", data=body, headers={**form, **headers}
                    ) as resp:
                        return resp.status

            assert await post({}) == 401
            assert await post(sign("wrong", body)) == 401
            assert await post(sign(SECRET, body, int(time.time()) - 301)) == 401
            assert await post(sign(SECRET, body)) == 200
        await slack.wait_for(lambda: bool(slack.responses_to("cli")), within=10)
        assert "/papers subscribe" in json.dumps(slack.responses_to("cli")[0].payload)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
