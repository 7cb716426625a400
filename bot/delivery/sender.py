"""Delivery: claim outbox parts, send them through the adapters, retry, record.

Guarantees (DESIGN.md "Delivery guarantees"): a part is written to the outbox before it
is sent (at least once) and its unique key makes every resend the same message (at most
once): Discord dedups the key's nonce, and a part that may already have gone out (a
crash mid-send, a timeout, a 5xx) is first looked up with `adapter.find_sent` (Slack
searches the channel for the key in message metadata). A platform may finish a post
after the client gave up on it, so an uncertain part is looked up `lookups` times,
`lookup_spacing` seconds apart (the first that long after the failed send), before it is
resent; a platform whose lookups see nothing (`finds_sent = False`: Discord, which
dedups by nonce instead) is resent after one. A failure the platform answered itself
(`ChatError.settled`: Slack's own error body) is over on its side: one lookup, after the
backoff, decides.

Failures: 429 waits what the platform says (Retry-After); 5xx, timeouts and unexpected
errors back off exponentially with jitter, up to `max_attempts` (then the part is
`failed` and shows in `paperboy status`); a permanent error (channel gone, bot removed,
no permission) pauses the channel with the reason, logs one line, and keeps its parts
for when the channel is resumed.

Fan-out: at most `concurrency` sends in flight per process, one message in flight per
channel (only a channel's first unsent part is claimable) and at least
`min_interval` seconds between two messages to one channel.

Claims: a claimed part is leased for `lease` seconds, and while this worker holds it (in
its queue, mid-send, or sent and waiting to be recorded) a heartbeat renews the lease
every `lease / 3` seconds, so a lease never runs out under a live sender however long a
send takes. Should a claim be lost all the same (the heartbeat could not reach the
database in time and another worker took the part over), the send in flight is
cancelled and its result not recorded: the part is the new holder's, which looks it up
on the platform before sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paperboy.chat import ChatAdapter, ChatError, MessageRef
from paperboy.clock import Clock, SystemClock
from paperboy.delivery.planner import render_parts
from paperboy.metrics import METRICS
from paperboy.models import Reply
from paperboy.store import FAILED, RENDER_AT_SEND, SENDING, ClaimedPart, SentAck, Store
from paperboy.trends import ROLLUP_PAYLOAD, rollup_from_json, rollup_text
from paperboy_config import Settings

log = logging.getLogger(__name__)


class _NotSeenYet(Exception):
    """An uncertain part was not found, and it is too early to resend it."""


def worker_name() -> str:
    """A name for this process's claims: host, pid and a random suffix."""
    host = socket.gethostname()[:30]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: float = 2.0
    cap: float = 600.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds before try `attempt + 1`: exponential, with jitter (50-100 %)."""
        ceiling = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return ceiling * rng.uniform(0.5, 1.0)


@dataclass
class DeliveryStats:
    sent: int = 0
    found: int = 0  # parts found already posted (after a crash) instead of resent
    retried: int = 0
    rate_limited: int = 0
    failed: int = 0
    paused: int = 0
    rendered: int = 0
    lost: int = 0  # claims another worker took over while this one held them
    errors: list[str] = field(default_factory=list)


class ClaimLost(Exception):
    """This worker no longer holds a part's claim (another worker took it over)."""


@dataclass
class _Claim:
    """A part this worker holds: until when (as last renewed), and whether it was lost."""

    until: dt.datetime
    lost: asyncio.Event = field(default_factory=asyncio.Event)


def adapters_by_platform(adapters: Iterable[ChatAdapter]) -> dict[str, ChatAdapter]:
    """platform -> adapter, using an adapter's `platforms` when it serves several."""
    out: dict[str, ChatAdapter] = {}
    for adapter in adapters:
        for platform in getattr(adapter, "platforms", None) or (adapter.platform,):
            out.setdefault(platform, adapter)
    return out


