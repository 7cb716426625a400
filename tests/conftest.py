"""Shared database fixtures.

`db_url` runs a test once per backend:

- `sqlite`: a fresh file under `tmp_path`;
- `postgres`: a fresh schema in the database named by `PAPERBOY_TEST_DATABASE_URL`
  (e.g. `postgresql+asyncpg://postgres@127.0.0.1:5432/test`), dropped afterwards. The URL
  handed to the test carries `?schema=...`, so anything given it (`Store`, `migrate`, a
  subprocess via `PAPERBOY_DATABASE_URL`) stays inside that schema.

Without `PAPERBOY_TEST_DATABASE_URL` the postgres runs are skipped, unless `CI=true`: then
they fail, because a CI run never skips them.

`store` is an open `Store` on a migrated `db_url`. `sqlite_url` and `postgres_url` give one
backend only.

Migrating takes the better part of a second, so a run (each xdist worker) migrates once
into a template and copies it for every test that asks for `store`: for SQLite a template
file copied to the test's own file; for PostgreSQL a database made from a template
database (`CREATE DATABASE ... TEMPLATE`; its URL names the template's schema), which the
next test gets back in the template's state: its connections ended, its schema checked
against the template's, its rows deleted, its sequences reset (anything else: a new copy).
A test that asks for `db_url` without `store` still gets an empty database, so the tests
of migration itself migrate from scratch.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from paperboy.store import Store, make_engine, migrate

PG_URL_ENV = "PAPERBOY_TEST_DATABASE_URL"


def postgres_base_url() -> str:
    """The test PostgreSQL URL; skips the test without one (fails it on CI)."""
    url = os.environ.get(PG_URL_ENV, "").strip()
    if url:
        return url
    reason = f"PostgreSQL tests need {PG_URL_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, and a CI run never skips them", pytrace=False)
    pytest.skip(reason)


@asynccontextmanager
async def postgres_schema(base_url: str) -> AsyncIterator[str]:
    """Create a uniquely named schema; yield a URL pointing into it; drop it afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base_url, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            url = make_url(base_url).update_query_dict({"schema": schema})
            yield url.render_as_string(hide_password=False)
        finally:
            async with admin.begin() as conn:
                # A leaked open transaction in the schema must not hang the whole run.
                await conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await admin.dispose()


def sqlite_file_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'db' / 'paperboy.db'}"


T = TypeVar("T")


