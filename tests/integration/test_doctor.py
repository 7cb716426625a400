"""`paperboy doctor` as a user runs it, against the loopback fakes: tokens validated, the
scopes the Slack token has compared with those paperboy needs, the database checked,
an SQLite file that would be lost warned of; nothing changed."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cli_in_process import Result, paperboy, paperboy_async
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, DEFAULT_SCOPES, FakeSlack


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAPERBOY_", "SLACK_", "DISCORD_")) and k != "DYNO"
    }
    db = f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}"
    return {**base, "PAPERBOY_DATABASE_URL": db, **extra}


def checks(out: Result) -> dict[str, dict[str, str]]:
    data = json.loads(out.stdout)
    return {c["check"]: c for c in data["checks"]}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(scopes=DEFAULT_SCOPES - {"channels:history"}) as server:
        yield server


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def test_a_missing_scope_and_a_bad_token_are_reported(
    slack: FakeSlack, discord: FakeDiscord, tmp_path: Path
) -> None:
    assert (
        await paperboy_async("migrate", environ=environ(tmp_path), cwd=tmp_path)
    ).returncode == 0
    env = environ(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        PAPERBOY_SLACK_API_URL=slack.base_url,
        DISCORD_TOKEN="not-the-token",
        PAPERBOY_DISCORD_API_URL=discord.api_url,
    )
    out = await paperboy_async("doctor", "--format", "json", environ=env, cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    found = checks(out)
    assert found["slack token"]["level"] == "ok" and "Fake Team" in found["slack token"]["message"]
    scopes = found["slack scopes"]
    assert scopes["level"] == "fail" and "missing channels:history" in scopes["message"]
    assert "groups:history" not in scopes["message"]  # the token has that one
    assert found["slack socket mode"]["level"] == "ok"
    assert found["discord token"]["level"] == "fail"
    assert "401" in found["discord token"]["message"]
    assert found["database"]["level"] == "ok" and found["migrations"]["level"] == "ok"
    assert "not-the-token" not in out.stdout + out.stderr  # secrets never printed
    assert BOT_TOKEN not in out.stdout + out.stderr
    assert "auth.test" in [call.method for call in slack.calls]
    assert not [c for c in slack.calls if c.method == "chat.postMessage"]  # nothing posted


async def test_valid_tokens_pass_and_a_refused_slack_token_fails(
    discord: FakeDiscord, tmp_path: Path
) -> None:
    await paperboy_async("migrate", environ=environ(tmp_path), cwd=tmp_path)
    async with FakeSlack() as slack:
        good = environ(
            tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET="s",
            PAPERBOY_SLACK_API_URL=slack.base_url,
            DISCORD_TOKEN=discord.token,
            PAPERBOY_DISCORD_API_URL=discord.api_url,
        )
        out = await paperboy_async("doctor", environ=good, cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ok    slack scopes" in out.stdout and "ok    discord token" in out.stdout
        assert out.stdout.strip().splitlines()[-1].startswith("ready: 0 failed")
        bad = {**good, "SLACK_BOT_TOKEN": "xoxb-revoked"}
        refused = await paperboy_async("doctor", "--format", "json", environ=bad, cwd=tmp_path)
    assert refused.returncode == 1
    token = checks(refused)["slack token"]
    assert token["level"] == "fail" and "invalid_auth" in token["message"]
    assert "xoxb-revoked" not in refused.stdout


def test_sqlite_on_a_dyno_or_in_a_temp_folder_is_warned(tmp_path: Path) -> None:
    assert paperboy("migrate", environ=environ(tmp_path), cwd=tmp_path).returncode == 0
    out = paperboy("doctor", "--format", "json", environ=environ(tmp_path), cwd=tmp_path)
    location = checks(out)["database location"]  # pytest's tmp_path is a temp folder
    assert location["level"] == "warn" and "temporary folder" in location["message"]
    dyno = environ(tmp_path, DYNO="web.1")
    out = paperboy("doctor", "--format", "json", environ=dyno, cwd=tmp_path)
    location = checks(out)["database location"]
    assert location["level"] == "warn" and "lost at each restart" in location["message"]
    assert out.returncode == 0  # a warning, loud, but not a failure
    migrate = paperboy("migrate", environ=dyno, cwd=tmp_path)  # every command says it too
    assert migrate.returncode == 0 and "WARNING: SQLite on an ephemeral" in migrate.stderr


def test_a_database_not_migrated_or_missing_fails_and_nothing_is_created(tmp_path: Path) -> None:
    out = paperboy("doctor", environ=environ(tmp_path), cwd=tmp_path)
    assert out.returncode == 1
    assert "FAIL  database" in out.stdout and "run paperboy migrate" in out.stdout
    assert not (tmp_path / "pb.db").exists()
    (tmp_path / "pb.db").touch()  # an empty file: reachable, no schema
    out = paperboy("doctor", environ=environ(tmp_path), cwd=tmp_path)
    assert out.returncode == 1
    assert "FAIL  migrations" in out.stdout and "empty" in out.stdout
    assert "Traceback" not in out.stderr


def test_postgres_unreachable_is_one_line(tmp_path: Path, unused_tcp_port: int) -> None:
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{unused_tcp_port}/none"
    out = paperboy("doctor", environ=environ(tmp_path, PAPERBOY_DATABASE_URL=url), cwd=tmp_path)
    assert out.returncode == 1
    lines = [line for line in out.stdout.splitlines() if line.startswith("FAIL")]
    assert len(lines) == 1 and "cannot reach the database" in lines[0]
    assert "Traceback" not in out.stderr
