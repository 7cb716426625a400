"""A loopback fake Discord: REST and gateway, enough for the real discord.py client.

    async with FakeDiscord() as fake:
        fake.add_channel("222", guild_id="111")
        adapter = DiscordAdapter(fake.token, api_url=fake.api_url, ...)
        task = asyncio.create_task(adapter.start(commands.handle))
        await fake.wait_identified()
        interaction = await fake.slash("papers", "subscribe", {"query": "LoRA"},
                                       guild_id="111", channel_id="222")
        answer = await interaction.answer()      # {"content": ..., "embeds": ..., "flags": 64}

REST (under `/api/v{n}`): `/gateway/bot`, `/users/@me`, `/oauth2/applications/@me`,
global and guild command sync, `POST /channels/{id}/messages`, interaction callbacks,
`PATCH .../messages/@original`, follow-ups on `/webhooks/{app_id}/{token}` and plain
webhooks on `/webhooks/{id}/{token}`; with files as multipart/form-data (`payload_json`
and `files[n]`, checked as in tests/fakes/discord/files.py). Bodies are checked against
Discord's limits (`validate.py`) and refused with Discord's own `50035 Invalid Form
Body`; channels not registered answer `10003 Unknown Channel`, closed ones `50001 Missing Access` or
`50013 Missing Permissions`. A body with `nonce` + `enforce_nonce` seen before in the
same channel (within `nonce_window` seconds) returns the first message instead of
creating a second one. `rate_limit()` and `fail()` script answers (429 with
`retry_after` in the body and Retry-After / X-RateLimit-* headers, 5xx, ...).

The gateway (`/gateway`, JSON, optionally `compress=zlib-stream`) speaks HELLO,
heartbeat ACK, IDENTIFY -> READY (with the application id), RESUME -> RESUMED, and
dispatches INTERACTION_CREATE for `slash()` / `autocomplete()`. Invoking a command
that was not synced, or whose `default_member_permissions` the member lacks, raises
(Discord would not have offered it).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools
import json
import math
import re
import secrets
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import WSMsgType, web
from aiohttp.log import access_logger

from tests.fakes.discord.files import FormError, Upload, attachments_json, parse_multipart
from tests.fakes.discord.validate import is_empty, live_mentions, message_errors
from tests.fakes.loopback import LoopbackServer

# Permission bits (Discord's).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
MANAGE_CHANNELS = 1 << 4
ADMINISTRATOR = 1 << 3
MEMBER = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
MANAGER = MEMBER | MANAGE_CHANNELS

EPHEMERAL = 64
LOADING = 128

# Interaction and callback types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
AUTOCOMPLETE_RESULT = 8

OPTION_TYPES = {"subcommand": 1, "group": 2, "string": 3, "integer": 4, "boolean": 5}
BODY = web.RequestKey("body", object)
FILES = web.RequestKey("files", list)  # the Upload list of a multipart request
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
#: What a stored message keeps of a body.
KEPT = ("content", "embeds", "allowed_mentions", "components")


# Option types a client lets a member enter (Discord's app command option types).
_OPTION_PYTHON_TYPES: dict[int, tuple[type, ...]] = {
    3: (str,),
    4: (int,),
    5: (bool,),
    10: (int, float),
}


def _check_option_value(schema: Mapping[str, Any], value: Any) -> None:
    """What Discord's client refuses before sending: a value of the wrong type, a number
    outside min_value/max_value, a text outside min_length/max_length."""
    kind = schema["type"]
    types = _OPTION_PYTHON_TYPES.get(kind)
    if types is not None and (
        not isinstance(value, types) or (kind in (4, 10) and isinstance(value, bool))
    ):
        raise ValueError(f"option {schema['name']!r} takes type {kind}, not {value!r}")
    if kind in (4, 10):
        if "min_value" in schema and value < schema["min_value"]:
            raise ValueError(f"option {schema['name']!r}: {value} < {schema['min_value']}")
        if "max_value" in schema and value > schema["max_value"]:
            raise ValueError(f"option {schema['name']!r}: {value} > {schema['max_value']}")
    if kind == 3:
        if len(value) < schema.get("min_length", 0) or len(value) > schema.get("max_length", 6000):
            raise ValueError(f"option {schema['name']!r}: length {len(value)} out of range")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # below /api/v{n}, e.g. /channels/222/messages
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    """A scripted answer for requests whose `METHOD /path` matches `pattern`."""

    pattern: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    count: int = 1


@dataclass
class FakeChannel:
    id: str
    guild_id: str | None
    name: str = "general"
    # "ok", "missing-access" (403 50001) or "missing-permissions" (403 50013)
    access: str = "ok"
    # Without Attach Files a message with files is refused (403 50013).
    attach_files: bool = True


@dataclass
class FakeMessage:
    id: str
    channel_id: str
    body: dict[str, Any]
    author_id: str
    nonce: str | None = None
    webhook_id: str | None = None
    interaction_id: str | None = None
    flags: int = 0
    attachments: list[dict[str, Any]] = field(default_factory=list)
    files: list[Upload] = field(default_factory=list)

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.body.get("components") or [])

    @property
    def content(self) -> str:
        return self.body.get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.body.get("embeds") or [])

    @property
    def live_mentions(self) -> list[str]:
        return live_mentions(self.body)


@dataclass
class FakeInteraction:
    """One dispatched interaction and everything the bot answered to it."""

    id: str
    token: str
    payload: dict[str, Any]
    fake: FakeDiscord
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def deferred(self) -> bool:
        return any(c.get("type") == DEFERRED_CHANNEL_MESSAGE for c in self.callbacks)

    @property
    def messages(self) -> list[FakeMessage]:
        """The visible answer: the original response (once it has content), then follow-ups."""
        first = [self.original] if self.original and not self.original.flags & LOADING else []
        return first + self.followups

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 15.0) -> None:
        async def waiting() -> None:
            async with self.changed:
                await self.changed.wait_for(predicate)

        await asyncio.wait_for(waiting(), within)

    async def answer(self, within: float = 15.0) -> FakeMessage:
        """The first visible answer (waiting through a deferral)."""
        await self.wait_for(lambda: bool(self.messages), within)
        return self.messages[0]

    async def wait_messages(self, count: int, within: float = 15.0) -> list[FakeMessage]:
        await self.wait_for(lambda: len(self.messages) >= count, within)
        return self.messages

    async def autocomplete_choices(self, within: float = 15.0) -> list[dict[str, Any]]:
        await self.wait_for(lambda: self.choices is not None, within)
        assert self.choices is not None
        return self.choices


class GatewaySession:
    """One websocket connection of the fake gateway."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self._compressor = zlib.compressobj() if compress else None
        self.seq = 0
        self.session_id = secrets.token_hex(16)
        self.identify: dict[str, Any] | None = None
        self.heartbeats = 0
        self.lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        async with self.lock:
            if self._compressor is None:
                await self.ws.send_str(text)
            else:
                data = self._compressor.compress(text.encode("utf-8"))
                data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        await self.send({"op": 0, "t": event, "s": self.seq, "d": data})


