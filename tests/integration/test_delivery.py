"""Plan -> outbox -> claim -> send -> record, on SQLite and PostgreSQL.

Time is a ManualClock (sleeping advances it at once); the platform is a recording fake.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import re
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from paperboy.chat import ChatError
from paperboy.clock import ManualClock, SystemClock
from paperboy.delivery import Deliverer, DueDigest, Planner, RetryPolicy, status_report
from paperboy.matching import Matcher
from paperboy.models import Digest, Reply
from paperboy.store import (
    FAILED,
    RUN_EMPTY,
    RUN_UNRENDERED,
    SENDING,
    SENT,
    UNSENT,
    Store,
    outbox_key,
)
from paperboy.store.tables import outbox
from tests.fakes.platform import RecordingAdapter
from tests.integration.delivery_support import (
    MONDAY,
    add_target,
    delivered,
    deliverer_for,
    lora_papers,
    move_watermark,
    paper,
    planner_for,
)

DAY = MONDAY.date()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


async def seed(store: Store, clock: ManualClock, count: int = 3, **kw: object) -> None:
    await store.papers.upsert(lora_papers(count, **kw), seen_at=clock.now() - dt.timedelta(hours=2))


async def outbox_rows(store: Store) -> list[sa.Row]:
    async with store.engine.connect() as conn:
        return list(await conn.execute(sa.select(outbox).order_by(outbox.c.id)))


async def test_plan_send_record_exactly_once(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(per_part=2, clock=clock)
    target, tid = await add_target(store, "c1")
    await seed(store, clock, 5)
    planner = planner_for(store, [fake], clock)

    first = await planner.plan([DueDigest(tid, DAY)])
    assert (first.planned, first.parts) == (1, 3)
    again = await planner.plan([DueDigest(tid, DAY)])
    assert (again.planned, again.already) == (0, 1)

    stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert stats.sent == 3
    assert [s.key for s in fake.to("c1")] == [outbox_key(tid, DAY, i) for i in range(3)]
    # Papers most upvoted first, split in parts of two; the header leads the first.
    assert fake.to("c1")[0].payload["header"].startswith("Papers for 2024-11-11: 5 matching")
    assert [p for s in fake.to("c1") for p in s.payload["papers"]] == [
        f"2411.{i:05d}" for i in (4, 3, 2, 1, 0)
    ]
    rows = await outbox_rows(store)
    assert {r.status for r in rows} == {SENT}
    assert [r.message_id for r in rows] == ["m1", "m2", "m3"]
    # Parts of one channel are at least min_interval apart (on the test clock).
    times = [s.at for s in fake.to("c1")]
    assert all(b - a >= dt.timedelta(seconds=1) for a, b in itertools.pairwise(times))

    # Running everything again sends nothing.
    await planner.plan([DueDigest(tid, DAY)])
    assert (await deliverer_for(store, [fake], clock).run_until_idle()).sent == 0
    assert len(fake.sent) == 3
    assert await delivered(store, target, [f"2411.{i:05d}" for i in range(5)]) == {
        f"2411.{i:05d}" for i in range(5)
    }


async def test_next_digest_has_late_papers_not_repeats(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(per_part=10, clock=clock)
    _, tid = await add_target(store, "c1")
    await seed(store, clock, 2)
    planner = planner_for(store, [fake], clock)
    await planner.plan([DueDigest(tid, DAY)])
    await deliverer_for(store, [fake], clock).run_until_idle()

    # Next day: HF lists the same papers again (a re-listing, new upvotes) and fills in
    # one that was late; another archived paper does not match.
    clock.advance(24 * 3600)
    await store.papers.upsert(
        [*lora_papers(2), paper("2411.09999", "Late LoRA paper"), paper("2411.08888", "Other")],
        seen_at=clock.now() - dt.timedelta(hours=1),
    )
    await planner.plan([DueDigest(tid, DAY + dt.timedelta(days=1))])
    await deliverer_for(store, [fake], clock).run_until_idle()
    second = fake.to("c1")[1].payload
    assert second["papers"] == ["2411.09999"]
    assert second["header"].startswith("Papers for 2024-11-12: 1 matching of 2 checked")

    # An operator moving the watermark back does not resend: the ledger remembers.
    target = fake.to("c1")[0].target
    await move_watermark(store, target, MONDAY - dt.timedelta(days=30))
    clock.advance(24 * 3600)
    result = await planner.plan([DueDigest(tid, DAY + dt.timedelta(days=2))])
    assert result.empty == 1
    await deliverer_for(store, [fake], clock).run_until_idle()
    assert len(fake.to("c1")) == 2


async def test_capped_digest_and_options(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(per_part=50, clock=clock)
    capped, tid_capped = await add_target(store, "capped", max_papers=20)
    _, tid_picky = await add_target(store, "picky", min_upvotes=1000)
    _, tid_loud = await add_target(store, "loud", min_upvotes=1000, post_empty=True)
    _, tid_none = await add_target(store, "nosubs", queries=(), post_empty=True)
    await seed(store, clock, 25)
    result = await planner_for(store, [fake], clock).plan(
        [DueDigest(t, DAY) for t in (tid_capped, tid_picky, tid_loud, tid_none)]
    )
    assert (result.planned, result.empty) == (4, 2)
    await deliverer_for(store, [fake], clock).run_until_idle()
    (message,) = fake.to("capped")
    assert len(message.payload["papers"]) == 20 and message.payload["more"] == 5
    # Only what was shown counts as delivered: the ledger holds 20 papers.
    shown = await delivered(store, capped, [p.id for p in lora_papers(25)])
    assert len(shown) == 20
    assert fake.to("picky") == [] and fake.to("nosubs") == []
    (empty,) = fake.to("loud")
    assert empty.payload["papers"] == [] and "0 matching" in empty.payload["header"]
    runs = {r[0]: r[2] for r in await store.outbox.runs()}
    assert runs[tid_picky] == RUN_EMPTY


async def test_rate_limit_waits_retry_after(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(clock=clock)
    _, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    fake.fail_next("c1", ChatError("slow down", retry_after=7.5))
    start = clock.now()
    stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert (stats.sent, stats.rate_limited) == (1, 1)
    assert fake.to("c1")[0].at - start >= dt.timedelta(seconds=7.5)
    (row,) = await outbox_rows(store)
    assert row.attempts == 0  # a 429 is not a failed attempt


async def test_server_errors_back_off_then_fail_visibly(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = RecordingAdapter(clock=clock)
    target, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    fake.fail_next("c1", *(ChatError("HTTP 502") for _ in range(4)))
    deliverer = deliverer_for(store, [fake], clock, policy=RetryPolicy(4, base=2.0, cap=60.0))
    with caplog.at_level(logging.ERROR, logger="paperboy.delivery.sender"):
        stats = await deliverer.run_until_idle()
    assert (stats.sent, stats.failed) == (0, 1)
    (row,) = await outbox_rows(store)
    assert (row.status, row.attempts) == (FAILED, 4)
    assert "502" in row.error
    # Exponential with jitter: 2, 4, 8 s ceilings, each 50-100 % of it.
    waits = [s for s in clock.slept if s > 0.5]
    assert len(waits) == 3
    for wait, ceiling in zip(waits, (2.0, 4.0, 8.0), strict=True):
        assert ceiling / 2 <= wait <= ceiling
    assert any("giving up" in r.getMessage() for r in caplog.records)
    report = await status_report(store, now=clock.now())
    assert report.failed_count == 1 and report.failed[0].target == target


async def test_transient_then_success_is_sent_once(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(clock=clock)
    _, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    fake.fail_next("c1", ChatError("HTTP 500"), TimeoutError())
    stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert stats.sent == 1 and len(fake.sent) == 1
    # After a 5xx the send may have happened: the platform was asked first.
    assert fake.lookups >= 1


async def test_permanent_error_pauses_target_once_and_resume_delivers(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = RecordingAdapter(per_part=2, clock=clock)
    gone, tid_gone = await add_target(store, "gone")
    _, tid_ok = await add_target(store, "ok")
    await seed(store, clock, 4)
    await planner_for(store, [fake], clock).plan([DueDigest(tid_gone, DAY), DueDigest(tid_ok, DAY)])
    fake.fail_next("gone", ChatError("Discord 403: Missing Access (code 50001)", permanent=True))
    with caplog.at_level(logging.WARNING, logger="paperboy.delivery.sender"):
        stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert stats.paused == 1
    assert len(fake.to("ok")) == 2 and fake.to("gone") == []
    lines = [r.getMessage() for r in caplog.records if "paused" in r.getMessage()]
    assert len(lines) == 1 and "gone" in lines[0] and "Missing Access" in lines[0]
    settings = await store.settings.get(gone)
    assert settings.paused and "Missing Access" in (settings.paused_reason or "")
    assert {r.status for r in await outbox_rows(store) if r.target_id == tid_gone} <= set(UNSENT)

    # The bot is let back in and someone resumes: the held digest goes out, in order.
    await store.settings.update(gone, paused=False)
    await deliverer_for(store, [fake], clock).run_until_idle()
    assert [s.key for s in fake.to("gone")] == [outbox_key(tid_gone, DAY, i) for i in (0, 1)]


async def _crash_mid_send(store: Store, clock: ManualClock) -> None:
    """Claim the first part as a worker that then dies: lease expires, row stays 'sending'."""
    claimed = await store.outbox.claim(
        "dead-worker", clock.now(), limit=1, lease=30, platforms=["fake"]
    )
    assert len(claimed) == 1
    clock.advance(31)


async def test_crash_after_send_is_found_not_resent(store: Store, clock: ManualClock) -> None:
    """Slack-like: no idempotency key, but the key is findable in the channel."""
    fake = RecordingAdapter(clock=clock, idempotent=False, find_by_key=True)
    target, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    await _crash_mid_send(store, clock)
    # The dead worker's message did reach the platform before the crash.
    await fake.post(target, {"papers": []}, key=outbox_key(tid, DAY, 0))
    stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert (stats.sent, stats.found) == (0, 1)
    assert len(fake.sent) == 1
    (row,) = await outbox_rows(store)
    assert row.status == SENT and row.message_id == "m1"


async def test_crash_before_send_is_sent(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(clock=clock, idempotent=False, find_by_key=True)
    _, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    await _crash_mid_send(store, clock)
    stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert (stats.sent, stats.found) == (1, 0) and len(fake.sent) == 1


async def test_crash_with_idempotent_platform_resends_same_key(
    store: Store, clock: ManualClock
) -> None:
    """Discord-like: find_sent cannot tell; the resend carries the same key (nonce)."""
    fake = RecordingAdapter(clock=clock, idempotent=True, find_by_key=False)
    target, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    await _crash_mid_send(store, clock)
    await fake.post(target, {"papers": []}, key=outbox_key(tid, DAY, 0))
    posts_before = fake.posts
    await deliverer_for(store, [fake], clock).run_until_idle()
    assert fake.posts == posts_before + 1  # resent ...
    assert len(fake.sent) == 1  # ... and deduplicated by its key


async def test_live_lease_is_not_taken_over(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(clock=clock)
    _, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    await store.outbox.claim("busy", clock.now(), limit=5, lease=30, platforms=["fake"])
    again = await store.outbox.claim("other", clock.now(), limit=5, lease=30, platforms=["fake"])
    assert again == []
    (row,) = await outbox_rows(store)
    assert (row.status, row.claimed_by) == (SENDING, "busy")


async def test_missing_adapter_waits_then_renders(store: Store, clock: ManualClock) -> None:
    slack_target, tid = await add_target(store, "C1", platform="slackish")
    await seed(store, clock)
    fake = RecordingAdapter(clock=clock)  # serves "fake" only
    result = await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    assert result.unrendered == 1
    assert (await deliverer_for(store, [fake], clock).run_until_idle()).sent == 0
    report = await status_report(store, now=clock.now())
    assert report.unrendered_by_platform == {"slackish": 1}
    assert {r[2] for r in await store.outbox.runs()} == {RUN_UNRENDERED}
    # The papers are reserved for this digest: a later digest does not take them.
    assert await delivered(store, slack_target, ["2411.00000"]) == {"2411.00000"}

    slackish = RecordingAdapter(platform="slackish", clock=clock)
    stats = await deliverer_for(store, [slackish], clock).run_until_idle()
    assert (stats.rendered, stats.sent) == (1, 1)
    assert slackish.sent[0].payload["header"].startswith("Papers for 2024-11-11: 3 matching")


async def test_one_matcher_for_every_target(
    store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = RecordingAdapter(clock=clock)
    ids = [
        (await add_target(store, f"c{i}", ["LoRA", f"topic{i}"], created_at=None))[1]
        for i in range(30)
    ]
    await seed(store, clock)
    compiled = []
    original = Matcher.compile.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Matcher], subscriptions: object) -> Matcher:
        compiled.append(1)
        return original(cls, subscriptions)

    monkeypatch.setattr(Matcher, "compile", classmethod(counting))
    result = await planner_for(store, [fake], clock).plan([DueDigest(t, DAY) for t in ids])
    assert result.planned == 30 and len(compiled) == 1


async def test_concurrent_planners_plan_once(db_url: str, store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(clock=clock)
    ids = [(await add_target(store, f"c{i}"))[1] for i in range(20)]
    await seed(store, clock)
    due = [DueDigest(t, DAY) for t in ids]
    async with Store(db_url) as other:
        planners = [
            Planner(store, {"fake": fake}, clock=clock, settle_seconds=0),
            Planner(other, {"fake": fake}, clock=clock, settle_seconds=0),
        ]
        results = await asyncio.gather(*(p.plan(due) for p in planners))
    assert sum(r.planned for r in results) == 20
    assert sum(r.already for r in results) == 20
    assert len(await outbox_rows(store)) == 20


async def test_two_workers_share_the_outbox(db_url: str, store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(per_part=1, clock=clock, delay=0.001)
    ids = [(await add_target(store, f"c{i}"))[1] for i in range(40)]
    await seed(store, clock, 3)
    await planner_for(store, [fake], clock).plan([DueDigest(t, DAY) for t in ids])
    async with Store(db_url) as other:
        workers = [
            deliverer_for(store, [fake], clock, concurrency=5, worker="w1"),
            deliverer_for(other, [fake], clock, concurrency=5, worker="w2"),
        ]
        stats = await asyncio.gather(*(w.run_until_idle() for w in workers))
    assert sum(s.sent for s in stats) == 120
    assert len(fake.sent) == 120 and fake.duplicates() == 0
    for i in range(40):
        assert [s.key for s in fake.to(f"c{i}")] == [outbox_key(ids[i], DAY, p) for p in range(3)]


async def test_fan_out_respects_concurrency(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(clock=clock, delay=0.002)
    ids = [(await add_target(store, f"c{i}"))[1] for i in range(30)]
    await seed(store, clock, 2)
    await planner_for(store, [fake], clock).plan([DueDigest(t, DAY) for t in ids])
    await deliverer_for(store, [fake], clock, concurrency=4).run_until_idle()
    assert len(fake.sent) == 30
    assert 1 < fake.max_in_flight <= 4


async def test_console_parts_render_at_send(store: Store, clock: ManualClock) -> None:
    """The console's parts are Rich objects, not JSON: stored as indexes, rendered late."""
    import io

    from rich.console import Console

    from paperboy_adapters.console.adapter import ConsoleAdapter

    buffer = io.StringIO()
    console = ConsoleAdapter("demo", console=Console(file=buffer, width=100, no_color=True))
    _, tid = await add_target(store, "demo", platform="console")
    await seed(store, clock, 2)
    result = await planner_for(store, [console], clock).plan([DueDigest(tid, DAY)])
    assert result.parts >= 1
    rows = await outbox_rows(store)
    assert rows[0].payload == {"$render": 0}
    await deliverer_for(store, [console], clock).run_until_idle()
    assert "LoRA adapters, part 1" in buffer.getvalue()


