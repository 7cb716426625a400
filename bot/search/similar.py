"""`similar`: the archive's papers nearest one paper (by their embeddings).

`/papers similar <arXiv id or URL>` and `paperboy similar ARXIV_ID` find the paper
(`find_paper`: an arXiv id in any usual form, an arxiv.org or huggingface.co/papers URL,
or an archive id as it is), then its nearest neighbours (`paperboy.embeddings`), itself
excluded. A paper archived before embeddings existed is embedded on the spot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paperboy.embeddings import Embeddings
from paperboy.models import Digest, DigestEntry, Paper, SearchHit, SearchResults
from paperboy.search.engine import paper_hit, results_json
from paperboy.search.request import DEFAULT_LIMIT, MAX_LIMIT
from paperboy.sources.hf_json import normalize_arxiv_id
from paperboy.store import Store

_HF_PAPER = re.compile(
    r"^(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/papers/([^/?#\s]+)", re.IGNORECASE
)
#: Longest reference looked up as it is (ids are at most 64 characters).
_MAX_REF = 300


@dataclass(frozen=True, slots=True)
class Similar:
    """A paper and the archive's papers nearest it, best first."""

    paper: Paper
    hits: tuple[SearchHit, ...]


def paper_refs(text: str) -> list[str]:
    """The archive ids `text` may name, most likely first."""
    ref = text.strip().strip("<>")
    if not ref or len(ref) > _MAX_REF:
        return []
    found: list[str] = []
    hf = _HF_PAPER.match(ref)
    if hf:
        found.append(normalize_arxiv_id(hf.group(1)) or hf.group(1))
    arxiv = normalize_arxiv_id(ref)
    if arxiv:
        found.append(arxiv)
    found.append(ref)
    return list(dict.fromkeys(r for r in found if len(r) <= 64))


async def find_paper(store: Store, text: str) -> Paper | None:
    """The archived paper `text` names (see the module docstring), or None."""
    refs = paper_refs(text)
    if not refs:
        return None
    papers = await store.papers.get_many(refs)
    return next((papers[r] for r in refs if r in papers), None)


async def similar(
    store: Store,
    paper: Paper,
    *,
    limit: int = DEFAULT_LIMIT,
    embeddings: Embeddings | None = None,
) -> Similar:
    """The `limit` archived papers nearest `paper` (1-100). Raises EmbedderError when the
    model cannot be loaded."""
    limit = max(1, min(limit, MAX_LIMIT))
    embeddings = embeddings or Embeddings(store)
    near = await embeddings.similar_to(paper, limit)
    papers = await store.papers.get_many(n.paper_id for n in near)
    hits = tuple(
        paper_hit(papers[n.paper_id], n.similarity, similarity=n.similarity)
        for n in near
        if n.paper_id in papers
    )
    return Similar(paper, hits)


def similar_json(found: Similar) -> dict[str, object]:
    """The `paperboy similar --format json` contract: `{"id", "results"}`, each result
    shaped like a search result plus `similarity` (cosine, higher is closer)."""
    results = SearchResults(query=found.paper.id, terms="", total=len(found.hits), hits=found.hits)
    rows = results_json(results)["results"]
    assert isinstance(rows, list)
    for row, hit in zip(rows, found.hits, strict=True):
        row["similarity"] = hit.similarity
    return {"id": found.paper.id, "results": rows}


def similar_title(found: Similar) -> str:
    return f"Papers similar to {found.paper.id}: {found.paper.title}"


def similar_digest(found: Similar) -> Digest:
    """The neighbours laid out as a digest, so every renderer can show them."""
    entries = tuple(
        DigestEntry(
            paper=hit.paper,
            matched_terms=(),
            summary=hit.summary,
            authors=hit.authors,
            more_authors=hit.more_authors,
        )
        for hit in found.hits
    )
    return Digest(
        date=None,
        queries=(),
        checked=len(entries),
        entries=entries,
        title=similar_title(found),
    )


def similar_text(found: Similar) -> str:
    """Plain text (no markup)."""
    lines = [similar_title(found)]
    if not found.hits:
        lines.append("No other paper in the archive has an embedding yet.")
    for n, hit in enumerate(found.hits, start=1):
        day = hit.date.isoformat() if hit.date else "undated"
        lines.append(f"{n}. {hit.paper.title}")
        lines.append(f"   {hit.paper.id} · {day} · similarity {hit.score:.2f}")
    return "\n".join(lines)
