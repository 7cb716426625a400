"""The store on SQLite and on PostgreSQL: same tests, same migrations.

PostgreSQL runs need PAPERBOY_TEST_DATABASE_URL (see tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from paperboy.models import PAPER_FIELDS, ChannelSettings, Paper, Target
from paperboy.store import (
    MAX_QUERY_LENGTH,
    MAX_SUBSCRIPTIONS_PER_CHANNEL,
    DuplicateSubscriptionError,
    InvalidSettingError,
    InvalidSubscriptionError,
    Store,
    SubscriptionLimitError,
    UpsertResult,
    current_revision,
    head_revision,
    make_engine,
    migrate,
)
from paperboy.store.db import normalise_url
from paperboy.store.repositories import CHUNK_SIZE, paper_columns
from paperboy.store.tables import is_native_search_table, metadata, papers, targets
from tests import conftest

UTC = dt.UTC
T0 = dt.datetime(2024, 11, 11, 6, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

SLACK = Target("slack", "T01", "C01")
DISCORD = Target("discord", "", "1234567890")


def paper(pid: str, **fields: object) -> Paper:
    base: dict[str, object] = {
        "title": f"Paper {pid}",
        "abstract": f"Abstract of {pid}.",
        "authors": ("Ada Lovelace", "Alan Turing"),
        "published_at": dt.datetime(2024, 11, 8, 17, 0, tzinfo=UTC),
        "daily_date": dt.date(2024, 11, 11),
        "upvotes": 1,
    }
    base.update(fields)
    return Paper(id=pid, **base)  # type: ignore[arg-type]


def hf_day() -> list[Paper]:
    """The recorded Hugging Face day (9 papers, three with Korean text)."""
    items = json.loads((FIXTURES / "hf_daily_papers_2024-11-11.json").read_text("utf-8"))
    out = []
    for item in items:
        p = item["paper"]
        out.append(
            Paper(
                id=p["id"],
                title=p["title"],
                abstract=p.get("summary") or "",
                authors=tuple(a["name"] for a in p.get("authors", [])),
                published_at=dt.datetime.fromisoformat(p["publishedAt"].replace("Z", "+00:00")),
                daily_date=dt.date(2024, 11, 11),
                upvotes=p.get("upvotes") or 0,
                ai_summary=p.get("ai_summary"),
                ai_keywords=tuple(p.get("ai_keywords") or ()),
                thumbnail_url=item.get("thumbnail"),
            )
        )
    return out


async def one_paper(store: Store, paper_id: str) -> Paper | None:
    return (await store.papers.get_many([paper_id])).get(paper_id)


async def all_targets(store: Store) -> list[Target]:
    """Every known target, oldest first."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(targets.c.platform, targets.c.workspace, targets.c.channel).order_by(
                targets.c.id
            )
        )
        return [Target(*row) for row in rows]


async def scalar(store: Store, sql: str, **params: object) -> object:
    async with store.engine.connect() as conn:
        return (await conn.execute(sa.text(sql), params)).scalar_one()


# --------------------------------------------------------------------------- migrations


async def test_migrate_twice_is_a_no_op(db_url: str) -> None:
    assert await current_revision(db_url) is None
    await migrate(db_url)
    assert await current_revision(db_url) == head_revision() is not None
    async with Store(db_url) as store:
        await store.papers.upsert([paper("2411.00001")])
        await store.subscriptions.add(SLACK, "LoRA")
    await migrate(db_url)
    assert await current_revision(db_url) == head_revision()
    async with Store(db_url) as store:
        assert await store.papers.count() == 1
        assert [s.query for s in await store.subscriptions.list(SLACK)] == ["LoRA"]
        assert await scalar(store, "SELECT count(*) FROM alembic_version") == 1


async def test_concurrent_migrations_agree(db_url: str) -> None:
    await asyncio.gather(*(migrate(db_url) for _ in range(3)))
    assert await current_revision(db_url) == head_revision()


