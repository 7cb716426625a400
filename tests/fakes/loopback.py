"""The plumbing the loopback fakes share: an aiohttp app served on 127.0.0.1.

    class FakeThing(LoopbackServer):
        def build_app(self) -> web.Application:
            app = web.Application()
            app.router.add_get("/things", self._things)
            return app

        async def _things(self, request: web.Request) -> web.Response:
            await self.delay(fault.delay)  # returns early once the server closes
            ...

    async with FakeThing() as thing:       # or: thing = await FakeThing().start()
        url = f"{thing.origin}/things"

The port is picked by the OS (a socket bound to port 0) and known once `start()`ed; it
stays readable after `close()`, so a test can aim a client at a server that is gone.
`close()` sets `closing` first, which releases handlers sleeping in `delay()`, then
calls `on_close()` (a subclass closes its websockets there) and shuts the runner down.

Runner options are class attributes, so a subclass keeps the behaviour it relies on:
`handler_cancellation` (a client that timed out and left stops a slow handler),
`shutdown_timeout` (how long cleanup waits for handlers still running), `access_log`
(None: no access log) and `reuse_address` (SO_REUSEADDR on the listening socket).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import TracebackType
from typing import ClassVar, Self

from aiohttp import web

HOST = "127.0.0.1"


class LoopbackServer:
    handler_cancellation: ClassVar[bool] = True
    shutdown_timeout: ClassVar[float] = 0.5
    access_log: ClassVar[logging.Logger | None] = None
    reuse_address: ClassVar[bool] = False

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def build_app(self) -> web.Application:
        """The application to serve: routes, middlewares. Called by every `start()`."""
        raise NotImplementedError

    async def on_close(self) -> None:
        """Called by `close()` after `closing` is set, before the runner shuts down."""

    # -- lifecycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> Self:
        app = self.build_app()
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            handler_cancellation=self.handler_cancellation,
            shutdown_timeout=self.shutdown_timeout,
            access_log=self.access_log,
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if self.reuse_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, 0))
            self._port = sock.getsockname()[1]
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            await self.close()
            raise
        return self

    async def close(self) -> None:
        self.closing.set()  # releases handlers still sleeping in delay()
        await self.on_close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- for handlers ----------------------------------------------------------------

    async def delay(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the server closes meanwhile."""
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self.closing.wait(), seconds)
        except TimeoutError:
            pass