def test_digest_json_round_trip() -> None:
    from paperboy.digest import digest_for_queries, digest_from_json, digest_to_json

    papers = [
        paper("2411.00001", "QLoRA for everyone", upvotes=3, abstract="We adapt LoRA. It works."),
        paper("2411.00002", "Pipeline parallelism at scale", abstract="Pipelines."),
    ]
    digest = digest_for_queries(
        papers, ["LoRA", "pipeline parallelism"], day=DAY, max_papers=1, source_label="x"
    )
    assert digest.omitted == 1 and digest.entries[0].title_highlights
    assert digest_from_json(digest_to_json(digest)) == digest


async def test_worker_hands_back_unstarted_claims_on_stop(store: Store, clock: ManualClock) -> None:
    fake = RecordingAdapter(clock=clock, delay=0.05)
    ids = [(await add_target(store, f"c{i}"))[1] for i in range(6)]
    await seed(store, clock, 1)
    await planner_for(store, [fake], clock).plan([DueDigest(t, DAY) for t in ids])
    deliverer = deliverer_for(store, [fake], clock, concurrency=2)
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run(stop))
    for _ in range(2000):  # until the first message is out
        if fake.sent:
            break
        await asyncio.sleep(0.005)
    stop.set()
    await task
    rows = await outbox_rows(store)
    # Sent parts are recorded; the rest are pending again (none left claimed).
    assert {r.status for r in rows} <= {SENT, "pending"}
    assert sum(r.status == SENT for r in rows) == len(fake.sent)
    await deliverer_for(store, [fake], clock).run_until_idle()
    assert len(fake.sent) == 6 and fake.duplicates() == 0


