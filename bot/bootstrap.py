"""The one composition root: Settings in, the wired app out.

Everything a process runs is assembled here and nowhere else:

- `open_app(settings, migrate=...)`: the database migrated (when asked), the `Store`
  opened and closed again, and an `App` around them;
- `build_source(settings, spec)`, `App.source(spec)`: a paper source built from these
  settings (no source reads the environment by itself);
- `App.plugins`: the chat adapters found through the `paperboy.adapters` entry point,
  loaded on first use (commands that need no adapter do not import one);
- `App.chat_adapters()`, `App.delivery_adapters()`: adapters built by their plugins with
  the settings and the `CoreServices` they may use (the store's subscription list for
  Discord's autocomplete), passed explicitly;
- `App.commands(...)`: `Commands` with the store, the source and a schedule listener;
- `App.background(role, ...)`, `App.deliver(day)`: the delivery roles.

`paperboy.cli` turns arguments into calls on an `App` and results into text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from paperboy.gc_tuning import tune_for_service
from paperboy.plugins import AdapterPlugin, CoreServices, load_plugins
from paperboy.sources.registry import source_from_spec

if TYPE_CHECKING:
    from paperboy.chat import ChatAdapter
    from paperboy.commands import Commands
    from paperboy.delivery import Background, DeliverOutcome
    from paperboy.sources import PaperSource
    from paperboy.store import Store
    from paperboy_config import Settings

# The store (SQLAlchemy, Alembic), the commands and delivery (APScheduler) are imported
# where they are first used, so that a command that needs no database (`digest`) or
# only builds a source does not load them.

log = logging.getLogger(__name__)

__all__ = [
    "App",
    "build_source",
    "close_adapters",
    "delivery_adapters",
    "migrate_database",
    "open_app",
]


async def migrate_database(settings: Settings) -> None:
    """Create or upgrade the settings' database (a no-op when up to date)."""
    from paperboy.store import migrate

    await migrate(settings.database_url)


def build_source(settings: Settings, spec: str | None = None, **overrides: Any) -> PaperSource:
    """The source named by `spec` (default `settings.source`), configured by `settings`;
    `overrides` change settings for this source only (say `hf_retries=0`). Nothing is
    fetched or opened here."""
    config = settings.model_copy(update=overrides) if overrides else settings
    return source_from_spec(settings.source if spec is None else spec, config)


