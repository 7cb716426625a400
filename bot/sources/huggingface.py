"""Hugging Face Daily Papers over HTTP: `GET {base}daily_papers?date=&limit=&p=`.

Retry policy (per page request; `retries` more tries after the first):

- retried: 429 (waits `Retry-After`, seconds or HTTP-date, capped at
  `max_retry_after`; without the header like any other transient failure), 5xx,
  timeouts, connection and protocol errors, and a body that is not valid JSON (a
  truncated body from a proxy is as transient as a 502);
- not retried: any other 4xx, a response that is valid JSON but not a list, an
  unusable base URL;
- between tries: exponential backoff with full jitter,
  `uniform(0, min(max_backoff, backoff_base * 2**n))` for the n-th retry; each retry is
  logged at INFO with its reason and wait.

`timeout` is the deadline of a whole request (connecting, headers and body: a server
dripping its answer byte by byte still times out), and a response larger than
`max_bytes` decoded is refused, not retried; both are enforced by
`bot.sources.http_client`, which every request goes through.

After the last try the caller gets one `SourceError` with a one-line message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from types import TracebackType
from typing import TYPE_CHECKING, Self

import httpx

from bot.models import Paper
from bot.sources import DEFAULT_MAX_BYTES, Sleep, SourceError
from bot.sources.hf_json import load_json, merge_papers, normalize_arxiv_id, parse_daily_papers
from bot.sources.http_client import (
    Fetched,
    Retrier,
    RetriesExhausted,
    Transient,
    count_tries,
    get,
    new_client,
    retry_after_seconds,
    untrusted,
)

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://huggingface.co/api/"
MAX_PAGES = 50


class HuggingFaceSource:
    """The day's papers from the Hugging Face daily_papers API.

    Pass `client` to share an `httpx.AsyncClient` (it is then never closed here).
    Inside `async with` the source keeps one client of its own for all fetches and
    closes it on exit (`aclose()` does the same); used without either, each
    `fetch_day` opens and closes a client of its own, so nothing is ever left open.
    """

    name = "hf"

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 20.0,
        retries: int = 4,
        page_size: int = 50,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
        backoff_base: float = 1.0,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.retries = retries
        self.page_size = page_size
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self._retrier = Retrier(
            retries, backoff_base, max_backoff, sleep=sleep, rng=rng, logger=log
        )
        self._client = client
        self._owns_client = False

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: object) -> HuggingFaceSource:
        """A source configured by `hf_api_url`, `hf_timeout`, `hf_retries`, `hf_page_size`
        and `http_max_bytes`; `kwargs` (client, sleep, ...) are passed on."""
        return cls(
            settings.hf_api_url,
            timeout=settings.hf_timeout,
            retries=settings.hf_retries,
            page_size=settings.hf_page_size,
            max_bytes=settings.http_max_bytes,
            **kwargs,  # type: ignore[arg-type]
        )

    async def __aenter__(self) -> Self:
        if self._client is None:
            self._client = new_client()
            self._owns_client = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            self._owns_client = False
            await client.aclose()

    @property
    def url(self) -> str:
        return self.base_url + "daily_papers"

    async def fetch_day(self, day: dt.date | None) -> list[Paper]:
        """All papers HF lists for `day` (None: HF's latest day), every page of it.

        Pages are requested from p=0 until one is shorter than `page_size`. A full page
        that adds no new paper (a server ignoring `p`) also ends the walk, and so does
        the `MAX_PAGES` guard.
        """
        if self._client is not None:
            return await self._fetch_all(self._client, day)
        async with new_client() as client:
            return await self._fetch_all(client, day)

    async def _fetch_all(self, client: httpx.AsyncClient, day: dt.date | None) -> list[Paper]:
        papers: list[Paper] = []
        seen: set[str] = set()
        for page in range(MAX_PAGES):
            items = await self._fetch_page(client, day, page)
            papers.extend(parse_daily_papers(items, origin=self._what(day, page), source=self.name))
            if len(items) < self.page_size:
                break
            ids = {item_id for item in items if (item_id := _item_id(item))}
            if page and not ids - seen:
                log.warning("%s repeats earlier pages; stopping there", self._what(day, page))
                break
            seen |= ids
        else:
            log.warning("stopped after %d pages of %s", MAX_PAGES, self._what(day, None))
        return merge_papers(papers)

    def _what(self, day: dt.date | None, page: int | None) -> str:
        label = day.isoformat() if day else "the latest day"
        what = f"Hugging Face daily papers for {label}"
        return f"{what} (page {page + 1})" if page else what

    async def _fetch_page(
        self, client: httpx.AsyncClient, day: dt.date | None, page: int
    ) -> list[object]:
        params: dict[str, str | int] = {"limit": self.page_size, "p": page}
        if day is not None:
            params = {"date": day.isoformat(), **params}
        what = self._what(day, page)
        try:
            return await self._retrier.run(what, lambda: self._try_once(client, params, day, what))
        except RetriesExhausted as exc:
            if exc.last.unreachable:
                raise SourceError(
                    f"could not reach Hugging Face at {self.base_url} after "
                    f"{count_tries(exc.tries)}: {exc.last.reason}"
                ) from exc
            raise

    async def _try_once(
        self,
        client: httpx.AsyncClient,
        params: dict[str, str | int],
        day: dt.date | None,
        what: str,
    ) -> list[object]:
        response = await get(
            client,
            self.url,
            what=what,
            deadline=self.timeout,
            max_bytes=self.max_bytes,
            params=params,
            headers={"Accept": "application/json"},
        )
        status = response.status
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"), self.max_retry_after)
            raise Transient("HTTP 429 (rate limited)", wait=wait)
        if status >= 500:
            raise Transient(f"HTTP {status}")
        if status >= 400:
            detail = f"HTTP {status}: {_error_detail(response)}"
            if status == 400 and day is not None:
                raise SourceError(f"Hugging Face rejected date {day.isoformat()} ({detail})")
            raise SourceError(f"Hugging Face rejected the daily papers request ({detail})")
        if not response.ok:
            raise SourceError(f"Hugging Face answered HTTP {status} for {untrusted(response.url)}")
        try:
            data = load_json(response.body)
        except (ValueError, RecursionError) as exc:
            raise Transient(f"malformed JSON ({untrusted(str(exc), 120)})") from exc
        if not isinstance(data, list):
            # Let the parser produce the shape error with its wording.
            parse_daily_papers(data, origin=f"Hugging Face response from {untrusted(response.url)}")
        return data


def _item_id(item: object) -> str | None:
    paper = item.get("paper") if isinstance(item, dict) else None
    return normalize_arxiv_id(paper.get("id")) if isinstance(paper, dict) else None


def _error_detail(response: Fetched) -> str:
    """HF's `{"error": "..."}` message, else the start of the body, else the reason;
    one line, without control characters, at most a couple of hundred characters."""
    try:
        body = load_json(response.body)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        detail = body["error"]
    elif body is None:
        detail = response.body[:4096].decode("utf-8", "replace")
    else:
        detail = ""
    return untrusted(detail) or response.reason or "no detail"