async def test_migrated_schema_matches_tables(store: Store) -> None:
    def diff(sync_conn: sa.Connection) -> list[object]:
        def include_name(name: str | None, type_: str, parents: object) -> bool:
            # The backend's own full-text tables (FTS5, tsvector) are not in the metadata.
            return not (type_ == "table" and name and is_native_search_table(name))

        opts = {"compare_type": True, "include_name": include_name}
        ctx = MigrationContext.configure(sync_conn, opts=opts)
        return compare_metadata(ctx, metadata)

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
        names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    tables = {name for name in names if not is_native_search_table(name)}
    assert tables == {
        "alembic_version",
        "papers",
        "targets",
        "subscriptions",
        "channel_settings",
        "deliveries",
        "digest_runs",
        "outbox",
        "search_pending",
        "search_acronyms",
        "ingest_progress",
        "install_secrets",
        "feedback_votes",
        "feedback_settings",
        "paper_embeddings",
        "rollup_settings",
        "rollup_runs",
        "summaries",
        "summary_usage",
    }


@pytest.mark.postgres
async def test_postgres_schema_isolation(postgres_url: str) -> None:
    schema = make_url(postgres_url).query["schema"]
    await migrate(postgres_url)
    async with Store(postgres_url) as store:
        assert await scalar(store, "SELECT current_schema()") == schema
        in_schema = await scalar(
            store,
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = :s AND table_name = 'alembic_version'",
            s=schema,
        )
        assert in_schema == 1


async def test_store_open_can_migrate(db_url: str) -> None:
    store = await Store.open(db_url, migrate=True)
    try:
        assert store.dialect in ("sqlite", "postgresql")
        assert await store.papers.count() == 0
    finally:
        await store.close()


async def test_sqlite_connection_pragmas(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    assert await asyncio.to_thread(Path(make_url(sqlite_url).database or "").exists)
    async with Store(sqlite_url) as store:
        assert await scalar(store, "PRAGMA foreign_keys") == 1
        assert await scalar(store, "PRAGMA journal_mode") == "wal"
        assert await scalar(store, "PRAGMA busy_timeout") == 5000


def test_urls() -> None:
    assert normalise_url("postgres://u:p@h/db?sslmode=require").render_as_string(
        hide_password=False
    ) == ("postgresql+asyncpg://u:p@h/db?ssl=require")
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    with pytest.raises(ValueError, match="PostgreSQL"):
        make_engine("sqlite+aiosqlite:///x.db", schema="s")
    with pytest.raises(ValueError, match="identifier"):
        make_engine("postgresql+asyncpg://h/db?schema=bad;drop")
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql+aiomysql://h/db")


def test_ci_never_skips_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(conftest.PG_URL_ENV, raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="never skips"):
        conftest.postgres_base_url()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        conftest.postgres_base_url()


# --------------------------------------------------------------------------- papers


async def test_upsert_is_idempotent_and_keeps_first_seen(store: Store) -> None:
    batch = [paper("2411.00001", upvotes=3), paper("2411.00002", upvotes=7)]
    assert await store.papers.upsert(batch, seen_at=T0) == UpsertResult(inserted=2, updated=0)
    later = T0 + dt.timedelta(hours=2)
    assert await store.papers.upsert(batch, seen_at=later) == UpsertResult(0, 0)

    bumped = [paper("2411.00001", upvotes=42), paper("2411.00003")]
    assert await store.papers.upsert(bumped, seen_at=later) == UpsertResult(inserted=1, updated=1)
    got = await one_paper(store, "2411.00001")
    assert got is not None and got.upvotes == 42
    assert await store.papers.count() == 3

    # first_seen_at stayed at T0 for the first two.
    async with store.engine.connect() as conn:
        seen = dict((await conn.execute(sa.select(papers.c.id, papers.c.first_seen_at))).all())
    assert seen == {"2411.00001": T0, "2411.00002": T0, "2411.00003": later}


async def test_json_columns_keep_the_standard_library_s_text(store: Store) -> None:
    """A paper's JSON columns are written as `json.dumps` writes them, as rows stored by
    earlier versions hold them: the upsert compares that text, so re-ingesting an
    unchanged paper with non-ASCII authors changes nothing (only the outbox's parts are
    written by orjson)."""
    batch = [
        dataclasses.replace(
            paper("2411.00001"), authors=("Zoë Müller", "B. Li"), ai_keywords=("LoRA", "Ünïcode")
        )
    ]
    assert await store.papers.upsert(batch, seen_at=T0) == UpsertResult(inserted=1, updated=0)
    async with store.engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(
                    sa.cast(papers.c.authors, sa.Text), sa.cast(papers.c.ai_keywords, sa.Text)
                )
            )
        ).one()
    if store.engine.dialect.name == "sqlite":  # PostgreSQL's jsonb keeps no text of its own
        assert stored[0] == json.dumps(["Zoë Müller", "B. Li"])
        assert stored[1] == json.dumps(["LoRA", "Ünïcode"])
    later = T0 + dt.timedelta(hours=1)
    assert await store.papers.upsert(batch, seen_at=later) == UpsertResult(0, 0)


