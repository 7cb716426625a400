"""Migration 0003 (search index, backfill progress): up, down and up again, on both stores."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from paperboy.matching import Matcher
from paperboy.search import SearchIndex, search
from paperboy.store import Store, migrate
from paperboy.store.db import alembic_config, make_engine, write_engine
from tests.seed_corpus import load_seed_papers


async def _downgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        async with write_engine(engine).begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))
    finally:
        await engine.dispose()


async def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_existing_papers_are_indexed_and_downgrade_removes_everything(db_url: str) -> None:
    await migrate(db_url, revision="0002")
    async with Store(db_url) as store:
        await store.papers.upsert(load_seed_papers()[:30])  # archived before search existed
    await migrate(db_url)
    async with Store(db_url) as store:
        assert (await search(store, "LoRA")).total >= 1
    await _downgrade(db_url, "0002")
    left = await tables(db_url)
    assert not {t for t in left if t.startswith("search") or t == "ingest_progress"}
    async with Store(db_url) as store:  # the archive is untouched, writes need no trigger
        await store.papers.upsert(load_seed_papers()[30:40])
        assert await store.papers.count() == 40
    await migrate(db_url)
    async with Store(db_url) as store:
        results = await search(store, "efficient", limit=100)
    papers = load_seed_papers()[:40]
    want = {m.paper.id for m in Matcher.compile([(0, "efficient")]).match(papers).get(0, [])}
    assert {h.paper.id for h in results.hits} == want and len(want) > 10


async def test_papers_without_word_pairs_are_found_by_their_positions(db_url: str) -> None:
    """0011 (PostgreSQL): a paper's word pairs are NULL until it is indexed again (rows
    written before the migration, or by older code still running during an upgrade); a
    phrase finds such a paper by its positions. Every paper is queued to get its pairs."""
    papers = load_seed_papers()
    phrase = '"pipeline parallelism"'
    want = {m.paper.id for m in Matcher.compile([(0, phrase)]).match(papers).get(0, [])}
    assert want
    await migrate(db_url)
    async with Store(db_url) as store:
        await store.papers.upsert(papers)
        assert await SearchIndex(store).sync() == len(papers)
    await _downgrade(db_url, "0010")
    await migrate(db_url)
    async with Store(db_url) as store:
        postgres = store.dialect == "postgresql"

        async def found() -> set[str]:
            results = await search(store, phrase, limit=100, sync=False)
            return {h.paper.id for h in results.hits}

        assert await found() == want  # no row has pairs yet
        assert await SearchIndex(store).sync() == (len(papers) if postgres else 0)
        assert await found() == want
        if not postgres:
            return
        async with store.engine.begin() as conn:
            unknown = "SELECT count(*) FROM search_vectors WHERE pairs IS NULL"
            assert (await conn.execute(sa.text(unknown))).scalar_one() == 0
            # One paper written as older code writes it, without pairs.
            await conn.execute(
                sa.text(
                    "UPDATE search_vectors SET pairs = NULL WHERE docid ="
                    " (SELECT docid FROM search_docs WHERE paper_id = :p)"
                ),
                {"p": min(want)},
            )
        assert await found() == want
