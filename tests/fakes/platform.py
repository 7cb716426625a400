"""A generic loopback chat platform and its adapter, for delivery tests and the benchmark.

    async with FakePlatform(latency=0.05, channel_interval=1.0, rate_limit_ratio=0.02) as fake:
        adapter = FakePlatformAdapter(fake.url)
        ...
        assert fake.duplicates() == 0

The platform behaves like the real ones where delivery cares:

- `POST /messages` `{"channel", "key", "payload"}` creates a message and answers its id.
  With `idempotent=True` (like Discord's nonce) a key seen before in the channel returns
  the first message instead of creating another; with `idempotent=False` (like Slack) it
  creates a second one, and `GET /history?channel=` lists messages with their keys, so
  the adapter's `find_sent` can look (like Slack's message metadata).
- At most one message per `channel_interval` seconds per channel: faster sends get 429
  with `Retry-After`; `rate_limit_ratio` and `error_ratio` of requests randomly get 429
  (Retry-After `retry_after`) or 500; `ambiguous_ratio` of requests store the message
  and still answer 500 (the client cannot know it went out). `latency` seconds pass
  before every answer. Channels in `gone` answer 404 `channel_not_found`.

Every created message is recorded (`messages`), so tests count duplicates and losses.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bot.chat import ChatError, CommandHandler, MessageRef
from bot.models import Digest, Reply, Target
from tests.fakes.loopback import LoopbackServer

PLATFORM = "fake"


@dataclass(frozen=True)
class Message:
    id: str
    channel: str
    key: str | None
    payload: Any


class FakePlatform(LoopbackServer):
    # aiohttp's runner defaults, as this fake has always run with.
    handler_cancellation = False
    shutdown_timeout = 60.0

    def __init__(
        self,
        *,
        latency: float = 0.0,
        channel_interval: float = 0.0,
        rate_limit_ratio: float = 0.0,
        error_ratio: float = 0.0,
        ambiguous_ratio: float = 0.0,
        retry_after: float = 1.0,
        idempotent: bool = True,
        gone: Sequence[str] = (),
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.latency = latency
        self.channel_interval = channel_interval
        self.rate_limit_ratio = rate_limit_ratio
        self.error_ratio = error_ratio
        self.ambiguous_ratio = ambiguous_ratio
        self.retry_after = retry_after
        self.idempotent = idempotent
        self.gone = set(gone)
        self.rng = random.Random(seed)
        self.messages: dict[str, list[Message]] = defaultdict(list)
        self.requests = 0
        self.answers: dict[int, int] = defaultdict(int)
        self.too_fast = 0
        self._ids = itertools.count(1)
        self._by_key: dict[tuple[str, str], Message] = {}
        self._last: dict[str, float] = {}

    @property
    def url(self) -> str:
        return self.origin

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/messages", self._post)
        app.router.add_get("/history", self._history)
        app.router.add_get("/stats", self._stats)
        return app

    # ----------------------------------------------------------------- inspection

    def count(self, channel: str) -> int:
        return len(self.messages.get(channel, ()))

    def keys(self, channel: str) -> list[str | None]:
        return [m.key for m in self.messages.get(channel, ())]

    def duplicates(self) -> int:
        """Messages beyond the first for any (channel, key)."""
        extra = 0
        for channel, messages in self.messages.items():
            keys = [m.key for m in messages]
            extra += len(keys) - len(set(keys))
            del channel
        return extra

    def total(self) -> int:
        return sum(len(m) for m in self.messages.values())

    # ----------------------------------------------------------------- handlers

    def _answer(
        self, status: int, data: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.answers[status] += 1
        return web.json_response(data, status=status, headers=headers)

    async def _post(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.json()
        if self.latency:
            await asyncio.sleep(self.latency)
        channel = str(body.get("channel") or "")
        key = body.get("key")
        if channel in self.gone:
            return self._answer(404, {"ok": False, "error": "channel_not_found"})
        roll = self.rng.random()
        if roll < self.rate_limit_ratio:
            return self._rate_limited(self.retry_after)
        if roll < self.rate_limit_ratio + self.error_ratio:
            return self._answer(500, {"ok": False, "error": "internal_error"})
        if key is not None and self.idempotent and (channel, key) in self._by_key:
            return self._answer(200, {"ok": True, "id": self._by_key[(channel, key)].id})
        now = time.monotonic()
        last = self._last.get(channel)
        if self.channel_interval and last is not None and now - last < self.channel_interval:
            self.too_fast += 1
            return self._rate_limited(self.channel_interval - (now - last))
        self._last[channel] = now
        message = Message(str(next(self._ids)), channel, key, body.get("payload"))
        self.messages[channel].append(message)
        if key is not None:
            self._by_key.setdefault((channel, key), message)
        if roll < self.rate_limit_ratio + self.error_ratio + self.ambiguous_ratio:
            return self._answer(500, {"ok": False, "error": "internal_error"})
        return self._answer(200, {"ok": True, "id": message.id})

    def _rate_limited(self, seconds: float) -> web.Response:
        return self._answer(
            429,
            {"ok": False, "error": "ratelimited", "retry_after": seconds},
            {"Retry-After": f"{seconds:.3f}"},
        )

    async def _history(self, request: web.Request) -> web.Response:
        channel = request.query.get("channel", "")
        if channel in self.gone:
            return self._answer(404, {"ok": False, "error": "channel_not_found"})
        messages = [{"id": m.id, "key": m.key} for m in self.messages.get(channel, ())]
        return self._answer(200, {"ok": True, "messages": messages[-200:]})

    async def _stats(self, request: web.Request) -> web.Response:
        """Counts and every channel's keys, for a benchmark running the fake elsewhere."""
        return web.json_response(
            {
                "requests": self.requests,
                "answers": {str(k): v for k, v in self.answers.items()},
                "total": self.total(),
                "duplicates": self.duplicates(),
                "too_fast": self.too_fast,
                "keys": {c: [m.key for m in ms] for c, ms in self.messages.items()},
            }
        )