class App:
    """The wired application of one process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        plugins: Mapping[str, AdapterPlugin] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        if plugins is not None:
            self.__dict__["plugins"] = dict(plugins)

    @functools.cached_property
    def plugins(self) -> dict[str, AdapterPlugin]:
        """The installed adapter plugins by platform (loaded on first use)."""
        return load_plugins()

    @property
    def services(self) -> CoreServices:
        """What the core lends the adapters it builds."""
        return CoreServices(subscriptions=self.store.subscriptions.list)

    # ----------------------------------------------------------------- sources

    def source(self, spec: str | None = None, **overrides: Any) -> PaperSource:
        """The source named by `spec` (default the configured one); see `build_source`."""
        return build_source(self.settings, spec, **overrides)

    async def migrate(self) -> None:
        """Upgrade the database now (for an app opened with `migrate=False`)."""
        await migrate_database(self.settings)

    # ----------------------------------------------------------------- commands

    def commands(
        self,
        *,
        source: PaperSource | None = None,
        on_schedule_change: Callable[[], None] | None = None,
    ) -> Commands:
        """`/papers` commands over this store, fetching from `source` (default the
        configured one) when a digest's day is not archived."""
        from paperboy.commands import Commands

        return Commands(
            self.store,
            source or self.source(),
            on_schedule_change=on_schedule_change,
            default_language=self.settings.default_language,
            summary_model=self.settings.llm_model if self.settings.llm_base_url else None,
        )

    # ----------------------------------------------------------------- adapters

    def chat_adapter(self, platform: str) -> ChatAdapter | None:
        """The platform's adapter when its plugin is installed and configured, else None."""
        plugin = self.plugins.get(platform)
        if plugin is None or plugin.create is None:
            return None
        return plugin.create(self.settings, self.services)

    def chat_adapters(self, *, exclude: Iterable[str] = ("console",)) -> list[ChatAdapter]:
        """Every configured chat adapter (the console aside, by default)."""
        skip = set(exclude)
        found = (self.chat_adapter(name) for name in self.plugins if name not in skip)
        return [adapter for adapter in found if adapter is not None]

    def delivery_adapters(
        self, *, running: Iterable[ChatAdapter] = (), include: Iterable[str] | None = None
    ) -> dict[str, ChatAdapter]:
        """The adapters to deliver with (see `delivery_adapters`)."""
        return delivery_adapters(
            self.settings, self.plugins, self.services, running=running, include=include
        )

    def hooks(self, name: str) -> list[Callable[..., Any]]:
        """Every installed plugin's hook of that name (`serve`: an HTTP app)."""
        return [plugin.hooks[name] for plugin in self.plugins.values() if name in plugin.hooks]

    # ----------------------------------------------------------------- delivery roles

    @contextlib.asynccontextmanager
    async def background(
        self,
        role: str,
        *,
        adapters: Mapping[str, ChatAdapter],
        sources: Sequence[PaperSource] | None = None,
    ) -> AsyncIterator[Background]:
        """The role's services (scheduler with its ingest job, delivery worker) while the
        block runs. A scheduler ingests from `sources` (default: the configured source)."""
        if sources is None:
            sources = [self.source()] if role in ("all", "scheduler") else []
        tune_for_service()  # a long-running process that fans out: paperboy.gc_tuning
        from paperboy.delivery import background

        async with background(
            self.store, self.settings, role=role, adapters=adapters, sources=sources
        ) as bg:
            yield bg

    @contextlib.asynccontextmanager
    async def health(
        self,
        role: str,
        *,
        adapters: Callable[[], Iterable[ChatAdapter]] = lambda: (),
        tasks: Callable[[], Iterable[asyncio.Task[Any]]] = lambda: (),
    ) -> AsyncIterator[int | None]:
        """`/healthz`, `/readyz` and `/metrics` on PAPERBOY_METRICS_PORT while the block
        runs (nothing when it is unset); yields the port bound, or None."""
        port = self.settings.metrics_port
        if port is None:
            yield None
            return
        from paperboy.health import Health, serve_health

        health = Health(self.store, role, adapters=adapters, tasks=tasks)
        async with serve_health(health, self.settings.metrics_host, port) as bound:
            yield bound

    async def deliver(
        self, day: dt.date | None, *, notice: Callable[[str], None] | None = None
    ) -> DeliverOutcome:
        """`paperboy deliver`: every digest due on `day`, now, through the outbox."""
        tune_for_service()  # a fan-out: paperboy.gc_tuning
        from paperboy.delivery import deliver_day

        adapters = self.delivery_adapters()
        try:
            return await deliver_day(self.store, self.settings, adapters, day, notice=notice)
        finally:
            await close_adapters(adapters)


@contextlib.asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    migrate: bool = True,
    plugins: Mapping[str, AdapterPlugin] | None = None,
) -> AsyncIterator[App]:
    """The app for `settings`: the database upgraded first unless `migrate` is false,
    the store closed when the block ends."""
    if migrate:
        await migrate_database(settings)
    from paperboy.store import Store

    async with Store(settings.database_url, default_tz=settings.default_tz) as store:
        yield App(settings, store, plugins=plugins)


def delivery_adapters(
    settings: Settings,
    plugins: Mapping[str, AdapterPlugin],
    services: CoreServices | None = None,
    *,
    running: Iterable[ChatAdapter] = (),
    include: Iterable[str] | None = None,
) -> dict[str, ChatAdapter]:
    """The adapters to deliver with: those already running, then each plugin's `poster`
    hook (delivery without a gateway connection) or its `create()`.

    `include` limits the plugins asked (None: all). Plugins that are not configured
    (`create` gives None) are left out: their targets' digests wait, visibly.
    """
    found = list(running)
    have = {p for a in found for p in (getattr(a, "platforms", None) or (a.platform,))}
    wanted = set(include) if include is not None else None
    for name, plugin in plugins.items():
        if name in have or (wanted is not None and name not in wanted):
            continue
        adapter: ChatAdapter | None = None
        try:
            if "poster" in plugin.hooks:
                adapter = plugin.hooks["poster"](settings)
            elif plugin.create is not None:
                adapter = plugin.create(settings, services or CoreServices())
        except Exception as error:  # a broken plugin must not stop delivery elsewhere
            log.warning("the %s adapter could not be set up for delivery: %s", name, error)
        if adapter is not None:
            found.append(adapter)
    from paperboy.delivery import adapters_by_platform

    return adapters_by_platform(found)


async def close_adapters(adapters: Mapping[str, ChatAdapter]) -> None:
    """Stop each adapter once (one may serve several platforms); best effort."""
    for adapter in {id(a): a for a in adapters.values()}.values():
        try:
            await adapter.stop()
        except Exception as error:  # closing is best effort
            log.debug("closing the %s adapter failed: %s", adapter.platform, error)
