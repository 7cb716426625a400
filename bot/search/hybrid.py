"""Meaning-aware search: keyword (BM25) results fused with semantic similarity.

A layer over `paperboy.search.engine` (which it calls unchanged) and
`paperboy.embeddings` (the archive's vectors). Three modes:

- `keyword`: the engine's search as it is.
- `semantic`: the papers whose embeddings are nearest the query's (cosine at least
  `SEMANTIC_FLOOR`), with the search options (since:, until:, min-upvotes:, has:code)
  applied to them.
- `hybrid` (the default): both, fused by reciprocal rank fusion (RRF, k = 60). The
  papers the query matches exactly (the keyword results: the same rules as a digest) come
  first, ordered by the sum of 1/(60 + BM25 rank) and 1/(60 + semantic rank); after them
  come papers that only mean something close (cosine at least `RELATED_FLOOR`), by
  similarity. So "low-rank adapters for fine-tuning" finds LoRA papers that never use
  those words, while `LoRA` or `"pipeline parallelism"` keep every exact match above any
  paper found by meaning alone. `total` counts the exact matches plus the related papers
  found (an estimate when the related ones were cut at the candidate pool's size).

The query's embedding is made from its positive terms (a `-word` or `NOT x` is left out);
fusion reorders the keyword results shown (the BM25 top `limit`) and fills the rest of
the page with the related papers. The neighbours come from the in-memory vector index
(`paperboy.embeddings`), the keyword results from the engine as they are: hybrid search
costs a keyword search plus about a millisecond or two.
When the embedder cannot be loaded, hybrid search answers with the keyword results.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np

from paperboy.embeddings import EmbedderError, Embeddings, Neighbour
from paperboy.errors import QueryError
from paperboy.models import Paper, SearchResults
from paperboy.search.engine import paper_hit, results_json, search
from paperboy.search.index import SearchIndex
from paperboy.search.lexemes import paper_day
from paperboy.search.request import DEFAULT_LIMIT, MAX_LIMIT, SearchOptions, SearchRequest
from paperboy.search.request import parse_search as _parse
from paperboy.store import Store

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "keyword", "semantic"]
MODES: tuple[Mode, ...] = ("hybrid", "keyword", "semantic")
#: Reciprocal rank fusion's constant (the usual 60: ranks far down still count a little).
RRF_K = 60
#: Hybrid: a paper found by meaning only is shown at this cosine or above.
RELATED_FLOOR = 0.28
#: Semantic mode: nearest papers down to this cosine.
SEMANTIC_FLOOR = 0.15


def query_text(request: SearchRequest) -> str:
    """What is embedded for a search: its positive terms' text."""
    terms = request.query.positive_terms
    return " ".join(t.text for t in terms) if terms else request.terms


def _wanted(request: SearchRequest, limit: int | None) -> int:
    return max(1, min(request.options.limit or limit or DEFAULT_LIMIT, MAX_LIMIT))


def _passes(paper: Paper, options: SearchOptions) -> bool:
    day = paper_day(paper)
    if options.since is not None and (day is None or day < options.since):
        return False
    if options.until is not None and (day is None or day > options.until):
        return False
    if paper.upvotes < options.min_upvotes:
        return False
    return not (options.has_code and paper.github_url is None)


async def _neighbours(
    store: Store,
    found: list[Neighbour],
    options: SearchOptions,
    floor: float,
    *,
    need: int,
    skip: frozenset[str] = frozenset(),
) -> tuple[list[tuple[Paper, float]], int]:
    """The papers of `found` (best first) above `floor`, not in `skip`, that pass the
    options: the first `need` of them, and how many there are (without options, the
    papers past the first `need` are counted without being read)."""
    above = [n for n in found if n.similarity >= floor and n.paper_id not in skip]
    filtered = bool(options.describe())
    read = above if filtered else above[:need]
    papers = await store.papers.get_many(n.paper_id for n in read) if read else {}
    kept = [
        (papers[n.paper_id], n.similarity)
        for n in read
        if n.paper_id in papers and _passes(papers[n.paper_id], options)
    ]
    count = len(kept) if filtered else len(kept) + len(above) - len(read)
    return kept[:need], count


