"""The one HTTP helper of the sources: a deadline, a size cap and retries for every GET.

- **Deadline.** `get()` gives the whole request `deadline` seconds: connecting, every
  redirect, the headers and the entire body. httpx's own timeouts apply to each network
  operation alone, so a server that drips a byte every second would never trip them; the
  request therefore runs inside `asyncio.timeout(deadline)`.
- **Size cap.** The body is streamed and decoded here, never more than `max_bytes`
  decoded bytes: one more and the response is refused (`ResponseTooLarge`, not retried).
  Only `gzip` and `deflate` are asked for (`Accept-Encoding`) and understood; zlib runs
  with an output limit, so a gzip bomb inflates no further than the cap (plus a chunk).
  A declared `Content-Length` past the cap is refused before any byte is read. An error
  response (not 2xx) is read only as far as `ERROR_BODY_BYTES`, which is all its
  message needs.
- **Retries.** `Retrier.run(what, attempt)` calls `attempt` until it returns. A
  `Transient` failure is tried again, `retries` times at most, after its `wait` (a
  server's Retry-After) or else full-jitter exponential backoff; each retry is logged
  at INFO with its reason and wait. The last failure raises `RetriesExhausted`.
- **Untrusted text.** Server text that ends up in a message (an error body, a reason
  phrase, a transport error) goes through `untrusted()` (`bot.sources.clean_text`):
  one line, no control or bidirectional-formatting characters, at most `DETAIL_CHARS`
  characters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import errno
import logging
import random
import socket
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx

from bot import __version__
from bot.sources import Sleep, SourceError, clean_text

log = logging.getLogger(__name__)

USER_AGENT = f"paperboy/{__version__}"
#: How much of an error response is read (its message is in the first few hundred bytes).
ERROR_BODY_BYTES = 64 * 1024
#: How much untrusted server text an error message quotes.
DETAIL_CHARS = 200
ACCEPT_ENCODING = "gzip, deflate"
MAX_REDIRECTS = 10

T = TypeVar("T")


def untrusted(text: object, limit: int = DETAIL_CHARS) -> str:
    """Server-controlled text for a one-line message: `clean_text` cut at `limit`."""
    return clean_text(text, limit)


# --------------------------------------------------------------------------- failures


class Transient(Exception):
    """A failed try worth another. `reason` is what the final error says; `cause` (an
    exception class or a status) is logged with it; `wait` is the server's Retry-After."""

    def __init__(
        self,
        reason: str,
        *,
        wait: float | None = None,
        unreachable: bool = False,
        cause: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.unreachable = unreachable
        self.cause = cause


class ResponseTooLarge(SourceError):
    """The body is larger than the size cap (`PAPERBOY_HTTP_MAX_BYTES`)."""


class RetriesExhausted(SourceError):
    """Every try failed; `last` is the last failure, `tries` how many were made."""

    def __init__(self, what: str, last: Transient, tries: int) -> None:
        self.what = what
        self.last = last
        self.tries = tries
        super().__init__(f"{what} failed after {count_tries(tries)}: {last.reason}")


def count_tries(tries: int) -> str:
    return f"{tries} {'try' if tries == 1 else 'tries'}"


# --------------------------------------------------------------------------- one GET


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response read within the limits. `body` is decoded (and cut at
    `ERROR_BODY_BYTES` when the status is not 2xx)."""

    url: str
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def new_client() -> httpx.AsyncClient:
    """A client for the sources, sending paperboy's User-Agent."""
    return httpx.AsyncClient(headers={"User-Agent": USER_AGENT})


async def get(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    deadline: float,
    max_bytes: int,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET `url` within `deadline` seconds in all, reading at most `max_bytes` decoded.

    Raises `Transient` for a timeout, a transport or protocol error and a corrupt
    compressed body; `ResponseTooLarge` past the cap; `SourceError` for a URL that
    cannot be requested at all and an unsupported Content-Encoding.
    """
    sent = {"User-Agent": USER_AGENT, **(headers or {}), "Accept-Encoding": ACCEPT_ENCODING}
    try:
        async with asyncio.timeout(deadline):
            request = client.build_request(
                "GET", url, params=params, headers=sent, timeout=httpx.Timeout(deadline)
            )
            for _ in range(MAX_REDIRECTS + 1):
                # Redirects are followed here: httpx would read a redirect's whole body.
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    if response.next_request is not None:
                        request = response.next_request
                        continue
                    body = await _read_body(response, max_bytes, what=what, ok=response.is_success)
                    return Fetched(
                        url=str(response.url),
                        status=response.status_code,
                        reason=untrusted(response.reason_phrase, 80),
                        headers=response.headers,
                        body=body,
                    )
                finally:
                    await response.aclose()
            raise SourceError(f"{what}: more than {MAX_REDIRECTS} redirects")
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise Transient(f"timed out after {deadline:g} s", cause=type(exc).__name__) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise Transient(
            network_reason(exc),
            unreachable=isinstance(exc, httpx.ConnectError),
            cause=type(exc).__name__,
        ) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # bad URL, protocol, proxy, redirects
        reason = untrusted(str(exc)) or type(exc).__name__
        raise SourceError(f"cannot request {what} at {untrusted(url)}: {reason}") from exc


async def _read_body(response: httpx.Response, max_bytes: int, *, what: str, ok: bool) -> bytes:
    limit = max_bytes if ok else min(max_bytes, ERROR_BODY_BYTES)
    if response.is_stream_consumed:  # a custom transport read (and httpx decoded) it already
        if ok and len(response.content) > limit:
            raise _too_large(what, max_bytes)
        return response.content[:limit]
    declared = response.headers.get("Content-Length", "").strip()
    if ok and declared.isdigit() and len(declared) < 30 and int(declared) > max_bytes:
        raise _too_large(what, max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        decoder = _Decoder(response.headers.get("Content-Encoding", ""), what=what)
        async for raw in response.aiter_raw():
            piece = decoder.decode(raw, limit - size)
            if size + len(piece) > limit:
                if ok:
                    raise _too_large(what, max_bytes)
                chunks.append(piece[: limit - size])
                break
            chunks.append(piece)
            size += len(piece)
    except (Transient, SourceError):
        if ok:
            raise
        # An error response says what it can: its status stands even if its body is unreadable.
    return b"".join(chunks)


def _too_large(what: str, max_bytes: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"{what}: the response is larger than {max_bytes:,} bytes "
        "(PAPERBOY_HTTP_MAX_BYTES); refusing it"
    )


class _Decoder:
    """Undoes one Content-Encoding (none, gzip or deflate) with bounded output."""

    def __init__(self, encoding: str, *, what: str) -> None:
        name = encoding.strip().lower()
        self._raw_fallback = False
        self._z: zlib._Decompress | None
        if name in ("", "identity"):
            self._z = None
        elif name in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif name == "deflate":
            # "deflate" is meant to be zlib-wrapped; some servers send it raw.
            self._z = zlib.decompressobj()
            self._raw_fallback = True
        else:
            raise SourceError(
                f"{what}: the response has an unsupported Content-Encoding "
                f"({untrusted(encoding, 40)!r}); only gzip and deflate are accepted"
            )

    def decode(self, data: bytes, room: int) -> bytes:
        """The decoded bytes of `data`, at most `room + 1` of them (more means too large)."""
        if self._z is None:
            return data
        try:
            out = self._z.decompress(data, room + 1)
            while self._z.unconsumed_tail and len(out) <= room:
                out += self._z.decompress(self._z.unconsumed_tail, room + 1 - len(out))
        except zlib.error as exc:
            if not self._raw_fallback:
                raise Transient("undecodable compressed body", cause="zlib.error") from exc
            self._raw_fallback = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.decode(data, room)
        self._raw_fallback = False
        return out


def network_reason(exc: BaseException) -> str:
    """A short reason for a transport error, from the OS error underneath if any."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == (
            errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        cause = cause.__cause__ or cause.__context__
    return untrusted(str(exc)) or type(exc).__name__


# --------------------------------------------------------------------------- retries


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
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), cap)


@dataclass
class Retrier:
    """Runs one request with retries (see the module docstring)."""

    retries: int
    backoff_base: float
    max_backoff: float
    sleep: Sleep = asyncio.sleep
    rng: random.Random | None = None
    logger: logging.Logger = log

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must not be negative")
        self._rng = self.rng or random.Random()

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry + 1` when the server did not say."""
        return backoff_delay(self._rng, retry, self.backoff_base, self.max_backoff)

    async def run(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        tries = self.retries + 1
        for number in range(1, tries + 1):
            try:
                return await attempt()
            except Transient as exc:
                if number == tries:
                    raise RetriesExhausted(what, exc, tries) from exc
                delay = exc.wait if exc.wait is not None else self.backoff(number - 1)
                because = f" ({exc.cause})" if exc.cause and exc.cause not in exc.reason else ""
                self.logger.info(
                    "%s: %s%s; retry %d of %d in %.1f s",
                    what,
                    exc.reason,
                    because,
                    number,
                    self.retries,
                    delay,
                )
                await self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
