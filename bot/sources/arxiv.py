"""arXiv as a paper source: the daily listing of the configured categories.

- The latest day (`fetch_day(None)`): the RSS feed of the categories joined with "+"
  (`{rss}cs.CL+cs.LG`), which lists one announcement. New papers and cross-lists are
  kept; replacements (new versions of older papers) are not new papers and are skipped.
  arXiv announces nothing on Saturdays, Sundays and holidays: the feed is then empty
  (it says so with `<skipDays>`), which is a day without papers, not an error.
- A given day (`fetch_day(date)`, backfills): the API (`{api}query`), the papers of the
  categories *submitted* that day (00:00-23:59 GMT), page by page (`start`,
  `max_results`), oldest first. An API error is an Atom feed with one entry whose id
  points at `/api/errors`; its summary becomes the message.

Papers get `source="arxiv"`, `on_hf=False` and no votes. Their id is the arXiv id without
version, the archive's key: a paper Hugging Face also lists is one row, merged by the
store (HF votes, ai_summary and GitHub link enrich it; see `PaperRepo.upsert`).

Politeness: every request (retries too) goes through one `Pacer`, one at a time and
`interval` (3 s) apart, as arXiv's terms of use ask. 429 and 5xx (arXiv answers 503
when busy, often with Retry-After), timeouts, connection errors and an unreadable body
are retried `retries` times with exponential backoff and jitter, honouring Retry-After;
each retry is logged at INFO with its reason and wait. `timeout` is the deadline of a
whole request, body included, and a response larger than `max_bytes` decoded is refused
(both enforced by `bot.sources.http_client`).

The XML is parsed with the standard library; a document type declaration (which arXiv
never sends) is refused before parsing, so no entity can expand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from bot.models import Paper
from bot.sources import DEFAULT_MAX_BYTES, Sleep, SourceError, clean_text
from bot.sources.hf_json import merge_papers, normalize_arxiv_id, parse_datetime
from bot.sources.http_client import (
    Retrier,
    Transient,
    get,
    new_client,
    retry_after_seconds,
    untrusted,
)
from bot.sources.pacing import Clock, Pacer

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://export.arxiv.org/api/"
DEFAULT_RSS_URL = "https://rss.arxiv.org/rss/"
#: arXiv serves at most 30000 results per query.
MAX_RESULTS = 30_000
KEEP_ANNOUNCE = frozenset({"new", "cross"})

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"


class ArxivSource:
    """The daily arXiv listing of some categories (see the module docstring)."""

    name = "arxiv"

    def __init__(
        self,
        categories: Sequence[str],
        *,
        api_url: str = DEFAULT_API_URL,
        rss_url: str = DEFAULT_RSS_URL,
        interval: float = 3.0,
        timeout: float = 30.0,
        retries: int = 4,
        page_size: int = 200,
        client: httpx.AsyncClient | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        backoff_base: float = 3.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 300.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        if not categories:
            raise ValueError("give at least one arXiv category")
        if not 1 <= page_size <= 2000:
            raise ValueError("page_size must be between 1 and 2000")
        self.categories = tuple(categories)
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.rss_url = rss_url if rss_url.endswith("/") else rss_url + "/"
        self.timeout = timeout
        self.retries = retries
        self.page_size = page_size
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self.pacer = Pacer(interval, clock=clock, sleep=sleep)
        self._retrier = Retrier(
            retries, backoff_base, max_backoff, sleep=sleep, rng=rng, logger=log
        )
        self._client = client
        self.day: dt.date | None = None  # the listing day of the last fetch

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: object) -> ArxivSource:
        return cls(
            settings.arxiv_categories,
            api_url=settings.arxiv_api_url,
            rss_url=settings.arxiv_rss_url,
            interval=settings.arxiv_interval,
            timeout=settings.arxiv_timeout,
            retries=settings.arxiv_retries,
            page_size=settings.arxiv_page_size,
            max_bytes=settings.http_max_bytes,
            **kwargs,  # type: ignore[arg-type]
        )

    def __repr__(self) -> str:
        return f"ArxivSource({'+'.join(self.categories)})"

    async def fetch_day(self, day: dt.date | None) -> list[Paper]:
        """The papers listed for `day` (None: the latest announcement, via RSS)."""
        if self._client is not None:
            return await self._fetch(self._client, day)
        async with new_client() as client:
            return await self._fetch(client, day)

    async def _fetch(self, client: httpx.AsyncClient, day: dt.date | None) -> list[Paper]:
        if day is None:
            papers, self.day = await self._latest(client)
        else:
            papers, self.day = await self._submitted(client, day), day
        return merge_papers(papers)

    # ------------------------------------------------------------------ RSS

    async def _latest(self, client: httpx.AsyncClient) -> tuple[list[Paper], dt.date | None]:
        url = self.rss_url + "+".join(quote(c, safe=".-") for c in self.categories)
        what = f"the arXiv RSS feed of {'+'.join(self.categories)}"
        root = await self._get_xml(client, url, {}, what)
        channel = root.find("channel")
        if root.tag != "rss" or channel is None:
            raise SourceError(f"{what} at {url} is not an RSS document")
        announced = _rss_date(channel.findtext("pubDate"))
        papers: list[Paper] = []
        for item in channel.iter("item"):
            kind = (item.findtext(f"{ARXIV}announce_type") or "new").strip().lower()
            if kind not in KEEP_ANNOUNCE:
                continue
            paper = _rss_paper(item, announced)
            if paper is not None:
                papers.append(paper)
        if not papers:
            log.info("the arXiv feed for %s lists no new papers (weekend or holiday?)", url)
        return papers, announced

    # ------------------------------------------------------------------ API

    def _search_query(self, day: dt.date) -> str:
        cats = " OR ".join(f"cat:{c}" for c in self.categories)
        stamp = day.strftime("%Y%m%d")
        return f"({cats}) AND submittedDate:[{stamp}0000 TO {stamp}2359]"

    async def _submitted(self, client: httpx.AsyncClient, day: dt.date) -> list[Paper]:
        papers: list[Paper] = []
        start = 0
        what = f"the arXiv listing of {'+'.join(self.categories)} for {day.isoformat()}"
        while start < MAX_RESULTS:
            params = {
                "search_query": self._search_query(day),
                "start": str(start),
                "max_results": str(self.page_size),
                "sortBy": "submittedDate",
                "sortOrder": "ascending",
            }
            root = await self._get_xml(client, self.api_url + "query", params, what)
            if root.tag != f"{ATOM}feed":
                raise SourceError(f"{what} is not an Atom feed")
            entries = root.findall(f"{ATOM}entry")
            _raise_api_error(entries, what)
            for entry in entries:
                paper = _atom_paper(entry, day)
                if paper is not None:
                    papers.append(paper)
            total = _int(root.findtext(f"{OPENSEARCH}totalResults"))
            start += len(entries)
            if not entries or total is None or start >= total:
                break
        return papers

    # ------------------------------------------------------------------ HTTP

    async def _get_xml(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str], what: str
    ) -> ET.Element:
        async def attempt() -> ET.Element:
            async with self.pacer.turn():
                body = await self._get(client, url, params, what)
            return _parse_xml(body)

        return await self._retrier.run(what, attempt)

    async def _get(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str], what: str
    ) -> bytes:
        response = await get(
            client, url, what=what, deadline=self.timeout, max_bytes=self.max_bytes, params=params
        )
        status = response.status
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"), self.max_retry_after)
            raise Transient(f"HTTP {status}", wait=wait)
        if status >= 400:
            detail = _error_summary(response.body) or response.reason or "no detail"
            raise SourceError(f"arXiv rejected the request for {what} (HTTP {status}: {detail})")
        if not response.ok:
            raise SourceError(f"arXiv answered HTTP {status} for {what}")
        return response.body


# --------------------------------------------------------------------------- parsing


def _parse_xml(body: bytes) -> ET.Element:
    head = body[:4096].lstrip()
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in body.upper():
        raise SourceError("arXiv sent XML with a document type declaration; refusing it")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:  # a truncated body is as transient as a 503
        raise Transient(f"malformed XML ({untrusted(str(exc), 120)})") from exc


def _int(text: str | None) -> int | None:
    """A non-negative count written in ASCII digits (at most 18 of them), else None."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _rss_date(text: str | None) -> dt.date | None:
    """The calendar day of an RFC 822 date as written (arXiv's announcement day)."""
    if not text or not text.strip():
        return None
    try:
        return email.utils.parsedate_to_datetime(text.strip()).date()
    except (TypeError, ValueError, IndexError):
        return None


