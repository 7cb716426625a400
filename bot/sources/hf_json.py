"""Defensive parsing of Hugging Face `daily_papers` JSON into `Paper`s.

The API's item shape is observed, not promised: any field may be missing, null or of
another type. One bad item never spoils the day: it is skipped (no usable arXiv id,
withdrawn) or its bad fields fall back to defaults. Only a top-level value that is not
a list is an error, because then the whole response is something else.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from bot.models import Paper
from bot.sources import SourceError

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
# Control characters (C0 without tab/newline/CR, DEL, C1) break databases and
# terminals; lone surrogates cannot be encoded as UTF-8 at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def normalize_arxiv_id(raw: object) -> str | None:
    """The arXiv id in `raw` without version suffix, or None if there is none.

    Accepts `2411.05288`, ` 2411.05288v2 `, `arXiv:2411.05288`,
    `https://arxiv.org/abs/2411.05288v1`, `hep-th/9901001v1`.
    """
    if not isinstance(raw, str):
        return None
    text = _PREFIX.sub("", raw.strip()).strip()
    if text.lower().endswith(".pdf"):
        text = text[:-4]
    text = text.rstrip("/")
    text = _VERSION.sub("", text)
    if _NEW_ID.fullmatch(text) or _OLD_ID.fullmatch(text):
        return text
    return None


def clean_text(value: object) -> str:
    """A string with control characters removed and whitespace runs collapsed.

    Anything that is not a string reads as "".
    """
    if not isinstance(value, str):
        return ""
    value = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", value))
    return " ".join(value.split())


def http_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or any(ch.isspace() for ch in url) or _CONTROL.search(url) or _SURROGATE.search(url):
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


def parse_upvotes(value: object) -> int:
    """A non-negative vote count; anything unreadable counts as 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value):
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdecimal():
        try:
            return int(value.strip())
        except ValueError:
            return 0
    return 0


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
    return Paper(
        id=paper_id,
        # The item repeats title and summary; the paper's own fields are preferred.
        title=_first_text(paper.get("title"), item.get("title")),
        abstract=_first_text(paper.get("summary"), item.get("summary")),
        authors=_authors(paper.get("authors")),
        published_at=parse_datetime(paper.get("publishedAt")),
        daily_date=daily_at.date() if daily_at else None,
        upvotes=parse_upvotes(paper.get("upvotes")),
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