def run_apart(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` to its end in an event loop of its own thread: a session fixture may be
    set up while a test's loop is current, and `asyncio.run` here would unset it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work()).result()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run (per worker), copied for each test."""
    url = sqlite_file_url(tmp_path_factory.mktemp("template"))
    run_apart(lambda: migrate(url))
    return Path(make_url(url).database or "")


def sqlite_copy(template: Path, directory: Path) -> str:
    url = sqlite_file_url(directory)
    target = Path(make_url(url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return url


TEMPLATE_SCHEMA = "paperboy_test"


def _database_url(base_url: str, database: str, schema: str | None = None) -> str:
    url = make_url(base_url).set(database=database)
    if schema is not None:
        url = url.update_query_dict({"schema": schema})
    return url.render_as_string(hide_password=False)


async def _create_database(base_url: str, name: str, template: str | None = None) -> None:
    admin = make_engine(base_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            suffix = f' TEMPLATE "{template}"' if template else ""
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await admin.dispose()


async def _drop_database(base_url: str, name: str) -> None:
    admin = make_engine(base_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            # FORCE: a connection a test leaked open must not keep its database (or hang).
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.dispose()


# What makes the schema what it is: relations, columns, triggers, functions, revision.
_SIGNATURE = sa.text(
    """
    SELECT md5(coalesce(string_agg(part, ',' ORDER BY part), '')) FROM (
      SELECT 'c ' || c.relname || ' ' || c.relkind::text AS part
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s
      UNION ALL
      SELECT 'a ' || c.relname || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
             || ' ' || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = :s AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL
      SELECT 't ' || t.tgname || ' ' || t.tgenabled::text
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s
      UNION ALL
      SELECT 'p ' || p.proname || ' ' || md5(p.prosrc)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s
      UNION ALL
      SELECT 'v ' || version_num FROM alembic_version
    ) parts
    """
).bindparams(s=TEMPLATE_SCHEMA)


@dataclass
class PostgresTemplate:
    """A PostgreSQL database migrated once per run (per worker), its tables in the schema
    `TEMPLATE_SCHEMA`, and what it takes to give a used copy of it back its first state."""

    base: str
    name: str
    signature: str
    tables: list[str]  # all but alembic_version
    sequences: list[str]
    empty: bool  # the migrations left no rows: a copy is restored by emptying it
    superuser: bool  # may empty tables without their triggers (session_replication_role)
    spare: str | None = None  # the copy the last test used, restored before the next one


async def _describe(base: str, name: str) -> PostgresTemplate:
    engine = make_engine(_database_url(base, name, TEMPLATE_SCHEMA), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            signature = (await conn.execute(_SIGNATURE)).scalar_one()
            tables = list(
                (
                    await conn.execute(
                        sa.text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = :s"
                            " AND tablename <> 'alembic_version' ORDER BY tablename"
                        ).bindparams(s=TEMPLATE_SCHEMA)
                    )
                ).scalars()
            )
            sequences = list(
                (
                    await conn.execute(
                        sa.text(
                            "SELECT sequencename FROM pg_sequences WHERE schemaname = :s"
                        ).bindparams(s=TEMPLATE_SCHEMA)
                    )
                ).scalars()
            )
            empty = True
            for table in tables:
                found = await conn.exec_driver_sql(f'SELECT EXISTS (SELECT 1 FROM "{table}")')
                empty = empty and not found.scalar_one()
            superuser = (
                await conn.exec_driver_sql(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return PostgresTemplate(base, name, signature, tables, sequences, empty, bool(superuser))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    """The migrated template database of this run (worker); dropped at its end, with the
    copy the last test used."""
    base = postgres_base_url()
    name = f"paperboy_tpl_{uuid.uuid4().hex[:16]}"

    async def build() -> PostgresTemplate:
        await _create_database(base, name)
        await migrate(_database_url(base, name, TEMPLATE_SCHEMA))
        return await _describe(base, name)

    template: PostgresTemplate | None = None
    try:
        template = run_apart(build)
        yield template
    finally:

        async def drop() -> None:
            if template is not None and template.spare is not None:
                await _drop_database(base, template.spare)
            await _drop_database(base, name)

        run_apart(drop)


async def _restored(template: PostgresTemplate, name: str) -> bool:
    """Give a used copy the template's first state (no rows, sequences from 1), as fast as
    emptying a dozen tables is; False if it cannot be (its schema changed, a lock stayed)."""
    engine = make_engine(_database_url(template.base, name, TEMPLATE_SCHEMA), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            # As DROP DATABASE ... WITH (FORCE) would: no connection of the last test lives on.
            await conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if (await conn.execute(_SIGNATURE)).scalar_one() != template.signature:
                return False
            if template.superuser:
                await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                for table in template.tables:
                    await conn.exec_driver_sql(f'DELETE FROM "{table}"')
            elif template.tables:
                names = ", ".join(f'"{table}"' for table in template.tables)
                await conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            for sequence in template.sequences:
                await conn.exec_driver_sql(f"SELECT setval('\"{sequence}\"', 1, false)")
        return True
    except sa.exc.DBAPIError:
        return False
    finally:
        await engine.dispose()


@asynccontextmanager
async def postgres_copy(template: PostgresTemplate) -> AsyncIterator[str]:
    """A database in the template's first state for one test: the copy the last test used,
    restored, or a new one made from the template (CREATE DATABASE ... TEMPLATE)."""
    name, template.spare = template.spare, None
    if name is not None and not await _restored(template, name):
        await _drop_database(template.base, name)
        name = None
    if name is None:
        name = f"paperboy_t_{uuid.uuid4().hex[:16]}"
        await _create_database(template.base, name, template.name)
    try:
        yield _database_url(template.base, name, TEMPLATE_SCHEMA)
    finally:
        if template.empty:
            template.spare = name
        else:
            await _drop_database(template.base, name)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, unmigrated database URL, once per backend; migrated (a copy of the
    template) when the test also asks for `store`, which opens this same database."""
    migrated = "store" in request.fixturenames
    if request.param == "sqlite":
        if migrated:
            yield sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        else:
            yield sqlite_file_url(tmp_path)
        return
    base = postgres_base_url()
    if migrated:
        async with postgres_copy(request.getfixturevalue("postgres_template")) as url:
            yield url
        return
    async with postgres_schema(base) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_file_url(tmp_path)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with postgres_schema(postgres_base_url()) as url:
        yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """An open `Store` on a freshly migrated database (a copy of the template), once per
    backend."""
    async with Store(db_url) as opened:
        yield opened
