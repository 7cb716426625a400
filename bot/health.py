"""Health and metrics over HTTP for every long-running role (`PAPERBOY_METRICS_PORT`).

- `GET /healthz`: liveness. The answer comes from the event loop itself (a stuck loop
  does not answer), and it is 503 when a background task of the role (the scheduler
  service, the delivery worker) has died.
- `GET /readyz`: readiness. The database answers, its schema is at the newest migration,
  and each configured chat platform that keeps a connection (Slack Socket Mode, the
  Discord gateway) is connected; with none configured, the database checks alone.
  200 or 503, with a JSON body naming each check.
- `GET /metrics`: Prometheus' text format (`paperboy.metrics`), the outbox gauges read
  from the database at each scrape.

An adapter tells whether it is connected with an optional `async def connected()`:
True or False, or None when it keeps no connection (a REST-only poster, HTTP mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from paperboy.chat import ChatAdapter
from paperboy.logs import one_line
from paperboy.metrics import CONTENT_TYPE_LATEST, METRICS, Metrics
from paperboy.store import Store, head_revision

log = logging.getLogger(__name__)

__all__ = ["Check", "Health", "HealthServerError", "serve_health"]

#: Seconds one readiness check may take before it counts as failed.
CHECK_TIMEOUT = 5.0


class HealthServerError(RuntimeError):
    """The health and metrics port could not be bound (in use, not allowed)."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Health:
    """What the endpoints report for one process."""

    store: Store
    role: str
    adapters: Callable[[], Iterable[ChatAdapter]] = lambda: ()
    tasks: Callable[[], Iterable[asyncio.Task[Any]]] = lambda: ()
    metrics: Metrics = METRICS
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def live(self) -> list[Check]:
        checks = [Check("event loop", True, "answering")]
        for task in self.tasks():
            if task.done():
                why = "cancelled" if task.cancelled() else one_line(task.exception() or Exception())
                checks.append(Check(f"task {task.get_name()}", False, f"stopped: {why}"))
        return checks

    async def ready(self) -> list[Check]:
        database, revision = await self._database()
        checks = [database]
        if database.ok:
            checks.append(self._migrations(revision))
        for adapter in {id(a): a for a in self.adapters()}.values():
            check = await self._platform(adapter)
            if check is not None:
                checks.append(check)
        self.metrics.ready.set(1 if all(c.ok for c in checks) else 0)
        return checks

    async def _database(self) -> tuple[Check, str | None]:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                revision = await self.store.revision()
        except Exception as error:  # any failure to answer is "not ready", in one line
            return Check("database", False, one_line(error)), None
        return Check("database", True, self.store.dialect), revision

    @staticmethod
    def _migrations(revision: str | None) -> Check:
        head = head_revision()
        if revision != head:
            return Check(
                "migrations", False, f"database at {revision}, code at {head}: run paperboy migrate"
            )
        return Check("migrations", True, f"at {head}")

    async def _platform(self, adapter: ChatAdapter) -> Check | None:
        probe = getattr(adapter, "connected", None)
        if probe is None:
            return None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                state = await probe()
        except Exception as error:
            return Check(adapter.platform, False, one_line(error))
        if state is None:
            return None
        return Check(adapter.platform, bool(state), "connected" if state else "not connected")

    async def observe(self) -> None:
        """Read the outbox gauges from the database (best effort: a scrape still answers)."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                gauges = await self.store.outbox.gauges()
        except Exception as error:
            log.warning("metrics: could not read the outbox: %s", one_line(error))
            return
        self.metrics.observe_outbox(
            depth=gauges.depth,
            oldest_unsent=gauges.oldest_unsent,
            failed=gauges.failed,
            paused=gauges.paused,
        )

    # ----------------------------------------------------------------- HTTP

    def app(self) -> web.Application:
        async def healthz(request: web.Request) -> web.Response:
            return _answer(self.role, self.live())

        async def readyz(request: web.Request) -> web.Response:
            return _answer(self.role, await self.ready())

        async def metrics(request: web.Request) -> web.Response:
            await self.observe()
            return web.Response(
                body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics)
        return app


def _answer(role: str, checks: list[Check]) -> web.Response:
    ok = all(c.ok for c in checks)
    body = {
        "status": "ok" if ok else "failing",
        "role": role,
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
    }
    return web.Response(
        text=json.dumps(body), status=200 if ok else 503, content_type="application/json"
    )


@contextlib.asynccontextmanager
async def serve_health(health: Health, host: str, port: int) -> AsyncIterator[int]:
    """Serve `/healthz`, `/readyz` and `/metrics` on host:port while the block runs;
    yields the port bound (port 0 picks a free one)."""
    runner = web.AppRunner(health.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise HealthServerError(
            f"cannot serve /healthz, /readyz and /metrics on {host}:{port} "
            f"(PAPERBOY_METRICS_PORT): {error.strerror or error}"
        ) from None
    bound = port
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    if sockets:
        bound = sockets[0].getsockname()[1]
    log.info("health and metrics on http://%s:%d (/healthz, /readyz, /metrics)", host, bound)
    try:
        yield bound
    finally:
        await runner.cleanup()
