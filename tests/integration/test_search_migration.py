"""Migration 0003 (search index, backfill progress): up, down and up again, on both stores."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from paperboy.matching import Matcher
from paperboy.search import search
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
