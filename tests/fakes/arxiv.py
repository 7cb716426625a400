"""A loopback fake of arXiv's API (Atom) and RSS feeds, built from arXiv's format docs.

    async with FakeArxiv() as arxiv:
        arxiv.add(ArxivEntry("2411.05288", "Title", "Abstract", ["A. Author"],
                             submitted=dt.datetime(2024, 11, 8, 15, tzinfo=dt.UTC),
                             categories=["cs.CL"]))
        arxiv.announce(dt.date(2024, 11, 11), ["2411.05288"])      # what the RSS lists
        arxiv.inject(Fault.unavailable(retry_after="5"))             # the next request: 503
        source = ArxivSource(["cs.CL"], api_url=arxiv.api_url, rss_url=arxiv.rss_url, ...)

- `GET /api/query?search_query=&start=&max_results=&sortBy=&sortOrder=`: understands
  `cat:X` terms joined by OR and `submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]` (GMT),
  ANDed; pages with `start`/`max_results`; sorts by submission date. As documented, a
  bad `start` or `max_results` (not an integer, negative, or more than 30000 results)
  is HTTP 400 with an Atom feed whose single entry is the error (id `.../api/errors#...`).
  Titles and abstracts come back wrapped over lines with runs of spaces, as arXiv does.
- `GET /rss/CAT+CAT`: an RSS 2.0 feed of the announcement set with `announce`, limited
  to the requested categories: `arxiv:announce_type` new / cross / replace /
  replace-cross, `dc:creator` a comma-separated author list, the description
  "arXiv:ID Announce Type: T Abstract: ...". On a Saturday or Sunday (or a day marked
  as a holiday) the channel has no items, only its `<skipDays>`.

Injected faults are answered in order, one per request, before anything else. Besides
statuses and delays, a fault can stream a hostile body (tests/fakes/hostile_http.py):
`Fault.slow_drip()`, `Fault.gzip_bomb()`, `Fault.oversized()`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import socket
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakes.hostile_http import Streamer, gzip_bomb, oversized, slow_drip

ATOM_NS = "http://www.w3.org/2005/Atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
ARXIV_NS = "http://arxiv.org/schemas/atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
MAX_RESULTS = 30_000
EASTERN = ZoneInfo("America/New_York")

_XML = "application/rss+xml"
_XML_START = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
_XML_END = b"</channel></rss>"

_CATEGORY = re.compile(r"cat:([A-Za-z.-]+)")
_DATES = re.compile(r"submittedDate:\[(\d{12}) TO (\d{12})\]")


@dataclass
class ArxivEntry:
    """One arXiv paper as the fake serves it; `submitted` is v1's submission time."""

    id: str
    title: str
    summary: str
    authors: list[str]
    submitted: dt.datetime
    categories: list[str]
    version: int = 1
    comment: str | None = None
    announce_type: str = "new"


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Fault:
    status: int | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream: Streamer | None = None

    @classmethod
    def slow_drip(cls, interval: float = 0.05) -> Fault:
        """200, then the start of an RSS document and a space every `interval` s, forever."""
        return cls(stream=slow_drip(interval, first=_XML_START, content_type=_XML))

    @classmethod
    def gzip_bomb(cls, decoded: int) -> Fault:
        """A gzip-encoded RSS document padded with `decoded` spaces."""
        return cls(stream=gzip_bomb(decoded, prefix=_XML_START, suffix=_XML_END,
                                    content_type=_XML))  # fmt: skip

    @classmethod
    def oversized(cls, size: int, *, declare_length: bool = True) -> Fault:
        """An RSS document padded with spaces to `size` bytes, streamed."""
        return cls(stream=oversized(size, prefix=_XML_START, suffix=_XML_END,
                                    declare_length=declare_length, content_type=_XML))  # fmt: skip

    @classmethod
    def unavailable(cls, retry_after: str | None = None) -> Fault:
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return cls(503, b"<html><body>Service Unavailable</body></html>", headers)

    @classmethod
    def status_code(cls, status: int, body: bytes = b"") -> Fault:
        return cls(status, body)

    @classmethod
    def truncated(cls) -> Fault:
        return cls(200, b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entr')

    @classmethod
    def slow(cls, delay: float) -> Fault:
        return cls(delay=delay)


class FakeArxiv:
    def __init__(self, entries: Iterable[ArxivEntry] = ()) -> None:
        self.entries: dict[str, ArxivEntry] = {}
        for entry in entries:
            self.add(entry)
        self.announcement: dt.date | None = None
        self.announced: list[str] = []
        self.holidays: set[dt.date] = set()
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- scripting ---------------------------------------------------------------

    def add(self, *entries: ArxivEntry) -> None:
        for entry in entries:
            self.entries[entry.id] = entry

    def announce(self, day: dt.date, ids: Sequence[str]) -> None:
        """What the RSS feed lists: the announcement of `day` (empty on weekends)."""
        self.announcement = day
        self.announced = list(ids)

    def inject(self, *faults: Fault, times: int = 1) -> None:
        for _ in range(times):
            self._faults.extend(faults)

    @property
    def api_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/api/query"]

    # -- lifecycle ---------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeArxiv is not started")
        return self._port

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def rss_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rss/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            self._port = sock.getsockname()[1]
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            await self.close()
            raise

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- serving -----------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(
                request.path, dict(request.query), dict(request.headers), time.monotonic()
            )
        )
        if self._faults:
            fault = self._faults.popleft()
            if fault.delay > 0:
                try:
                    await asyncio.wait_for(self._closing.wait(), fault.delay)
                except TimeoutError:
                    pass
            if fault.stream is not None:
                return await fault.stream(request, self._closing)
            if fault.status is not None:
                return web.Response(
                    status=fault.status, body=fault.body, headers=dict(fault.headers)
                )
        if request.method != "GET":
            return web.Response(status=405)
        if request.path == "/api/query":
            return self._query(request.query)
        if request.path.startswith("/rss/"):
            return self._rss(request.path[len("/rss/") :])
        return web.Response(status=404, text="Not Found")

    # -- API ---------------------------------------------------------------------

    def _query(self, query: Mapping[str, str]) -> web.Response:
        start_text = query.get("start", "0")
        max_text = query.get("max_results", "10")
        for name, text in (("start", start_text), ("max_results", max_text)):
            if not re.fullmatch(r"-?\d+", text):
                return _atom_error(f"{name} must be an integer", query)
            if int(text) < 0:
                return _atom_error(f"{name} must be >= 0", query)
        start, size = int(start_text), int(max_text)
        if size > MAX_RESULTS:
            return _atom_error(f"max_results must be <= {MAX_RESULTS}", query)
        search = query.get("search_query", "")
        cats = set(_CATEGORY.findall(search))
        dates = _DATES.search(search)
        matches = [e for e in self.entries.values() if not cats or cats & set(e.categories)]
        if dates:
            low = dt.datetime.strptime(dates.group(1), "%Y%m%d%H%M").replace(tzinfo=dt.UTC)
            high = dt.datetime.strptime(dates.group(2), "%Y%m%d%H%M").replace(tzinfo=dt.UTC)
            high += dt.timedelta(seconds=59)
            matches = [e for e in matches if low <= e.submitted <= high]
        matches.sort(
            key=lambda e: (e.submitted, e.id), reverse=query.get("sortOrder") == "descending"
        )
        page = matches[start : start + size]
        return _xml(_atom_feed(search, start, len(matches), page), "application/atom+xml")

    # -- RSS ---------------------------------------------------------------------

    def _rss(self, spec: str) -> web.Response:
        cats = {c for c in spec.split("+") if c}
        day = self.announcement
        listed: list[ArxivEntry] = []
        if day is not None and day.weekday() < 5 and day not in self.holidays:
            listed = [
                self.entries[i]
                for i in self.announced
                if i in self.entries and cats & set(self.entries[i].categories)
            ]
        return _xml(_rss_feed(spec, day, listed), "application/rss+xml")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _wrapped(text: str) -> str:
    """Text as arXiv's API returns it: broken over lines, with indentation."""
    words = text.split(" ")
    lines = [" ".join(words[i : i + 9]) for i in range(0, len(words), 9)]
    return "\n  ".join(lines)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _atom_feed(search: str, start: int, total: int, entries: list[ArxivEntry]) -> ET.Element:
    ET.register_namespace("", ATOM_NS)
    ET.register_namespace("opensearch", OPENSEARCH_NS)
    ET.register_namespace("arxiv", ARXIV_NS)
    a = f"{{{ATOM_NS}}}"
    feed = ET.Element(f"{a}feed")
    _sub(feed, f"{a}link", href="http://arxiv.org/api/query", rel="self",
         type="application/atom+xml")  # fmt: skip
    _sub(feed, f"{a}title", f"ArXiv Query: search_query={search}&id_list=&start={start}")
    _sub(feed, f"{a}id", "http://arxiv.org/api/fake")
    _sub(feed, f"{a}updated", "2024-11-11T00:00:00-05:00")
    _sub(feed, f"{{{OPENSEARCH_NS}}}totalResults", str(total))
    _sub(feed, f"{{{OPENSEARCH_NS}}}startIndex", str(start))
    _sub(feed, f"{{{OPENSEARCH_NS}}}itemsPerPage", str(len(entries)))
    for e in entries:
        entry = _sub(feed, f"{a}entry")
        _sub(entry, f"{a}id", f"http://arxiv.org/abs/{e.id}v{e.version}")
        _sub(entry, f"{a}updated", _iso(e.submitted))
        _sub(entry, f"{a}published", _iso(e.submitted))
        _sub(entry, f"{a}title", _wrapped(e.title))
        _sub(entry, f"{a}summary", "  " + _wrapped(e.summary) + "\n")
        for name in e.authors:
            author = _sub(entry, f"{a}author")
            _sub(author, f"{a}name", name)
        if e.comment:
            _sub(entry, f"{{{ARXIV_NS}}}comment", e.comment)
        _sub(entry, f"{a}link", href=f"http://arxiv.org/abs/{e.id}v{e.version}",
             rel="alternate", type="text/html")  # fmt: skip
        _sub(entry, f"{a}link", title="pdf", href=f"http://arxiv.org/pdf/{e.id}v{e.version}",
             rel="related", type="application/pdf")  # fmt: skip
        _sub(entry, f"{{{ARXIV_NS}}}primary_category", term=e.categories[0],
             scheme="http://arxiv.org/schemas/atom")  # fmt: skip
        for cat in e.categories:
            _sub(entry, f"{a}category", term=cat, scheme="http://arxiv.org/schemas/atom")
    return feed


