"""Politeness towards a remote API: requests one at a time, a minimum gap between them.

arXiv's terms of use ask for "no more than one request every three seconds, and ... a
single connection at a time". A `Pacer` shared by every request to such a service
(retries included) enforces both. Time is injectable: tests pass a fake clock whose
`sleep` advances it, and check the gaps without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.sources import Sleep

Clock = Callable[[], float]


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
