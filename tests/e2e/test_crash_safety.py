"""Crash safety: SIGKILL a fan-out to 500 channels at random moments, restart, and count.

Each target must receive each part of its digest exactly once: 0 duplicates, 0 missing.
Two platforms, each run by this test process so it outlives the killed deliverer:

- `discord`: the real `paperboy deliver` command with the real Discord adapter against
  the fake Discord (a resent part carries the same nonce; the platform dedups it);
- `history`: a Slack-like fake with no idempotency at all: a part that was mid-send at
  the kill is found in the channel's history (by its key) before it is resent.

The kills are real (SIGKILL, no cleanup) and so are the subprocesses; the test takes a
few tens of seconds. Set PAPERBOY_CRASH_SEED to replay a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from paperboy.store import SENT, Store, migrate
from paperboy.store.tables import outbox
from paperboy_adapters.discord.rest import nonce_for
from tests.fakes.discord import FakeDiscord
from tests.fakes.platform import FakePlatform
from tests.integration.delivery_support import bulk_targets, lora_papers

ROOT = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).resolve().parent / "crash_deliver.py"
TARGETS = 500
KILLS = 6
DAY = "2024-11-11"  # a Monday: every default (weekday) schedule has a digest
GUILD = "900000000000000001"

# Each run keeps two cores busy (the deliverer and this process's fake): under pytest-xdist
# the runs take turns on one worker rather than starving each other.
pytestmark = pytest.mark.xdist_group("crash-safety")


def channel_ids() -> list[str]:
    return [str(910000000000000000 + i) for i in range(TARGETS)]


async def run_until(
    cmd: list[str], env: dict[str, str], condition: Callable[[], bool] | None, *, limit: float
) -> tuple[asyncio.subprocess.Process, bool]:
    """Start `cmd`; SIGKILL it as soon as `condition()` holds (None: let it finish)."""
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stderr_task = asyncio.create_task(proc.stderr.read())  # type: ignore[union-attr]
    killed = False
    deadline = asyncio.get_running_loop().time() + limit
    try:
        while proc.returncode is None and asyncio.get_running_loop().time() < deadline:
            if condition is not None and condition():
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 0.005)
    finally:
        if proc.returncode is None and not killed and condition is not None:
            proc.send_signal(signal.SIGKILL)
            killed = True
        try:
            await asyncio.wait_for(proc.wait(), limit)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        errors = (await stderr_task).decode(errors="replace")
    if condition is None:
        assert proc.returncode == 0, errors[-3000:]
    elif not killed:
        assert proc.returncode == 0, errors[-3000:]
    return proc, killed


@pytest.mark.parametrize("platform", ["discord", "history"])
async def test_sigkill_during_fan_out_loses_and_doubles_nothing(db_url: str, platform: str) -> None:
    seed = int(os.environ.get("PAPERBOY_CRASH_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    await migrate(db_url)
    channels = channel_ids()
    async with Store(db_url) as store:
        ids = await bulk_targets(
            store,
            channels,
            platform="discord" if platform == "discord" else "fake",
            workspace=GUILD if platform == "discord" else "",
        )
        await store.papers.upsert(
            lora_papers(12), seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        )

    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": db_url,
        "PAPERBOY_DIGEST_SETTLE_SECONDS": "0",
        # Short, so that a killed run's claims run out soon (a lease must outlast a send).
        "PAPERBOY_DELIVERY_LEASE_SECONDS": "2",
        "PAPERBOY_DELIVERY_SEND_TIMEOUT": "1.5",
        "PAPERBOY_CHANNEL_MIN_INTERVAL": "0.05",
        "PAPERBOY_DELIVERY_POLL_SECONDS": "0.1",
        "PAPERBOY_LOG_LEVEL": "WARNING",
    }
    for name in ("SLACK_BOT_TOKEN", "PAPERBOY_SLACK_BOT_TOKEN", "DISCORD_TOKEN"):
        env.pop(name, None)

    async with contextlib.AsyncExitStack() as stack:
        if platform == "discord":
            fake_discord = await stack.enter_async_context(FakeDiscord())
            for channel in channels:
                fake_discord.add_channel(channel, guild_id=GUILD)
            env["PAPERBOY_DISCORD_TOKEN"] = fake_discord.token
            env["PAPERBOY_DISCORD_API_URL"] = fake_discord.api_url
            cmd = [sys.executable, "-m", "paperboy.cli", "deliver", "--date", DAY]

            def posted() -> int:
                return len(fake_discord.messages)
        else:
            fake = await stack.enter_async_context(FakePlatform(idempotent=False, latency=0.002))
            cmd = [sys.executable, str(HELPER), db_url, fake.url, DAY]

            def posted() -> int:
                return fake.total()

        # One kill at a random time (start-up, planning or the first sends), then kills
        # at random points further into the fan-out, each before the end.
        lowest = TARGETS * 2  # every digest has at least two parts
        kills = 0
        stop_at = asyncio.get_running_loop().time() + rng.uniform(0.3, 2.5)

        def first(stop_at: float = stop_at) -> bool:
            return asyncio.get_running_loop().time() >= stop_at or posted() >= lowest // 4

        _, killed = await run_until(cmd, env, first, limit=60)
        kills += killed
        # A run can end before its kill lands (it had less left to send than the target
        # assumed): then another run is started, so KILLS kills always land.
        for _ in range(3 * KILLS):
            if kills > KILLS:
                break
            remaining = lowest - posted()
            target = posted() + rng.randint(1, max(1, remaining // (KILLS - kills + 2)))

            def condition(target: int = target) -> bool:
                return posted() >= target

            _, killed = await run_until(cmd, env, condition, limit=60)
            kills += killed
        await run_until(cmd, env, None, limit=120)

        async with Store(db_url) as store, store.engine.connect() as conn:
            rows = list(
                await conn.execute(
                    sa.select(outbox.c.target_id, outbox.c.part, outbox.c.key, outbox.c.status)
                )
            )
        assert {r.status for r in rows} == {SENT}, f"seed {seed}"
        expected: dict[str, list[str]] = {c: [] for c in channels}
        channel_of = dict(zip(ids, channels, strict=True))
        for row in sorted(rows, key=lambda r: (r.target_id, r.part)):
            expected[channel_of[row.target_id]].append(row.key)
        assert all(len(keys) >= 2 for keys in expected.values())

        if platform == "discord":
            got = {c: [m.nonce for m in fake_discord.channel_messages(c)] for c in channels}
            want = {c: [nonce_for(k) for k in keys] for c, keys in expected.items()}
        else:
            got = {c: fake.keys(c) for c in channels}
            want = expected
        duplicates = sum(n - 1 for keys in got.values() for n in Counter(keys).values() if n > 1)
        missing = sum(len(set(want[c]) - set(got[c])) for c in channels)
        assert (duplicates, missing) == (0, 0), f"seed {seed}: kills={kills}"
        assert got == want, f"seed {seed}"  # and each channel got its parts in order
        assert kills >= KILLS, f"seed {seed}: only {kills} kills landed"
