"""Alembic environment for paperboy.

`paperboy.store.db.migrate()` hands in an open connection through
`config.attributes["connection"]` (the Alembic asyncio cookbook pattern), so migrations run
inside the caller's event loop and transaction. Without one (the `alembic` command line),
this builds its own async engine from `config.attributes["url"]`, `sqlalchemy.url` or the
bot's settings.
"""

from __future__ import annotations

import asyncio
from typing import TypedDict

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from paperboy.store.tables import metadata

config = context.config


class _Options(TypedDict):
    """The keyword arguments every `context.configure` call here shares."""

    target_metadata: MetaData
    render_as_batch: bool
    transactional_ddl: bool
    compare_type: bool


def _options(dialect_name: str) -> _Options:
    return {
        "target_metadata": metadata,
        # SQLite cannot ALTER most things: later revisions go through batch mode.
        "render_as_batch": dialect_name == "sqlite",
        # paperboy.store.db emits BEGIN itself on SQLite, so DDL is transactional there too.
        "transactional_ddl": True,
        "compare_type": True,
    }


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from paperboy_config.settings import get_settings

    return get_settings().database_url


def run_migrations_offline() -> None:
    from paperboy.store.db import normalise_url

    url = normalise_url(_url())
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(url.get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    from paperboy.store.db import make_engine, write_engine

    engine = make_engine(_url())
    try:
        async with write_engine(engine).connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
