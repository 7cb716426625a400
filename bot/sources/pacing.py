"""Politeness towards a remote API: requests one at a time, a minimum gap between them.

arXiv's terms of use ask for "no more than one request every three seconds, and ... a
single connection at a time". A `Pacer` shared by every request to such a service
(retries included) enforces both. Time is injectable: tests pass a fake clock whose
`sleep` advances it, and check the gaps without waiting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


class Pacer:
    """At most one request in flight, and starts at least `interval` seconds apart."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if interval < 0:
            raise ValueError("interval must not be negative")
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._last: float | None = None
        self.starts: list[float] = []  # when each request started (by `clock`)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this request's turn; the next one waits until it is done, then more."""
        async with self._lock:
            if self._last is not None:
                wait = self._last + self.interval - self._clock()
                if wait > 0:
                    await self._sleep(wait)
            self._last = self._clock()
            self.starts.append(self._last)
            try:
                yield
            finally:
                # The gap counts from the end of a slow request too: never two back to back.
                self._last = max(self._last, self._clock())


def backoff_delay(rng: random.Random, retry: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**retry))."""
    ceiling = min(cap, base * 2.0 ** min(retry, 62))
    return rng.uniform(0.0, max(ceiling, 0.0))


def retry_after_seconds(value: str | None, cap: float) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), capped.

    None when the header is absent or unreadable.
    """
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)
