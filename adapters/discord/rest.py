"""Sending rendered bodies to Discord over REST, with Discord's errors mapped to ChatError.

Channel messages go to `POST /channels/{id}/messages` with the bot token; webhook
targets to the webhook URL with `?wait=true` (no token: the URL is the credential).
This is plain aiohttp rather than discord.py's HTTP client on purpose: discord.py
retries 429s and 5xx itself, sleeping inside the call, while the delivery outbox owns
the retry policy (Retry-After, backoff with jitter, pausing a gone channel) and needs
to see every failure as it happens.

Requests with the bot token are paced below Discord's global rate limit (`Pacer`): a
fan-out has up to `PAPERBOY_FANOUT_CONCURRENCY` sends in flight, and without pacing most
of a large morning would come back 429 (and enough 429s get the bot's IP banned for an
hour). A global 429 all the same holds every bot request until its Retry-After.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp
import yarl

from paperboy.chat import ChatError
from paperboy_adapters.discord import limits

log = logging.getLogger(__name__)

DEFAULT_API = "https://discord.com/api/v10"
DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
)
USER_AGENT = "DiscordBot (https://github.com/paperboy-bot/paperboy, 0.1.0) paperboy"
_VERSIONED = re.compile(r"/api/v\d+$")
_WEBHOOK_PATH = re.compile(r"/webhooks/(\d{1,20})/([A-Za-z0-9_.\-]{1,200})/?$")

# Discord error codes that mean "this target is gone or closed to us".
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
UNKNOWN_CHANNEL = 10003
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035


def api_base(url: str | None) -> str:
    """The REST base with its version: `http://127.0.0.1:8080` -> `.../api/v10`."""
    if not url:
        return DEFAULT_API
    url = url.strip().rstrip("/")
    return url if _VERSIONED.search(url) else url + "/api/v10"


def nonce_for(key: str) -> str:
    """A deterministic nonce (25 hex characters, Discord's maximum) for an outbox key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[: limits.NONCE]


class DiscordAPIError(ChatError):
    """A failed send with Discord's HTTP status and JSON error code (when it gave one)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, permanent=permanent, retry_after=retry_after)
        self.status = status
        self.code = code


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result >= 0 else None


def error_from_response(
    status: int, data: Any, headers: Mapping[str, str] | None = None
) -> DiscordAPIError:
    """Discord's answer -> the error delivery understands.

    401/403/404 (Missing Access 50001, Missing Permissions 50013, Unknown Channel
    10003, Unknown Webhook 10015, bad token) and 400 (a body Discord refuses will be
    refused again) are permanent; 429 carries `retry_after`; 5xx is transient.
    """
    headers = headers or {}
    body = data if isinstance(data, dict) else {}
    code = body.get("code") if isinstance(body.get("code"), int) else None
    text = str(body.get("message") or "").strip()[:200] or f"HTTP {status}"
    message = f"Discord {status}: {text}" + (f" (code {code})" if code else "")
    if status == 429:
        retry_after = (
            _float(body.get("retry_after"))
            or _float(headers.get("Retry-After"))
            or _float(headers.get("X-RateLimit-Reset-After"))
            or 1.0
        )
        scope = "global" if body.get("global") else "route"
        return DiscordAPIError(
            f"Discord rate limit ({scope}): retry after {retry_after:.2f}s",
            status=status,
            code=code,
            retry_after=retry_after,
        )
    permanent = status in {400, 401, 403, 404} or code in {
        MISSING_ACCESS,
        MISSING_PERMISSIONS,
        UNKNOWN_CHANNEL,
        UNKNOWN_WEBHOOK,
        INVALID_WEBHOOK_TOKEN,
    }
    if status == 400 and code == INVALID_FORM_BODY and isinstance(body.get("errors"), dict):
        message += f": {_first_form_error(body['errors'])}"
    return DiscordAPIError(message, status=status, code=code, permanent=permanent)


def _first_form_error(errors: Mapping[str, Any], path: str = "") -> str:
    """The first `_errors` entry of Discord's nested Invalid Form Body tree, with its path."""
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list) and value:
            first = value[0] if isinstance(value[0], dict) else {}
            return f"{path or 'body'}: {first.get('code', '')} {first.get('message', '')}".strip()
        if isinstance(value, dict):
            found = _first_form_error(value, f"{path}.{key}" if path else key)
            if found:
                return found
    return ""


def redact(url: yarl.URL | str) -> str:
    """A webhook URL without its token (the token is the credential)."""
    parsed = yarl.URL(str(url))
    path = _WEBHOOK_PATH.sub(lambda m: f"/webhooks/{m.group(1)}/***", parsed.path)
    return f"{parsed.scheme}://{parsed.host}{path}"