async def test_upsert_round_trips_every_field(store: Store) -> None:
    day = hf_day()
    assert (await store.papers.upsert(day)).inserted == 9
    got = await store.papers.get_many(p.id for p in day)
    assert got == {p.id: p for p in day}
    full = paper(
        "2411.09999",
        ai_summary="요약: 한국어 요약입니다.",
        ai_keywords=("LoRA", "Mixture-of-Experts"),
        github_url="https://github.com/x/y",
        project_url="https://x.github.io/",
        thumbnail_url="https://cdn/x.png",
        on_hf=False,
        source="arxiv",
    )
    await store.papers.upsert([full])
    back = await one_paper(store, full.id)
    assert back == full
    assert back.published_at is not None and back.published_at.tzinfo is not None
    assert back.published_at.utcoffset() == dt.timedelta(0)
    assert await store.papers.get_many(["nope"]) == {}


async def test_upsert_merges_without_losing_data(store: Store) -> None:
    rich = paper(
        "2411.00001",
        upvotes=12,
        ai_summary="A summary.",
        ai_keywords=("LoRA",),
        github_url="https://github.com/a/b",
    )
    await store.papers.upsert([rich], seen_at=T0)
    # An arXiv listing of the same paper: no votes, no HF data, empty abstract.
    arxiv = Paper(id="2411.00001", title="", abstract="", on_hf=False, source="arxiv")
    assert await store.papers.upsert([arxiv]) == UpsertResult(0, 0)
    assert await one_paper(store, "2411.00001") == rich

    fresh = paper(
        "2411.00001",
        title="Better title",
        upvotes=15,
        ai_summary="A better summary.",
        ai_keywords=("LoRA", "PEFT"),
        project_url="https://p.example/",
    )
    assert await store.papers.upsert([fresh]) == UpsertResult(0, 1)
    got = await one_paper(store, "2411.00001")
    assert got is not None
    assert (got.title, got.upvotes, got.ai_summary) == ("Better title", 15, "A better summary.")
    assert got.ai_keywords == ("LoRA", "PEFT")
    assert (got.github_url, got.project_url) == ("https://github.com/a/b", "https://p.example/")


async def test_upsert_in_chunks_and_duplicate_ids(store: Store) -> None:
    many = [paper(f"2411.{i:05d}") for i in range(CHUNK_SIZE * 2 + 7)]
    assert await store.papers.upsert(many) == UpsertResult(len(many), 0)
    assert await store.papers.upsert(many) == UpsertResult(0, 0)
    assert await store.papers.count() == len(many)
    twice = [paper("2501.00001", upvotes=1), paper("2501.00001", upvotes=2)]
    assert await store.papers.upsert(twice) == UpsertResult(1, 0)
    got = await one_paper(store, "2501.00001")
    assert got is not None and got.upvotes == 2
    assert len(await store.papers.get_many(p.id for p in many)) == len(many)
    assert await store.papers.upsert([]) == UpsertResult(0, 0)


async def test_upsert_drops_nul_characters(store: Store) -> None:
    await store.papers.upsert([paper("2411.00001", title="Bad\x00title", authors=("A\x00B",))])
    got = await one_paper(store, "2411.00001")
    assert got is not None and (got.title, got.authors) == ("Badtitle", ("AB",))


