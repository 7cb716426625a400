"""Meaning-aware search (`paperboy.search.hybrid`) and `similar`, on SQLite and PostgreSQL.

Paraphrases find the papers of their concept although no paper uses their words (keyword
search finds nothing), and exact queries keep every exact match above papers found by
meaning alone. "Concept papers" are the ones the subscription matcher finds for the
concept's own terms (LoRA, mixture of experts, ...): a judgement made without embeddings.
"""

from __future__ import annotations

import pytest

from paperboy.embeddings import Embeddings, default_embedder
from paperboy.matching import Matcher
from paperboy.models import Paper
from paperboy.search import (
    find_paper,
    hybrid_json,
    hybrid_search,
    parse_search,
    search,
    similar,
    similar_json,
)
from paperboy.store import Store
from tests.seed_corpus import load_seed_papers

# (paraphrase, the concept's keyword query): no seed paper contains the paraphrase.
PARAPHRASES = [
    ("low-rank adapters for fine-tuning", "LoRA"),
    ("low rank adaptation of weight matrices", "LoRA"),
    ("routing tokens to specialised sub-networks", "mixture of experts, MoE"),
    ("removing unimportant weights to shrink networks", "pruning, pruned, prune"),
    ("image generation with denoising", "diffusion"),
]


def concept(papers: list[Paper], query: str) -> set[str]:
    return {m.paper.id for m in Matcher.compile([(0, query)]).match(papers).get(0, [])}


@pytest.fixture
async def seeded(store: Store) -> Store:
    papers = load_seed_papers()
    await store.papers.upsert(papers)
    await Embeddings(store, default_embedder()).add_papers(papers)
    return store


@pytest.mark.parametrize(("paraphrase", "terms"), PARAPHRASES)
async def test_paraphrases_find_their_concept(seeded: Store, paraphrase: str, terms: str) -> None:
    papers = load_seed_papers()
    wanted = concept(papers, terms)
    keyword = await search(seeded, paraphrase)
    assert keyword.total == 0  # not one paper says it that way
    results = await hybrid_search(seeded, f"{paraphrase} limit:5")
    top = [h.paper.id for h in results.hits]
    assert len(top) >= 2
    # Chance would put well under one concept paper in the top 5 (10-17 of 130 papers).
    assert len(set(top) & wanted) >= 2, [h.paper.title for h in results.hits]
    assert all(not h.matched_terms and h.similarity is not None for h in results.hits)
    assert results.total >= len(top)
    semantic = await hybrid_search(seeded, f"{paraphrase} limit:5", mode="semantic")
    assert len({h.paper.id for h in semantic.hits} & wanted) >= 2


@pytest.mark.parametrize("query", ["LoRA", '"pipeline parallelism"', "quantization", "MoE"])
async def test_exact_matches_stay_on_top(seeded: Store, query: str) -> None:
    keyword = await search(seeded, f"{query} limit:100")
    assert keyword.total >= 1
    exact = {h.paper.id for h in keyword.hits}
    results = await hybrid_search(seeded, f"{query} limit:100")
    ids = [h.paper.id for h in results.hits]
    # Every exact match is there, and all of them come before any paper found by meaning.
    assert set(ids[: len(exact)]) == exact
    assert all(h.matched_terms for h in results.hits[: len(exact)])
    assert all(not h.matched_terms for h in results.hits[len(exact) :])
    assert results.total == keyword.total + len(ids) - len(exact)
    # The keyword mode is the keyword engine, unchanged.
    same = await hybrid_search(seeded, f"{query} limit:100", mode="keyword")
    assert [h.paper.id for h in same.hits] == [h.paper.id for h in keyword.hits]


async def test_fusion_reorders_exact_matches_by_meaning(seeded: Store) -> None:
    results = await hybrid_search(seeded, "LoRA limit:10")
    scores = [h.score for h in results.hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h.similarity is not None for h in results.hits)
    # Among exact matches, the one closest in meaning has the best semantic rank.
    best = max(results.hits, key=lambda h: h.similarity or 0)
    assert results.hits.index(best) < 3


async def test_nonsense_finds_nothing(seeded: Store) -> None:
    for query in ("zzzunknownword", "ZZZAcronym", "cooking recipes"):
        results = await hybrid_search(seeded, query)
        assert results.total == 0 and results.hits == (), query


