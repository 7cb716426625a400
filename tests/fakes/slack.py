"""A loopback fake of Slack for integration tests: Web API, response_url, Socket Mode.

    async with FakeSlack() as slack:
        slack.add_channel("C1")                         # the bot is a member
        slack.add_channel("C2", member=False, private=True)
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        slack.inject(Fault.rate_limited(7), method="chat.postMessage")
        ...
        assert slack.messages("C1")[0]["metadata"] == {...}

Web API (`/api/<method>`, what slack_sdk's AsyncWebClient calls through `base_url`):
`auth.test`, `chat.postMessage`, `conversations.join`, `conversations.history`,
`conversations.replies` and `apps.connections.open`, and the file upload flow of
`files_upload_v2` (`files.getUploadURLExternal`, the upload, `files.completeUploadExternal`:
tests/fakes/slack_files.py). Answers have Slack's shapes:
`{"ok": true, ...}` or `{"ok": false, "error": "invalid_blocks", "errors": [...],
"response_metadata": {"messages": ["[ERROR] ... [json-pointer:/blocks/0/text/text]"]}}`;
HTTP 429 with a `Retry-After` header and `{"ok": false, "error": "ratelimited"}`. An
answer to the bot token carries the token's scopes in an `x-oauth-scopes` header, as
Slack's does (`scopes=` chooses them).

The fake is strict where Slack is: tokens are checked (`not_authed`, `invalid_auth`), a
message is validated against Block Kit's documented limits (`check_message`: 50 blocks,
section text 3000, header 150, context 10 elements, button text 75, http(s) image
URLs, ...) plus the undocumented ~12,000 characters of block text per message
(`msg_blocks_too_long`); an unknown channel answers `channel_not_found`, an archived one
`is_archived`, one the bot is not in `not_in_channel` (posting to a public channel
without being a member needs `chat:write.public`; reading history always needs
membership). `conversations.join` (scope `channels:join`) makes the bot a member of a
public channel and leaves a `channel_join` message, answers `already_in_channel` as a
warning, and `method_not_supported_for_channel_type` for a private channel it is in
(`channel_not_found` for one it cannot see). Thread replies are only visible through
`conversations.replies`, and message metadata only with `include_all_metadata`, as in
Slack.

`response_url(...)` hands out URLs on `/response/<id>` that record what bolt's
`respond()` posts (validated the same way; five uses per URL, like Slack).

Socket Mode: `apps.connections.open` (app token) answers a `ws://` URL on this server;
a connecting client gets `hello`, `send_envelope()` pushes a slash command or an
interaction, and `wait_ack()` returns the client's acknowledgement.

Faults (`inject`) are answered in order, per method or for any method, before
validation. `Fault.lost_response()` performs the call and then fails it: the message
is posted but the client sees an error (a crash or timeout between post and record).
`Fault.lands_late(after, answer_after)` carries the call out `after` seconds after it
arrived, whatever became of the connection, and answers after `answer_after`: with a
client timeout in between, the client gives up on a post that Slack finishes later.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import WSMsgType, web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.slack_files import SlackFiles

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
TEAM_ID = "T0FAKE"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0PAPERBOY"
DEFAULT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:history",
        "groups:history",
        "files:write",
    }
)

# Block Kit limits (written out again here rather than imported from the renderer, so a
# renderer that got a limit wrong fails against the fake).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3000
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_URL = 3000
MAX_ALT_TEXT = 2000
MAX_MESSAGE_TEXT = 40_000
MAX_BLOCKS_TEXT_TOTAL = 12_000
RESPONSE_URL_USES = 5


def slack_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- validation --------------------------------------------------------------------


@dataclass
class Problem:
    error: str  # Slack's error code
    messages: list[str] = field(default_factory=list)


class _Checker:
    def __init__(self, broken_images: Iterable[str] = ()) -> None:
        self.messages: list[str] = []
        self.broken_images = set(broken_images)

    def fail(self, message: str, pointer: str) -> None:
        self.messages.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text_object(
        self, obj: Any, pointer: str, *, max_len: int, plain_only: bool = False
    ) -> None:
        if not isinstance(obj, dict):
            self.fail("must be an object", pointer)
            return
        kind = obj.get("type")
        allowed = {"plain_text"} if plain_only else {"plain_text", "mrkdwn"}
        if kind not in allowed:
            self.fail(f"must be one of {sorted(allowed)}", pointer + "/type")
            return
        extra = set(obj) - {"type", "text", "emoji" if kind == "plain_text" else "verbatim"}
        if extra:
            self.fail(f"unknown field(s) {sorted(extra)}", pointer)
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail("must be a non-empty string", pointer + "/text")
        elif slack_len(text) > max_len:
            self.fail(f"must be less than {max_len + 1} characters", pointer + "/text")

    def url(self, value: Any, pointer: str) -> None:
        if not isinstance(value, str) or not value:
            self.fail("must be a URL", pointer)
            return
        if len(value) > MAX_URL:
            self.fail(f"must be less than {MAX_URL + 1} characters", pointer)
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            self.fail("must be a valid http or https URL", pointer)

    def image(self, obj: Any, pointer: str) -> None:
        if not isinstance(obj, dict):
            self.fail("must be an object", pointer)
            return
        self.url(obj.get("image_url"), pointer + "/image_url")
        alt = obj.get("alt_text")
        if not isinstance(alt, str) or not alt or len(alt) > MAX_ALT_TEXT:
            self.fail(f"must be 1 to {MAX_ALT_TEXT} characters", pointer + "/alt_text")
        if obj.get("image_url") in self.broken_images:
            self.fail("downloading image failed", pointer + "/image_url")

    def button(self, obj: Any, pointer: str) -> None:
        self.text_object(
            obj.get("text"), pointer + "/text", max_len=MAX_BUTTON_TEXT, plain_only=True
        )
        action_id = obj.get("action_id")
        if action_id is not None and (
            not isinstance(action_id, str) or len(action_id) > MAX_ACTION_ID
        ):
            self.fail(f"must be at most {MAX_ACTION_ID} characters", pointer + "/action_id")
        value = obj.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE):
            self.fail(f"must be at most {MAX_BUTTON_VALUE} characters", pointer + "/value")
        if "url" in obj:
            self.url(obj["url"], pointer + "/url")
        if obj.get("style") not in {None, "primary", "danger"}:
            self.fail("must be primary or danger", pointer + "/style")

    def element(self, obj: Any, pointer: str) -> None:
        if not isinstance(obj, dict):
            self.fail("must be an object", pointer)
        elif obj.get("type") == "image":
            self.image(obj, pointer)
        elif obj.get("type") == "button":
            self.button(obj, pointer)
        else:
            self.fail(f"unsupported element type {obj.get('type')!r}", pointer + "/type")

    def block(self, block: Any, pointer: str, block_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.fail("must be an object", pointer)
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > MAX_BLOCK_ID:
                self.fail(f"must be 1 to {MAX_BLOCK_ID} characters", pointer + "/block_id")
            elif block_id in block_ids:
                self.fail("duplicate block_id", pointer + "/block_id")
            else:
                block_ids.add(block_id)
        kind = block.get("type")
        if kind == "header":
            self.text_object(
                block.get("text"), pointer + "/text", max_len=MAX_HEADER_TEXT, plain_only=True
            )
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and fields is None:
                self.fail("must provide text or fields", pointer)
            if text is not None:
                self.text_object(text, pointer + "/text", max_len=MAX_SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list) or not 1 <= len(fields) <= MAX_FIELDS:
                    self.fail(f"must have 1 to {MAX_FIELDS} items", pointer + "/fields")
                else:
                    for i, f in enumerate(fields):
                        self.text_object(f, f"{pointer}/fields/{i}", max_len=MAX_FIELD_TEXT)
            if "accessory" in block:
                self.element(block["accessory"], pointer + "/accessory")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                self.fail(f"must have 1 to {MAX_CONTEXT_ELEMENTS} items", pointer + "/elements")
                return
            for i, el in enumerate(elements):
                sub = f"{pointer}/elements/{i}"
                if isinstance(el, dict) and el.get("type") == "image":
                    self.image(el, sub)
                else:
                    self.text_object(el, sub, max_len=MAX_CONTEXT_TEXT)
        elif kind == "divider":
            extra = set(block) - {"type", "block_id"}
            if extra:
                self.fail(f"unknown field(s) {sorted(extra)}", pointer)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ACTIONS_ELEMENTS:
                self.fail(f"must have 1 to {MAX_ACTIONS_ELEMENTS} items", pointer + "/elements")
                return
            for i, el in enumerate(elements):
                self.element(el, f"{pointer}/elements/{i}")
        elif kind == "image":
            self.image(block, pointer)
        else:
            self.fail(f"unsupported block type {kind!r}", pointer + "/type")


def blocks_text_total(blocks: Any) -> int:
    """Characters in every text object of `blocks` (Slack's cumulative measure)."""
    if isinstance(blocks, dict):
        if blocks.get("type") in {"plain_text", "mrkdwn"} and isinstance(blocks.get("text"), str):
            return slack_len(blocks["text"])
        return sum(blocks_text_total(v) for v in blocks.values())
    if isinstance(blocks, list):
        return sum(blocks_text_total(v) for v in blocks)
    return 0


def check_message(payload: Mapping[str, Any], broken_images: Iterable[str] = ()) -> Problem | None:
    """The error Slack answers for this message (text/blocks/metadata), or None."""
    text = payload.get("text")
    blocks = payload.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return Problem("invalid_blocks_format")
    if not text and not blocks:
        return Problem("no_text")
    if text is not None and not isinstance(text, str):
        return Problem("invalid_arguments", ["[ERROR] text must be a string"])
    if isinstance(text, str) and slack_len(text) > MAX_MESSAGE_TEXT:
        return Problem("msg_too_long")
    if blocks is not None:
        if not isinstance(blocks, list):
            return Problem("invalid_blocks_format")
        checker = _Checker(broken_images)
        if len(blocks) > MAX_BLOCKS:
            checker.fail(f"no more than {MAX_BLOCKS} items allowed", "/blocks")
        ids: set[str] = set()
        for i, block in enumerate(blocks):
            checker.block(block, f"/blocks/{i}", ids)
        if checker.messages:
            return Problem("invalid_blocks", checker.messages)
        if blocks_text_total(blocks) > MAX_BLOCKS_TEXT_TOTAL:
            return Problem("msg_blocks_too_long")
    metadata = payload.get("metadata")
    if metadata is not None:
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                return Problem("invalid_metadata_format")
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not re.fullmatch(r"[A-Za-z0-9_]{1,255}", metadata["event_type"])
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            return Problem("invalid_metadata_format")
    return None


# -- live markup (what the renderer must never let untrusted text produce) ----------

_ANGLE = re.compile(r"<([^<>]*)>")
_LINK = re.compile(r"(https?://[^\s|<>]+)\|([^<>|]*)")


def live_markup(text: str, allowed_urls: Iterable[str] | None = None) -> list[str]:
    """Problems in one mrkdwn string: mentions, foreign links, stray angle brackets.

    Every `<...>` must be `<http(s)://url|label>` (with `url`, after undoing `&amp;`,
    in `allowed_urls` when given); `<!...>`, `<@...>`, `<#...>`, a bare `<url>` or an
    unpaired `<`/`>` (other than a quote's `>` opening a line) is reported.
    """
    problems: list[str] = []
    allowed = None if allowed_urls is None else set(allowed_urls)
    for match in _ANGLE.finditer(text):
        inner = match.group(1)
        link = _LINK.fullmatch(inner)
        if link is None:
            problems.append(f"live markup <{inner[:60]}>")
            continue
        url = link.group(1).replace("&amp;", "&")
        if allowed is not None and url not in allowed:
            problems.append(f"unexpected link target {url[:80]}")
    rest = re.sub(r"(?m)^>", "", _ANGLE.sub("", text))  # a line-leading > is a quote
    if "<" in rest or ">" in rest:
        problems.append("unescaped angle bracket")
    for entity in re.findall(r"&[A-Za-z#0-9]*;?", text):
        if entity not in {"&amp;", "&lt;", "&gt;"}:
            problems.append(f"raw ampersand {entity[:20]!r}")
    return problems


def mrkdwn_texts(blocks: Any) -> list[str]:
    """Every mrkdwn string in `blocks`."""
    out: list[str] = []
    if isinstance(blocks, dict):
        if blocks.get("type") == "mrkdwn" and isinstance(blocks.get("text"), str):
            return [blocks["text"]]
        for v in blocks.values():
            out += mrkdwn_texts(v)
    elif isinstance(blocks, list):
        for v in blocks:
            out += mrkdwn_texts(v)
    return out


# -- scripting -------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One scripted answer: after `delay` seconds, `status` with Slack's error body.

    `status=None` answers normally after the delay (a delay past the client's timeout
    is a timeout). `perform=True` carries the call out first, then fails it.
    """

    status: int | None = None
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    perform: bool = False
    raw_body: bytes | None = None
    land_after: float | None = None  # carry the call out this late, in the background

    @classmethod
    def rate_limited(cls, retry_after: int | float | str = 1) -> Fault:
        return cls(429, "ratelimited", {"Retry-After": str(retry_after)})

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status, "internal_error")

    @classmethod
    def html_error(cls, status: int = 503) -> Fault:
        """A load balancer's page instead of JSON."""
        return cls(status, raw_body=b"<html><body>Service Unavailable</body></html>")

    @classmethod
    def api_error(cls, code: str) -> Fault:
        """Slack's HTTP 200 `{"ok": false, "error": code}`."""
        return cls(200, code)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        return cls(delay=delay)

    @classmethod
    def lost_response(cls, status: int = 500) -> Fault:
        return cls(status, "internal_error", perform=True)

    @classmethod
    def lands_late(cls, after: float, answer_after: float | None = None) -> Fault:
        """The call takes effect `after` seconds late; the answer (a 500) comes after
        `answer_after` (default: just after it took effect)."""
        return cls(
            500,
            "internal_error",
            delay=after + 0.05 if answer_after is None else answer_after,
            land_after=after,
        )


@dataclass
class Channel:
    id: str
    name: str = ""
    member: bool = True
    private: bool = False
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ApiCall:
    method: str
    args: dict[str, Any]
    token: str | None


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a response_url (what bolt's respond() sent)."""

    url_id: str
    payload: dict[str, Any]
    accepted: bool


def sign(secret: str, body: str | bytes, timestamp: int | str | None = None) -> dict[str, str]:
    """Headers Slack sends with a signed HTTP request (v0 signature)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = body.decode() if isinstance(body, bytes) else body
    digest = hmac.new(secret.encode(), f"v0:{ts}:{raw}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class FakeSlack(SlackFiles, LoopbackServer):
    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        team_id: str = TEAM_ID,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.scopes = set(scopes)
        self.channels: dict[str, Channel] = {}
        self.calls: list[ApiCall] = []
        self.responses: list[ResponsePost] = []
        self.broken_images: set[str] = set()
        self._response_uses: dict[str, int] = {}
        self._faults: dict[str | None, deque[Fault]] = {}
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._acks: dict[str, dict[str, Any]] = {}
        self._late: set[asyncio.Task[None]] = set()
        self.files_state()  # file uploads: tests/fakes/slack_files.py

    # -- scripting ------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        member: bool = True,
        private: bool = False,
        archived: bool = False,
    ) -> Channel:
        channel = Channel(channel_id, name or channel_id.lower(), member, private, archived)
        self.channels[channel_id] = channel
        return channel

    def inject(self, *faults: Fault, method: str | None = None, times: int = 1) -> None:
        """Queue `faults` for `method` (None: whichever call comes next)."""
        queue = self._faults.setdefault(method, deque())
        for _ in range(times):
            queue.extend(faults)

    async def landed(self, within: float = 5.0) -> None:
        """Wait until every call scripted to land late (`Fault.lands_late`) has landed."""
        if self._late:
            await asyncio.wait_for(asyncio.gather(*self._late), within)

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Everything posted to a channel, oldest first (thread replies included)."""
        return list(self.channels[channel_id].messages)

    def posts(self, method: str = "chat.postMessage") -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def response_url(self, url_id: str | None = None) -> str:
        url_id = url_id or uuid.uuid4().hex[:12]
        self._response_uses.setdefault(url_id, 0)
        return f"{self.origin}/response/{url_id}"

    def responses_to(self, url: str) -> list[ResponsePost]:
        url_id = url.rstrip("/").rsplit("/", 1)[-1]
        return [r for r in self.responses if r.url_id == url_id]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until `predicate()` holds (checked whenever the fake records something)."""

        async def waiting() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(waiting(), within)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{url_id}", self._response)
        app.router.add_get("/socket/{session}", self._socket)
        self.file_routes(app)
        return app

    async def on_close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # -- Web API ---------------------------------------------------------------------

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                body = json.loads(raw or b"{}")
                if isinstance(body, dict):
                    args.update(body)
            elif raw:
                args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        return args

    async def _land_late(
        self, fault: Fault, method: str, args: dict[str, Any], token: str | None
    ) -> None:
        await self.delay(fault.land_after or 0.0)
        if not self.closing.is_set():
            self._dispatch(method, args, token)
            await self._notify()

    def _next_fault(self, method: str) -> Fault | None:
        for key in (method, None):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        token = token or args.pop("token", None)
        self.calls.append(ApiCall(method, args, token))
        fault = self._next_fault(method)
        if fault is not None and fault.land_after is not None:
            task = asyncio.create_task(self._land_late(fault, method, args, token))
            self._late.add(task)
            task.add_done_callback(self._late.discard)
        if fault is not None:
            await self.delay(fault.delay)
        if fault is not None and fault.land_after is not None:
            return _fault_response(fault)
        if fault is not None and fault.status is not None and not fault.perform:
            return _fault_response(fault)
        answer = self._dispatch(method, args, token)
        await self._notify()
        if fault is not None and fault.status is not None:
            return _fault_response(fault)
        if token == self.bot_token and method != "apps.connections.open":
            # As Slack: every Web API answer to a bot token lists the token's scopes.
            return _json(answer, headers={"x-oauth-scopes": ",".join(sorted(self.scopes))})
        return _json(answer)

    def _dispatch(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "conversations.join": self._join,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "apps.connections.open": self._connections_open,
            **self.file_handlers(),
        }
        handler = handlers.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        if not token:
            return {"ok": False, "error": "not_authed"}
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            return {"ok": False, "error": "invalid_auth"}
        return handler(args)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake Team",
            "user": "paperboy",
            "team_id": self.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _channel(self, args: Mapping[str, Any]) -> Channel | dict[str, Any]:
        channel = self.channels.get(str(args.get("channel") or ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return channel

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, dict):
            return channel
        if channel.archived:
            return {"ok": False, "error": "is_archived"}
        if not channel.member:
            if channel.private:
                return {"ok": False, "error": "channel_not_found"}
            if "chat:write.public" not in self.scopes:
                return {"ok": False, "error": "not_in_channel"}
        problem = check_message(args, self.broken_images)
        if problem is not None:
            return _problem(problem)
        thread_ts = args.get("thread_ts")
        parent = None
        if thread_ts:
            parent = next((m for m in channel.messages if m["ts"] == thread_ts), None)
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
        n = next(self._ts)
        ts = f"{1_700_000_000 + n}.{n:06d}"
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        stored: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "ts": ts,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": args.get("text") or "",
        }
        if blocks is not None:
            stored["blocks"] = blocks
        if metadata is not None:
            stored["metadata"] = metadata
        if parent is not None:
            stored["thread_ts"] = parent["ts"]
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = ts
        channel.messages.append(stored)
        return {"ok": True, "channel": channel.id, "ts": ts, "message": _visible(stored, False)}

    def _join(self, args: dict[str, Any]) -> dict[str, Any]:
        if "channels:join" not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": "channels:join"}
        channel = self._channel(args)
        if isinstance(channel, dict):
            return channel
        if channel.private:
            error = (
                "method_not_supported_for_channel_type" if channel.member else "channel_not_found"
            )
            return {"ok": False, "error": error}
        if channel.archived:
            return {"ok": False, "error": "is_archived"}
        info = {"id": channel.id, "name": channel.name, "is_channel": True, "is_member": True}
        if channel.member:
            return {
                "ok": True,
                "channel": info,
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.member = True
        n = next(self._ts)
        channel.messages.append(
            {
                "type": "message",
                "subtype": "channel_join",
                "ts": f"{1_700_000_000 + n}.{n:06d}",
                "user": BOT_USER_ID,
                "text": f"<@{BOT_USER_ID}> has joined the channel",
            }
        )
        return {"ok": True, "channel": info}

    def _readable(self, args: Mapping[str, Any]) -> Channel | dict[str, Any]:
        channel = self._channel(args)
        if isinstance(channel, dict):
            return channel
        scope = "groups:history" if channel.private else "channels:history"
        if scope not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": scope}
        if not channel.member:
            return {
                "ok": False,
                "error": "channel_not_found" if channel.private else "not_in_channel",
            }
        return channel

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(args)
        if isinstance(channel, dict):
            return channel
        with_meta = _truthy(args.get("include_all_metadata"))
        top = [m for m in channel.messages if m.get("thread_ts") in (None, m["ts"])]
        newest_first = list(reversed(top))
        return _page(newest_first, args, with_meta)

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(args)
        if isinstance(channel, dict):
            return channel
        ts = args.get("ts")
        parent = next((m for m in channel.messages if m["ts"] == ts), None)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = [parent] + [
            m for m in channel.messages if m.get("thread_ts") == ts and m["ts"] != ts
        ]
        return _page(thread, args, _truthy(args.get("include_all_metadata")))

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        session = uuid.uuid4().hex[:8]
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket/{session}"}

    # -- response_url ------------------------------------------------------------------

    async def _response(self, request: web.Request) -> web.StreamResponse:
        url_id = request.match_info["url_id"]
        try:
            payload = json.loads(await request.read() or b"{}")
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        uses = self._response_uses.get(url_id)
        if uses is None:
            return web.Response(status=404, text="no_such_url")
        if uses >= RESPONSE_URL_USES:
            self.responses.append(ResponsePost(url_id, payload, False))
            await self._notify()
            return web.Response(status=404, text="expired_url")
        problem = check_message(payload, self.broken_images)
        accepted = problem is None
        self.responses.append(ResponsePost(url_id, payload, accepted))
        self._response_uses[url_id] = uses + 1
        await self._notify()
        if problem is not None:
            return web.Response(status=400, text=problem.error)
        return web.Response(text="ok")

    # -- Socket Mode ---------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": APP_ID},
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
            }
        )
        self._socket_ready.set()
        await self._notify()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        continue
                    if isinstance(data, dict) and "envelope_id" in data:
                        self._acks[data["envelope_id"]] = data
                        await self._notify()
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_ready.clear()
        return ws

    async def wait_connected(self, within: float = 5.0) -> None:
        await asyncio.wait_for(self._socket_ready.wait(), within)

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Push a Socket Mode envelope (`slash_commands`, `interactive`) to the client."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode client is connected")
        envelope_id = str(uuid.uuid4())
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
            }
        )
        return envelope_id

    def acked(self, envelope_id: str) -> bool:
        """Whether the client has acknowledged the envelope (so far)."""
        return envelope_id in self._acks

    async def wait_ack(self, envelope_id: str, within: float = 3.0) -> dict[str, Any]:
        """The client's acknowledgement of an envelope (TimeoutError if none in time)."""
        await self.wait_for(lambda: envelope_id in self._acks, within)
        return self._acks[envelope_id]

    # -- payloads as Slack sends them ------------------------------------------------------

    def slash_command(
        self,
        text: str,
        *,
        channel_id: str = "C0GENERAL",
        user_id: str = "U0ALICE",
        command: str = "/papers",
        response_url: str | None = None,
    ) -> dict[str, str]:
        """A slash command's fields; `text` is escaped as Slack escapes it (&, <, >)."""
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": "fake",
            "channel_id": channel_id,
            "channel_name": self.channels[channel_id].name
            if channel_id in self.channels
            else "unknown",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": escaped,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url or self.response_url(),
            "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:10]}",
        }

    def block_action(
        self,
        action_id: str,
        value: str,
        *,
        channel_id: str = "C0GENERAL",
        user_id: str = "U0ALICE",
        response_url: str | None = None,
    ) -> dict[str, Any]:
        """A `block_actions` payload for a button clicked in an ephemeral message."""
        return {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {"type": "message", "is_ephemeral": True, "channel_id": channel_id},
            "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:10]}",
            "team": {"id": self.team_id, "domain": "fake"},
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "response_url": response_url or self.response_url(),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": action_id,
                    "type": "button",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }


async def settled(before: set[asyncio.Task[Any]], within: float = 10.0) -> None:
    """Wait until every task started since `before` (`asyncio.all_tasks()`) was taken has
    finished, and those they started: bolt's lazy listeners, request handlers. The
    deadline is a safety net only."""
    current = asyncio.current_task()
    async with asyncio.timeout(within):
        while pending := {t for t in asyncio.all_tasks() - before if t is not current}:
            await asyncio.wait(pending)


def form_body(fields: Mapping[str, str]) -> str:
    """A slash command as the form-encoded body Slack POSTs in HTTP mode."""
    return urlencode(fields)


def interaction_body(payload: Mapping[str, Any]) -> str:
    """An interaction as Slack POSTs it in HTTP mode (`payload=<json>`)."""
    return urlencode({"payload": json.dumps(payload)})


def _truthy(value: Any) -> bool:
    return str(value).lower() in {"1", "true"}


def _visible(message: dict[str, Any], with_meta: bool) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k != "metadata"}
    if with_meta and "metadata" in message:
        out["metadata"] = message["metadata"]
    return out


