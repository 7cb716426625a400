"""Archive search: run a parsed request (`paperboy.search.request`) over the archive.

How a search runs: the query is compiled for the search index (`paperboy.search.sql`;
a tantivy folder on SQLite, tsvector on PostgreSQL), which finds and ranks candidates
(BM25 with the title weighted above the abstract); the subscription matcher
(`paperboy.matching.matcher`) then re-checks every candidate, so results follow exactly
the rules a digest follows (acronyms case-sensitive inside words, stems, phrases). Among
results of equal relevance (scores within 2%), newer and then more upvoted papers come
first. Results are shown as plain text or as the `--format json` contract (below).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol, cast

from paperboy.digest import AUTHORS_SHOWN, summarize
from paperboy.matching import Matcher, PaperMatch, highlight
from paperboy.models import Paper, SearchHit, SearchResults
from paperboy.search.index import SYNC_BATCH, Candidate, IndexQuery, SearchIndex, surfaces_in
from paperboy.search.lexemes import acronym_code, docid_range, paper_day
from paperboy.search.reader import PaperReader, step
from paperboy.search.request import DEFAULT_LIMIT, MAX_LIMIT, SearchRequest, parse_search
from paperboy.search.sql import (
    MAX_CODES,
    Codes,
    Compiled,
    Filters,
    acronym_words,
    compile_query,
    phrase_pairs,
    title_filter,
    title_tier,
)
from paperboy.search.tantivy_index import FolderIndex, Hit
from paperboy.search.tantivy_query import filtered
from paperboy.store import Store

__all__ = [
    "results_json",
    "results_text",
    "search",
    "to_json",
]

#: A superset query (see paperboy.search.sql) with at most this many candidates is checked in
#: full, which makes its total exact; beyond, the total is estimated from a sample.
CHECK_ALL = 1000
#: PostgreSQL: a broad query's sample is this many ranking windows of the newest papers
#: (so it is broad if a quarter of them match).
SAMPLE_WINDOWS = 4
#: Relevance scores within this ratio count as equal (then: newer, more upvoted first).
TIE_RATIO = 1.02


# --------------------------------------------------------------------------- searching


def _bucket(score: float) -> int:
    return math.floor(math.log(score) / math.log(TIE_RATIO)) if score > 0 else -(2**62)


def _order_key(candidate: Candidate) -> tuple[int, int, int, str]:
    day = candidate.day
    return (
        -_bucket(candidate.score),
        -(day.toordinal() if day else 0),
        -candidate.upvotes,
        candidate.paper_id,
    )


def _hit_order(hit: Hit) -> tuple[int, int, int]:
    """`_order_key` of an index folder's hit (its paper id is not read yet)."""
    return (-_bucket(hit.score), -hit.day, -hit.upvotes)


def paper_hit(
    paper: Paper,
    score: float,
    match: PaperMatch | None = None,
    *,
    similarity: float | None = None,
) -> SearchHit:
    """A search result: keyword search gives the matcher's `match` (its terms are
    highlighted), semantic search and `similar` the embedding `similarity`."""
    terms = match.matched_terms if match else ()
    summary = summarize(paper)
    return SearchHit(
        paper=paper,
        score=score,
        matched_terms=terms,
        summary=summary,
        # Without a cut summary's "…" (NFKC would expand it): same spans, a faster scan.
        summary_highlights=highlight(summary.removesuffix("…"), terms) if terms else (),
        title_highlights=highlight(paper.title, terms) if terms else (),
        authors=paper.authors[:AUTHORS_SHOWN],
        more_authors=max(0, len(paper.authors) - AUTHORS_SHOWN),
        date=paper_day(paper),
        similarity=similarity,
    )