async def test_options_apply_to_papers_found_by_meaning(store: Store) -> None:
    import dataclasses
    import datetime as dt

    papers = load_seed_papers()
    dated = [
        dataclasses.replace(p, daily_date=dt.date(2024, 11, 1 + n % 20), upvotes=n % 7)
        for n, p in enumerate(papers)
    ]
    await store.papers.upsert(dated)
    await Embeddings(store, default_embedder()).add_papers(dated)
    by_id = {p.id: p for p in dated}
    for mode in ("hybrid", "semantic"):
        results = await hybrid_search(
            store,
            "low-rank adapters for fine-tuning since:2024-11-10 min-upvotes:3 limit:20",
            mode=mode,  # type: ignore[arg-type]
        )
        assert results.hits and results.filters
        for hit in results.hits:
            paper = by_id[hit.paper.id]
            assert paper.daily_date is not None and paper.daily_date >= dt.date(2024, 11, 10)
            assert paper.upvotes >= 3


async def test_json_keeps_the_search_shape_and_adds_similarity(seeded: Store) -> None:
    results = await hybrid_search(seeded, "low-rank adaptation limit:20")
    data = hybrid_json(results)
    assert set(data) == {"query", "total", "results"}
    kinds = {row["match"] for row in data["results"]}  # type: ignore[union-attr, index]
    assert kinds == {"keyword", "semantic"}
    for row in data["results"]:  # type: ignore[union-attr]
        assert {"id", "title", "score", "date", "upvotes", "links", "authors"} <= set(row)
        assert isinstance(row["similarity"], float)


async def test_hybrid_without_vectors_is_the_keyword_search(store: Store) -> None:
    papers = load_seed_papers()
    await store.papers.upsert(papers)  # no embeddings stored
    keyword = await search(store, "LoRA limit:20")
    results = await hybrid_search(store, "LoRA limit:20")
    assert [h.paper.id for h in results.hits] == [h.paper.id for h in keyword.hits]
    assert results.total == keyword.total


async def test_similar_finds_neighbours_by_any_reference(seeded: Store) -> None:
    papers = load_seed_papers()
    dylora = next(p for p in papers if p.title.startswith("DyLoRA"))
    found = await similar(seeded, dylora, limit=5)
    ids = [h.paper.id for h in found.hits]
    assert len(ids) == 5 and dylora.id not in ids
    sims = [h.similarity or 0 for h in found.hits]
    assert sims == sorted(sims, reverse=True)
    assert len(set(ids) & concept(papers, "LoRA, low-rank, parameter-efficient")) >= 3
    data = similar_json(found)
    assert set(data) == {"id", "results"} and data["id"] == dylora.id
    assert [r["id"] for r in data["results"]] == ids  # type: ignore[union-attr, index]


async def test_find_paper_reads_ids_and_links(store: Store) -> None:
    await store.papers.upsert([Paper(id="2106.09685", title="LoRA", abstract="low-rank")])
    for ref in (
        "2106.09685",
        " 2106.09685v2 ",
        "arXiv:2106.09685",
        "https://arxiv.org/abs/2106.09685v1",
        "https://arxiv.org/pdf/2106.09685.pdf",
        "https://huggingface.co/papers/2106.09685",
        "<https://arxiv.org/abs/2106.09685>",
    ):
        paper = await find_paper(store, ref)
        assert paper is not None and paper.id == "2106.09685", ref
    for ref in ("", "2106.99999", "https://example.com/2106.09685x", "x" * 1000):
        assert await find_paper(store, ref) is None


async def test_a_paper_without_a_vector_is_embedded_on_demand(store: Store) -> None:
    papers = load_seed_papers()
    await store.papers.upsert(papers)
    emb = Embeddings(store, default_embedder())
    await emb.add_papers(papers[1:])
    found = await similar(store, papers[0], limit=3, embeddings=emb)
    assert len(found.hits) == 3
    assert papers[0].id in await emb.vectors_for([papers[0].id])


def test_parse_is_shared_with_keyword_search() -> None:
    from paperboy.search.hybrid import query_text

    assert query_text(parse_search('"pipeline parallelism" -survey since:30d')) == (
        "pipeline parallelism"
    )
    assert query_text(parse_search("LoRA, MoE")) == "LoRA MoE"
