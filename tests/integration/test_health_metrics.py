"""/healthz, /readyz and /metrics: what they answer, and that the counts move as they should
after a delivery through the real Discord adapter against the fake Discord."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from paperboy.clock import ManualClock
from paperboy.delivery import DueDigest, adapters_by_platform
from paperboy.health import Health, serve_health
from paperboy.metrics import METRICS
from paperboy.store import Store
from paperboy_adapters.discord.adapter import DiscordAdapter
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.harness import running_bot
from tests.integration.delivery_support import (
    MONDAY,
    add_target,
    deliverer_for,
    lora_papers,
    planner_for,
)

GUILD = "111111111111111111"
OPEN, CLOSED = "222222222222222221", "222222222222222222"
DAY = MONDAY.date()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        for channel in (OPEN, CLOSED):
            server.add_channel(channel, guild_id=GUILD)
        yield server


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}") as response:
            return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def count(name: str, **labels: str) -> float:
    return METRICS.value(name, **labels)


async def test_a_delivery_moves_the_counts_and_gauges(store: Store, fake: FakeDiscord) -> None:
    clock = ManualClock(MONDAY)
    poster = DiscordAdapter(fake.token, api_url=fake.api_url, connect=False)
    try:
        adapters = adapters_by_platform([poster])
        _, open_id = await add_target(store, OPEN, platform="discord", workspace=GUILD)
        _, closed_id = await add_target(store, CLOSED, platform="discord", workspace=GUILD)
        fake.channels[CLOSED].access = "missing-access"  # the bot was removed there
        await store.papers.upsert(lora_papers(8), seen_at=clock.now() - dt.timedelta(hours=1))
        names = (
            "paperboy_parts_sent_total",
            "paperboy_digests_planned_total",
            "paperboy_channels_paused_total",
            "paperboy_delivery_latency_seconds_count",
        )
        before = {n: count(n, platform="discord") for n in names}
        buckets = {
            le: count("paperboy_delivery_latency_seconds_bucket", le=le, platform="discord")
            for le in ("60.0", "120.0")
        }
        planner = planner_for(store, [poster], clock)
        planner.adapters = adapters
        plan = await planner.plan([DueDigest(open_id, DAY), DueDigest(closed_id, DAY)])
        assert plan.planned == 2 and plan.parts == 4  # 8 papers, 5 a message: two each
        clock.advance(90)  # the parts wait 90 s in the outbox before they go out
        deliverer = deliverer_for(store, [poster], clock)
        deliverer.adapters = adapters
        stats = await deliverer.run_until_idle(max_wait=5)
        assert stats.sent == 2 and stats.paused == 1

        health = Health(store, "worker", adapters=lambda: [poster])
        async with serve_health(health, "127.0.0.1", 0) as port:
            status, text = await get(port, "/metrics")
            assert status == 200
            seen = samples(text)
            ready, body = await get(port, "/readyz")
            live, _ = await get(port, "/healthz")
    finally:
        await poster.stop()

    def delta(name: str) -> float:
        return seen.get((name, (("platform", "discord"),)), 0.0) - before[name]

    assert delta("paperboy_parts_sent_total") == 2
    assert delta("paperboy_digests_planned_total") == 2
    assert delta("paperboy_channels_paused_total") == 1
    assert delta("paperboy_delivery_latency_seconds_count") == 2
    # Both messages waited 90 s: counted in the 120 s bucket, not in the 60 s one.
    for le, moved in (("60.0", 0), ("120.0", 2)):
        key = ("paperboy_delivery_latency_seconds_bucket", (("le", le), ("platform", "discord")))
        assert seen.get(key, 0.0) - buckets[le] == moved
    # Read from the database: the closed channel's two parts wait, it is paused.
    assert seen[("paperboy_outbox_depth", (("platform", "discord"),))] == 2
    assert seen[("paperboy_paused_channels", ())] == 1
    assert seen[("paperboy_outbox_oldest_pending_age_seconds", ())] > 0
    assert seen[("paperboy_outbox_failed_parts", ())] == 0
    assert ("paperboy_scheduler_leader", ()) in seen
    assert (ready, live) == (200, 200), body  # a poster keeps no connection: db checks only


async def test_readiness_needs_the_migrations(db_url: str) -> None:
    async with Store(db_url) as unmigrated:
        health = Health(unmigrated, "all")
        async with serve_health(health, "127.0.0.1", 0) as port:
            status, body = await get(port, "/readyz")
            live, _ = await get(port, "/healthz")
    assert status == 503 and live == 200
    assert '"migrations": {"ok": false' in body and "run paperboy migrate" in body
    assert count("paperboy_ready") == 0


async def test_readiness_when_the_database_is_unreachable(unused_tcp_port: int) -> None:
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{unused_tcp_port}/none"
    async with Store(url) as gone:
        async with serve_health(Health(gone, "worker"), "127.0.0.1", 0) as port:
            status, body = await get(port, "/readyz")
    assert status == 503
    assert '"database": {"ok": false' in body and "Traceback" not in body


async def test_a_dead_background_task_fails_liveness(store: Store) -> None:
    import asyncio

    async def crash() -> None:
        raise RuntimeError("the worker fell over")

    task = asyncio.create_task(crash(), name="delivery worker")
    await asyncio.gather(task, return_exceptions=True)
    async with serve_health(Health(store, "worker", tasks=lambda: [task]), "127.0.0.1", 0) as port:
        status, body = await get(port, "/healthz")
    assert status == 503 and "the worker fell over" in body


async def test_readiness_follows_the_discord_gateway(store: Store, fake: FakeDiscord) -> None:
    adapter = DiscordAdapter(
        fake.token, api_url=fake.api_url, client_options={"guild_ready_timeout": 0.05}
    )
    health = Health(store, "all", adapters=lambda: [adapter])
    async with serve_health(health, "127.0.0.1", 0) as port:
        before, body = await get(port, "/readyz")
        assert before == 503 and '"discord": {"ok": false' in body
        async with running_bot(fake, lambda ctx, line: None, adapter=adapter):
            connected, body = await get(port, "/readyz")
            assert connected == 200, body
            assert '"discord": {"ok": true, "detail": "connected"}' in body


async def test_a_port_in_use_is_one_clear_error(store: Store) -> None:
    import socket

    from paperboy.health import HealthServerError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(HealthServerError, match=f"127.0.0.1:{port} .PAPERBOY_METRICS_PORT"):
            async with serve_health(Health(store, "worker"), "127.0.0.1", port):
                pass
