"""A Discord webhook URL's token is its credential: no log line, error, status or list
output ever shows it, whatever goes wrong (`discord-webhook:ID/***` instead)."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paperboy.cli import quiet_libraries
from paperboy.clock import ManualClock
from paperboy.delivery import DueDigest, RetryPolicy, adapters_by_platform, status_report
from paperboy.store import Store, migrate
from paperboy_adapters.discord.adapter import DiscordAdapter
from tests.cli_in_process import paperboy_async
from tests.fakes.discord import FakeDiscord
from tests.integration.delivery_support import (
    MONDAY,
    add_target,
    deliverer_for,
    lora_papers,
    planner_for,
)

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "222222222222222221"
DAY = MONDAY.date()
SECRETS = ("WRONG-token-abc123", "evil-host-token-xyz789")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(CHANNEL, guild_id="111111111111111111")
        yield server


def hostile_webhooks(fake: FakeDiscord) -> tuple[list[str], list[str]]:
    """Webhook URLs that fail in each way (wrong token: permanent; 500s: retried until
    given up; a foreign host: refused before sending), and the tokens they carry."""
    real = fake.add_webhook(CHANNEL, webhook_id="333333333333333331")
    real_token = real.rsplit("/", 1)[1]
    flaky = fake.add_webhook(CHANNEL, webhook_id="333333333333333332")
    flaky_token = flaky.rsplit("/", 1)[1]
    fake.fail(r"POST /webhooks/333333333333333332/", status=500, count=100)
    urls = [
        f"{fake.api_url}/webhooks/333333333333333331/{SECRETS[0]}",
        flaky,
        f"https://discord.evil.example/api/webhooks/333333333333333333/{SECRETS[1]}",
    ]
    assert real_token not in urls[0]
    return urls, [*SECRETS, flaky_token]


async def test_delivery_failures_never_log_or_store_the_token(
    store: Store, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_libraries()  # as the CLI sets logging up; then everything at DEBUG
    caplog.set_level(logging.DEBUG)
    urls, tokens = hostile_webhooks(fake)
    for url in urls:
        await add_target(store, url, platform="discord-webhook")
    await store.papers.upsert(lora_papers(3), seen_at=MONDAY - dt.timedelta(hours=1))
    poster = DiscordAdapter(None, api_url=fake.api_url, connect=False)
    clock = ManualClock(MONDAY)
    try:
        adapters = adapters_by_platform([poster])
        planner = planner_for(store, [poster], clock)
        planner.adapters = adapters
        ids = [await store.targets.get_id(t.target) for t in (await status_report(store)).targets]
        await planner.plan([DueDigest(tid, DAY) for tid in ids if tid is not None])
        deliverer = deliverer_for(
            store, [poster], clock, policy=RetryPolicy(max_attempts=1, base=0.01, cap=0.01)
        )
        deliverer.adapters = adapters
        stats = await deliverer.run_until_idle(max_wait=5)
    finally:
        await poster.stop()
    report = await status_report(store)
    assert stats.paused == 2 and stats.failed >= 1  # every failure path was taken
    ours = [r for r in caplog.records if r.name != "aiohttp.access"]  # the fake's own log
    assert ours
    shown = "\n".join(
        [
            *(caplog.handler.format(r) for r in ours),
            *stats.errors,
            *(f"{t.target} {t.target!r} {t.paused_reason}" for t in report.targets),
            *(f"{f.target} {f.target!r} {f.error}" for f in report.failed),
        ]
    )
    for token in tokens:
        assert token not in shown
    assert "discord-webhook:333333333333333331/***" in shown
    assert "discord-webhook:333333333333333332/***" in shown


async def paperboy(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    out = await paperboy_async(*args, environ=env, cwd=ROOT)
    return out.returncode, out.stdout, out.stderr


async def test_cli_output_never_shows_the_token(
    db_url: str, fake: FakeDiscord, tmp_path: Path
) -> None:
    """subscribe, list, ingest, deliver (its log at DEBUG) and status, as an operator
    runs them: every line of stdout and stderr."""
    await migrate(db_url)
    urls, tokens = hostile_webhooks(fake)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.pop("DISCORD_TOKEN", None)
    env |= {
        "PAPERBOY_DATABASE_URL": db_url,
        "PAPERBOY_DISCORD_API_URL": fake.api_url,
        "PAPERBOY_DIGEST_SETTLE_SECONDS": "0",
        "PAPERBOY_DELIVERY_MAX_ATTEMPTS": "1",
        "PAPERBOY_LOG_LEVEL": "DEBUG",
        "COLUMNS": "300",
    }
    results = []
    for url in urls:
        channel = f"discord-webhook:{url}"
        results.append(await paperboy("subscribe", "LoRA", "--channel", channel, env=env))
        results.append(await paperboy("list", "--channel", channel, env=env))
    results.append(await paperboy("ingest", "--source", "sample", env=env))
    results.append(await paperboy("deliver", "--date", "2024-11-11", env=env))
    results.append(status := await paperboy("status", env=env))
    assert all(code == 0 for code, _, _ in results), results
    everything = "\n".join(out + err for _, out, err in results)
    for token in tokens:
        assert token not in everything
    assert "paused discord-webhook:333333333333333331/***" in everything  # the log line
    for webhook_id in ("333333333333333331", "333333333333333333"):
        assert f"discord-webhook:{webhook_id}/***" in status[1]
    async with Store(db_url) as store:  # the credential itself is kept, for sending
        assert {t.target.key for t in (await status_report(store)).targets} == {
            f"discord-webhook:{url}" for url in urls
        }