async def test_each_retry_is_logged_once_with_its_reason_and_wait(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = RecordingAdapter(clock=clock)
    _, tid = await add_target(store, "c1")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    fake.fail_next(
        "c1", ChatError("HTTP 502"), ChatError("slow down", retry_after=7.5), TimeoutError()
    )
    with caplog.at_level(logging.INFO, logger="paperboy.delivery.sender"):
        stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert stats.sent == 1
    retries = [r for r in caplog.records if "sending again in" in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.INFO] * 3
    server, limited, timeout = (r.getMessage() for r in retries)
    assert server.startswith("part 1/1 of fake:c1's digest of 2024-11-11 failed: HTTP 502;")
    wait = float(re.search(r"sending again in ([\d.]+)s", server)[1])  # type: ignore[index]
    assert 1.0 <= wait <= 2.0 and server.endswith("(attempt 2 of 4)")
    assert "rate limited: slow down; sending again in 7.5s" in limited
    assert "failed: no answer within 30s;" in timeout and timeout.endswith("(attempt 3 of 4)")


async def test_a_retry_line_never_shows_a_webhook_token(
    store: Store, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://discord.com/api/webhooks/123456/SECRET-webhook-token"
    fake = RecordingAdapter(platform="discord-webhook", clock=clock)
    _, tid = await add_target(store, url, platform="discord-webhook")
    await seed(store, clock)
    await planner_for(store, [fake], clock).plan([DueDigest(tid, DAY)])
    fake.fail_next(url, ChatError("HTTP 503"), ChatError("slow down", retry_after=1.0))
    with caplog.at_level(logging.INFO, logger="paperboy.delivery.sender"):
        stats = await deliverer_for(store, [fake], clock).run_until_idle()
    assert stats.sent == 1
    retries = [r.getMessage() for r in caplog.records if "sending again" in r.getMessage()]
    assert len(retries) == 2
    assert all("discord-webhook:123456/***'s digest" in line for line in retries)
    assert not [r for r in caplog.records if "SECRET" in r.getMessage()]


async def test_sending_starts_while_later_batches_are_planned(
    store: Store, clock: ManualClock
) -> None:
    """A plan commits batch by batch, wakes the delivery worker after each, and renders
    off the event loop: channel c1's digest goes out while c2's is still being rendered
    (the worker would otherwise look only after its 30 s poll)."""
    first_sent = threading.Event()
    both_sent = asyncio.Event()
    renders: list[bool] = []

    class SlowSecondRender(RecordingAdapter):
        def render(self, item: Digest | Reply) -> list[dict[str, Any]]:
            if isinstance(item, Digest):
                if renders:  # c2: wait (real seconds: a safety net) for c1's message
                    renders.append(first_sent.wait(timeout=5))
                else:
                    renders.append(True)
            return super().render(item)

        async def post(self, target, part, *, key=None):  # type: ignore[no-untyped-def]
            ref = await super().post(target, part, key=key)
            first_sent.set()
            if len(self.sent) == 2:
                both_sent.set()
            return ref

    fake = SlowSecondRender(per_part=5)
    ids = [(await add_target(store, channel))[1] for channel in ("c1", "c2")]
    await seed(store, clock, 3)
    deliverer = Deliverer(store, {fake.platform: fake}, clock=SystemClock(), poll=30.0)
    planner = Planner(
        store,
        {fake.platform: fake},
        clock=clock,
        settle_seconds=0,
        batch_size=1,
        on_batch=deliverer.wake,
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(deliverer.run(stop))
    try:
        plan = await planner.plan([DueDigest(tid, DAY) for tid in ids])
        assert plan.planned == 2
        assert renders == [True, True]  # c1 was sent before c2's digest was rendered
        await asyncio.wait_for(both_sent.wait(), 10)
    finally:
        stop.set()
        await worker
    assert [s.target.channel for s in fake.sent] == ["c1", "c2"]


async def test_a_digest_prepared_before_another_plan_committed_is_made_again(
    store: Store, clock: ManualClock
) -> None:
    """Digests are built outside the write transaction; when another planner wrote the
    same channel meanwhile (watermark and ledger moved), the transaction sees it and the
    digest is made again from what is left: no paper goes out twice."""
    loop = asyncio.get_running_loop()
    other = RecordingAdapter(per_part=5)
    _, tid = await add_target(store, "c1")
    await seed(store, clock, 3)
    friday = DAY - dt.timedelta(days=3)

    class RacingRender(RecordingAdapter):
        raced = False

        def render(self, item: Digest | Reply) -> list[dict[str, Any]]:
            if isinstance(item, Digest) and not self.raced:
                self.raced = True  # (in the worker thread) another plan commits now
                racing = planner_for(store, [other], clock).plan([DueDigest(tid, friday)])
                asyncio.run_coroutine_threadsafe(racing, loop).result(timeout=10)
            return super().render(item)

    mine = RacingRender(per_part=5)
    result = await planner_for(store, [mine], clock).plan([DueDigest(tid, DAY)])
    assert mine.raced
    assert (result.planned, result.parts, result.empty) == (1, 0, 1)
    async with store.engine.connect() as conn:
        ledger = list(await conn.execute(sa.text("SELECT target_id, paper_id FROM deliveries")))
    assert len(ledger) == 3  # friday's digest has the three papers; today's none