class Deliverer:
    """Sends what the outbox holds. One per process; `run()` until stopped or idle."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, ChatAdapter],
        *,
        clock: Clock | None = None,
        concurrency: int = 40,
        min_interval: float = 1.0,
        policy: RetryPolicy | None = None,
        lease: float = 120.0,
        send_timeout: float = 30.0,
        poll: float = 2.0,
        worker: str | None = None,
        rng: random.Random | None = None,
        lookups: int = 1,
        lookup_spacing: float = 0.0,
    ) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.clock = clock or SystemClock()
        self.concurrency = concurrency
        self.min_interval = min_interval
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.send_timeout = send_timeout
        self.poll = poll
        self.worker = worker or worker_name()
        self.rng = rng or random.Random()
        self.lookups = max(1, lookups)
        self.lookup_spacing = lookup_spacing
        self._looked: dict[int, int] = {}  # part id -> lookups that found nothing yet
        self.stats = DeliveryStats()
        self._wake = asyncio.Event()
        self._last_sent: dict[int, dt.datetime] = {}
        self._acks: asyncio.Queue[tuple[SentAck, _Claim]] = asyncio.Queue()
        self._progress = asyncio.Event()
        #: Real seconds the acknowledgement writer waits to gather a batch.
        self.ack_linger = 0.01
        self._busy = 0
        #: Parts this worker holds, by id: claimed and not yet released or recorded.
        self._claims: dict[int, _Claim] = {}
        #: `run_until_idle` waits for parts other workers hold until this time.
        self._claimed_deadline: dt.datetime | None = None

    @classmethod
    def from_settings(
        cls, store: Store, adapters: Mapping[str, ChatAdapter], settings: Settings, **kwargs: Any
    ) -> Deliverer:
        options: dict[str, Any] = {
            "concurrency": settings.fanout_concurrency,
            "min_interval": settings.channel_min_interval,
            "policy": RetryPolicy(
                settings.delivery_max_attempts,
                settings.delivery_backoff_base,
                settings.delivery_backoff_max,
            ),
            "lease": settings.delivery_lease_seconds,
            "send_timeout": settings.delivery_send_timeout,
            "poll": settings.delivery_poll_seconds,
            "lookups": settings.delivery_lookups,
            "lookup_spacing": settings.delivery_lookup_seconds,
        }
        options.update(kwargs)
        return cls(store, adapters, **options)

    @property
    def platforms(self) -> list[str]:
        return sorted(self.adapters)

    def wake(self) -> None:
        """New work was planned: look now instead of at the next poll."""
        self._wake.set()

    # ----------------------------------------------------------------- main loop

    async def run_until_idle(
        self, *, max_wait: float = 900.0, claimed_wait: float | None = None
    ) -> DeliveryStats:
        """Send everything that can go out, waiting for retries due within `max_wait`
        seconds; return when nothing is left to do (or only later retries remain).

        Parts another worker holds are waited for until `claimed_wait` seconds (default:
        the lease and a poll) after the start: a stopped worker's claims run out within
        that and the parts are taken over; a live worker's claims are renewed, and it
        sends them itself.
        """
        if claimed_wait is None:
            claimed_wait = self.lease + self.poll
        self._claimed_deadline = self.clock.now() + dt.timedelta(seconds=claimed_wait)
        return await self._loop(stop=None, max_wait=max_wait)

    async def run(self, stop: asyncio.Event) -> DeliveryStats:
        """Deliver until `stop` is set (the worker role). A failing round (the database
        away for a moment) is logged and tried again after `poll` seconds."""
        while not stop.is_set():
            try:
                return await self._loop(stop=stop, max_wait=None)
            except Exception:
                log.exception("the delivery worker failed; trying again in %gs", self.poll)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)
        return self.stats

    async def _loop(self, *, stop: asyncio.Event | None, max_wait: float | None) -> DeliveryStats:
        """A feeder claims due parts into a queue; `concurrency` senders take them from it.

        Claims and acknowledgements are database round trips: claiming ahead (up to
        `concurrency` parts waiting) and acknowledging in batches keeps every sender busy
        while they happen. A claimed part whose lease is nearly over when a sender gets to
        it goes back instead of out (see `_deliver`).
        """
        ready: asyncio.Queue[tuple[ClaimedPart, _Claim]] = asyncio.Queue(
            maxsize=2 * self.concurrency
        )
        self._acks = asyncio.Queue()
        self._busy = 0
        self._claims = {}
        writer = asyncio.create_task(self._write_acks(self._acks))
        keeper = asyncio.create_task(self._keep_claims())
        senders = [asyncio.create_task(self._sender(ready)) for _ in range(self.concurrency)]
        rendered_at: dt.datetime | None = None
        batch = max(1, self.concurrency)  # claim at least this many at once
        try:
            while stop is None or not stop.is_set():
                now = self.clock.now()
                if (
                    self._wake.is_set()
                    or rendered_at is None
                    or (now - rendered_at).total_seconds() >= self.poll
                ):
                    rendered_at = now
                    await self.render_waiting()
                self._wake.clear()
                self._progress.clear()
                room = ready.maxsize - ready.qsize()
                claimed: list[ClaimedPart] = []
                if room >= batch or (ready.empty() and self._busy == 0):
                    claimed = await self.store.outbox.claim(
                        self.worker,
                        self.clock.now(),
                        limit=room,
                        lease=self.lease,
                        platforms=self.platforms,
                    )
                for part in claimed:
                    until = part.claimed_until or self.clock.now()
                    held = self._claims.get(part.id)
                    if held is not None:
                        # Still ours, mid-send: its lease ran out while this process was
                        # stalled (a loaded machine) and no one else took it. A second
                        # send of it would go out beside the first: keep the one claim.
                        held.until = until
                        continue
                    claim = self._claims[part.id] = _Claim(until)
                    ready.put_nowait((part, claim))
                if claimed and len(claimed) < room:
                    continue  # maybe more are due already
                if ready.empty() and self._busy == 0 and not claimed:
                    # Idle: acknowledgements first (they make next parts due), then wait.
                    await self._acks.join()
                    if not await self._idle(stop, max_wait):
                        break
                    continue
                await self._wait_progress(stop)
        finally:
            await self._shutdown(ready, senders, writer, keeper)
        return self.stats

    async def _sender(self, ready: asyncio.Queue[tuple[ClaimedPart, _Claim]]) -> None:
        while True:
            part, claim = await ready.get()
            self._busy += 1
            acked = False
            try:
                acked = await self._deliver(part, claim)
            except Exception:
                log.exception("delivering %s failed unexpectedly", part.key)
            finally:
                if not acked:  # released, or lost: no longer ours to renew
                    self._forget(part.id, claim)
                self._busy -= 1
                ready.task_done()
                self._progress.set()

    def _forget(self, part_id: int, claim: _Claim) -> None:
        """Stop renewing this claim (not a newer claim of the same part)."""
        if self._claims.get(part_id) is claim:
            del self._claims[part_id]

    async def _keep_claims(self) -> None:
        """The heartbeat: renew the lease of every part this worker holds, every
        `lease / 3` (real) seconds. A part the database no longer gives this worker, or
        whose lease ran out while the database could not be reached, is lost: its send
        is cancelled (see `_while_held`)."""
        interval = max(0.01, self.lease / 3)
        while True:
            await asyncio.sleep(interval)
            if not self._claims:
                continue
            held = list(self._claims.items())
            until = self.clock.now() + dt.timedelta(seconds=self.lease)
            kept: set[int] | None
            try:
                kept = await self.store.outbox.renew([pid for pid, _ in held], self.worker, until)
            except Exception as error:
                log.warning("could not renew the claim on %d part(s): %s", len(held), error)
                kept = None
            now = self.clock.now()
            for pid, claim in held:
                if self._claims.get(pid) is not claim:  # released or recorded meanwhile
                    continue
                if kept is not None and pid in kept:
                    claim.until = until
                elif kept is not None or claim.until <= now:
                    claim.lost.set()
                    del self._claims[pid]

    async def _wait_progress(self, stop: asyncio.Event | None) -> None:
        """Until a sender finishes a part, new work is planned, or `poll` seconds pass."""
        waiters = [
            asyncio.create_task(self._progress.wait()),
            asyncio.create_task(self._wake.wait()),
        ]
        if stop is not None:
            waiters.append(asyncio.create_task(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _shutdown(
        self,
        ready: asyncio.Queue[tuple[ClaimedPart, _Claim]],
        senders: list[asyncio.Task[None]],
        writer: asyncio.Task[None],
        keeper: asyncio.Task[None],
    ) -> None:
        """Hand back claimed parts not started, let sends in flight finish (bounded), and
        write the last acknowledgements."""
        while not ready.empty():
            part, _ = ready.get_nowait()
            ready.task_done()
            with contextlib.suppress(Exception):
                await self._retry(
                    part, "handed back at shutdown", count=False, uncertain=False, delay=0.0
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.join(), self.send_timeout)
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        if not writer.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._acks.join(), 30)
        writer.cancel()
        keeper.cancel()
        await asyncio.gather(writer, keeper, return_exceptions=True)
        self._claims.clear()

    async def _write_acks(self, queue: asyncio.Queue[tuple[SentAck, _Claim]]) -> None:
        """Record sent parts in batches: whatever arrived while the last batch was written.

        A batch lost to a crash only leaves its parts `sending`: they are looked up (or
        resent under the same key) once their lease runs out, never sent twice.
        """
        while True:
            batch = [await queue.get()]
            # Linger a moment: sends finishing meanwhile join this transaction.
            await asyncio.sleep(self.ack_linger)
            while not queue.empty() and len(batch) < 500:
                batch.append(queue.get_nowait())
            acks = [ack for ack, _ in batch]
            try:
                recorded = await self.store.outbox.mark_sent_many(
                    acks, worker=self.worker, spacing=self.min_interval
                )
            except Exception:
                log.exception("recording %d sent part(s) failed; they are checked later", len(acks))
                recorded = None
            finally:
                for ack, claim in batch:
                    # Recorded, or (failed to record) left for its lease to run out.
                    self._forget(ack.part_id, claim)
                    queue.task_done()
            for ack in acks:
                if recorded is not None and ack.part_id not in recorded:
                    self.stats.lost += 1
                    log.warning(
                        "part %d was sent, but another worker had taken it over meanwhile; "
                        "that worker looks it up before sending it again",
                        ack.part_id,
                    )

    async def _idle(self, stop: asyncio.Event | None, max_wait: float | None) -> bool:
        """Wait for work; False when a `run_until_idle` has nothing more to wait for."""
        now = self.clock.now()
        if max_wait is not None:
            due = await self._due_within(now, max_wait)
            if due is None:
                return False
            # Something is claimable now yet nothing was claimed: it waits behind a part
            # another worker holds. Look again shortly.
            delay = (due - now).total_seconds() if due > now else min(self.poll, 0.05)
            await self.clock.sleep(delay)
            return True
        due = await self.store.outbox.next_due(self.platforms)
        delay = self.poll if due is None else min(self.poll, max(0.0, (due - now).total_seconds()))
        await self._wait_or_wake(stop, delay or min(self.poll, 0.05))
        return True

    async def _due_within(self, now: dt.datetime, max_wait: float) -> dt.datetime | None:
        """For `run_until_idle`: when to look again, or None to stop. Retries are waited
        for when due within `max_wait`; parts other workers hold until their claims run
        out, if that is before the claimed-wait deadline."""
        backlog = await self.store.outbox.backlog(self.platforms)
        deadline = self._claimed_deadline or now
        times: list[dt.datetime] = []
        if backlog.claimed_until is not None and backlog.claimed_until <= deadline:
            times.append(backlog.claimed_until)
        if backlog.waiting_due is not None:
            if backlog.waiting_due > now:
                if (backlog.waiting_due - now).total_seconds() <= max_wait:
                    times.append(backlog.waiting_due)
            elif backlog.claimed == 0 or now <= deadline:
                # Due, yet not claimed: behind a part another worker holds.
                times.append(now)
        return min(times) if times else None

    async def _wait_or_wake(self, stop: asyncio.Event | None, delay: float) -> None:
        waiters = [asyncio.create_task(self._wake.wait())]
        if stop is not None:
            waiters.append(asyncio.create_task(stop.wait()))
        sleeper = asyncio.create_task(self.clock.sleep(delay))
        try:
            await asyncio.wait([*waiters, sleeper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (*waiters, sleeper):
                task.cancel()
            await asyncio.gather(*waiters, sleeper, return_exceptions=True)

    async def render_waiting(self) -> int:
        """Render runs planned while their platform had no adapter (now it has one)."""
        count = 0
        for run in await self.store.outbox.unrendered(self.platforms):
            rendered = render_parts(self.adapters.get(run.target.platform), run.digest)
            if rendered.parts is None:
                continue
            stored = await self.store.outbox.store_rendering(
                run.target_id,
                run.digest_date,
                rendered.parts,
                self.clock.now(),
                keep_digest=rendered.keep_digest,
            )
            count += int(stored)
        self.stats.rendered += count
        return count

    # ----------------------------------------------------------------- one part

    async def _payload(self, part: ClaimedPart, adapter: ChatAdapter) -> Any:
        payload = part.payload
        if isinstance(payload, dict) and set(payload) == {ROLLUP_PAYLOAD}:
            if getattr(adapter, "post_rollup", None) is not None:
                return payload  # the adapter posts it, image and all
            # An adapter without images gets the rollup as a text message.
            rollup = rollup_from_json(payload[ROLLUP_PAYLOAD])
            text = Reply(text=rollup_text(rollup), ephemeral=False)
            return next(iter(adapter.render(text)))
        if isinstance(payload, dict) and set(payload) == {RENDER_AT_SEND}:
            digest = await self.store.outbox.run_digest(part.target_id, part.digest_date)
            if digest is None:
                raise ChatError(
                    "the digest of a part rendered at send time is gone", permanent=True
                )
            return list(adapter.render(digest))[int(payload[RENDER_AT_SEND])]
        return payload

    async def _send(self, part: ClaimedPart, adapter: ChatAdapter) -> tuple[MessageRef, bool]:
        """Post the part, or find it posted already; (reference, found)."""
        finder = getattr(adapter, "find_sent", None)  # an adapter may lack one
        if part.uncertain and finder is not None:
            found = await asyncio.wait_for(finder(part.target, part.key), self.send_timeout)
            if found is not None:
                return found, True
            looked = self._looked.get(part.id, 0) + 1
            if looked < self.lookups and getattr(adapter, "finds_sent", True):
                self._looked[part.id] = looked
                raise _NotSeenYet(
                    f"not seen on the platform yet (lookup {looked} of {self.lookups})"
                )
        await self._space(part.target_id)
        payload = await self._payload(part, adapter)
        ref = await asyncio.wait_for(
            adapter.post(part.target, payload, key=part.key), self.send_timeout
        )
        return ref, False

    async def _space(self, target_id: int) -> None:
        last = self._last_sent.get(target_id)
        if last is not None and self.min_interval > 0:
            wait = self.min_interval - (self.clock.now() - last).total_seconds()
            if wait > 0:
                await self.clock.sleep(wait)

    async def _while_held(self, claim: _Claim, send: Any) -> Any:
        """Await `send` while this worker holds the part; cancel it and raise ClaimLost
        when the claim is lost first (another worker owns the part now)."""
        task = asyncio.ensure_future(send)
        lost = asyncio.ensure_future(claim.lost.wait())
        try:
            await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not task.done():
                task.cancel()
            await asyncio.gather(lost, task, return_exceptions=True)
        if task.cancelled() and claim.lost.is_set():
            raise ClaimLost
        return task.result()

    async def _deliver(self, part: ClaimedPart, claim: _Claim) -> bool:
        """Send one claimed part; True when it went out (its acknowledgement is queued)."""
        if claim.lost.is_set():  # lost while it waited in the queue
            self.stats.lost += 1
            return False
        # A part whose claim nearly ran out while it waited (the heartbeat could not renew
        # it) goes back: another worker may take it over, and only one may send it.
        margin = min(5.0, self.lease / 4)
        if (claim.until - self.clock.now()).total_seconds() < margin:
            await self._retry(part, "claim ran out", count=False, uncertain=False, delay=0.0)
            return False
        adapter = self.adapters.get(part.target.platform)
        if adapter is None:  # claims are limited to our platforms; defensive only
            await self._retry(part, "no adapter for this platform", count=False, uncertain=False)
            return False
        try:
            ref, found = await self._while_held(claim, self._send(part, adapter))
        except _NotSeenYet as pending:
            await self._retry(
                part, str(pending), count=False, uncertain=True, delay=self.lookup_spacing
            )
            return False
        except ClaimLost:
            self.stats.lost += 1
            log.warning(
                "lost the claim on part %d/%d of %s's digest of %s mid-send (its lease ran "
                "out); the worker now holding it looks it up before sending it again",
                part.part + 1,
                part.parts,
                part.target,
                part.digest_date,
            )
            # Ours again only if no one took it: then it goes back, to be looked up first.
            await self._retry(part, "claim lost mid-send", count=False, uncertain=True, delay=0.0)
            return False
        except ChatError as error:
            if error.permanent:
                await self._permanent(part, error)
            elif error.retry_after is not None:
                self.stats.rate_limited += 1
                await self._retry(
                    part,
                    str(error),
                    count=False,
                    uncertain=False,
                    delay=error.retry_after,
                    announce="rate limited",
                )
            else:
                await self._retry(
                    part,
                    str(error),
                    count=True,
                    uncertain=True,
                    announce="failed",
                    settled=error.settled,
                )
            return False
        except TimeoutError:
            await self._retry(
                part,
                f"no answer within {self.send_timeout:g}s",
                count=True,
                uncertain=True,
                announce="failed",
            )
            return False
        except Exception as error:  # an adapter bug must not kill the worker
            log.exception("sending %s to %s failed unexpectedly", part.key, part.target)
            await self._retry(
                part,
                f"{type(error).__name__}: {error}",
                count=True,
                uncertain=True,
                announce="failed",
            )
            return False
        self._looked.pop(part.id, None)
        now = self.clock.now()
        self._last_sent[part.target_id] = now
        self._acks.put_nowait((SentAck(part.id, part.target_id, ref.id, now), claim))
        if found:
            self.stats.found += 1
        else:
            self.stats.sent += 1
        platform = part.target.platform
        METRICS.parts_sent.labels(platform).inc()
        if part.created_at is not None:
            waited = (now - part.created_at).total_seconds()
            METRICS.delivery_latency.labels(platform).observe(max(0.0, waited))
        return True

    async def _retry(
        self,
        part: ClaimedPart,
        error: str,
        *,
        count: bool,
        uncertain: bool,
        delay: float | None = None,
        announce: str | None = None,
        settled: bool = False,
    ) -> None:
        """Give the part back with its next try `delay` seconds away (default: the
        backoff, or a poll). `announce` ("failed", "rate limited") logs the retry.
        `settled`: the platform answered the failed send (ChatError.settled), so the
        part is looked up once, after the backoff, not `lookups` times spaced."""
        if delay is None:
            delay = self.policy.backoff(part.attempts + 1, self.rng) if count else self.poll
            adapter = self.adapters.get(part.target.platform)
            if count and uncertain and not settled and getattr(adapter, "finds_sent", True):
                # It may still land: look it up no sooner than this, `lookups` times anew.
                delay = max(delay, self.lookup_spacing)
        if count:
            self._looked.pop(part.id, None)
            if uncertain and settled:
                self._looked[part.id] = self.lookups - 1  # the next lookup is the last
        now = self.clock.now()
        status = await self.store.outbox.release(
            part.id,
            self.worker,
            now=now,
            next_attempt_at=now + dt.timedelta(seconds=max(0.0, delay)),
            error=error,
            count_attempt=count,
            uncertain=uncertain,
            max_attempts=self.policy.max_attempts,
        )
        if status == FAILED:
            self.stats.failed += 1
            METRICS.parts_failed.labels(part.target.platform).inc()
            self.stats.errors.append(f"{part.target} {part.key}: {error}")
            log.error(
                "giving up on part %d/%d of %s's digest of %s after %d attempts: %s",
                part.part + 1,
                part.parts,
                part.target,
                part.digest_date,
                part.attempts + int(count),
                error,
            )
        elif status != SENDING:
            self.stats.retried += 1
            METRICS.parts_retried.labels(part.target.platform).inc()
            if announce is not None:
                attempts = (
                    f" (attempt {part.attempts + 2} of {self.policy.max_attempts})" if count else ""
                )
                log.info(
                    "part %d/%d of %s's digest of %s %s: %s; sending again in %.1fs%s",
                    part.part + 1,
                    part.parts,
                    part.target,
                    part.digest_date,
                    announce,
                    error,
                    max(0.0, delay),
                    attempts,
                )

    async def _permanent(self, part: ClaimedPart, error: ChatError) -> None:
        reason = f"delivery failed: {error}"
        now = self.clock.now()
        if await self.store.outbox.pause_target(part.target_id, reason, now):
            self.stats.paused += 1
            METRICS.channels_paused.labels(part.target.platform).inc()
            log.warning(
                "paused %s: %s; its digests wait until someone runs /papers resume there",
                part.target,
                error,
            )
        await self._retry(part, str(error), count=True, uncertain=False, delay=0.0)