def _page(messages: list[dict[str, Any]], args: Mapping[str, Any], with_meta: bool) -> dict:
    try:
        limit = max(1, min(int(args.get("limit") or 100), 999))
    except ValueError:
        return {"ok": False, "error": "invalid_limit"}
    cursor = str(args.get("cursor") or "")
    try:
        start = int(base64.b64decode(cursor).decode()) if cursor else 0
    except ValueError:
        return {"ok": False, "error": "invalid_cursor"}
    page = messages[start : start + limit]
    more = start + limit < len(messages)
    next_cursor = base64.b64encode(str(start + limit).encode()).decode() if more else ""
    return {
        "ok": True,
        "messages": [_visible(m, with_meta) for m in page],
        "has_more": more,
        "response_metadata": {"next_cursor": next_cursor},
    }


def _problem(problem: Problem) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": problem.error}
    if problem.messages:
        body["errors"] = list(problem.messages)
        body["response_metadata"] = {"messages": list(problem.messages)}
    return body


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers=dict(headers or {}),
        content_type="application/json",
    )


def _fault_response(fault: Fault) -> web.Response:
    status = fault.status or 500
    if fault.raw_body is not None:
        return web.Response(
            status=status,
            body=fault.raw_body,
            headers=dict(fault.headers),
            content_type="text/html",
        )
    return _json({"ok": False, "error": fault.error or "internal_error"}, status, fault.headers)
