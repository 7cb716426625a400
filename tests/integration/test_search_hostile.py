"""Hostile search strings against a real store (hypothesis): a QueryError or an answer.

Whatever the text (FTS5 operators, quotes, column filters, SQL, NUL, odd Unicode), the
database never sees it as syntax: the only failure allowed is a `QueryError` carrying a
column, and an answer always agrees with the subscription matcher.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.matching import Matcher, QueryError
from paperboy.search import SearchIndex, parse_search, search
from paperboy.store import Store, migrate
from tests.seed_corpus import load_seed_papers

PAPERS = load_seed_papers()[:60]

PIECES = [
    '"', "'", "''", "“", "”", "AND", "OR", "NOT", "and", "-", "−", "*", "^", ":", "::",
    "NEAR", "NEAR(", "NEAR/2", "(", ")", "{", "}", "{t a}:", "t:", "title:", "author:",
    "abstract:", "foo:", "rowid:", "search_fts", "0qa", "0qz", ",", ";", "\\", "%", "_",
    "'; DROP TABLE papers; --", "' OR 1=1 --", "\x00", "\ud800", "🙂", "ＬｏＲＡ", "LoRA",
    "lora", "QLoRA", "ViT", "MoE", "quantization", "models", "&", "|", "!", "<->", ":*",
    "@@", "$$", "since:", "since:30d", "until:2024-13-01", "limit:0", "limit:7", "has:code",
    "min-upvotes:1", "-since:1d", "x" * 40, "e\u0301", "ﬁne", "Ⅻ", "\t", "\n",
]  # fmt: skip

HOSTILE = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map(" ".join),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join),
    st.text(max_size=60),
    st.text(alphabet=st.sampled_from('LoRA"()-:*^{},NEAR OTD'), max_size=40),
)

TODAY = dt.date(2024, 11, 20)


async def _seed(url: str) -> None:
    await migrate(url)
    async with Store(url) as store:
        await store.papers.upsert(PAPERS)
        await SearchIndex(store).sync()


async def _check(url: str, text: str) -> None:
    async with Store(url) as store:
        try:
            request = parse_search(text, today=TODAY)
            results = await search(store, request, limit=100, sync=False)
        except QueryError as error:
            assert error.column >= 1
            assert "\n" not in str(error)
            return
        want = {m.paper.id for m in Matcher.compile([(0, request.query)]).match(PAPERS).get(0, [])}
        if request.options == type(request.options)():  # no filters: compare with matching
            assert {h.paper.id for h in results.hits} == want
            assert results.total == len(want)
        assert len(results.hits) <= 100
        assert await store.papers.count() == len(PAPERS)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_hostile_queries_are_errors_or_answers(db_url: str) -> None:
    asyncio.run(_seed(db_url))

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(HOSTILE)
    def check(text: str) -> None:
        asyncio.run(_check(db_url, text))

    check()


@pytest.mark.parametrize(
    "text",
    [
        '"',
        "AND",
        "*",
        "LoRA*",
        "NEAR(LoRA quantization)",
        "^LoRA",
        "{t}: LoRA",
        "t : LoRA",
        "title:LoRA OR abstract:*",
        "'; DROP TABLE papers; --",
        '" OR 1=1 --',
        "LoRA AND",
        "quantization:*",
        "x\x00y",
    ],
)
async def test_classic_fts_and_sql_syntax(store: Store, text: str) -> None:
    await store.papers.upsert(PAPERS)
    try:
        await search(store, text)
    except QueryError as error:
        assert error.column >= 1
    assert await store.papers.count() == len(PAPERS)
