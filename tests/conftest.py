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
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, unmigrated database URL, once per backend."""
    if request.param == "sqlite":
        yield sqlite_file_url(tmp_path)
        return
    async with postgres_schema(postgres_base_url()) as url:
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
    """An open `Store` on a freshly migrated database, once per backend."""
    await migrate(db_url)
    async with Store(db_url) as opened:
        yield opened
