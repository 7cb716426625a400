"""A Digest as plain JSON data and back: what the outbox keeps of a digest no adapter has
rendered yet (or whose rendering is not JSON, like the console's)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from paperboy.models import Digest, DigestEntry, Paper, Span

__all__ = ["digest_from_json", "digest_to_json"]


def _span_list(spans: Iterable[Span]) -> list[list[int]]:
    return [[s.start, s.end] for s in spans]


def _spans(data: Iterable[Sequence[int]]) -> tuple[Span, ...]:
    return tuple(Span(int(a), int(b)) for a, b in data)


def _paper_json(p: Paper) -> dict[str, Any]:
    return {
        "id": p.id,
        "title": p.title,
        "abstract": p.abstract,
        "authors": list(p.authors),
        "published_at": p.published_at.isoformat() if p.published_at else None,
        "daily_date": p.daily_date.isoformat() if p.daily_date else None,
        "upvotes": p.upvotes,
        "ai_summary": p.ai_summary,
        "ai_keywords": list(p.ai_keywords),
        "github_url": p.github_url,
        "project_url": p.project_url,
        "thumbnail_url": p.thumbnail_url,
        "on_hf": p.on_hf,
        "source": p.source,
    }


def _paper(data: Mapping[str, Any]) -> Paper:
    published = data.get("published_at")
    daily = data.get("daily_date")
    return Paper(
        id=data["id"],
        title=data["title"],
        abstract=data.get("abstract") or "",
        authors=tuple(data.get("authors") or ()),
        published_at=dt.datetime.fromisoformat(published) if published else None,
        daily_date=dt.date.fromisoformat(daily) if daily else None,
        upvotes=int(data.get("upvotes") or 0),
        ai_summary=data.get("ai_summary"),
        ai_keywords=tuple(data.get("ai_keywords") or ()),
        github_url=data.get("github_url"),
        project_url=data.get("project_url"),
        thumbnail_url=data.get("thumbnail_url"),
        on_hf=bool(data.get("on_hf", True)),
        source=data.get("source") or "hf",
    )


def digest_to_json(digest: Digest) -> dict[str, Any]:
    """A Digest as plain JSON data (kept until an adapter renders it)."""
    return {
        "date": digest.date.isoformat() if digest.date else None,
        "queries": list(digest.queries),
        "checked": digest.checked,
        "omitted": digest.omitted,
        "source_label": digest.source_label,
        "full_list_url": digest.full_list_url,
        "entries": [
            {
                "paper": _paper_json(e.paper),
                "matched_terms": list(e.matched_terms),
                "summary": e.summary,
                "summary_highlights": _span_list(e.summary_highlights),
                "title_highlights": _span_list(e.title_highlights),
                "authors": list(e.authors),
                "more_authors": e.more_authors,
            }
            for e in digest.entries
        ],
    }


def digest_from_json(data: Mapping[str, Any]) -> Digest:
    return Digest(
        date=dt.date.fromisoformat(data["date"]) if data.get("date") else None,
        queries=tuple(data.get("queries") or ()),
        checked=int(data.get("checked") or 0),
        omitted=int(data.get("omitted") or 0),
        source_label=data.get("source_label"),
        full_list_url=data.get("full_list_url"),
        entries=tuple(
            DigestEntry(
                paper=_paper(e["paper"]),
                matched_terms=tuple(e.get("matched_terms") or ()),
                summary=e.get("summary") or "",
                summary_highlights=_spans(e.get("summary_highlights") or ()),
                title_highlights=_spans(e.get("title_highlights") or ()),
                authors=tuple(e.get("authors") or ()),
                more_authors=int(e.get("more_authors") or 0),
            )
            for e in data.get("entries") or ()
        ),
    )