async def hybrid_search(
    store: Store,
    request: SearchRequest | str,
    *,
    mode: Mode = "hybrid",
    limit: int | None = None,
    embeddings: Embeddings | None = None,
    index: SearchIndex | None = None,
) -> SearchResults:
    """Search the archive in `mode` (see the module docstring). Raises QueryError for a
    bad query, and for a semantic search when the model is not available."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
    if isinstance(request, str):
        request = _parse(request)
    if mode == "keyword":
        return await search(store, request, limit=limit, index=index)
    embeddings = embeddings or Embeddings(store)
    wanted = _wanted(request, limit)
    try:
        vector = await embeddings.embed_query(query_text(request))
    except EmbedderError as error:
        if mode == "semantic":
            raise QueryError(f"semantic search is not available: {error}") from error
        log.warning("hybrid search falls back to keywords: %s", error)
        return await search(store, request, limit=limit, index=index)
    if mode == "semantic":
        return await _semantic(store, request, embeddings, vector, wanted)
    return await _hybrid(store, request, embeddings, vector, wanted, index)


async def _semantic(
    store: Store,
    request: SearchRequest,
    embeddings: Embeddings,
    vector: np.ndarray,
    wanted: int,
) -> SearchResults:
    pool = min(MAX_LIMIT * 4, wanted * 4)
    found = await embeddings.nearest(vector, pool)
    kept, count = await _neighbours(store, found, request.options, SEMANTIC_FLOOR, need=wanted)
    hits = [
        paper_hit(paper, round(1.0 / (RRF_K + rank), 6), similarity=sim)
        for rank, (paper, sim) in enumerate(kept, start=1)
    ]
    return SearchResults(
        query=request.text,
        terms=request.terms,
        total=count,
        hits=tuple(hits),
        total_exact=len(found) < pool,
        filters=request.options.describe(),
    )


async def _hybrid(
    store: Store,
    request: SearchRequest,
    embeddings: Embeddings,
    vector: np.ndarray,
    wanted: int,
    index: SearchIndex | None,
) -> SearchResults:
    pool = min(MAX_LIMIT, wanted * 2)
    # The neighbours first (about a millisecond, on the event loop), then the keyword search.
    found = await embeddings.nearest(vector, pool)
    keyword = await search(store, request, limit=wanted, index=index)
    exact = list(keyword.hits)
    matched = frozenset(h.paper.id for h in exact)
    related, count = await _neighbours(
        store, found, request.options, RELATED_FLOOR, need=wanted - len(exact), skip=matched
    )
    similarity = await embeddings.similarities(vector, matched)
    for paper, sim in related:
        similarity.setdefault(paper.id, sim)
    semantic_rank = {
        pid: rank
        for rank, pid in enumerate(sorted(similarity, key=lambda p: (-similarity[p], p)), start=1)
    }

    def fused(pid: str, keyword_rank: int | None) -> float:
        score = 1.0 / (RRF_K + keyword_rank) if keyword_rank is not None else 0.0
        if pid in semantic_rank:
            score += 1.0 / (RRF_K + semantic_rank[pid])
        return round(score, 6)

    first = sorted(
        (
            dataclasses.replace(
                hit, score=fused(hit.paper.id, rank), similarity=similarity.get(hit.paper.id)
            )
            for rank, hit in enumerate(exact, start=1)
        ),
        key=lambda h: -h.score,
    )
    then = [paper_hit(paper, fused(paper.id, None), similarity=sim) for paper, sim in related]
    return SearchResults(
        query=request.text,
        terms=request.terms,
        total=keyword.total + count,
        hits=tuple((first + then)[:wanted]),
        total_exact=keyword.total_exact and not (count and len(found) >= pool),
        total_capped=keyword.total_capped,
        filters=keyword.filters,
    )


def hybrid_json(results: SearchResults) -> dict[str, object]:
    """The search JSON contract (`paperboy.search.results_json`), each result with two
    more keys: `similarity` (the embeddings' cosine, or null) and `match` (`keyword`: it
    matches the query's terms; `semantic`: found by meaning only)."""
    data = results_json(results)
    rows = data["results"]
    assert isinstance(rows, list)
    for row, hit in zip(rows, results.hits, strict=True):
        row["similarity"] = hit.similarity
        row["match"] = "keyword" if hit.matched_terms else "semantic"
    return data


def modes_help() -> str:
    return "hybrid (keywords and meaning, the default), keyword or semantic"


__all__: Sequence[str] = [
    "MODES",
    "Mode",
    "hybrid_json",
    "hybrid_search",
    "modes_help",
    "query_text",
]