async def test_for_day(store: Store) -> None:
    assert await store.papers.latest_day() is None
    await store.papers.upsert(
        [
            paper("2411.00001", upvotes=5),
            paper("2411.00002", upvotes=50),
            paper("2411.00003", daily_date=dt.date(2024, 11, 12)),
        ]
    )
    assert [p.id for p in await store.papers.for_day(dt.date(2024, 11, 11))] == [
        "2411.00002",
        "2411.00001",
    ]
    assert await store.papers.for_day(dt.date(2020, 1, 1)) == []
    assert await store.papers.latest_day() == dt.date(2024, 11, 12)


# --------------------------------------------------------------------------- targets


async def test_targets_are_unique(store: Store) -> None:
    first = await store.targets.ensure(SLACK)
    assert await store.targets.ensure(SLACK) == first
    assert await store.targets.get_id(SLACK) == first
    other = await store.targets.ensure(Target("slack", "", "C01"))
    assert other != first
    assert await store.targets.get_id(DISCORD) is None
    assert await all_targets(store) == [SLACK, Target("slack", "", "C01")]


async def test_concurrent_ensure_creates_one_target(store: Store) -> None:
    ids = await asyncio.gather(*(store.targets.ensure(DISCORD) for _ in range(10)))
    assert len(set(ids)) == 1
    assert await all_targets(store) == [DISCORD]
    assert await scalar(store, "SELECT count(*) FROM channel_settings") == 1


async def test_invalid_targets_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.targets.ensure(Target("slack", "", ""))


# --------------------------------------------------------------------------- subscriptions


async def test_subscriptions_add_list_remove(store: Store) -> None:
    lora = await store.subscriptions.add(SLACK, "LoRA")
    pp = await store.subscriptions.add(SLACK, '  "pipeline parallelism"  ')
    await store.subscriptions.add(DISCORD, "LoRA")
    assert pp.query == '"pipeline parallelism"'
    assert lora.target == SLACK and lora.created_at is not None
    assert lora.created_at.tzinfo is not None
    assert await store.subscriptions.list(SLACK) == [lora, pp]
    assert len(await store.subscriptions.list(SLACK)) == 2

    assert await store.subscriptions.remove(DISCORD, lora.id) is None  # not its subscription
    assert await store.subscriptions.remove(SLACK, lora.id) == lora
    assert await store.subscriptions.remove(SLACK, lora.id) is None
    assert await store.subscriptions.remove(SLACK, 10**12) is None  # user typed a huge id
    assert await store.subscriptions.remove_query(SLACK, '"pipeline parallelism"') == pp
    assert await store.subscriptions.remove_query(SLACK, "LoRA") is None
    assert await store.subscriptions.list(SLACK) == []
    assert [(s.target, s.query) for s in await store.subscriptions.list(DISCORD)] == [
        (DISCORD, "LoRA")
    ]

    again = await store.subscriptions.add(SLACK, "LoRA")
    assert again.id > pp.id  # ids are never reused


async def test_duplicate_subscription(store: Store) -> None:
    first = await store.subscriptions.add(SLACK, "LoRA")
    with pytest.raises(DuplicateSubscriptionError) as info:
        await store.subscriptions.add(SLACK, " LoRA ")
    assert info.value.existing == first
    assert (await store.subscriptions.add(SLACK, "lora")).query == "lora"  # case matters
    assert len(await store.subscriptions.list(SLACK)) == 2


async def test_subscription_limit(store: Store) -> None:
    added = [await store.subscriptions.add(SLACK, f"topic {i}") for i in range(50)]
    assert MAX_SUBSCRIPTIONS_PER_CHANNEL == 50
    with pytest.raises(SubscriptionLimitError):
        await store.subscriptions.add(SLACK, "one too many")
    assert await store.subscriptions.list(SLACK) == added
    # A duplicate at the limit is reported as a duplicate.
    with pytest.raises(DuplicateSubscriptionError):
        await store.subscriptions.add(SLACK, "topic 0")
    await store.subscriptions.remove(SLACK, added[0].id)
    await store.subscriptions.add(SLACK, "now it fits")
    assert len(await store.subscriptions.list(SLACK)) == 50


