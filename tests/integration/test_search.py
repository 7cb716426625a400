"""Archive search on SQLite (tantivy folder) and PostgreSQL (tsvector), against the real store.

The reference for *which* papers match is the subscription matcher (`paperboy.matching.matcher`):
search must find exactly what a digest would, on both backends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import pytest
import tantivy

from paperboy.matching import Matcher, QueryError
from paperboy.models import MAX_ABSTRACT, Paper
from paperboy.search import SearchIndex, SearchRequest, parse_search, search
from paperboy.search.index import folder_index
from paperboy.search.tantivy_index import FolderIndex
from paperboy.store import Store
from tests.seed_corpus import load_seed_papers

TODAY = dt.date(2024, 11, 20)

# Queries over the seed corpus: words, stems, phrases, acronyms (alone, inside words, in
# phrases), fields, booleans and negations.
SEMANTIC_QUERIES = [
    "LoRA",
    "QLoRA",
    "ViT",
    "MoE",
    "GPU",
    "LLM",
    "LLMs",
    "quantization",
    "quantized",
    "exploration",
    "sensitivity",
    '"pipeline parallelism"',
    "pipeline-parallel",
    "mixture of experts",
    "Mixture-of-Experts",
    "parameter efficient fine tuning",
    "LoRA adapters",
    "LoRA fine-tuning",
    "title:LoRA",
    "abstract:LoRA",
    "title:(LoRA, MoE)",
    "title:(LoRA, MoE) AND efficient",
    'title:"mixture of experts"',
    "title:LoRA AND memory",
    "title:LoRA, memory",
    "LoRA -quantization",
    "LoRA, MoE",
    "LLMs AND memory",
    "(LoRA, MoE) AND survey",
    "diffusion NOT survey",
    "efficient -(LLMs, LLM) -survey",
    "speculative decoding, KV cache",
    "LoRA -title:LoRA",
    "language models -abstract:language",
    "zzzunknownword",
    "ZZZAcronym",
    "3D",
    "T2I",
]


def expected(papers: list[Paper], query: str) -> set[str]:
    return {m.paper.id for m in Matcher.compile([(0, query)]).match(papers).get(0, [])}


@pytest.fixture
async def seeded(store: Store) -> Store:
    await store.papers.upsert(load_seed_papers())
    return store


def req(text: str) -> SearchRequest:
    return parse_search(text, today=TODAY)


@pytest.mark.parametrize("query", SEMANTIC_QUERIES)
async def test_search_finds_exactly_what_matching_finds(seeded: Store, query: str) -> None:
    papers = load_seed_papers()
    results = await search(seeded, req(query), limit=100)
    want = expected(papers, query)
    assert {h.paper.id for h in results.hits} == want
    assert results.total == len(want)
    assert results.total_exact
    for hit in results.hits:
        assert hit.matched_terms  # highlights come from the matcher
    scores = [h.score for h in results.hits]
    assert all(s > 0 for s in scores)


async def test_lora_ranks_lora_titled_papers_first(seeded: Store) -> None:
    papers = load_seed_papers()
    titled = expected(papers, "title:LoRA")
    assert len(titled) >= 3
    results = await search(seeded, req("LoRA"), limit=10)
    top = [h.paper.id for h in results.hits[: len(titled)]]
    assert set(top) == titled
    assert results.total == len(expected(papers, "LoRA")) > len(titled)


async def test_title_weighs_more_than_abstract(seeded: Store) -> None:
    papers = load_seed_papers()
    results = await search(seeded, req("quantization"), limit=100)
    in_title = expected(papers, "title:quantization")
    assert in_title
    first = [h.paper.id for h in results.hits[: len(in_title)]]
    # Most title matches beat abstract-only ones (BM25 still weighs term counts).
    assert len(set(first) & in_title) >= len(in_title) - 1


async def test_phrase_ranking_puts_the_phrase_in_title_first(seeded: Store) -> None:
    results = await search(seeded, req("mixture of experts"), limit=3)
    assert all("mixture" in h.paper.title.lower() for h in results.hits)


async def test_limit_and_limit_option(seeded: Store) -> None:
    assert len((await search(seeded, req("efficient"), limit=3)).hits) == 3
    results = await search(seeded, req("efficient limit:5"), limit=3)
    assert len(results.hits) == 5 and results.total > 5


def paper(pid: str, title: str, **kw: object) -> Paper:
    return Paper(id=pid, title=title, abstract=kw.pop("abstract", "About adapters."), **kw)  # type: ignore[arg-type]


async def test_equal_relevance_newer_then_more_upvoted_first(store: Store) -> None:
    same = dict(title="LoRA adapters", abstract="LoRA adapters for everyone.")
    await store.papers.upsert(
        [
            paper("2401.00001", daily_date=dt.date(2024, 1, 1), upvotes=50, **same),
            paper("2411.00002", daily_date=dt.date(2024, 11, 2), upvotes=1, **same),
            paper("2411.00003", daily_date=dt.date(2024, 11, 2), upvotes=9, **same),
            paper("2402.00004", daily_date=dt.date(2024, 2, 1), upvotes=3, **same),
        ]
    )
    results = await search(store, req("LoRA"))
    assert [h.paper.id for h in results.hits] == [
        "2411.00003",
        "2411.00002",
        "2402.00004",
        "2401.00001",
    ]


async def test_filters(store: Store) -> None:
    await store.papers.upsert(
        [
            paper("2411.00001", "LoRA old", daily_date=dt.date(2024, 9, 1), upvotes=30),
            paper(
                "2411.00002",
                "LoRA recent with code",
                daily_date=dt.date(2024, 11, 15),
                upvotes=5,
                github_url="https://github.com/x/y",
            ),
            paper("2411.00003", "LoRA recent", daily_date=dt.date(2024, 11, 18), upvotes=12),
            paper(
                "2411.00004",
                "LoRA published only",
                published_at=dt.datetime(2024, 11, 19, 23, 30, tzinfo=dt.UTC),
            ),
            paper("2411.00005", "LoRA undated"),
        ]
    )

    async def ids(text: str) -> list[str]:
        return sorted(h.paper.id for h in (await search(store, req(text), limit=50)).hits)

    assert await ids("LoRA since:30d") == ["2411.00002", "2411.00003", "2411.00004"]
    assert await ids("LoRA since:2024-11-18") == ["2411.00003", "2411.00004"]
    assert await ids("LoRA until:2024-11-15") == ["2411.00001", "2411.00002"]
    assert await ids("LoRA since:2024-11-01 until:2024-11-18") == ["2411.00002", "2411.00003"]
    assert await ids("LoRA min-upvotes:10") == ["2411.00001", "2411.00003"]
    assert await ids("LoRA has:code") == ["2411.00002"]
    assert await ids("LoRA has:code min-upvotes:10") == []
    assert await ids("LoRA") == [f"2411.0000{n}" for n in range(1, 6)]
    results = await search(store, req("LoRA since:30d min-upvotes:10"))
    assert results.total == 1
    assert results.filters == ("since 2024-10-21", "at least 10 upvotes")
    first = (await search(store, req("LoRA since:2024-11-19"))).hits[0]
    assert first.date == dt.date(2024, 11, 19)


async def test_filters_at_the_ends_of_the_calendar_and_the_ranges(store: Store) -> None:
    await store.papers.upsert(
        [
            paper("2411.00001", "LoRA dated", daily_date=dt.date(2024, 11, 15), upvotes=10**6),
            paper("2411.00002", "LoRA undated"),
        ]
    )

    async def ids(text: str) -> list[str]:
        return sorted(h.paper.id for h in (await search(store, req(text), limit=50)).hits)

    assert await ids("LoRA since:0001-01-01 until:9999-12-31") == ["2411.00001"]
    assert await ids(f"LoRA since:{TODAY.toordinal() // 365 - 1}y") == ["2411.00001"]
    assert await ids("LoRA since:9999-12-31") == []
    assert await ids("LoRA until:0001-01-01") == []
    assert await ids("LoRA min-upvotes:1000000 limit:100") == ["2411.00001"]


@pytest.mark.timeout(180)  # a safety net: stemming this abstract once took 330 s
async def test_a_huge_abstract_of_one_long_word_is_indexed_as_matched(store: Store) -> None:
    long_word = "y" * 100
    huge = paper(
        "2411.00001",
        f"Tuning {long_word} with QLoRA",
        abstract="We study LoRA adapters. " + "y" * 1_000_000 + " quantization",
    )
    await store.papers.upsert([huge, paper("2411.00002", "y" * 99 + "ies")])
    stored = (await store.papers.get_many(["2411.00001"]))["2411.00001"]
    assert stored.abstract == huge.abstract and len(stored.abstract) == MAX_ABSTRACT
    for query in ["LoRA", "adapters", long_word, long_word.capitalize(), "y" * 101,
                  "y" * 99 + "ies", "y" * 99, "quantization", '"with QLoRA"']:  # fmt: skip
        results = await search(store, req(query), limit=10)
        assert {h.paper.id for h in results.hits} == expected([huge], query) | expected(
            [paper("2411.00002", "y" * 99 + "ies")], query
        ), query
    assert [h.paper.id for h in (await search(store, req(long_word))).hits] == ["2411.00001"]
    assert (await search(store, req("quantization"))).total == 0  # beyond the cap


async def test_index_follows_updates(store: Store) -> None:
    await store.papers.upsert([paper("2411.00001", "Speculative decoding")])
    assert (await search(store, req("speculative"))).total == 1
    await store.papers.upsert([paper("2411.00001", "Pipeline parallelism, revisited")])
    assert (await search(store, req("speculative"))).total == 0
    assert (await search(store, req('"pipeline parallelism"'))).total == 1
    # Votes and code links reach the filters without a re-index (triggers).
    assert (await search(store, req("pipeline min-upvotes:5"))).total == 0
    revisited = paper(
        "2411.00001", "Pipeline parallelism, revisited", upvotes=7, github_url="https://g.com/a"
    )
    await store.papers.upsert([revisited])
    assert (await search(store, req("pipeline min-upvotes:5 has:code"))).total == 1
    # A date change moves the paper in time.
    assert (await search(store, req("pipeline since:2024-11-01"))).total == 0
    await store.papers.upsert(
        [paper("2411.00001", "Pipeline parallelism, revisited", daily_date=dt.date(2024, 11, 11))]
    )
    assert (await search(store, req("pipeline since:2024-11-01"))).total == 1
    assert await SearchIndex(store).pending() == 0


async def test_authors_only_under_author_field(store: Store) -> None:
    await store.papers.upsert(
        [
            paper("2411.00001", "Tensor cores", authors=("Grace Hopper", "Linus McDonald")),
            paper("2411.00002", "Hopper architecture", authors=("Ada Lovelace",)),
        ]
    )

    async def ids(text: str) -> list[str]:
        return sorted(h.paper.id for h in (await search(store, req(text))).hits)

    assert await ids("author:Hopper") == ["2411.00001"]
    assert await ids("Hopper") == ["2411.00002"]
    assert await ids('author:"grace hopper"') == ["2411.00001"]
    assert await ids('author:"hopper linus"') == []  # a phrase never spans two authors
    assert await ids("author:McDonald") == ["2411.00001"]
    assert await ids("author:McD") == ["2411.00001"]  # acronym-like: inside the word
    assert await ids("author:Donald") == []  # an ordinary word: whole words only


async def test_keywords_phrases_do_not_span_values(store: Store) -> None:
    await store.papers.upsert(
        [
            paper("2411.00001", "A", abstract="x", ai_keywords=("speculative", "decoding")),
            paper("2411.00002", "B", abstract="y", ai_keywords=("speculative decoding",)),
            paper("2411.00003", "C", abstract="z", ai_summary="We do speculative decoding."),
        ]
    )
    hits = (await search(store, req('"speculative decoding"'))).hits
    assert sorted(h.paper.id for h in hits) == ["2411.00002", "2411.00003"]


async def test_acronym_case_and_compounds(store: Store) -> None:
    await store.papers.upsert(
        [
            paper("2411.00001", "QLoRA and DyLoRA", abstract="x"),
            paper("2411.00002", "Exploration of lora", abstract="y"),
            paper("2411.00003", "MobileViTv2 is fast", abstract="z"),
            paper("2411.00004", "Sensitivity analysis", abstract="w"),
        ]
    )

    async def ids(text: str) -> list[str]:
        return sorted(h.paper.id for h in (await search(store, req(text))).hits)

    assert await ids("LoRA") == ["2411.00001"]
    assert await ids("lora") == ["2411.00002"]  # not an acronym: whole word, any case
    assert await ids("ViT") == ["2411.00003"]
    assert await ids("LoRA, ViT") == ["2411.00001", "2411.00003"]
    assert await ids("QLoRA DyLoRA") == []  # a phrase: not adjacent words
    assert await ids('"QLoRA and DyLoRA"') == ["2411.00001"]


async def test_merged_sources_are_never_doubled(store: Store) -> None:
    arxiv = Paper(
        id="2411.05288",
        title="Balancing Pipeline Parallelism with Vocabulary Parallelism",
        abstract="Pipeline parallelism is widely used.",
        authors=("Man Tsung Yeung",),
        daily_date=dt.date(2024, 11, 8),
        on_hf=False,
        source="arxiv",
    )
    hf = dataclasses.replace(
        arxiv, upvotes=19, on_hf=True, source="hf", ai_summary="Vocabulary layers balanced.",
        daily_date=dt.date(2024, 11, 11), github_url="https://github.com/sail-sg/VocabularyParallelism",
    )  # fmt: skip
    await store.papers.upsert([arxiv])
    await store.papers.upsert([hf])
    await store.papers.upsert([arxiv])  # arXiv again: no vote is lost
    results = await search(store, req('"pipeline parallelism"'))
    assert [h.paper.id for h in results.hits] == ["2411.05288"]
    hit = results.hits[0]
    assert hit.paper.upvotes == 19 and hit.paper.on_hf and hit.paper.github_url
    assert hit.date == dt.date(2024, 11, 11)
    assert (await search(store, req("pipeline has:code min-upvotes:19"))).total == 1
    assert (await search(store, req("balanced"))).total == 1  # ai_summary is searchable


async def test_bad_queries_are_query_errors(seeded: Store) -> None:
    for text, column in [('LoRA "x', 6), ("LoRA AND", 9), ("since:", 7), ("(LoRA", 1)]:
        with pytest.raises(QueryError) as info:
            await search(seeded, text)
        assert info.value.column == column, text


async def test_sync_indexes_papers_written_by_anyone(store: Store) -> None:
    await store.papers.upsert(load_seed_papers()[:20])
    index = SearchIndex(store)
    assert await index.pending() == 20
    assert await index.sync() == 20
    assert await index.pending() == 0
    assert await index.sync() == 0
    assert await index.rebuild() == 20


async def test_broad_queries_rank_the_newest_and_the_title_matches(seeded: Store) -> None:
    papers = load_seed_papers()
    index = SearchIndex(seeded, window=3)
    broad = ("LoRA", '"language models"', "efficient -survey", "LoRA adapters, MoE", "title:LoRA")
    for query in broad:
        results = await search(seeded, req(query), limit=10, index=index)
        want = expected(papers, query)
        assert results.total == len(want), query
        assert {h.paper.id for h in results.hits} <= want
        assert len(results.hits) == min(len(want), 10) or len(results.hits) >= 3
    results = await search(seeded, req("LoRA"), limit=10, index=index)
    titled = expected(papers, "title:LoRA")
    assert {h.paper.id for h in results.hits[:3]} <= titled
    dated = await search(seeded, req("LoRA since:2000-01-01"), index=index)
    assert dated.total == 0  # the seed papers have no date


def _dated(n: int, title: str, abstract: str, start: dt.date = dt.date(2024, 1, 1)) -> Paper:
    return paper(f"2401.{n:05d}", title, abstract=abstract, daily_date=start + dt.timedelta(days=n))


async def test_broad_dated_and_title_queries_keep_their_range_and_their_title_matches(
    store: Store,
) -> None:
    # 60 papers, a ranking window of 4 (PostgreSQL): the title matches are older than
    # the newest window, and some are outside the date range.
    papers = [
        _dated(n, "Adapters for LoRA" if n % 10 == 3 else f"Study {n}", "We tune LoRA adapters.")
        for n in range(60)
    ]
    await store.papers.upsert(papers)
    index = SearchIndex(store, window=4)
    in_range = {f"2401.{n:05d}" for n in range(20, 60)}
    titled = {f"2401.{n:05d}" for n in range(60) if n % 10 == 3}

    async def found(text: str, want: set[str]) -> list[str]:
        results = await search(store, req(text), limit=5, index=index)
        assert results.total == len(want), text
        assert {h.paper.id for h in results.hits} <= want, text
        return [h.paper.id for h in results.hits]

    titled_in_range = ["2401.00053", "2401.00043", "2401.00033", "2401.00023"]
    assert (await found("LoRA since:2024-01-21", in_range))[:4] == titled_in_range
    assert await found("title:LoRA since:2024-01-21", in_range & titled) == titled_in_range
    both = "title:LoRA AND adapters since:2024-01-21"
    assert await found(both, in_range & titled) == titled_in_range


async def test_a_bounded_sync_leaves_the_rest_of_the_queue(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite's folder is built whole at the first sync")
    papers = [_dated(n, f"Study {n}", "We tune adapters.") for n in range(20)]
    await store.papers.upsert(papers)
    index = SearchIndex(store)
    assert await index.sync(batch=5, most=5) == 5  # what a search does, in small
    assert await index.pending() == 15
    assert await index.sync() == 15
    assert (await search(store, req("adapters"), index=index)).total == 20


async def test_postgres_counts_a_broad_query_from_the_newest_papers(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite's folder counts every match")
    # 80 days of papers: 3 in 4 tune adapters, every tenth has them in its title, the
    # first 20 alone use an old method.
    papers = [
        _dated(
            n,
            "Adapters for LoRA" if n % 10 == 3 else f"Study {n}",
            ("We tune adapters." if n % 4 else "We prune weights.")
            + (" An old method." if n < 20 else ""),
        )
        for n in range(80)
    ]
    await store.papers.upsert(papers)
    index = SearchIndex(store, window=4, estimate_above=10)
    await index.sync()
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")  # the planner's word statistics

    adapters = expected(papers, "adapters")
    broad = await search(store, req("adapters"), limit=5, index=index)
    # The newest 16 papers (4 windows) are read: 12 match, so about 3 in 4 of all 80.
    assert not broad.total_exact
    assert broad.total == 60 == len(adapters)
    assert {h.paper.id for h in broad.hits} <= adapters
    assert broad.hits[0].paper.id == "2401.00073"  # the newest title match first
    # A date range holding no more papers than the sample (the last 16 days) is read
    # whole by it: the total is exact, and nothing is counted another way.
    whole = SearchIndex(store, window=4, estimate_above=3)

    async def no_count(*args: object, **kwargs: object) -> None:
        raise AssertionError("counted every match")

    whole.count_and_newest = no_count  # type: ignore[method-assign,assignment]
    recent = await search(store, req("adapters since:2024-03-05"), limit=5, index=whole)
    assert recent.total_exact
    assert recent.total == len({p for p in adapters if p >= "2401.00064"}) == 12
    assert recent.hits[0].paper.id == "2401.00073"
    # Many matches, but few among the newest papers: every match is counted.
    old = await search(store, req("old"), limit=5, index=index)
    assert old.total_exact and old.total == 20


async def test_sqlite_counts_every_match_and_ranks_titles_at_any_age(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    many = [
        _dated(n, f"Study {n}", "We tune adapters." if n % 2 else "We prune adapters.")
        for n in range(200)
    ]
    many[3] = _dated(3, "Adapters in the title", "Nothing else.")
    many[7] = _dated(7, "Rare", "one zebra here")
    await store.papers.upsert(many)

    broad = await search(store, req("adapters"), limit=3)
    assert broad.total_exact and broad.total == 199  # all but the zebra paper, counted
    # The oldest title match outranks 196 newer abstract matches.
    assert broad.hits[0].paper.id == "2401.00003"
    # Equal relevance: newer first.
    assert [h.paper.id for h in broad.hits[1:]] == ["2401.00199", "2401.00198"]
    rare = await search(store, req("zebra"))
    assert rare.total_exact and [h.paper.id for h in rare.hits] == ["2401.00007"]
    every = await search(store, req("tune"), limit=100)
    assert every.total_exact and every.total == 98 == len(every.hits)  # odd days but 3, 7
    old = await search(store, req("adapters until:2024-01-20"))
    assert old.total_exact and old.total == 19  # days 0-19, all but the zebra paper


async def test_sqlite_folder_follows_votes_links_and_deletes(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    await store.papers.upsert(
        [
            paper("2411.00001", "Graph adapters", upvotes=1),
            paper("2411.00002", "Graph pruning", upvotes=50),
            paper("2411.00003", "Graph search"),
        ]
    )

    async def ids(query: str) -> list[str]:
        return sorted(h.paper.id for h in (await search(store, req(query))).hits)

    assert await ids("graph min-upvotes:10") == ["2411.00002"]
    assert await ids("graph has:code") == []
    await store.papers.upsert(
        [
            paper("2411.00001", "Graph adapters", upvotes=99),
            paper("2411.00003", "Graph search", github_url="https://github.com/a/b"),
        ]
    )
    assert await ids("graph min-upvotes:10") == ["2411.00001", "2411.00002"]
    assert await ids("graph has:code") == ["2411.00003"]
    async with store.begin_write() as conn:
        await conn.exec_driver_sql("DELETE FROM papers WHERE id = '2411.00002'")
    assert await ids("graph") == ["2411.00001", "2411.00003"]
    assert (await search(store, req("pruning"))).total == 0


async def test_sqlite_folder_is_rebuilt_when_missing_or_foreign(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    await store.papers.upsert(load_seed_papers()[:30])
    want = (await search(store, req("LoRA"))).total
    assert want >= 1
    folder = folder_index(store)
    assert folder.path is not None and folder.path.is_dir()
    # Another database's folder (an id the database does not know): made anew.
    (folder.path / "paperboy-index-id").write_text("0123 1\n")
    async with store.begin_write() as conn:
        await conn.exec_driver_sql("UPDATE search_state SET value = 'elsewhere'")
    assert (await search(store, req("LoRA"))).total == want
    # Gone altogether (deleted by hand, a database copied without it): rebuilt.
    async with store.begin_write() as conn:
        await conn.exec_driver_sql("UPDATE search_state SET value = 'gone'")
    shutil.rmtree(folder.path)
    assert (await search(store, req("LoRA"))).total == want
    assert (folder.path / "paperboy-index-id").exists()


async def test_sqlite_rebuild_drops_what_the_archive_no_longer_holds(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    await store.papers.upsert([paper("2411.00001", "Zebra graph"), paper("2411.00002", "Graph")])
    index = SearchIndex(store)
    await index.sync()
    # A paper gone from the archive without the queue knowing (a restored backup).
    async with store.begin_write() as conn:
        await conn.exec_driver_sql("DROP TRIGGER search_papers_delete")
        await conn.exec_driver_sql("DELETE FROM papers WHERE id = '2411.00001'")
    assert folder_index(store).count() == 2
    assert await index.rebuild() == 1
    assert folder_index(store).count() == 1
    assert (await search(store, req("graph"))).total == 1


async def test_sqlite_sync_leaves_the_queue_to_another_writer(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    index = SearchIndex(store)
    await index.sync()  # the folder exists
    folder = folder_index(store)
    assert folder.path is not None
    folder.writer_wait = 0.1
    await store.papers.upsert([paper("2411.00001", "Zebra graph")])
    # Another process's writer holds the folder's lock.
    other = tantivy.Index.open(str(folder.path)).writer(heap_size=15_000_000, num_threads=1)
    try:
        assert await index.sync() == 0
        assert await index.pending() == 1
    finally:
        other.rollback()
        other.wait_merging_threads()
        del other
    assert await index.sync() == 1
    assert await index.pending() == 0
    assert (await search(store, req("zebra"))).total == 1


async def test_sqlite_an_older_read_is_not_written_over_a_newer_version(store: Store) -> None:
    """Two syncs at once (a search's and an ingest's): the slower one read a paper before
    it changed, the faster one indexed the new version; the older read is dropped."""
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    index = SearchIndex(store)
    await index.sync()
    await store.papers.upsert([paper("2411.00001", "Zebra graph")])
    slow = SearchIndex(store)
    queued, rows = await slow._read_batch("", 100)
    docs = await slow._analyse(rows)
    await store.papers.upsert([paper("2411.00001", "Giraffe graph")])
    assert await index.sync() == 1  # the faster sync: the new title
    fresh, _ = await slow._write_folder(queued, docs, None)
    assert fresh == []  # its entry is gone: nothing of the older read is written
    assert (await search(store, req("giraffe"))).total == 1
    assert (await search(store, req("zebra"))).total == 0


async def test_sqlite_a_folder_made_anew_elsewhere_is_opened_again(store: Store) -> None:
    """Another process made the folder anew (a database restored, the folder removed):
    this process's next write notices, lets its index go and opens the new folder."""
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    await store.papers.upsert([paper("2411.00001", "Zebra graph")])
    assert (await search(store, req("zebra"))).total == 1
    mine = folder_index(store)
    assert mine.path is not None
    other = FolderIndex(mine.path)  # as another process sees the same folder
    async with other.locked(shared=False):
        new_id = other.create()
    async with store.begin_write() as conn:
        await conn.exec_driver_sql("UPDATE search_state SET value = ?", (new_id,))
        await conn.exec_driver_sql(
            "INSERT INTO search_pending (paper_id, seq) SELECT id, 0 FROM papers"
        )
    await store.papers.upsert([paper("2411.00002", "Okapi graph")])
    # The next search reopens the folder (the database names the new one) and fills it.
    assert (await search(store, req("graph"))).total == 2
    assert mine.index_id == new_id
    # Removed by hand, the database none the wiser: the next write notices, and the
    # folder is made anew from the archive.
    shutil.rmtree(mine.path)
    await store.papers.upsert([paper("2411.00003", "Tapir graph")])
    assert (await search(store, req("graph"))).total == 3
    assert mine.index_id not in (None, new_id)