async def search(
    store: Store,
    request: SearchRequest | str,
    *,
    limit: int | None = None,
    index: SearchIndex | None = None,
    sync: bool = True,
) -> SearchResults:
    """Search the archive. `limit` applies unless the request says `limit:`.

    Raises QueryError for a bad query string (or one too broad for the index).
    """
    if isinstance(request, str):
        request = parse_search(request)
    index = index or SearchIndex(store)
    if sync:
        # Another process writing the folder is not waited for: it indexes the queue.
        # PostgreSQL: one batch at most (a backlog is already searchable; see sync).
        await index.sync(wait=0.0, most=SYNC_BATCH)
    else:
        await index.open()
    if index.postgres:
        return await _search(index, request, limit, _Postgres(index))
    # SQLite: the whole search is one step on a reader (paperboy.search.reader).
    return await step(store, _sqlite_search, index, index.folder, request, limit)


def _sqlite_search(
    db: sqlite3.Connection,
    index: SearchIndex,
    folder: FolderIndex,
    request: SearchRequest,
    limit: int | None,
) -> SearchResults:
    """`_search` on SQLite, run to its end in the reader's thread: none of its steps
    waits for anything there (`_Sqlite`), so the coroutine finishes in one go."""
    coroutine = _search(index, request, limit, _Sqlite(index, folder, db))
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast("SearchResults", done.value)
    coroutine.close()
    raise RuntimeError("a SQLite search step waited for something")


class _Steps(Protocol):
    """What a search asks of its backend (`_Postgres`, `_Sqlite`)."""

    async def surfaces(self, words: set[str]) -> dict[str, tuple[str, ...] | None]: ...

    async def candidates(
        self,
        request: SearchRequest,
        codes: Codes,
        compiled: Compiled,
        tier: str | None,
        filters: Filters,
        wanted: int,
    ) -> _Found: ...

    async def fetch_and_match(self, ids: list[str], matcher: Matcher) -> dict[str, PaperMatch]:
        """The papers among `ids` that the matcher accepts, by id."""


async def _search(
    index: SearchIndex, request: SearchRequest, limit: int | None, steps: _Steps
) -> SearchResults:
    options = request.options
    wanted = max(1, min(options.limit or limit or DEFAULT_LIMIT, MAX_LIMIT))
    low, high = docid_range(options.since, options.until)
    filters = Filters(low, high, options.min_upvotes, options.has_code)
    surfaces = await steps.surfaces(acronym_words(request.query))
    codes = {
        word: None if found is None else tuple(acronym_code(s) for s in found)
        for word, found in surfaces.items()
    }
    compiled = compile_query(request.query, index.dialect, codes)

    def results(hits: list[SearchHit], total: int, exact: bool = True) -> SearchResults:
        return SearchResults(
            query=request.text,
            terms=request.terms,
            total=total,
            hits=tuple(hits),
            total_exact=exact,
            filters=options.describe(),
        )

    if compiled.never or compiled.text is None:
        return results([], 0)
    # PostgreSQL ranks a window of matches, titles first; the folder ranks them all.
    tier = title_tier(request.query, index.dialect, codes) if index.postgres else None
    found = await steps.candidates(request, codes, compiled, tier, filters, wanted)
    candidates, total = found.candidates, found.total
    matcher = Matcher.compile([(0, request.query)])
    hits: list[tuple[tuple[int, int, int, str], SearchHit]] = []
    checked = passed = 0
    # Re-check candidates with the matcher, best first: an exact index query needs just
    # the shown ones (for their highlights); a superset one all it has (for the total).
    while True:
        ordered = sorted(candidates[checked:], key=_order_key)
        step = len(ordered) if not compiled.exact else max(wanted - len(hits), 0)
        batch = ordered[:step]
        matches = await steps.fetch_and_match([c.paper_id for c in batch], matcher)
        for cand in batch:
            match = matches.get(cand.paper_id)
            if match is not None:
                passed += 1
                if len(hits) < wanted:
                    hits.append((_order_key(cand), paper_hit(match.paper, cand.score, match)))
        checked += len(batch)
        if compiled.exact:
            candidates = candidates[:checked] + ordered[step:]
            if len(hits) >= wanted or checked >= len(candidates):
                break
            continue
        if checked >= min(total, CHECK_ALL) or len(candidates) >= total:
            break
        more = min(total, CHECK_ALL, max(checked * 4, wanted * 4))
        found = await steps.candidates(request, codes, compiled, tier, filters, more)
        # The checked ones first, whatever order the larger call gave: none twice.
        seen = {c.paper_id for c in candidates[:checked]}
        unchecked = [c for c in found.candidates if c.paper_id not in seen]
        candidates, total = candidates[:checked] + unchecked, found.total
        if not unchecked:
            break
    exact_total = found.exact and (compiled.exact or checked >= total)
    if compiled.exact:
        found_total = total - (checked - passed)  # anything the matcher refused is not counted
    elif exact_total:
        found_total = passed
    else:
        found_total = round(total * passed / checked) if checked else 0
    hits.sort(key=lambda pair: pair[0])
    return results([hit for _, hit in hits], max(found_total, len(hits)), exact_total)


