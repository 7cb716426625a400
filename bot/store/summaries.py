"""Model summaries kept once per (paper, style, language, model, prompt version), and the
day's usage counters (summaries made, cache hits, tokens, fallbacks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from paperboy.store.repositories import StoreContext, chunks
from paperboy.store.tables import summaries, summary_usage
from paperboy.summaries import SECTION_KEYS, Summary

#: (paper id, style, language): what a digest entry asks for, for one model and prompt.
SummaryKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class SummaryUsage:
    """One UTC day's counters."""

    day: dt.date
    made: int = 0
    cache_hits: int = 0
    tokens: int = 0
    fallbacks: int = 0


def _summary_from_row(row: Any) -> Summary:
    if row.style == "structured":
        stored = row.sections if isinstance(row.sections, dict) else {}
        parts = {key: str(stored.get(key) or "") for key in SECTION_KEYS}
        return Summary.structured(row.language, "llm", parts)
    return Summary(row.style, row.language, "llm", row.text)


class SummaryRepo:
    """Stored model summaries and the daily usage counters."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def get_many(
        self, keys: Iterable[SummaryKey], *, model: str, prompt_version: str
    ) -> dict[SummaryKey, Summary]:
        wanted = sorted(set(keys))
        found: dict[SummaryKey, Summary] = {}
        if not wanted:
            return found
        ids = sorted({k[0] for k in wanted})
        want = set(wanted)
        async with self._ctx.engine.connect() as conn:
            for chunk in chunks(ids):
                rows = await conn.execute(
                    sa.select(summaries).where(
                        summaries.c.paper_id.in_(chunk),
                        summaries.c.model == model,
                        summaries.c.prompt_version == prompt_version,
                    )
                )
                for row in rows:
                    key = (row.paper_id, row.style, row.language)
                    if key in want:
                        found[key] = _summary_from_row(row)
        return found

    async def put(
        self,
        key: SummaryKey,
        summary: Summary,
        *,
        model: str,
        prompt_version: str,
        tokens: int,
        now: dt.datetime,
    ) -> None:
        """Keep a summary (a second writer of the same key keeps the first one) and count
        it, with its tokens, in the day's usage: one transaction."""
        paper_id, style, language = key
        sections = dict(summary.sections) if summary.sections else None
        async with self._ctx.writing() as conn:
            await conn.execute(
                self._ctx.insert(summaries)
                .values(
                    paper_id=paper_id,
                    style=style,
                    language=language,
                    model=model[:200],
                    prompt_version=prompt_version,
                    text=summary.text,
                    sections=sections,
                    tokens=max(0, tokens),
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            await conn.execute(
                self._usage_stmt(now.astimezone(dt.UTC).date(), made=1, tokens=tokens)
            )

    def _usage_stmt(self, day: dt.date, **values: int) -> Any:
        stmt = self._ctx.insert(summary_usage).values(day=day, **values)
        return stmt.on_conflict_do_update(
            index_elements=["day"],
            set_={name: summary_usage.c[name] + stmt.excluded[name] for name in values},
        )

    async def add_usage(
        self,
        day: dt.date,
        *,
        made: int = 0,
        cache_hits: int = 0,
        tokens: int = 0,
        fallbacks: int = 0,
    ) -> None:
        if not (made or cache_hits or tokens or fallbacks):
            return
        values = {"made": made, "cache_hits": cache_hits, "tokens": tokens, "fallbacks": fallbacks}
        async with self._ctx.writing() as conn:
            await conn.execute(self._usage_stmt(day, **values))

    async def usage(self, day: dt.date) -> SummaryUsage:
        async with self._ctx.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(summary_usage).where(summary_usage.c.day == day))
            ).first()
        if row is None:
            return SummaryUsage(day)
        return SummaryUsage(day, row.made, row.cache_hits, row.tokens, row.fallbacks)