def _json_response(data: Any, status: int, headers: Mapping[str, str]) -> web.Response:
    # Exactly `application/json`, as Discord sends it (discord.py compares the header).
    return web.Response(
        body=json.dumps(data).encode("utf-8"),
        status=status,
        headers={**headers, "Content-Type": "application/json"},
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class FakeDiscord(LoopbackServer):
    # aiohttp's runner defaults, as this fake has always run with.
    handler_cancellation = False
    shutdown_timeout = 60.0
    access_log = access_logger
    reuse_address = True

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        application_id: str = "1100000000000000001",
        bot_name: str = "paperboy",
        nonce_window: float = 300.0,
        heartbeat_interval_ms: int = 41250,
        global_limit: int | None = None,
    ) -> None:
        super().__init__()
        #: Discord's global rate limit, when set: more than this many requests with the bot
        #: token within one second get a global 429 (`global_limited` counts them).
        self.global_limit = global_limit
        self.global_limited = 0
        self._bot_requests: collections.deque[float] = collections.deque()
        self.token = token
        self.application_id = application_id
        self.bot_user = {
            "id": application_id,
            "username": bot_name,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
        }
        self.nonce_window = nonce_window
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.guilds: dict[str, str] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.webhooks: dict[str, tuple[str, str]] = {}  # id -> (token, channel id)
        self.messages: list[FakeMessage] = []
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[str, list[dict[str, Any]]] = {}
        self.command_syncs: list[tuple[str | None, list[dict[str, Any]]]] = []
        self.interactions: dict[str, FakeInteraction] = {}
        self.requests: list[RecordedRequest] = []
        self.rejections: list[tuple[str, dict[str, Any]]] = []  # (path, Discord error body)
        self.uploads: list[tuple[str, list[Upload]]] = []  # (path, files) of multipart requests
        self.sessions: list[GatewaySession] = []
        self._faults: list[Fault] = []
        self._nonces: dict[tuple[str, str, str], tuple[float, FakeMessage]] = {}
        self._ids = itertools.count(1_250_000_000_000_000_000)
        self._command_ids: dict[tuple[str | None, str], str] = {}
        self._identified: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_url(self) -> str:
        return f"{self.origin}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> Self:
        self._identified = asyncio.Event()
        return await super().start()

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        api = r"/api/v{version:\d+}"
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get(api + "/gateway", self._get_gateway)
        app.router.add_get(api + "/gateway/bot", self._get_gateway_bot)
        app.router.add_get(api + "/users/@me", self._get_me)
        app.router.add_get(api + "/oauth2/applications/@me", self._get_application)
        commands = api + "/applications/{app_id}/commands"
        app.router.add_put(commands, self._put_commands)
        app.router.add_get(commands, self._get_commands)
        guild_commands = api + "/applications/{app_id}/guilds/{guild_id}/commands"
        app.router.add_put(guild_commands, self._put_commands)
        app.router.add_get(guild_commands, self._get_commands)
        app.router.add_post(api + "/channels/{channel_id}/messages", self._create_message)
        app.router.add_post(
            api + "/interactions/{interaction_id}/{token}/callback", self._interaction_callback
        )
        webhook = api + "/webhooks/{webhook_id}/{token}"
        app.router.add_post(webhook, self._execute_webhook)
        app.router.add_patch(webhook + "/messages/{message_id}", self._edit_webhook_message)
        return app

    async def on_close(self) -> None:
        for session in self.sessions:
            if not session.ws.closed:
                await session.ws.close()

    # ------------------------------------------------------------------ set-up API

    def snowflake(self) -> str:
        return str(next(self._ids))

    def add_guild(self, guild_id: str, name: str = "lab") -> None:
        self.guilds[guild_id] = name

    def add_channel(
        self,
        channel_id: str,
        *,
        guild_id: str | None = None,
        name: str = "general",
        access: str = "ok",
    ) -> FakeChannel:
        if guild_id is not None:
            self.guilds.setdefault(guild_id, "lab")
        channel = FakeChannel(channel_id, guild_id, name, access)
        self.channels[channel_id] = channel
        return channel

    def add_webhook(self, channel_id: str, webhook_id: str | None = None) -> str:
        """Register a webhook posting into `channel_id`; returns its URL."""
        webhook_id = webhook_id or self.snowflake()
        token = secrets.token_urlsafe(24)
        self.webhooks[webhook_id] = (token, channel_id)
        return f"{self.api_url}/webhooks/{webhook_id}/{token}"

    def rate_limit(
        self,
        pattern: str,
        *,
        retry_after: float = 1.5,
        global_: bool = False,
        count: int = 1,
    ) -> None:
        """Answer the next `count` requests matching `pattern` (a regex over
        `METHOD /path`) with Discord's 429."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
        }
        if global_:
            body["code"] = 0
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket",
            "X-RateLimit-Scope": "global" if global_ else "user",
            "Via": "1.1 google",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        self._faults.append(Fault(pattern, 429, body, headers, count))

    def fail(self, pattern: str, status: int = 500, body: Any = None, *, count: int = 1) -> None:
        """Answer the next `count` requests matching `pattern` with `status`."""
        if body is None:
            body = {"message": "500: Internal Server Error", "code": 0}
        self._faults.append(Fault(pattern, status, body, {}, count))

    async def wait_identified(self, within: float = 15.0) -> None:
        assert self._identified is not None, "start() the fake first"
        await asyncio.wait_for(self._identified.wait(), within)

    def channel_messages(self, channel_id: str) -> list[FakeMessage]:
        return [m for m in self.messages if m.channel_id == channel_id]

    def commands_for(self, guild_id: str | None) -> list[dict[str, Any]]:
        if guild_id is not None and guild_id in self.guild_commands:
            return self.guild_commands[guild_id]
        return self.global_commands

    # ------------------------------------------------------------------ interactions

    def _find_command(self, name: str, guild_id: str) -> dict[str, Any]:
        for command in self.guild_commands.get(guild_id, []) + self.global_commands:
            if command["name"] == name:
                return command
        raise LookupError(f"/{name} is not registered (synced) for guild {guild_id}")

    def _options(
        self,
        schema: list[dict[str, Any]],
        values: Mapping[str, Any],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in schema}
        out = []
        for name, value in values.items():
            if name not in by_name:
                raise LookupError(f"no option {name!r}; the command has {sorted(by_name)}")
            if name != focused:
                _check_option_value(by_name[name], value)
            option = {"name": name, "type": by_name[name]["type"], "value": value}
            if name == focused:
                option["focused"] = True
            out.append(option)
        if focused is None:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"required options missing: {missing}")
        return out

    async def _interact(
        self,
        kind: int,
        command: str,
        subcommand: str | None,
        options: Mapping[str, Any],
        *,
        guild_id: str,
        channel_id: str,
        user_id: str,
        permissions: int,
        focused: str | None = None,
    ) -> FakeInteraction:
        schema = self._find_command(command, guild_id)
        required = schema.get("default_member_permissions")
        if (
            kind == APPLICATION_COMMAND
            and required is not None
            and not permissions & ADMINISTRATOR
            and int(required) & permissions != int(required)
        ):
            raise PermissionError(f"/{command} needs permissions {required} (hidden from member)")
        command_options = schema.get("options") or []
        if subcommand is not None:
            sub = next(
                (o for o in command_options if o["name"] == subcommand and o["type"] == 1), None
            )
            if sub is None:
                raise LookupError(f"/{command} has no subcommand {subcommand!r}")
            data_options = [
                {
                    "name": subcommand,
                    "type": 1,
                    "options": self._options(sub.get("options") or [], options, focused),
                }
            ]
        else:
            data_options = self._options(command_options, options, focused)
        channel = self.channels.get(channel_id) or self.add_channel(channel_id, guild_id=guild_id)
        interaction_id = self.snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(32)
        data: dict[str, Any] = {
            "id": schema["id"],
            "name": command,
            "type": 1,
            "options": data_options,
        }
        if schema.get("guild_id"):
            data["guild_id"] = schema["guild_id"]
        user = {
            "id": user_id,
            "username": f"user{user_id[-4:]}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "public_flags": 0,
        }
        payload = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": guild_id,
            "guild": {"id": guild_id, "locale": "en-US", "features": []},
            "channel_id": channel_id,
            "channel": {
                "id": channel_id,
                "type": 0,
                "guild_id": guild_id,
                "name": channel.name,
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
                "permissions": str(permissions),
            },
            "member": {
                "user": user,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "nick": None,
                "avatar": None,
                "premium_since": None,
                "communication_disabled_until": None,
                "permissions": str(permissions),
            },
            "data": data,
            "app_permissions": str(MEMBER),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        interaction = FakeInteraction(interaction_id, token, payload, self)
        self.interactions[interaction_id] = interaction
        session = self._live_session()
        await session.dispatch("INTERACTION_CREATE", payload)
        return interaction

    def _live_session(self) -> GatewaySession:
        for session in reversed(self.sessions):
            if session.identify is not None and not session.ws.closed:
                return session
        raise RuntimeError("no identified gateway session: is the bot connected?")

    async def slash(
        self,
        command: str,
        subcommand: str | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        guild_id: str,
        channel_id: str,
        user_id: str = "900000000000000001",
        permissions: int = MANAGER,
    ) -> FakeInteraction:
        """A member runs `/command subcommand option:value ...` in a channel."""
        return await self._interact(
            APPLICATION_COMMAND,
            command,
            subcommand,
            options or {},
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            permissions=permissions,
        )

    async def autocomplete(
        self,
        command: str,
        subcommand: str | None,
        options: Mapping[str, Any],
        focused: str,
        *,
        guild_id: str,
        channel_id: str,
        user_id: str = "900000000000000001",
        permissions: int = MANAGER,
    ) -> FakeInteraction:
        """A member is typing option `focused`; the bot should answer choices."""
        return await self._interact(
            AUTOCOMPLETE,
            command,
            subcommand,
            options,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            permissions=permissions,
            focused=focused,
        )

    # ------------------------------------------------------------------ button clicks

    async def click(
        self,
        message: FakeMessage,
        custom_id: str,
        *,
        user_id: str = "900000000000000001",
        permissions: int = MANAGER,
        channel_id: str | None = None,
        forged: bool = False,
    ) -> FakeInteraction:
        """A member clicks a button of `message` (a MESSAGE_COMPONENT interaction, as the
        gateway dispatches it). Discord only sends a button the message has, in the
        message's channel; `forged=True` skips those checks (a tampered payload), and
        `channel_id` then names the channel the payload claims."""
        buttons = {c.get("custom_id") for row in message.components for c in row["components"]}
        if not forged and (
            custom_id not in buttons or channel_id not in (None, message.channel_id)
        ):
            raise LookupError(f"message {message.id} has no button {custom_id!r} there")
        where = channel_id or message.channel_id
        channel = self.channels.get(where) or self.add_channel(where, guild_id="1")
        guild_id = channel.guild_id or "1"
        interaction_id = self.snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(32)
        user = {
            "id": user_id,
            "username": f"user{user_id[-4:]}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "public_flags": 0,
        }
        payload = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": MESSAGE_COMPONENT,
            "token": token,
            "version": 1,
            "guild_id": guild_id,
            "channel_id": where,
            "channel": {
                "id": where,
                "type": 0,
                "guild_id": guild_id,
                "name": channel.name,
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "flags": 0,
                "permissions": str(permissions),
            },
            "member": {
                "user": user,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "pending": False,
                "nick": None,
                "avatar": None,
                "permissions": str(permissions),
            },
            "message": self._message_json(message),
            "data": {"custom_id": custom_id, "component_type": 2},
            "app_permissions": str(MEMBER),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        interaction = FakeInteraction(interaction_id, token, payload, self)
        self.interactions[interaction_id] = interaction
        await self._live_session().dispatch("INTERACTION_CREATE", payload)
        return interaction

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "multipart/form-data":
                try:
                    body, request[FILES] = parse_multipart(
                        raw, request.headers.get("Content-Type", "")
                    )
                except FormError as error:
                    return self._json(error.body, error.status)
                self.uploads.append((re.sub(r"^/api/v\d+", "", request.path), request[FILES]))
            else:
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
        request[BODY] = body
        path = re.sub(r"^/api/v\d+", "", request.path)
        self.requests.append(
            RecordedRequest(request.method, path, dict(request.query), dict(request.headers), body)
        )
        line = f"{request.method} {path}"
        limited = self._over_global_limit(request)
        if limited is not None:
            return limited
        for fault in self._faults:
            if fault.count > 0 and re.search(fault.pattern, line):
                fault.count -= 1
                return _json_response(fault.body, fault.status, fault.headers)
        self._faults = [f for f in self._faults if f.count > 0]
        return await handler(request)

    def _over_global_limit(self, request: web.Request) -> web.Response | None:
        """Discord's answer to a bot request beyond the global rate limit (None: within)."""
        if self.global_limit is None or not request.headers.get("Authorization", "").startswith(
            "Bot "
        ):
            return None
        now = time.monotonic()
        window = self._bot_requests
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) < self.global_limit:
            window.append(now)
            return None
        self.global_limited += 1
        retry_after = round(max(0.001, 1.0 - (now - window[0])), 3)
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": True,
            "code": 0,
        }
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
        }
        return _json_response(body, 429, headers)

    @staticmethod
    async def _body(request: web.Request) -> Any:
        """The request's JSON body, as parsed by the middleware."""
        return request.get(BODY)

    def _json(self, data: Any, status: int = 200) -> web.Response:
        headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": "fakebucket",
        }
        if status == 204:
            return web.Response(status=204, headers=headers)
        return _json_response(data, status, headers)

    def _error(self, status: int, message: str, code: int = 0, **extra: Any) -> web.Response:
        body = {"message": message, "code": code, **extra}
        return self._json(body, status)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    def _unauthorized(self) -> web.Response:
        return self._error(401, "401: Unauthorized")

    def _invalid(
        self, path: str, body: Any, files: list[Upload] | None = None
    ) -> web.Response | None:
        """Discord's 400 for a body over the limits (or empty), else None."""
        errors = message_errors(body)
        if errors:
            answer = {"message": "Invalid Form Body", "code": 50035, "errors": errors}
            self.rejections.append((path, answer))
            return self._json(answer, 400)
        if is_empty(body) and not files:
            answer = {"message": "Cannot send an empty message", "code": 50006}
            self.rejections.append((path, answer))
            return self._json(answer, 400)
        return None

    def _message_json(self, message: FakeMessage) -> dict[str, Any]:
        channel = self.channels.get(message.channel_id)
        author = dict(self.bot_user)
        if message.webhook_id:
            author = {
                "id": message.webhook_id,
                "username": "Captain Hook",
                "discriminator": "0000",
                "avatar": None,
                "bot": True,
            }
        out: dict[str, Any] = {
            "id": message.id,
            "channel_id": message.channel_id,
            "type": 20 if message.interaction_id else 0,
            "content": message.content,
            "embeds": [{**e, "type": "rich"} for e in message.embeds],
            "author": author,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": list(message.attachments),
            "components": message.components,
            "pinned": False,
            "flags": message.flags,
        }
        if channel is not None and channel.guild_id:
            out["guild_id"] = channel.guild_id
        if message.nonce is not None:
            out["nonce"] = message.nonce
        if message.webhook_id:
            out["webhook_id"] = message.webhook_id
        if message.interaction_id:
            out["application_id"] = self.application_id
        return out

    def _store(
        self,
        channel_id: str,
        body: dict[str, Any],
        files: list[Upload] | None = None,
        **kwargs: Any,
    ) -> FakeMessage:
        kept = {k: body[k] for k in KEPT if k in body}
        message = FakeMessage(self.snowflake(), channel_id, kept, **kwargs)
        if files:  # a multipart request (tests/fakes/discord/files.py)
            message.files = list(files)
            message.attachments = attachments_json(files, body, self._ids)
        self.messages.append(message)
        return message

    # ------------------------------------------------------------------ REST handlers

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return self._json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return self._json(self.bot_user)

    async def _get_application(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return self._json(
            {
                "id": self.application_id,
                "name": self.bot_user["username"],
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": {
                    "id": "900000000000000099",
                    "username": "owner",
                    "discriminator": "0",
                    "avatar": None,
                },
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
            }
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        if request.match_info["app_id"] != self.application_id:
            return self._error(403, "Missing Access", 50001)
        guild_id = request.match_info.get("guild_id")
        payload = await self._body(request)
        errors: dict[str, Any] = {}
        if not isinstance(payload, list) or len(payload) > 100:
            errors["_errors"] = [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be <= 100"}]
            payload = []
        stored = []
        for index, command in enumerate(payload):
            name = command.get("name", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            if not _COMMAND_NAME.match(name) or name != name.lower():
                errors.setdefault(str(index), {})["name"] = {
                    "_errors": [
                        {
                            "code": "APPLICATION_COMMAND_INVALID_NAME",
                            "message": "Command name is invalid",
                        }
                    ]
                }
            if not 1 <= len(description) <= 100:
                errors.setdefault(str(index), {})["description"] = {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_BAD_LENGTH",
                            "message": "Must be between 1 and 100 in length.",
                        }
                    ]
                }
            if len(command.get("options") or []) > 25:
                errors.setdefault(str(index), {})["options"] = {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": "Must be 25 or fewer in length.",
                        }
                    ]
                }
            key = (guild_id, name)
            command_id = self._command_ids.setdefault(key, self.snowflake())
            stored.append(
                {
                    **command,
                    "id": command_id,
                    "application_id": self.application_id,
                    "version": self.snowflake(),
                    "type": command.get("type", 1),
                    "default_member_permissions": command.get("default_member_permissions"),
                    **({"guild_id": guild_id} if guild_id else {}),
                }
            )
        if errors:
            return self._json(
                {"message": "Invalid Form Body", "code": 50035, "errors": errors}, 400
            )
        if guild_id is None:
            self.global_commands = stored
        else:
            self.guild_commands[guild_id] = stored
        self.command_syncs.append((guild_id, stored))
        return self._json(stored)

    async def _get_commands(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return self._json(self.global_commands)
        return self._json(self.guild_commands.get(guild_id, []))

    async def _create_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        channel_id = request.match_info["channel_id"]
        channel = self.channels.get(channel_id)
        if channel is None:
            return self._error(404, "Unknown Channel", 10003)
        if channel.access == "missing-access":
            return self._error(403, "Missing Access", 50001)
        if channel.access == "missing-permissions":
            return self._error(403, "Missing Permissions", 50013)
        body = await self._body(request)
        files = request.get(FILES)
        if files and not channel.attach_files:
            return self._error(403, "Missing Permissions", 50013)
        invalid = self._invalid(request.path, body, files)
        if invalid is not None:
            return invalid
        nonce = body.get("nonce")
        nonce = None if nonce is None else str(nonce)
        if nonce is not None and body.get("enforce_nonce") is True:
            key = (channel_id, self.application_id, nonce)
            seen = self._nonces.get(key)
            if seen is not None and time.monotonic() - seen[0] <= self.nonce_window:
                return self._json(self._message_json(seen[1]))
        message = self._store(channel_id, body, files, author_id=self.application_id, nonce=nonce)
        if nonce is not None and body.get("enforce_nonce") is True:
            self._nonces[(channel_id, self.application_id, nonce)] = (time.monotonic(), message)
        return self._json(self._message_json(message))

    def _interaction_by_token(self, token: str) -> FakeInteraction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(request.match_info["interaction_id"])
        if interaction is None or interaction.token != request.match_info["token"]:
            return self._error(404, "Unknown interaction", 10062)
        if interaction.acknowledged:
            return self._error(400, "Interaction has already been acknowledged.", 40060)
        body = await self._body(request)
        body = body if isinstance(body, dict) else {}
        kind = body.get("type")
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        channel_id = interaction.payload["channel_id"]
        message: FakeMessage | None = None
        if kind == CHANNEL_MESSAGE:
            invalid = self._invalid(request.path, data)
            if invalid is not None:
                return invalid
            message = self._store(
                channel_id,
                data,
                author_id=self.application_id,
                interaction_id=interaction.id,
                flags=flags & EPHEMERAL,
            )
            interaction.original = message
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            message = self._store(
                channel_id,
                {"content": ""},
                author_id=self.application_id,
                interaction_id=interaction.id,
                flags=(flags & EPHEMERAL) | LOADING,
            )
            interaction.original = message
        elif kind == AUTOCOMPLETE_RESULT:
            if interaction.payload["type"] != AUTOCOMPLETE:
                return self._error(400, "Interaction is not an autocomplete", 50035)
            choices = data.get("choices")
            if (
                not isinstance(choices, list)
                or len(choices) > 25
                or any(
                    not 1 <= len(str(c.get("name", ""))) <= 100
                    or len(str(c.get("value", ""))) > 100
                    for c in choices
                )
            ):
                answer = {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {
                        "data": {
                            "choices": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_MAX_LENGTH",
                                        "message": "Must be 25 or fewer in length.",
                                    }
                                ]
                            }
                        }
                    },
                }
                self.rejections.append((request.path, answer))
                return self._json(answer, 400)
            interaction.choices = choices
        else:
            return self._error(400, f"Unsupported interaction response type {kind}", 50035)
        interaction.callbacks.append(body)
        await interaction._notify()
        if request.query.get("with_response") not in {"1", "true", "True"}:
            return self._json(None, 204)
        resource: dict[str, Any] = {"type": kind}
        if kind == CHANNEL_MESSAGE and message is not None:
            resource["message"] = self._message_json(message)
        return self._json(
            {
                "interaction": {
                    "id": interaction.id,
                    "type": interaction.payload["type"],
                    "activity_instance_id": None,
                    "response_message_id": message.id if message else None,
                    "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                },
                "resource": resource,
            }
        )

    async def _execute_webhook(self, request: web.Request) -> web.Response:
        webhook_id = request.match_info["webhook_id"]
        token = request.match_info["token"]
        body = await self._body(request)
        wait = request.query.get("wait") in {"1", "true", "True"}
        if webhook_id == self.application_id:  # an interaction follow-up
            interaction = self._interaction_by_token(token)
            if interaction is None or not interaction.acknowledged:
                return self._error(404, "Unknown Webhook", 10015)
            files = request.get(FILES)  # a follow-up may carry attachments, like any message
            invalid = self._invalid(request.path, body, files)
            if invalid is not None:
                return invalid
            flags = int(body.get("flags") or 0) & EPHEMERAL
            message = self._store(
                interaction.payload["channel_id"],
                body,
                files,
                author_id=self.application_id,
                interaction_id=interaction.id,
                flags=flags,
            )
            interaction.followups.append(message)
            await interaction._notify()
            return self._json(self._message_json(message) if wait else None, 200 if wait else 204)
        registered = self.webhooks.get(webhook_id)
        if registered is None:
            return self._error(404, "Unknown Webhook", 10015)
        if registered[0] != token:
            return self._error(401, "Invalid Webhook Token", 50027)
        files = request.get(FILES)
        invalid = self._invalid(request.path, body, files)
        if invalid is not None:
            return invalid
        message = self._store(
            registered[1], body, files, author_id=webhook_id, webhook_id=webhook_id
        )
        return self._json(self._message_json(message) if wait else None, 200 if wait else 204)

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._interaction_by_token(request.match_info["token"])
        if (
            request.match_info["webhook_id"] != self.application_id
            or interaction is None
            or interaction.original is None
        ):
            return self._error(404, "Unknown Webhook", 10015)
        if request.match_info["message_id"] != "@original":
            return self._error(404, "Unknown Message", 10008)
        body = await self._body(request)
        body = body if isinstance(body, dict) else {}
        invalid = self._invalid(request.path, body)
        if invalid is not None:
            return invalid
        original = interaction.original
        original.body = {k: body[k] for k in KEPT if k in body}
        original.flags &= ~LOADING
        await interaction._notify()
        return self._json(self._message_json(original))

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"Decode error")
            return ws
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            await ws.close(code=4002, message=b"Unsupported compression")
            return ws
        session = GatewaySession(ws, compress == "zlib-stream")
        self.sessions.append(session)
        await session.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                payload = json.loads(message.data)
            except ValueError:
                await ws.close(code=4002, message=b"Decode error")
                break
            await self._gateway_op(session, payload)
        return ws

    async def _gateway_op(self, session: GatewaySession, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == 1:  # HEARTBEAT
            session.heartbeats += 1
            await session.send({"op": 11})
        elif op == 2:  # IDENTIFY
            if not isinstance(data, dict) or data.get("token") != self.token:
                await session.ws.close(code=4004, message=b"Authentication failed.")
                return
            if "intents" not in data:
                await session.ws.close(code=4013, message=b"Invalid intent(s).")
                return
            session.identify = data
            shard = data.get("shard") or [0, 1]
            await session.dispatch(
                "READY",
                {
                    "v": 10,
                    "user": self.bot_user,
                    "guilds": [],
                    "session_id": session.session_id,
                    "resume_gateway_url": self.gateway_url,
                    "shard": shard,
                    "application": {"id": self.application_id, "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                },
            )
            assert self._identified is not None
            self._identified.set()
        elif op == 6:  # RESUME
            if not isinstance(data, dict) or data.get("token") != self.token:
                await session.ws.close(code=4004, message=b"Authentication failed.")
                return
            session.identify = data
            await session.dispatch("RESUMED", {})
