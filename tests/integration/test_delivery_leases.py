"""Claims and leases: a live sender keeps its part however long a send takes; `deliver`
waits for parts a stopped worker left mid-send and for papers inside the settle window.

The lease tests run on the wall clock (the heartbeat keeps real time) with leases of a
fraction of a second and sends slower than that; the `deliver` tests use a ManualClock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from paperboy.clock import ManualClock, SystemClock
from paperboy.delivery import Deliverer, DueDigest, Planner, deliver_day
from paperboy.store import SENT, Store, outbox_key
from paperboy.store.tables import outbox
from paperboy_config import Settings
from tests.fakes.platform import RecordingAdapter
from tests.integration.delivery_support import MONDAY, add_target, lora_papers, planner_for

DAY = MONDAY.date()
LEASE = 0.8  # seconds; every send below takes longer (renewed every third: a loaded
# machine may stall the heartbeat for a while without the claim running out)
SEND = 2.0


async def _plan(store: Store, fake: RecordingAdapter, channels: int) -> list[int]:
    ids = [(await add_target(store, f"c{i}"))[1] for i in range(channels)]
    await store.papers.upsert(
        lora_papers(1), seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    planner = Planner(store, {"fake": fake}, clock=SystemClock(), settle_seconds=0)
    result = await planner.plan([DueDigest(tid, DAY) for tid in ids])
    assert result.parts == channels
    return ids


def _worker(store: Store, fake: RecordingAdapter, name: str) -> Deliverer:
    return Deliverer(
        store,
        {"fake": fake},
        clock=SystemClock(),
        concurrency=5,
        min_interval=0.0,
        lease=LEASE,
        send_timeout=10.0,
        poll=0.05,
        worker=name,
    )


async def _statuses(store: Store) -> list[str]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(sa.select(outbox.c.status))).scalars())


async def test_a_send_longer_than_the_lease_goes_out_once(db_url: str, store: Store) -> None:
    """Lease 0.8 s, sends of 2 s, two workers: the lease is renewed while the send is
    in flight, so the other worker never takes the part over and sends it again."""
    fake = RecordingAdapter(per_part=1, delay=SEND, idempotent=False, find_by_key=True)
    ids = await _plan(store, fake, 3)
    async with Store(db_url) as other:
        workers = [_worker(store, fake, "w1"), _worker(other, fake, "w2")]
        stats = await asyncio.wait_for(
            asyncio.gather(*(w.run_until_idle(max_wait=5) for w in workers)), 30
        )
    assert fake.duplicates() == 0
    assert sorted(s.key for s in fake.sent) == sorted(outbox_key(t, DAY, 0) for t in ids)
    assert sum(s.sent for s in stats) == 3 and sum(s.lost for s in stats) == 0
    assert await _statuses(store) == [SENT] * 3


async def test_a_worker_that_cannot_renew_gives_the_send_up(
    db_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that loses the database after claiming a part cannot renew its claim: when
    the lease runs out its send is cancelled, not finished, and the other worker takes
    the part over and sends it once."""
    fake = RecordingAdapter(per_part=1, delay=SEND, idempotent=False, find_by_key=True)
    (tid,) = await _plan(store, fake, 1)
    stalled = _worker(store, fake, "stalled")
    claim = store.outbox.claim
    sending = asyncio.Event()

    async def claim_once(*args: Any, **kwargs: Any) -> list[Any]:
        if sending.is_set():
            return []
        parts = await claim(*args, **kwargs)
        if parts:
            sending.set()
        return parts

    async def unreachable(*args: Any, **kwargs: Any) -> set[int]:
        raise ConnectionError("the database is away")

    monkeypatch.setattr(store.outbox, "claim", claim_once)
    monkeypatch.setattr(store.outbox, "renew", unreachable, raising=False)
    async with Store(db_url) as other:
        healthy = _worker(other, fake, "healthy")
        first = asyncio.create_task(stalled.run_until_idle(max_wait=5))
        await asyncio.wait_for(sending.wait(), 30)
        second = await asyncio.wait_for(healthy.run_until_idle(max_wait=5), 30)
        await asyncio.wait_for(first, 30)
    assert [s.key for s in fake.sent] == [outbox_key(tid, DAY, 0)]
    assert stalled.stats.sent == 0 and stalled.stats.lost == 1
    assert second.sent == 1
    assert await _statuses(store) == [SENT]