def _atom_error(message: str, query: Mapping[str, str]) -> web.Response:
    a = f"{{{ATOM_NS}}}"
    feed = _atom_feed(query.get("search_query", ""), 0, 1, [])
    entry = _sub(feed, f"{a}entry")
    slug = re.sub(r"\W+", "_", message)
    _sub(entry, f"{a}id", f"http://arxiv.org/api/errors#{slug}")
    _sub(entry, f"{a}title", "Error")
    _sub(entry, f"{a}summary", message)
    _sub(entry, f"{a}updated", "2024-11-11T00:00:00-05:00")
    author = _sub(entry, f"{a}author")
    _sub(author, f"{a}name", "arXiv api core")
    return _xml(feed, "application/atom+xml", status=400)


def _rss_feed(spec: str, day: dt.date | None, entries: list[ArxivEntry]) -> ET.Element:
    ET.register_namespace("arxiv", ARXIV_NS)
    ET.register_namespace("dc", DC_NS)
    ET.register_namespace("atom", ATOM_NS)
    rss = ET.Element("rss", version="2.0")
    channel = _sub(rss, "channel")
    _sub(channel, "title", f"{spec} updates on arXiv.org")
    _sub(channel, "link", f"http://rss.arxiv.org/rss/{spec}")
    _sub(channel, "description", f"{spec} updates on the arXiv.org e-print archive.")
    _sub(channel, f"{{{ATOM_NS}}}link", href=f"http://rss.arxiv.org/rss/{spec}", rel="self",
         type="application/rss+xml")  # fmt: skip
    _sub(channel, "docs", "http://www.rssboard.org/rss-specification")
    _sub(channel, "language", "en-us")
    if day is not None:
        midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=EASTERN)
        _sub(channel, "lastBuildDate", format_datetime(midnight.astimezone(dt.UTC)))
        _sub(channel, "pubDate", format_datetime(midnight))
    _sub(channel, "managingEditor", "rss-help@arxiv.org")
    skip = _sub(channel, "skipDays")
    _sub(skip, "day", "Saturday")
    _sub(skip, "day", "Sunday")
    for e in entries:
        item = _sub(channel, "item")
        _sub(item, "title", e.title)
        _sub(item, "link", f"https://arxiv.org/abs/{e.id}")
        _sub(
            item,
            "description",
            f"arXiv:{e.id}v{e.version} Announce Type: {e.announce_type} \nAbstract: {e.summary}",
        )
        _sub(item, "guid", f"oai:arXiv.org:{e.id}v{e.version}", isPermaLink="false")
        for cat in e.categories:
            _sub(item, "category", cat)
        if day is not None:
            midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=EASTERN)
            _sub(item, "pubDate", format_datetime(midnight))
        _sub(item, f"{{{ARXIV_NS}}}announce_type", e.announce_type)
        _sub(item, f"{{{DC_NS}}}rights", "http://creativecommons.org/licenses/by/4.0/")
        _sub(item, f"{{{DC_NS}}}creator", ", ".join(e.authors))
    return rss


def _xml(root: ET.Element, content_type: str, status: int = 200) -> web.Response:
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return web.Response(status=status, body=body, content_type=content_type, charset="utf-8")