def _rss_datetime(text: str | None) -> dt.datetime | None:
    if not text or not text.strip():
        return None
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _abstract_of(description: str) -> str:
    """The abstract in an RSS description: "arXiv:ID Announce Type: new Abstract: ..."."""
    _, marker, rest = description.partition("Abstract:")
    return clean_text(rest if marker else description)


def _authors(text: str | None) -> tuple[str, ...]:
    names = (clean_text(name) for name in (text or "").split(","))
    return tuple(name for name in names if name)


def _rss_paper(item: ET.Element, announced: dt.date | None) -> Paper | None:
    paper_id = None
    for raw in (item.findtext("guid"), item.findtext("link"), item.findtext("description")):
        text = (raw or "").strip()
        if text.startswith("oai:arXiv.org:"):
            text = text[len("oai:arXiv.org:") :]
        paper_id = normalize_arxiv_id(text.split()[0] if text else "")
        if paper_id:
            break
    title = clean_text(item.findtext("title"))
    if paper_id is None or not title:
        return None
    when = _rss_datetime(item.findtext("pubDate"))
    return Paper(
        id=paper_id,
        title=title,
        abstract=_abstract_of(item.findtext("description") or ""),
        authors=_authors(item.findtext(f"{DC}creator")),
        published_at=when,
        daily_date=announced or _rss_date(item.findtext("pubDate")),
        upvotes=0,
        on_hf=False,
        source="arxiv",
    )


