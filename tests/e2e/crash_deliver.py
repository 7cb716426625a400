"""Subprocess for the crash-safety test: plan the day's digests and deliver them all.

    python tests/e2e/crash_deliver.py DB_URL FAKE_URL YYYY-MM-DD

Delivers through `FakePlatformAdapter` to a `FakePlatform` run by the test (Slack-like:
no idempotency key, sent parts are found through the channel history). The test kills
this process with SIGKILL at random moments and starts it again; each run plans (finding
the keys taken after the first) and sends whatever the outbox still holds. Settings come
from the environment like the real CLI's (`PAPERBOY_DELIVERY_LEASE_SECONDS`, ...).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from paperboy.delivery import deliver_day
from paperboy.store import Store
from paperboy_config import Settings
from tests.fakes.platform import FakePlatformAdapter


async def main(db_url: str, fake_url: str, day: dt.date) -> int:
    config = Settings(_env_file=None)
    adapter = FakePlatformAdapter(fake_url, find_by_history=True)
    async with Store(db_url) as store:
        try:
            out = await deliver_day(store, config, {adapter.platform: adapter}, day)
        finally:
            await adapter.stop()
    print(f"planned={out.plan.planned} sent={out.stats.sent} found={out.stats.found}", flush=True)
    pending = sum(out.counts.get(status, 0) for status in ("queued", "pending", "sending"))
    return 0 if pending == 0 and not out.counts.get("failed") else 1


if __name__ == "__main__":
    url, fake, date = sys.argv[1:4]
    sys.exit(asyncio.run(main(url, fake, dt.date.fromisoformat(date))))
