"""A loopback fake of the Hugging Face daily_papers API, for integration tests.

    async with FakeHF({"2024-11-11": items}) as hf:
        hf.inject(Fault.rate_limited(retry_after="3"), Fault.status(503))
        source = HuggingFaceSource(hf.base_url, ...)
        ...
        assert [r.query["p"] for r in hf.requests] == [...]

`GET /api/daily_papers` takes `date` (YYYY-MM-DD; omitted: the latest loaded day),
`limit` (default 50, 1..100 like HF, else 400) and `p` (page from 0). Errors use HF's
shape `{"error": "..."}`. Injected faults are answered in order, one per request,
before any validation; once they are used up the fake answers normally.

Besides statuses and delays, a fault can stream a hostile body (tests/fakes/hostile_http.py):
`Fault.slow_drip()` (a byte at a time, forever), `Fault.gzip_bomb()`, `Fault.oversized()`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.hostile_http import Streamer, gzip_bomb, oversized, slow_drip
from tests.fakes.loopback import LoopbackServer

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    """One scripted answer. `delay` seconds pass first (a delay beyond the client's
    timeout is a timeout); then `stream`, if given, answers; else, if `status` is None,
    the normal answer follows, else `status` with `body` (bytes as is, anything else
    as JSON) and `headers`."""

    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream: Streamer | None = None

    @classmethod
    def slow_drip(cls, interval: float = 0.05) -> Fault:
        """200, then "[" and a space every `interval` seconds, never finishing."""
        return cls(stream=slow_drip(interval))

    @classmethod
    def gzip_bomb(cls, decoded: int) -> Fault:
        """A gzip-encoded JSON list of `decoded` spaces: about decoded/1000 on the wire."""
        return cls(stream=gzip_bomb(decoded))

    @classmethod
    def oversized(cls, size: int, *, declare_length: bool = True) -> Fault:
        """A valid (empty) JSON list padded with spaces to `size` bytes, streamed."""
        return cls(stream=oversized(size, declare_length=declare_length))

    @classmethod
    def rate_limited(cls, retry_after: str | int | float | None = None) -> Fault:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls(429, {"error": "Too Many Requests"}, headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status, {"error": "Internal Error"})

    @classmethod
    def error(cls, status: int, message: str) -> Fault:
        return cls(status, {"error": message})

    @classmethod
    def slow(cls, delay: float) -> Fault:
        return cls(delay=delay)

    @classmethod
    def malformed(cls) -> Fault:
        return cls(200, b'[{"paper": {"id": "2411.05288", "title": "Bal')


class FakeHF(LoopbackServer):
    def __init__(self, days: Mapping[str | dt.date, Sequence[Any]] | None = None) -> None:
        super().__init__()
        self.days: dict[str, list[Any]] = {}
        for day, items in (days or {}).items():
            self.add_day(day, items)
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._always: Fault | None = None

    # -- scripting ---------------------------------------------------------------

    def add_day(self, day: str | dt.date, items: Sequence[Any]) -> None:
        key = day.isoformat() if isinstance(day, dt.date) else day
        self.days[key] = list(items)

    def inject(self, *faults: Fault, times: int = 1) -> None:
        """Queue `faults` (in order), the whole sequence `times` times."""
        for _ in range(times):
            self._faults.extend(faults)

    def fail_always(self, fault: Fault | None) -> None:
        """Answer every request with `fault` once the queue is empty (None: stop)."""
        self._always = fault

    @property
    def daily_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/api/daily_papers"]

    # -- lifecycle ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    # -- serving -----------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(
                request.method, request.path, dict(request.query), dict(request.headers)
            )
        )
        fault = self._faults.popleft() if self._faults else self._always
        if fault is not None:
            await self.delay(fault.delay)
            if fault.stream is not None:
                return await fault.stream(request, self.closing)
            if fault.status is not None:
                return _response(fault.status, fault.body, fault.headers)
        if request.path != "/api/daily_papers":
            return _response(404, {"error": "Sorry, we can't find the page you are looking for."})
        if request.method != "GET":
            return _response(405, {"error": "Method not allowed"})
        return self._daily_papers(request.query)

    def _daily_papers(self, query: Mapping[str, str]) -> web.Response:
        day = query.get("date")
        if day is None:
            day = max(self.days) if self.days else None
        elif not _valid_date(day):
            message = f'"date" must be a valid date (YYYY-MM-DD), got {day!r}'
            return _response(400, {"error": message})
        limit = _int(query.get("limit", str(DEFAULT_LIMIT)))
        if limit is None or not 1 <= limit <= MAX_LIMIT:
            return _response(400, {"error": f'"limit" must be an integer from 1 to {MAX_LIMIT}'})
        page = _int(query.get("p", "0"))
        if page is None or page < 0:
            return _response(400, {"error": '"p" must be a non-negative integer'})
        items = self.days.get(day, []) if day else []
        return _response(200, items[page * limit : (page + 1) * limit])


def _valid_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def _response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return web.Response(
        status=status, body=data, headers=dict(headers or {}), content_type="application/json"
    )