async def test_a_claim_lapsed_mid_send_is_not_sent_again_by_its_own_worker(
    store: Store,
) -> None:
    """A worker stalled past its lease (a loaded machine), the part taken by no one else:
    its own next claim returns the part it is still sending, which goes out once."""
    fake = RecordingAdapter(per_part=1, delay=1.0, idempotent=False, find_by_key=True)
    (tid,) = await _plan(store, fake, 1)
    worker = _worker(store, fake, "only")
    worker.lease = 60.0  # the heartbeat stays away: the lapse below is the stall's
    posting = asyncio.Event()
    post = fake.post

    async def post_and_tell(*args: Any, **kwargs: Any) -> Any:
        posting.set()
        return await post(*args, **kwargs)

    fake.post = post_and_tell  # type: ignore[method-assign]
    run = asyncio.create_task(worker.run_until_idle(max_wait=5))
    await asyncio.wait_for(posting.wait(), 30)
    async with store.begin_write() as conn:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        await conn.execute(sa.update(outbox).values(claimed_until=past))
    stats = await asyncio.wait_for(run, 30)
    assert [s.key for s in fake.sent] == [outbox_key(tid, DAY, 0)]
    assert fake.posts == 1 and stats.sent == 1
    assert await _statuses(store) == [SENT]


# --------------------------------------------------------------------------- deliver


def _config(**values: Any) -> Settings:
    return Settings(_env_file=None, **{"digest_settle_seconds": 0, **values})


async def test_deliver_waits_for_parts_a_stopped_worker_left_mid_send(store: Store) -> None:
    """The stopped worker's claim runs 120 s, longer than deliver's 60 s wait for retries:
    deliver says when the claim runs out, waits for it, and sends the part."""
    clock = ManualClock(MONDAY)
    fake = RecordingAdapter(clock=clock)
    _, tid = await add_target(store, "c1")
    await store.papers.upsert(lora_papers(2), seen_at=MONDAY - dt.timedelta(hours=1))
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    await store.outbox.claim("crashed", clock.now(), limit=1, lease=120, platforms=["fake"])
    lines: list[str] = []
    out = await deliver_day(store, _config(), {"fake": fake}, DAY, clock=clock, notice=lines.append)
    assert [s.key for s in fake.sent] == [outbox_key(tid, DAY, 0)]
    assert out.backlog.total == 0 and out.counts == {SENT: 1}
    (said,) = [line for line in lines if "claimed by another worker" in line]
    assert "2024-11-11 09:02:00 UTC" in said and "waiting" in said


async def test_deliver_says_what_the_settle_window_left_for_the_next_digest(
    store: Store,
) -> None:
    """Papers ingested moments ago are waited for when the settle window is short; a
    window longer than deliver waits leaves them for the next digest, and says so."""
    clock = ManualClock(MONDAY)
    fake = RecordingAdapter(clock=clock)
    await add_target(store, "c1", days="mon,tue,wed,thu,fri,sat,sun")
    await store.papers.upsert(lora_papers(2), seen_at=MONDAY - dt.timedelta(seconds=5))

    lines: list[str] = []
    config = _config(digest_settle_seconds=30)
    out = await deliver_day(store, config, {"fake": fake}, DAY, clock=clock, notice=lines.append)
    assert out.plan.planned == 1 and out.left_for_next == 0
    (sent,) = fake.sent
    assert len(sent.payload["papers"]) == 2
    assert any(line.startswith("waiting 25s: 2 paper(s)") for line in lines), lines

    # The next day, with a settle window longer than deliver waits.
    clock.set(MONDAY + dt.timedelta(days=1))
    await store.papers.upsert(lora_papers(3, start=10), seen_at=clock.now())
    lines.clear()
    config = _config(digest_settle_seconds=600)
    tuesday = DAY + dt.timedelta(days=1)
    out = await deliver_day(
        store, config, {"fake": fake}, tuesday, clock=clock, notice=lines.append
    )
    assert out.plan.planned == 1 and out.plan.empty == 1 and out.left_for_next == 3
    assert any("3 paper(s) ingested after" in line and "next digest" in line for line in lines)
    # Left for the next digest, and it has them.
    clock.advance(24 * 3600)
    await deliver_day(store, config, {"fake": fake}, tuesday + dt.timedelta(days=1), clock=clock)
    assert [p for s in fake.sent[1:] for p in s.payload["papers"]] == [
        f"2411.{i:05d}" for i in (12, 11, 10)
    ]