class FakePlatformAdapter:
    """A ChatAdapter for `FakePlatform`: a digest becomes one message per `per_part`
    entries (plus the header in the first), JSON payloads, errors mapped to ChatError."""

    platform = PLATFORM
    finds_sent = True

    def __init__(
        self,
        url: str,
        *,
        platform: str = PLATFORM,
        per_part: int = 5,
        find_by_history: bool | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.platform = platform
        self.per_part = per_part
        self.find_by_history = find_by_history
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self.posts = 0
        self.lookups = 0

    def render(self, item: Digest | Reply) -> list[dict[str, Any]]:
        if isinstance(item, Reply):
            return [{"text": item.text}]
        ids = [e.paper.id for e in item.entries]
        chunks = [ids[i : i + self.per_part] for i in range(0, len(ids), self.per_part)] or [[]]
        parts: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks):
            part: dict[str, Any] = {"papers": chunk}
            if index == 0:
                part["header"] = item.header
            if index == len(chunks) - 1 and item.omitted:
                part["more"] = item.omitted
            parts.append(part)
        return parts

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(limit=0)
            )
        return self._session

    async def start(self, on_command: CommandHandler) -> None:
        return None

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, target: Target, part: Any, *, key: str | None = None) -> MessageRef:
        self.posts += 1
        session = await self._client()
        body = {"channel": target.channel, "key": key, "payload": part}
        try:
            async with session.post(f"{self.url}/messages", json=body) as response:
                data = await response.json(content_type=None)
                status = response.status
                retry = response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError) as error:
            raise ChatError(f"fake platform unreachable: {type(error).__name__}") from None
        if status == 200:
            return MessageRef(target, str(data["id"]))
        if status == 429:
            raise ChatError("rate limited", retry_after=float(retry or data["retry_after"]))
        if status == 404:
            raise ChatError(f"fake platform: {data.get('error')}", permanent=True)
        raise ChatError(f"fake platform: HTTP {status}")

    async def find_sent(self, target: Target, key: str) -> MessageRef | None:
        if not self.find_by_history:
            return None
        self.lookups += 1
        session = await self._client()
        try:
            async with session.get(
                f"{self.url}/history", params={"channel": target.channel}
            ) as response:
                data = await response.json(content_type=None)
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            raise ChatError(f"fake platform unreachable: {type(error).__name__}") from None
        if status == 404:
            raise ChatError("fake platform: channel_not_found", permanent=True)
        if status != 200:
            raise ChatError(f"fake platform: HTTP {status}")
        for message in data["messages"]:
            if message["key"] == key:
                return MessageRef(target, str(message["id"]))
        return None


@dataclass
class Sent:
    target: Target
    key: str | None
    payload: Any
    at: Any = None  # the test clock's time of the send, when a clock is given


class RecordingAdapter(FakePlatformAdapter):
    """In memory, no HTTP: records every message and fails as scripted.

    `fail_next(channel, *errors)` makes the next posts to `channel` raise those errors
    in order. With `idempotent=True` a key posted before returns the first message (like
    Discord's nonce); `find_by_key` makes `find_sent` look the key up (like Slack's
    history search). `delay` seconds (real) pass inside every post.
    """

    def __init__(
        self,
        *,
        platform: str = PLATFORM,
        per_part: int = 5,
        idempotent: bool = False,
        find_by_key: bool = True,
        clock: Any = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__("http://unused", platform=platform, per_part=per_part)
        self.idempotent = idempotent
        self.find_by_key = find_by_key
        self.clock = clock
        self.delay = delay
        self.sent: list[Sent] = []
        self.scripts: dict[str, list[BaseException]] = defaultdict(list)
        self.in_flight = 0
        self.max_in_flight = 0
        self._ids = itertools.count(1)

    def fail_next(self, channel: str, *errors: BaseException) -> None:
        self.scripts[channel].extend(errors)

    def to(self, channel: str) -> list[Sent]:
        return [s for s in self.sent if s.target.channel == channel]

    def duplicates(self) -> int:
        keys = [(s.target, s.key) for s in self.sent]
        return len(keys) - len(set(keys))

    async def post(self, target: Target, part: Any, *, key: str | None = None) -> MessageRef:
        self.posts += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.scripts.get(target.channel):
                raise self.scripts[target.channel].pop(0)
            if key is not None and self.idempotent:
                for index, sent in enumerate(self.sent):
                    if sent.target == target and sent.key == key:
                        return MessageRef(target, f"m{index + 1}")
            self.sent.append(Sent(target, key, part, self.clock.now() if self.clock else None))
            return MessageRef(target, f"m{len(self.sent)}")
        finally:
            self.in_flight -= 1

    async def find_sent(self, target: Target, key: str) -> MessageRef | None:
        self.lookups += 1
        if not self.find_by_key:
            return None
        for index, sent in enumerate(self.sent):
            if sent.target == target and sent.key == key:
                return MessageRef(target, f"m{index + 1}")
        return None

    async def stop(self) -> None:
        return None