async def test_a_superset_query_checks_each_candidate_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phrase mixing an acronym and words is a superset query: every candidate is
    checked by the matcher, in growing calls. However a larger call orders what it
    returns, no paper is checked (or shown) twice and none is skipped."""
    if store.dialect != "sqlite":
        pytest.skip("the index folder is SQLite's")
    day = dt.date(2024, 11, 1)
    await store.papers.upsert(
        [
            paper(
                f"2411.{n:05d}",
                f"Study {n}",
                abstract="We tune LoRA adapters." if n % 3 else "LoRA and other adapters.",
                daily_date=day + dt.timedelta(days=n),
            )
            for n in range(90)
        ]
    )
    search_folder = FolderIndex.search
    calls = 0

    def reordered(self: FolderIndex, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        hits, total = search_folder(self, *args, **kwargs)  # type: ignore[arg-type]
        return (hits[::-1] if calls > 1 else hits), total

    monkeypatch.setattr(FolderIndex, "search", reordered)
    results = await search(store, req('"LoRA adapters" limit:40'))
    assert calls > 1  # more than one call was needed
    ids = [h.paper.id for h in results.hits]
    assert len(ids) == len(set(ids)) == 40
    assert results.total == 60 and results.total_exact  # n % 3 != 0


async def test_prepared_analyses_are_used_only_for_what_was_stored(store: Store) -> None:
    day = dt.date(2024, 11, 4)
    batch = [paper(f"2411.{n:05d}", f"Plain study {n}", daily_date=day) for n in range(150)]
    await store.papers.upsert([paper("2411.00007", "Known zebra paper", daily_date=day)])
    async with SearchIndex(store, workers=1) as index:
        await index.sync()
        index.prepare(batch)
        changed = dataclasses.replace(batch[3], title="Changed giraffe title")
        # Stored: batch[3] changed after the analysis; 2411.00007 merged with what was known.
        await store.papers.upsert([*batch[:3], changed, *batch[4:]])
        await index.sync()
        assert [h.paper.id for h in (await search(store, req("giraffe"), index=index)).hits] == [
            "2411.00003"
        ]
        assert (await search(store, req("zebra"), index=index)).total == 0
        assert (await search(store, req('"plain study"'), index=index)).total == 149
        assert (await search(store, req("study 7"), index=index)).hits[0].paper.id == "2411.00007"