def _raise_api_error(entries: list[ET.Element], what: str) -> None:
    if len(entries) == 1 and "/api/errors" in (entries[0].findtext(f"{ATOM}id") or ""):
        message = untrusted(entries[0].findtext(f"{ATOM}summary")) or "unknown error"
        raise SourceError(f"arXiv rejected the request for {what}: {message}")


def _error_summary(body: bytes) -> str:
    """The summary of an Atom error feed, if the body is one."""
    try:
        root = _parse_xml(body)
    except (SourceError, Transient):
        return ""
    for entry in root.findall(f"{ATOM}entry"):
        return untrusted(entry.findtext(f"{ATOM}summary"))
    return ""


def _atom_paper(entry: ET.Element, day: dt.date) -> Paper | None:
    raw_id = (entry.findtext(f"{ATOM}id") or "").strip()
    paper_id = normalize_arxiv_id(raw_id)
    title = clean_text(entry.findtext(f"{ATOM}title"))
    if paper_id is None or not title:
        return None
    authors = tuple(
        name
        for author in entry.findall(f"{ATOM}author")
        if (name := clean_text(author.findtext(f"{ATOM}name")))
    )
    return Paper(
        id=paper_id,
        title=title,
        abstract=clean_text(entry.findtext(f"{ATOM}summary")),
        authors=authors,
        published_at=parse_datetime(entry.findtext(f"{ATOM}published")),
        daily_date=day,
        upvotes=0,
        on_hf=False,
        source="arxiv",
    )
