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
file copied to the test's own file, for PostgreSQL a template database from which
`CREATE DATABASE ... TEMPLATE` makes the test's own database (its URL names the template's
schema), dropped afterwards. A test that asks for `db_url` without `store` still gets an
empty database, so the tests of migration itself migrate from scratch.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest
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


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated once per run (per worker), whose tables
    live in the schema `TEMPLATE_SCHEMA`; dropped at the end of the run."""
    base = postgres_base_url()
    name = f"paperboy_tpl_{uuid.uuid4().hex[:16]}"

    async def build() -> None:
        await _create_database(base, name)
        await migrate(_database_url(base, name, TEMPLATE_SCHEMA))

    try:
        run_apart(build)
        yield name
    finally:
        run_apart(lambda: _drop_database(base, name))


@asynccontextmanager
async def postgres_copy(base_url: str, template: str) -> AsyncIterator[str]:
    """A database of its own made from the migrated template; yield its URL; drop it."""
    name = f"paperboy_t_{uuid.uuid4().hex[:16]}"
    await _create_database(base_url, name, template)
    try:
        yield _database_url(base_url, name, TEMPLATE_SCHEMA)
    finally:
        await _drop_database(base_url, name)


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
        async with postgres_copy(base, request.getfixturevalue("postgres_template")) as url:
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
