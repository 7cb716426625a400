"""The digest a channel would get for archived days, in its learned order (nothing sent).

`preview(store, target, first, last)` takes the archived papers listed on those days (their
Hugging Face daily date or arXiv announcement date), matches them against the channel's
subscriptions, orders them with the channel's model and adds its suggestions when the
channel has them on; `preview_json` is `paperboy digest --channel C --from --to --format
json`: the digest JSON contract plus `score` and `why` per entry, and `suggestions`.
Nothing is written: no ledger row, no watermark, no outbox part.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from paperboy.digest import SummaryMap, build_digest, merge_matches
from paperboy.digest.formats import digest_json, entry_json
from paperboy.feedback.model import RelevanceModel
from paperboy.feedback.service import Ranking, model_for, rank
from paperboy.matching import Matcher, QueryError, parse
from paperboy.models import ChannelSettings, Digest, DigestEntry, Paper, Target
from paperboy.store import Store
from paperboy.summaries import DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Preview:
    target: Target
    first: dt.date
    last: dt.date
    digest: Digest
    ranking: Ranking
    settings: ChannelSettings
    suggest: bool


async def preview(store: Store, target: Target, first: dt.date, last: dt.date) -> Preview:
    ids = await store.feedback.papers_listed(first, last)
    found = await store.papers.get_many(ids)
    papers = [found[i] for i in ids if i in found]
    subs = await store.subscriptions.list(target)
    settings = await store.settings.get(target)
    suggest = await store.feedback.suggest(target)
    model = await model_for(store, target, papers)
    queries = [s.query for s in subs]

    def build() -> tuple[Digest, Ranking]:
        return channel_digest(papers, queries, model, settings, day=last, suggest=suggest)

    digest, ranking = await asyncio.to_thread(build)
    return Preview(target, first, last, digest, ranking, settings, suggest)


def channel_digest(
    papers: Sequence[Paper],
    queries: Sequence[str],
    model: RelevanceModel,
    settings: ChannelSettings,
    *,
    day: dt.date | None,
    suggest: bool = False,
    source_label: str | None = None,
    sign: Callable[[list[str]], tuple[tuple[str, str], ...]] | None = None,
    language: str | None = None,
    summaries: SummaryMap | None = None,
) -> tuple[Digest, Ranking]:
    """A channel's digest of `papers`: its matches in its learned order, its suggestions
    when `suggest`, and signed buttons when `sign` (CPU only: call from a worker thread).

    A stored query that no longer parses is skipped, as the planner skips it."""
    parsed = []
    for index, query in enumerate(queries):
        try:
            parsed.append((index, parse(query, stored=True)))
        except QueryError:
            continue
    selected = (
        merge_matches(Matcher.compile(parsed).match(papers), range(len(queries))) if parsed else []
    )
    matched_ids = {s.paper.id for s in selected}
    unmatched = [p for p in papers if p.id not in matched_ids]
    ranking = rank(model, [s.paper for s in selected], unmatched, suggest=suggest)
    digest = build_digest(
        selected,
        day=day,
        queries=queries,
        checked=len(papers),
        max_papers=settings.max_papers,
        min_upvotes=settings.min_upvotes,
        source_label=source_label,
        scores=ranking.scores,
        reasons=ranking.reasons,
        suggestions=ranking.suggested(),
        sign=sign,
        style=settings.summary_style,
        language=language or settings.language or DEFAULT_LANGUAGE,
        summaries=summaries,
    )
    return digest, ranking


def _score(value: float | None) -> float:
    return round(value, 4) if value is not None and math.isfinite(value) else 0.0


def _entry(entry: DigestEntry, score: float | None) -> dict[str, object]:
    out = entry_json(entry)
    out["score"] = _score(score)
    # `why` keeps the digest contract's shape (null or {"field", "text", "terms"}): the
    # sentence where a term matched. The model's reason ("close to X, which this channel
    # liked") is `reason`, and stands in as `why` where no term matched (suggestions).
    out["reason"] = entry.why
    if out.get("why") is None and entry.why:
        out["why"] = {"field": "feedback", "text": entry.why, "terms": []}
    return out


def preview_json(result: Preview) -> dict[str, object]:
    """The JSON document of `paperboy digest --channel ... --format json`."""
    digest = result.digest
    scored = result.ranking.scored
    out = digest_json(digest)
    out["channel"] = result.target.display
    out["from"] = result.first.isoformat()
    out["to"] = result.last.isoformat()
    out["omitted"] = digest.omitted
    out["entries"] = [
        _entry(e, scored[e.paper.id].score if e.paper.id in scored else None)
        for e in digest.entries
    ]
    if result.suggest:
        by_id = {s.paper.id: s.score for s in result.ranking.suggestions}
        out["suggestions"] = [_entry(e, by_id.get(e.paper.id)) for e in digest.suggestions]
    return out