class Pacer:
    """At most `rate` requests a second, evenly spaced, and none while Discord says the
    global limit is hit (`hold`). One event loop's requests share it."""

    def __init__(self, rate: float, *, clock: Callable[[], float] | None = None) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._held_until = 0.0

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def wait(self) -> None:
        """Until this request's turn: the next free slot, and not while held."""
        now = self._now()
        slot = max(now, self._next, self._held_until)
        self._next = slot + self.interval
        while slot > now:
            await asyncio.sleep(slot - now)
            now = self._now()
            slot = max(slot, self._held_until)  # a global 429 came back meanwhile

    def hold(self, seconds: float) -> None:
        """No request for `seconds` (Discord's Retry-After of a global 429)."""
        self._held_until = max(self._held_until, self._now() + max(0.0, seconds))


class DiscordREST:
    """A small async REST client for the two sends the outbox needs."""

    def __init__(
        self, token: str | None, base_url: str | None = None, *, timeout: float = 15.0
    ) -> None:
        self._token = token
        self.base = api_base(base_url)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        #: Bot-token requests, paced below the global rate limit (module docstring).
        self.pacer = Pacer(limits.PACED_REQUESTS_PER_SECOND)
        base_host = yarl.URL(self.base).host
        self.webhook_hosts = DISCORD_HOSTS | ({base_host} if base_host else set())

    async def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, headers={"User-Agent": USER_AGENT}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create_message(self, channel_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        if not channel_id.isdigit() or len(channel_id) > 20:
            raise DiscordAPIError(
                f"not a Discord channel id: {channel_id[:40]!r}", status=0, permanent=True
            )
        if not self._token:
            raise DiscordAPIError("no Discord bot token configured", status=0, permanent=True)
        url = yarl.URL(f"{self.base}/channels/{channel_id}/messages", encoded=True)
        headers = {"Authorization": f"Bot {self._token}"}
        return await self._send(url, payload, headers, label=f"channel {channel_id}")

    def webhook_url(self, url: str) -> yarl.URL:
        """Check a webhook target URL (http(s), a Discord host or the configured API's,
        a /webhooks/{id}/{token} path) and add `wait=true` so Discord returns the message."""
        try:
            parsed = yarl.URL(url)
        except (TypeError, ValueError):
            parsed = None
        if (
            parsed is None
            or parsed.scheme not in {"http", "https"}
            or parsed.host not in self.webhook_hosts
            or parsed.user
            or not _WEBHOOK_PATH.search(parsed.path)
        ):
            raise DiscordAPIError(
                "not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN)",
                status=0,
                permanent=True,
            )
        return parsed.update_query(wait="true")

    async def execute_webhook(self, url: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        target = self.webhook_url(url)
        return await self._send(target, payload, {}, label=f"webhook {redact(target)}")

    # -- messages with files (a rollup's chart) -------------------------------------------

    async def create_message_with_files(
        self, channel_id: str, payload: Mapping[str, Any], files: Sequence[tuple[str, bytes]]
    ) -> dict[str, Any]:
        """`create_message` as multipart/form-data: `payload_json` and `files[n]`."""
        if not channel_id.isdigit() or len(channel_id) > 20:
            raise DiscordAPIError(
                f"not a Discord channel id: {channel_id[:40]!r}", status=0, permanent=True
            )
        if not self._token:
            raise DiscordAPIError("no Discord bot token configured", status=0, permanent=True)
        url = yarl.URL(f"{self.base}/channels/{channel_id}/messages", encoded=True)
        headers = {"Authorization": f"Bot {self._token}"}
        return await self._send(url, payload, headers, label=f"channel {channel_id}", files=files)

    async def execute_webhook_with_files(
        self, url: str, payload: Mapping[str, Any], files: Sequence[tuple[str, bytes]]
    ) -> dict[str, Any]:
        target = self.webhook_url(url)
        return await self._send(target, payload, {}, label=f"webhook {redact(target)}", files=files)

    @staticmethod
    def _form(payload: Mapping[str, Any], files: Sequence[tuple[str, bytes]]) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field("payload_json", json.dumps(dict(payload)), content_type="application/json")
        for index, (name, data) in enumerate(files):
            form.add_field(f"files[{index}]", data, filename=name, content_type="image/png")
        return form

    async def _send(
        self,
        url: yarl.URL,
        payload: Mapping[str, Any],
        headers: dict[str, str],
        *,
        label: str,
        files: Sequence[tuple[str, bytes]] = (),
    ) -> dict[str, Any]:
        session = await self._client()
        body: dict[str, Any] = (
            {"data": self._form(payload, files)} if files else {"json": dict(payload)}
        )
        bot = "Authorization" in headers  # a webhook's requests are not the bot's
        if bot:
            await self.pacer.wait()
        try:
            async with session.post(url, headers=headers, **body) as response:
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    data = None
                if 200 <= response.status < 300:
                    return data if isinstance(data, dict) else {}
                error = error_from_response(response.status, data, response.headers)
                if bot and response.status == 429 and isinstance(data, dict) and data.get("global"):
                    self.pacer.hold(error.retry_after or 1.0)
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The exception text can carry the URL (a webhook's token): name only.
            raise DiscordAPIError(
                f"Discord unreachable ({type(exc).__name__}) for {label}", status=0
            ) from None
        log.warning("send to %s failed: %s", label, error)
        raise error