def _matching(ids: list[str], papers: dict[str, Paper], matcher: Matcher) -> dict[str, PaperMatch]:
    present = [papers[pid] for pid in ids if pid in papers]
    # Search shows matched terms, not their spans: a paper's scan may stop early.
    return {m.paper.id: m for m in matcher.match(present, complete=False).get(0, [])}


class _Postgres:
    """PostgreSQL's steps: queries through the store; CPU work off the event loop."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    async def surfaces(self, words: set[str]) -> dict[str, tuple[str, ...] | None]:
        return await self.index.acronym_surfaces(words, limit=MAX_CODES)

    async def candidates(
        self,
        request: SearchRequest,
        codes: Codes,
        compiled: Compiled,
        tier: str | None,
        filters: Filters,
        wanted: int,
    ) -> _Found:
        assert compiled.text is not None
        index = self.index
        query = IndexQuery(
            compiled.text,
            filters,
            title=title_filter(request.query, index.dialect, codes),
            pairs=phrase_pairs(request.query),
        )
        return await _candidates(index, query, compiled.exact, tier, wanted)

    async def fetch_and_match(self, ids: list[str], matcher: Matcher) -> dict[str, PaperMatch]:
        papers = await self.index.store.papers.get_many(ids)
        # Reading the papers' text again is CPU work: off the event loop.
        return await asyncio.to_thread(_matching, ids, papers, matcher)


class _Sqlite:
    """SQLite's steps, in a reader's thread: the acronyms and papers from its
    connection, the candidates from the index folder. None of them waits."""

    def __init__(self, index: SearchIndex, folder: FolderIndex, db: sqlite3.Connection) -> None:
        self.index = index
        self.folder = folder
        self.db = db

    async def surfaces(self, words: set[str]) -> dict[str, tuple[str, ...] | None]:
        return surfaces_in(self.db, sorted(words), MAX_CODES)

    async def candidates(
        self,
        request: SearchRequest,
        codes: Codes,
        compiled: Compiled,
        tier: str | None,
        filters: Filters,
        wanted: int,
    ) -> _Found:
        """The best matches by BM25 (enough for `wanted` results after tie ordering),
        and the exact number of matches: the index ranks every match."""
        query = cast("Any", compiled.text)  # the tantivy dialect's query object
        hits, total = self.folder.search(
            filtered(query, filters), _margin(wanted), shown=wanted, tier=_bucket, order=_hit_order
        )
        candidates = [
            Candidate(0, h.paper_id, h.score, dt.date.fromordinal(h.day) if h.day else None,
                      h.upvotes)
            for h in hits
        ]  # fmt: skip
        return _Found(candidates, total)

    async def fetch_and_match(self, ids: list[str], matcher: Matcher) -> dict[str, PaperMatch]:
        return _matching(ids, _paper_reader(self.index.store)(self.db, ids), matcher)


_PAPER_READERS: dict[str, PaperReader] = {}


def _paper_reader(store: Store) -> PaperReader:
    dialect = store.engine.dialect
    reader = _PAPER_READERS.get(dialect.name)
    if reader is None:
        reader = _PAPER_READERS[dialect.name] = PaperReader(dialect)
    return reader


@dataclass(frozen=True, slots=True)
class _Found:
    candidates: list[Candidate]
    total: int
    exact: bool = True  # False: the total is an estimate


def _margin(wanted: int) -> int:
    # Ties are broken by date: take a margin beyond `wanted` so a newer paper of equal
    # relevance just below the cut is not lost.
    return wanted + max(10, wanted)


async def _candidates(
    index: SearchIndex, query: IndexQuery, exact: bool, tier: str | None, wanted: int
) -> _Found:
    """PostgreSQL: ranked candidates (enough for `wanted` results after tie ordering) and
    the total (an estimate for a query matching most papers). `exact`: the compiled
    query decides the match alone (else the matcher re-checks every candidate)."""
    k = _margin(wanted)
    # The plan decides between a sample and a count, and how a date range is read.
    plan = await index.plan(query) if exact or query.filters.dated else None
    sample = SAMPLE_WINDOWS * index.window
    # A quarter of the papers in range or more are expected to match: counting every
    # match would read every one; a sample of the newest papers gives the newest
    # matches and the share that match (if the estimate was right).
    if (
        plan is not None
        and exact
        and plan.matches > index.estimate_above
        and plan.matches * sample >= plan.papers * index.window
    ):
        hits, whole = await index.newest_sample(query, sample)
        if whole and not hits:
            return _Found([], 0)
        if whole or len(hits) >= index.window:
            total = len(hits) if whole else max(round(len(hits) / sample * plan.papers), len(hits))
            return _Found(await _ranked(index, query, tier, k, hits, total), total, whole)
    # A date range is read by its key if that reads fewer rows than the words' index
    # would (a vector test costs about four times a visit).
    by_key = plan is None or plan.papers * 4 < plan.undated
    total, newest = await index.count_and_newest(query, by_key=by_key)
    if total == 0:
        return _Found([], 0)
    if not exact:
        k = max(k, min(total, CHECK_ALL))
    if total <= index.window:  # every match is among the newest: ranked by key
        return _Found(await index.rank(query, k, ids=newest), total)
    if not exact and total <= CHECK_ALL:
        return _Found(await index.rank(query, k), total)
    return _Found(await _ranked(index, query, tier, k, newest, total), total)


async def _ranked(
    index: SearchIndex, query: IndexQuery, tier: str | None, k: int, newest: list[int], total: int
) -> list[Candidate]:
    """The best `k` of the `window` newest matches (`newest`, newest first) and, for a
    broad query, the `window` newest with a query term in the title (see
    paperboy.search.index)."""
    newest = newest[: index.window]
    if total <= index.window:
        return await index.rank(query, k, ids=newest)
    also = []
    if tier is not None:
        also = await index.newest_ids(query, index.window, title_tier=tier)
    return await index.rank(query, k, ids=sorted({*newest, *also}))


# --------------------------------------------------------------------------- output


def results_json(results: SearchResults) -> dict[str, object]:
    """The `paperboy search --format json` contract (keep it stable)."""
    return {
        "query": results.query,
        "total": results.total,
        "results": [
            {
                "id": hit.paper.id,
                "title": hit.paper.title,
                "score": round(hit.score, 6),
                "date": hit.date.isoformat() if hit.date else None,
                "upvotes": hit.paper.upvotes,
                "links": hit.paper.links.as_dict(),
                "authors": list(hit.paper.authors),
                "matched_terms": list(hit.matched_terms),
            }
            for hit in results.hits
        ],
    }


def to_json(results: SearchResults) -> str:
    return json.dumps(results_json(results), ensure_ascii=False, indent=2)


def results_text(results: SearchResults) -> str:
    """Plain text (no markup): the fallback for adapters that do not render searches."""
    lines = [results.header]
    for n, hit in enumerate(results.hits, start=1):
        paper = hit.paper
        day = hit.date.isoformat() if hit.date else "undated"
        lines.append(f"{n}. {paper.title}")
        meta = [day, f"{paper.upvotes} upvotes"]
        if hit.authors:
            meta.insert(0, hit.authors_line)
        lines.append("   " + " · ".join(meta))
        lines.append("   " + "  ".join(f"{k}: {v}" for k, v in paper.links.as_dict().items()))
    if results.hits:
        lines.append(f"Follow new papers like these: {results.subscribe_command}")
    return "\n".join(lines)
