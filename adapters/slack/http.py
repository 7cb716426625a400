"""HTTP mode: `POST /slack/events` into the bolt app, `GET /healthz`.

Slack signs every request (`X-Slack-Signature`, `X-Slack-Request-Timestamp`). The
signature is checked here on the raw bytes before anything is parsed
(`paperboy_adapters.slack.requests`): a missing or wrong signature, or a timestamp more than
five minutes off, is answered 401 whatever the body holds. A signed body that is not
one of the requests paperboy answers (a slash command, a click on one of its buttons)
is answered 400, and an Events API callback 200, both without bolt seeing them.
Refusals are logged as one WARNING line per minute at most, never with a traceback;
that includes what aiohttp itself refuses before the handler runs (a header that is not
HTTP, a broken chunked body), which `runner()` routes through the same rate-limited
line. Bolt then checks the signature again and routes the request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from paperboy_adapters.slack.adapter import SlackAdapter
from paperboy_adapters.slack.requests import Refusals, parse_signed, screen, signature_ok
from paperboy_config import Settings

if TYPE_CHECKING:
    from paperboy.commands import Commands

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
REFUSALS = web.AppKey("refusals", Refusals)


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's server log for `runner()`: a request aiohttp cannot read as HTTP is one
    rate-limited WARNING (through `Refusals`), not an ERROR with a traceback."""

    def __init__(self, refusals: Refusals) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.refusals = refusals

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if level >= logging.ERROR and isinstance(exc, HttpProcessingError):
            self.refusals.note(exc.code or 400, f"not a valid HTTP request ({type(exc).__name__})")
            return
        super().log(level, msg, *args, **kwargs)


def runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """An AppRunner for `web_app(...)`: no access log, and aiohttp's own refusals logged
    like ours."""
    return web.AppRunner(app, access_log=None, logger=_ServerLog(app[REFUSALS]), **kwargs)


def web_app(bolt: AsyncApp, signing_secret: str) -> web.Application:
    """The aiohttp app serving `bolt`; requests must be signed with `signing_secret`."""
    refusals = Refusals(log)

    async def events(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.read()
        except web.HTTPException:
            raise  # 413 past the size limit: aiohttp's own answer
        except (HttpProcessingError, ConnectionError) as error:
            refusals.note(400, f"the body could not be read ({type(error).__name__})")
            return web.json_response({"error": "malformed request"}, status=400)
        # One value per name, the last one, as bolt reads them: both see the same request.
        headers = {name.lower(): value for name, value in request.headers.items()}
        if not signature_ok(
            signing_secret,
            body,
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
        ):
            refusals.note(401, "no valid signature")
            return web.json_response({"error": "invalid request"}, status=401)
        parsed = parse_signed(body, headers.get("content-type"))
        if isinstance(parsed, str):
            refusals.note(400, f"signed, but {parsed}")
            return web.json_response({"error": "malformed request"}, status=400)
        text, fields = parsed
        verdict = screen(fields)
        if verdict.action == "ignore":
            log.debug("slack: answered 200 to and dropped %s", verdict.reason)
            return web.Response(status=200)
        if verdict.action == "refuse":
            refusals.note(400, f"signed, but {verdict.reason}")
            return web.json_response({"error": "malformed request"}, status=400)
        try:
            bolt_request = AsyncBoltRequest(
                body=text,
                query=request.query_string,
                headers=headers,  # type: ignore[arg-type]
            )
        except Exception as error:  # a shape screen() does not know yet
            refusals.note(400, f"signed, but bolt cannot read it ({type(error).__name__})")
            return web.json_response({"error": "malformed request"}, status=400)
        response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    app = web.Application()
    app[REFUSALS] = refusals
    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(HEALTH_PATH, healthz)
    return app


def check_http_settings(settings: Settings) -> None:
    """Raise ValueError (one line) unless HTTP mode's two secrets are set."""
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        raise ValueError(f"Slack HTTP mode needs {' and '.join(missing)} (see docs/slack.md)")


async def serve(settings: Settings, commands: Commands, host: str, port: int) -> None:
    """The `serve` hook: answer Slack over HTTP on host:port until cancelled."""
    check_http_settings(settings)
    adapter = SlackAdapter.from_settings(settings)
    app = web_app(adapter.build_app(commands.handle), adapter.signing_secret or "")
    served = runner(app)
    await served.setup()
    try:
        site = web.TCPSite(served, host, port)
        await site.start()
        log.info("slack: answering %s on http://%s:%s", EVENTS_PATH, host, port)
        await asyncio.Event().wait()
    finally:
        await served.cleanup()
        await adapter.stop()  # closes its delivery session (a shared digest opened one)
