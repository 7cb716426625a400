"""Defensive parsing of Hugging Face `daily_papers` JSON into `Paper`s.

The API's item shape is observed, not promised: any field may be missing, null or of
another type. One bad item never spoils the day: it is skipped (no usable arXiv id,
withdrawn) or its bad fields fall back to defaults, and numbers are brought into the
range the archive stores (a vote count of 2**63 is kept as `MAX_INTEGER`, with a
warning). Only a top-level value that is not a list is an error, because then the whole
response is something else. `load_json` reads such a response without letting one
absurdly long number (Python refuses to read integers of more than 4300 digits) make the
whole document unreadable.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from bot.models import MAX_INTEGER, Paper
from bot.sources import SourceError, clean_text

log = logging.getLogger(__name__)

#: The archive's key column holds 64 characters; real arXiv ids are far shorter.
MAX_ID_CHARS = 64
#: Integer literals longer than this are not converted exactly (see `load_json`).
_MAX_INT_DIGITS = 40
# New-style ids (0704.0001 onwards): YYMM.NNNN (until 2014) or YYMM.NNNNN.
_NEW_ID = re.compile(r"\d{4}\.\d{4,5}")
# Old-style ids: archive[.SUBJECT]/YYMMNNN, e.g. hep-th/9901001, math.GT/0309136.
_OLD_ID = re.compile(r"[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}")
_VERSION = re.compile(r"v\d+$")
# Forms an id is sometimes written in: arXiv:ID, arxiv.org/abs/ID, .../pdf/ID(.pdf).
_PREFIX = re.compile(
    r"^(?:arxiv:|(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)",
    re.IGNORECASE,
)


def normalize_arxiv_id(raw: object) -> str | None:
    """The arXiv id in `raw` without version suffix, or None if there is none.

    Accepts `2411.05288`, ` 2411.05288v2 `, `arXiv:2411.05288`,
    `https://arxiv.org/abs/2411.05288v1`, `hep-th/9901001v1`.
    """
    if not isinstance(raw, str) or len(raw) > 4 * MAX_ID_CHARS:
        return None
    text = _PREFIX.sub("", raw.strip()).strip()
    if text.lower().endswith(".pdf"):
        text = text[:-4]
    text = text.rstrip("/")
    text = _VERSION.sub("", text)
    if len(text) <= MAX_ID_CHARS and (_NEW_ID.fullmatch(text) or _OLD_ID.fullmatch(text)):
        return text
    return None


def http_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or clean_text(url) != url or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url


def parse_datetime(value: object) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive is read as UTC), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def _bounded_int(literal: str) -> int:
    """An integer literal; one of more than 40 digits reads as +-10**40 (its magnitude
    is all that counts: far more than anything the archive stores)."""
    if len(literal.lstrip("+-")) > _MAX_INT_DIGITS:
        return -(10**_MAX_INT_DIGITS) if literal.startswith("-") else 10**_MAX_INT_DIGITS
    return int(literal)


def load_json(raw: bytes | str) -> object:
    """`json.loads`, except that integers of more than 40 digits read as +-10**40.

    Python refuses integer literals of more than 4300 digits (and converting long ones
    is slow), so one such number would otherwise make the whole response unreadable.
    No count the archive keeps comes near 40 digits: `parse_upvotes` clamps them anyway.
    Raises ValueError (or RecursionError for absurd nesting) like `json.loads`.
    """
    return json.loads(raw, parse_int=_bounded_int)


def parse_upvotes(value: object) -> int:
    """A vote count within `0..MAX_INTEGER`; anything unreadable counts as 0.

    A count beyond `MAX_INTEGER` is clamped to it; NaN and infinities are unreadable.
    """
    if isinstance(value, bool):
        return 0
    count: int | float
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and math.isfinite(value):
        count = value
    elif isinstance(value, str) and value.strip().isdecimal():
        count = _bounded_int(value.strip())
    else:
        return 0
    return int(min(max(count, 0), MAX_INTEGER))


def _authors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names: list[str] = []
    for author in value:
        # Hidden authors (`"hidden": true`) are still authors of the paper: keep them.
        raw = author.get("name") if isinstance(author, dict) else author
        name = clean_text(raw)
        if name:
            names.append(name)
    return tuple(names)


def _keywords(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    seen: dict[str, None] = {}
    for keyword in value:
        text = clean_text(keyword)
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


def _first_text(*values: object) -> str:
    for value in values:
        text = clean_text(value)
        if text:
            return text
    return ""


def parse_item(item: object, *, source: str = "hf") -> Paper | None:
    """One daily_papers item as a Paper, or None when it has no usable arXiv id or
    was withdrawn. Never raises for any JSON value."""
    if not isinstance(item, dict):
        return None
    paper = item.get("paper")
    if not isinstance(paper, dict):
        paper = {}
    paper_id = normalize_arxiv_id(paper.get("id"))
    if paper_id is None:
        return None
    if paper.get("withdrawnAt"):
        return None
    daily_at = parse_datetime(paper.get("submittedOnDailyAt")) or parse_datetime(
        item.get("publishedAt")
    )
    ai_summary = clean_text(paper.get("ai_summary"))
    upvotes = parse_upvotes(paper.get("upvotes"))
    if upvotes == MAX_INTEGER:
        log.warning(
            "paper %s: upvotes beyond what the archive stores, kept as %d", paper_id, upvotes
        )
    return Paper(
        id=paper_id,
        # The item repeats title and summary; the paper's own fields are preferred.
        title=_first_text(paper.get("title"), item.get("title")),
        abstract=_first_text(paper.get("summary"), item.get("summary")),
        authors=_authors(paper.get("authors")),
        published_at=parse_datetime(paper.get("publishedAt")),
        daily_date=daily_at.date() if daily_at else None,
        upvotes=upvotes,
        ai_summary=ai_summary or None,
        ai_keywords=_keywords(paper.get("ai_keywords")),
        github_url=http_url(paper.get("githubRepo")),
        project_url=http_url(paper.get("projectPage")),
        thumbnail_url=http_url(item.get("thumbnail")),
        on_hf=True,
        source=source,
    )


def merge_papers(papers: Iterable[Paper]) -> list[Paper]:
    """Papers with one entry per id, in first-seen order; of duplicates, the one
    with more upvotes wins (the first on a tie)."""
    kept: dict[str, Paper] = {}
    for paper in papers:
        previous = kept.get(paper.id)
        if previous is None or paper.upvotes > previous.upvotes:
            kept[paper.id] = paper
    return list(kept.values())


def parse_daily_papers(
    data: object, *, origin: str = "response", source: str = "hf"
) -> list[Paper]:
    """All usable papers of a decoded daily_papers response.

    `origin` names where `data` came from, for the error message. Raises
    `SourceError` only when `data` is not a list.
    """
    if not isinstance(data, list):
        raise SourceError(f"{origin} is not a daily_papers list (got a JSON {_json_kind(data)})")
    return merge_papers(
        paper for paper in (parse_item(item, source=source) for item in data) if paper
    )


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