async def test_concurrent_adds_respect_the_limit(store: Store) -> None:
    for i in range(MAX_SUBSCRIPTIONS_PER_CHANNEL - 2):
        await store.subscriptions.add(SLACK, f"topic {i}")
    results = await asyncio.gather(
        *(store.subscriptions.add(SLACK, f"racer {i}") for i in range(6)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 2
    assert all(
        isinstance(r, SubscriptionLimitError) for r in results if isinstance(r, BaseException)
    )
    assert len(await store.subscriptions.list(SLACK)) == MAX_SUBSCRIPTIONS_PER_CHANNEL


async def test_unicode_and_long_queries_round_trip(store: Store) -> None:
    queries = [
        "확산 모델",
        "Mixture-of-Experts AND NOT 'vision'",
        "😀 emoji, Ünïcödé, 中文 检索",
        "x" * MAX_QUERY_LENGTH,
        "é" * MAX_QUERY_LENGTH,
    ]
    for q in queries:
        await store.subscriptions.add(SLACK, q)
    assert [s.query for s in await store.subscriptions.list(SLACK)] == queries
    with pytest.raises(InvalidSubscriptionError):
        await store.subscriptions.add(SLACK, "x" * (MAX_QUERY_LENGTH + 1))
    for bad in ("", "   ", "a\x00b"):
        with pytest.raises(InvalidSubscriptionError):
            await store.subscriptions.add(SLACK, bad)
    assert len(await store.subscriptions.list(SLACK)) == len(queries)


# --------------------------------------------------------------------------- settings


async def test_settings_defaults(db_url: str) -> None:
    await migrate(db_url)
    async with Store(db_url, default_tz="Europe/Berlin") as store:
        assert await store.settings.get(SLACK) == ChannelSettings(timezone="Europe/Berlin")
        assert (await store.settings.get(SLACK, default_tz="Asia/Seoul")).timezone == ("Asia/Seoul")
        await store.targets.ensure(SLACK)
        assert await store.settings.get(SLACK) == ChannelSettings(timezone="Europe/Berlin")
        assert await scalar(store, "SELECT last_digest_at FROM channel_settings") is None
    with pytest.raises(InvalidSettingError):
        Store(db_url, default_tz="Mars/Olympus")


async def test_settings_update_and_validation(store: Store) -> None:
    got = await store.settings.update(
        SLACK,
        schedule_time="7:05",
        timezone="America/New_York",
        days="Monday, wed fri",
        max_papers=5,
        min_upvotes=3,
        post_empty=True,
    )
    assert got == ChannelSettings(
        schedule_time="07:05",
        timezone="America/New_York",
        days=("mon", "wed", "fri"),
        max_papers=5,
        min_upvotes=3,
        post_empty=True,
    )
    assert await store.settings.get(SLACK) == got
    got = await store.settings.update(SLACK, days=("sun", "sat", "sat"))
    assert got.days == ("sat", "sun")

    paused = await store.settings.update(SLACK, paused=True, paused_reason="channel archived")
    assert (paused.paused, paused.paused_reason) == (True, "channel archived")
    resumed = await store.settings.update(SLACK, paused=False)
    assert (resumed.paused, resumed.paused_reason) == (False, None)

    bad: list[dict[str, object]] = [
        {"colour": "red"},
        {"last_digest_at": T0},
        {"schedule_time": "25:00"},
        {"schedule_time": "9am"},
        {"timezone": "Mars/Olympus"},
        {"timezone": ""},
        {"days": "funday"},
        {"days": ""},
        {"max_papers": 0},
        {"max_papers": 10_000},
        {"max_papers": "5"},
        {"min_upvotes": -1},
        {"paused": 1},
        {"max_papers": 3, "schedule_time": "nope"},  # nothing is written on error
    ]
    for changes in bad:
        with pytest.raises(InvalidSettingError):
            await store.settings.update(SLACK, **changes)
    assert await store.settings.get(SLACK) == resumed
    assert await all_targets(store) == [SLACK]
    assert await scalar(store, "SELECT count(*) FROM channel_settings") == 1


def test_the_papers_table_follows_the_paper_fields() -> None:
    """One field list: Paper's. Every field has its column and is written by the upsert."""
    assert set(PAPER_FIELDS) <= set(papers.c.keys())
    assert tuple(paper_columns(paper("2411.00001"))) == PAPER_FIELDS
