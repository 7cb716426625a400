"""SlackAdapter: `/papers` through slack-bolt (Socket Mode or HTTP), digests via the Web API.

Commands. Every slash command (`/papers`, or whatever the manifest names it) is
acknowledged at once with an empty ack; the work runs in a bolt *lazy listener* (an
asyncio task started after the ack), which hands the text to `paperboy.commands` and posts
the answer through `respond()` (the command's response_url: ephemeral, up to five
messages). So a digest that takes ten seconds to build is still acknowledged well
within Slack's 3 s. A digest preview has a "Share in channel" button; clicking it
(acked the same way) rebuilds that day's digest and posts it to the channel.

Delivery. `post()` sends one rendered part with `chat.postMessage`, adding `channel`
and, with an outbox key, `metadata = {"event_type": "paperboy_digest_part",
"event_payload": {"key": ...}}`; `find_sent()` looks for that key in the channel's
recent history (and in the threads of our own recent digests). Reading history needs
membership, even in a public channel the bot can post to without one
(`chat:write.public`), so when a lookup is answered `not_in_channel` the adapter joins
the channel (`conversations.join`, scope `channels:join`) and reads again. Joining only
then, not before posting, keeps joins rare: lookups happen after a crash or an unknown
outcome, while a restart with 10,000 channels would otherwise make 10,000 joins
(Tier 3, about 50 a minute) before its digests. A rate-limited join answers the lookup
with the join's Retry-After. A lookup that still cannot read the history (the scope
missing, the channel not joinable) is never an error of its own: it logs a warning and
answers "not found", so the part is posted again (perhaps twice) rather than lost, and
a channel that is really gone is paused by the post's own answer.

Retries belong to the outbox: the delivery client has slack_sdk's retry handlers turned
off (`retry_handlers=[]`), because its default connection-error retry could post a
message twice, and a 429 must reach the outbox as `ChatError(retry_after=...)`. Its
timeout is the outbox's send timeout (`PAPERBOY_DELIVERY_SEND_TIMEOUT`), so the client
does not give up on a slow post before the outbox does. When a post's outcome is
unknown (timeout, connection lost, 5xx), the adapter remembers the key and checks
history before the next attempt with that key, unless `find_sent()` was asked about
that key in between (as the outbox does): the history is read once per retry.
The client bolt uses for commands keeps the connection-error retry and one
rate-limit retry: answering a user is not the outbox's business. The delivery client
keeps one HTTP session (kept-alive connections) for as long as the adapter runs:
without one, slack_sdk opens a new connection, with its TLS handshake, for every call,
which at fan-out costs more than the post itself.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from paperboy import jsontext
from paperboy.chat import ChatError, CommandContext, CommandHandler, MessageRef
from paperboy.models import Digest, Reply, ReplyFile, Target
from paperboy.trends import ROLLUP_PAYLOAD, Rollup, rollup_from_json
from paperboy_adapters.slack.limits import FILE_ALT_TEXT
from paperboy_adapters.slack.mrkdwn import unescape
from paperboy_adapters.slack.render import (
    SHARE_ACTION,
    SUBSCRIBE_ACTION,
    THREAD_KEY,
    VOTE_ACTIONS,
    Part,
    RenderCache,
    context,
    parse_vote_value,
    render_digest,
    render_reply,
    sendable,
    text_blocks,
)
from paperboy_adapters.slack.requests import screen
from paperboy_adapters.slack.rollup import escaped_within, file_name_for, render_rollup
from paperboy_config import Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
METADATA_EVENT = "paperboy_digest_part"
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "team_access_not_granted",
        "restricted_action",
    }
)
HISTORY_PAGE = 100
HISTORY_PAGES = 3  # "recent": the newest 300 messages of the channel
ANY_COMMAND = re.compile(r"^/.+")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")

Respond = Callable[..., Awaitable[Any]]


#: Loggers slack_sdk and bolt test by their own level (see `_settle_sdk_loggers`).
SDK_LOGGERS = (
    "slack_sdk.web.async_base_client",
    "slack_sdk.webhook.async_client",
    "slack_bolt.AsyncApp",
)


def _settle_sdk_loggers() -> None:
    """Give slack_sdk's and bolt's loggers the level logging has for them now.

    They build a debug line holding the whole request and response (every block of a
    digest) whenever their logger's *own* level is unset, testing `logger.level` rather
    than the effective level: at fan-out that cost more than the post itself.
    """
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logger.getEffectiveLevel())


def chat_error(error: SlackApiError, method: str) -> ChatError:
    """Map a Slack Web API failure to the outbox's ChatError."""
    response = error.response
    status = _status(error)
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, Mapping) else None
    headers = getattr(response, "headers", None) or {}
    if status == 429 or code == "ratelimited":
        return ChatError(
            f"slack {method}: rate limited", retry_after=_retry_after(headers.get("Retry-After"))
        )
    if code in PERMANENT_ERRORS:
        return ChatError(f"slack {method}: {code}", permanent=True)
    # Slack's own error body (`internal_error`, `fatal_error`) means it finished handling
    # the call; a proxy's page (a 502/503/504 without one) does not: the call may still run.
    settled = isinstance(code, str)
    if status >= 500:
        return ChatError(
            f"slack {method}: HTTP {status}" + (f" {code}" if code else ""), settled=settled
        )
    return ChatError(f"slack {method}: {code or f'HTTP {status}'}", settled=settled)


def _status(error: SlackApiError) -> int:
    response = error.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else 0


def _code(error: SlackApiError) -> str | None:
    data = getattr(error.response, "data", None)
    code = data.get("error") if isinstance(data, Mapping) else None
    return code if isinstance(code, str) else None


def _retry_after(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def _is_image_failure(error: SlackApiError) -> bool:
    data = getattr(error.response, "data", None)
    if not isinstance(data, Mapping) or data.get("error") != "invalid_blocks":
        return False
    messages = data.get("response_metadata", {}).get("messages", []) or data.get("errors", [])
    return any("image" in str(m) for m in messages)


def _without_images(part: Mapping[str, Any]) -> dict[str, Any]:
    blocks = []
    for block in part.get("blocks", []):
        if block.get("type") == "image":
            continue
        if block.get("accessory", {}).get("type") == "image":
            block = {k: v for k, v in block.items() if k != "accessory"}
        blocks.append(block)
    return {**part, "blocks": blocks}


COMPLETE = "files.completeUploadExternal"


def _api_method(error: SlackApiError) -> str | None:
    """The Web API method a failed call went to (from its URL)."""
    url = str(getattr(error.response, "api_url", "") or "")
    method = url.rstrip("/").rsplit("/", 1)[-1]
    return method or None


def _shares_file(message: Mapping[str, Any], name: str, bot_id: str | None) -> bool:
    """Whether `message` is ours and shares a file named `name` (a rollup's chart)."""
    if bot_id is not None and message.get("bot_id") not in (None, bot_id):
        return False
    files = message.get("files")
    if not isinstance(files, list):
        return False
    return any(isinstance(f, Mapping) and f.get("name") == name for f in files)


class _Response(aiohttp.ClientResponse):
    """Slack's answers read with orjson: `chat.postMessage` echoes the whole message
    (every block), and slack_sdk reads it with `json.loads`, a noticeable share of a
    fan-out's CPU. Invalid JSON still raises `json.JSONDecodeError`, as slack_sdk expects."""

    async def json(
        self,
        *,
        encoding: str | None = None,
        loads: Callable[[str], Any] = jsontext.loads,
        content_type: str | None = "application/json",
    ) -> Any:
        return await super().json(encoding=encoding, loads=loads, content_type=content_type)


#: How the delivery session writes JSON bodies (every digest part is serialized here once
#: more): orjson, straight to bytes where aiohttp takes bytes (3.13 and later).
_JSON_BODY: dict[str, Any] = (
    {"json_serialize_bytes": jsontext.dumps_bytes}
    if "json_serialize_bytes" in inspect.signature(aiohttp.ClientSession).parameters
    else {"json_serialize": jsontext.dumps}
)


class WellFormed(AsyncMiddleware):
    """Inside bolt, the same screen as before it (`paperboy_adapters.slack.requests.screen`).

    HTTP mode screens a request before bolt sees it (adapters/slack/http.py) and Socket
    Mode too (`ScreenedSocketMode`); this middleware is the last line for any other way
    into the app. A middleware class, not a function: bolt builds a function's
    arguments from the body first (`body["actions"][0]`), which is what must not run on
    such a body.
    """

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        verdict = screen(req.body)
        if verdict.action == "route":
            return await next()
        if verdict.action == "ignore":
            return BoltResponse(status=200, body="")
        log.warning("slack: answered 400 to a request: %s", verdict.reason)
        return BoltResponse(status=400, body="")


class ScreenedSocketMode(AsyncSocketModeHandler):
    """Socket Mode with paperboy's screen in front of bolt.

    A request paperboy does not answer is not acknowledged (so Slack shows the user
    that it failed) and logged as one WARNING line, never handed to bolt; an Events API
    envelope is acknowledged and dropped (unacknowledged, Slack would send it again).
    """

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        verdict = screen(req.payload)
        if verdict.action == "route":
            await super().handle(client, req)
        elif verdict.action == "ignore":
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        else:
            log.warning("slack: did not acknowledge a Socket Mode request: %s", verdict.reason)


class SlackAdapter:
    """One Slack workspace (single-workspace app: one bot token)."""

    platform = "slack"
    finds_sent = True  # a posted part is found in the channel's history (`find_sent`)

    def __init__(
        self,
        bot_token: str,
        *,
        app_token: str | None = None,
        signing_secret: str | None = None,
        api_url: str = DEFAULT_API_URL,
        thread_digests: bool = False,
        timeout: float = 30.0,
    ) -> None:
        _settle_sdk_loggers()
        self.app_token = app_token or None
        self.signing_secret = signing_secret or None
        self.thread_digests = thread_digests
        # Delivery: no built-in retries (see the module docstring). slack_sdk passes the
        # timeout on to aiohttp, which takes seconds as a float.
        self.client = AsyncWebClient(
            token=bot_token,
            base_url=api_url,
            timeout=timeout,  # type: ignore[arg-type]
            retry_handlers=[],
        )
        # Commands and Socket Mode: a reconnect and one rate-limit retry are harmless.
        self.app_client = AsyncWebClient(
            token=bot_token,
            base_url=api_url,
            timeout=timeout,  # type: ignore[arg-type]
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            ],
        )
        #: Papers rendered once for all the channels whose digests list them.
        self.render_cache = RenderCache()
        self._uncertain: set[tuple[str, str]] = set()
        self._cannot_join = False  # the app lacks channels:join (installed before it)
        self._join_resumes = 0.0  # time.monotonic() when a join rate limit has passed
        self._unreadable_warned: set[tuple[str, str]] = set()
        self._threads: dict[tuple[str, str], str] = {}
        self._bot_id: str | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._stopping = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackAdapter:
        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        bot = secret(settings.slack_bot_token)
        if not bot:
            raise ValueError("SLACK_BOT_TOKEN is not set")
        return cls(
            bot,
            app_token=secret(settings.slack_app_token),
            signing_secret=secret(settings.slack_signing_secret),
            api_url=settings.slack_api_url,
            thread_digests=settings.slack_thread_digests,
            timeout=settings.delivery_send_timeout,
        )

    # -- rendering ----------------------------------------------------------------------

    def render(self, item: Digest | Reply) -> Sequence[Part]:
        """A digest: chat.postMessage parts; a reply: response_url messages (ephemeral)."""
        if isinstance(item, Digest):
            return render_digest(item, thread=self.thread_digests, cache=self.render_cache)
        return render_reply(item)

    # -- delivery -----------------------------------------------------------------------

    def _delivery_client(self) -> AsyncWebClient:
        """The delivery client, on an HTTP session of this event loop (opened on first use)."""
        loop = asyncio.get_running_loop()
        session = self.client.session
        if session is None or session.closed or self._session_loop is not loop:
            self.client.session = aiohttp.ClientSession(
                # With a session of its own, slack_sdk leaves the timeout to the session.
                timeout=aiohttp.ClientTimeout(total=self.client.timeout),
                connector=aiohttp.TCPConnector(limit=100),
                response_class=_Response,
                **_JSON_BODY,
            )
            self._session_loop = loop
        return self.client

    async def post(self, target: Target, part: Any, *, key: str | None = None) -> MessageRef:
        channel = target.channel
        if isinstance(part, Mapping) and ROLLUP_PAYLOAD in part:
            return await self.post_rollup(target, rollup_from_json(part[ROLLUP_PAYLOAD]), key=key)
        if key is not None and (channel, key) in self._uncertain:
            found = await self.find_sent(target, key)
            if found is not None:
                return found
        args: dict[str, Any] = {**sendable(part), "channel": channel}
        thread = part.get(THREAD_KEY) if isinstance(part, Mapping) else None
        payload: dict[str, Any] = {}
        if key is not None:
            payload["key"] = key
        if thread:
            payload["thread"] = thread["id"]
            payload["role"] = thread["role"]
            if thread["role"] == "reply":
                parent = await self._thread_parent(target, thread["id"])
                if parent is not None:
                    args["thread_ts"] = parent
        if payload:
            args["metadata"] = {"event_type": METADATA_EVENT, "event_payload": payload}
        try:
            ts = await self._post_message(args, key)
        except SlackApiError as error:
            if not _is_image_failure(error):
                raise chat_error(error, "chat.postMessage") from None
            # Slack fetches accessory images when posting; a dead thumbnail fails the
            # whole message. Send it once more without images rather than not at all.
            log.warning("slack: an image failed to load; posting without images")
            try:
                ts = await self._post_message(_without_images(args), key)
            except SlackApiError as again:
                raise chat_error(again, "chat.postMessage") from None
        if key is not None:
            self._uncertain.discard((channel, key))
            self._unreadable_warned.discard((channel, key))
        if thread and thread["role"] == "parent":
            self._threads[(channel, thread["id"])] = ts
        return MessageRef(target, ts)

    # -- rollups: one message with its chart, through files_upload_v2 -----------------------

    async def post_rollup(
        self, target: Target, rollup: Rollup, *, key: str | None = None
    ) -> MessageRef:
        """Upload the rollup's chart and share it into the channel with the rollup's blocks.

        `files_upload_v2` makes three calls: `files.getUploadURLExternal`, the upload to
        the returned URL, and `files.completeUploadExternal`, which posts the message.
        Only the last is visible in the channel: a crash or failure before it leaves at
        most an unshared upload, which Slack discards, and sending again is safe. After
        an unknown outcome of the last call the channel's history is read for the
        image's file name (it carries the key, `rollup.file_name_for`) before uploading
        again, the same lookup `find_sent` makes.
        """
        channel = target.channel
        if key is not None and (channel, key) in self._uncertain:
            found = await self.find_sent(target, key)
            if found is not None:
                return found
        if rollup.png is None:
            raise ChatError("the rollup has no image to upload", permanent=True)
        args = render_rollup(rollup, key)
        try:
            response = await self._delivery_client().files_upload_v2(
                file=rollup.png,
                filename=args["filename"],
                title=args["title"],
                alt_txt=args["alt_txt"],
                channel=channel,
                blocks=json.dumps(args["blocks"]),
            )
        except SlackApiError as error:
            if key is not None and _status(error) >= 500 and _api_method(error) == COMPLETE:
                self._uncertain.add((channel, key))
            raise chat_error(error, _api_method(error) or "files_upload_v2") from None
        except SlackRequestError as error:  # the upload to the returned URL failed
            raise ChatError(f"slack file upload: {str(error)[:200]}") from None
        except (TimeoutError, aiohttp.ClientError) as error:
            if key is not None:
                self._uncertain.add((channel, key))
            raise ChatError(f"slack files_upload_v2: {type(error).__name__}") from None
        if key is not None:
            self._uncertain.discard((channel, key))
        files = response.get("files") or [{}]
        return MessageRef(target, f"file:{files[0].get('id', '')}")

    async def _post_message(self, args: dict[str, Any], key: str | None) -> str:
        channel = args["channel"]
        try:
            # `api_call` with the JSON body `chat_postMessage` would build: our parts are
            # plain dicts already, and its walk over every block for SDK objects costs
            # more than the rest of the post at fan-out.
            response = await self._delivery_client().api_call("chat.postMessage", json=args)
        except SlackApiError as error:
            if key is not None and _status(error) >= 500:
                self._uncertain.add((channel, key))  # Slack may have posted it anyway
            raise
        except (TimeoutError, aiohttp.ClientError) as error:
            if key is not None:
                self._uncertain.add((channel, key))
            raise ChatError(f"slack chat.postMessage: {type(error).__name__}") from None
        return str(response["ts"])

    async def _our_bot_id(self) -> str | None:
        if self._bot_id is None:
            try:
                self._bot_id = (await self._delivery_client().auth_test()).get("bot_id")
            except SlackApiError as error:
                raise chat_error(error, "auth.test") from None
            except (TimeoutError, aiohttp.ClientError) as error:
                raise ChatError(f"slack auth.test: {type(error).__name__}") from None
        return self._bot_id

    async def _join(self, channel: str) -> bool | None:
        """Join `channel`, whose history answered `not_in_channel` (module docstring).
        True when the bot is now a member; False when it cannot join (the scope
        missing, a channel that cannot be joined, the channel gone); None when it
        cannot join just now (rate limited: see `_join_wait()`, 5xx, timeout). Never
        raises."""
        if self._cannot_join:
            return False
        if self._join_wait() > 0:
            return None
        try:
            await self.client.conversations_join(channel=channel)
        except SlackApiError as error:
            code = _code(error)
            failure = chat_error(error, "conversations.join")
            if code == "missing_scope":
                self._cannot_join = True
                log.warning(
                    "slack: the app lacks the channels:join scope, so it cannot read the "
                    "history of public channels it was not invited to; reinstall it from "
                    "config/slack-manifest.yml (see docs/slack.md)"
                )
                return False
            log.debug("slack: could not join %s: %s", channel, failure)
            if failure.retry_after is not None:
                # Joins have a rate limit of their own: none until it has passed.
                self._join_resumes = time.monotonic() + failure.retry_after
                return None
            # `method_not_supported_for_channel_type` (private, a DM), `channel_not_found`,
            # `is_archived`: the history stays unreadable.
            return None if _status(error) >= 500 else False
        except (TimeoutError, aiohttp.ClientError) as error:
            log.debug("slack: could not join %s: %s", channel, type(error).__name__)
            return None
        return True

    def _join_wait(self) -> float:
        """Seconds until joins are no longer rate limited (0: they are not)."""
        return max(0.0, self._join_resumes - time.monotonic())

    async def _history(self, method: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Up to HISTORY_PAGES pages of messages (with metadata) from `method`.

        `not_in_channel` (a public channel the bot posts to without being a member) is
        answered by joining the channel and reading again."""
        channel = str(kwargs["channel"])
        try:
            return await self._pages(method, **kwargs)
        except SlackApiError as error:
            if _code(error) != "not_in_channel":
                raise chat_error(error, method) from None
        joined = await self._join(channel)
        if joined is None:  # look again later, when joining may work
            wait = self._join_wait()
            raise ChatError(
                f"slack {method}: not_in_channel, and cannot join just now"
                + (" (joining is rate limited)" if wait > 0 else ""),
                retry_after=wait if wait > 0 else None,
            )
        if not joined:
            raise ChatError(f"slack {method}: not_in_channel", permanent=True)
        try:
            return await self._pages(method, **kwargs)
        except SlackApiError as error:
            raise chat_error(error, method) from None

    async def _pages(self, method: str, **kwargs: Any) -> list[dict[str, Any]]:
        call = getattr(self._delivery_client(), method.replace(".", "_"))
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                response = await call(
                    limit=HISTORY_PAGE, include_all_metadata=True, cursor=cursor, **kwargs
                )
            except (TimeoutError, aiohttp.ClientError) as error:
                raise ChatError(f"slack {method}: {type(error).__name__}") from None
            messages.extend(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                break
        return messages

    def _ours(self, message: Mapping[str, Any], bot_id: str | None) -> dict[str, Any] | None:
        """The event_payload of one of our digest messages, else None."""
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") != METADATA_EVENT:
            return None
        if bot_id is not None and message.get("bot_id") not in (None, bot_id):
            return None  # another app's message carrying our event type
        payload = metadata.get("event_payload")
        return payload if isinstance(payload, dict) else None

    async def find_sent(self, target: Target, key: str) -> MessageRef | None:
        """The message posted under outbox `key` among the channel's recent messages.

        Transient failures (429, 5xx, timeouts) raise ChatError, so the lookup is made
        again later. A history that cannot be read at all (not a member and cannot
        join, a scope missing) answers None with a warning: the part is then posted
        again, perhaps twice, and never lost; whether the channel is really gone is for
        that post to find out (docs/slack.md, *Delivery*).
        """
        try:
            found = await self._find(target, key)
        except ChatError as error:
            if not error.permanent:
                raise
            if (target.channel, key) not in self._unreadable_warned:
                self._unreadable_warned.add((target.channel, key))
                log.warning(
                    "slack: cannot read the history of %s (%s), so whether %s was posted "
                    "already is unknown; posting it (again), it may show twice",
                    target,
                    error,
                    key,
                )
            found = None
        # Looked just now: a post() with this key need not look again.
        self._uncertain.discard((target.channel, key))
        return found

    async def _find(self, target: Target, key: str) -> MessageRef | None:
        bot_id = await self._our_bot_id()
        recent = await self._history("conversations.history", channel=target.channel)
        for message in recent:
            payload = self._ours(message, bot_id)
            if payload is not None and payload.get("key") == key:
                return MessageRef(target, str(message["ts"]))
            if _shares_file(message, file_name_for(key), bot_id):
                return MessageRef(target, str(message["ts"]))
        # Thread replies are not in the channel's history: look inside our threads.
        for message in recent:
            payload = self._ours(message, bot_id)
            if payload is None or payload.get("role") != "parent":
                continue
            if not message.get("reply_count"):
                continue
            replies = await self._history(
                "conversations.replies", channel=target.channel, ts=message["ts"]
            )
            for reply in replies:
                found = self._ours(reply, bot_id)
                if found is not None and found.get("key") == key:
                    return MessageRef(target, str(reply["ts"]))
        return None

    async def _thread_parent(self, target: Target, thread_id: str) -> str | None:
        """The ts of the digest's parent message (None: the history cannot be read, so
        the reply goes out as a message of its own rather than not at all)."""
        known = self._threads.get((target.channel, thread_id))
        if known is not None:
            return known
        bot_id = await self._our_bot_id()
        try:
            recent = await self._history("conversations.history", channel=target.channel)
        except ChatError as error:
            if not error.permanent:
                raise
            log.warning(
                "slack: cannot read the history of %s (%s) to find the digest's first "
                "message; posting the rest outside its thread",
                target,
                error,
            )
            return None
        for message in recent:
            payload = self._ours(message, bot_id)
            if payload and payload.get("thread") == thread_id and payload.get("role") == "parent":
                self._threads[(target.channel, thread_id)] = str(message["ts"])
                return str(message["ts"])
        raise ChatError("slack: the digest's parent message is not posted yet")

    # -- commands -----------------------------------------------------------------------

    def build_app(self, on_command: CommandHandler) -> AsyncApp:
        """The bolt app answering slash commands and the share button (both modes)."""
        app = AsyncApp(
            client=self.app_client,
            signing_secret=self.signing_secret or "",
            # Bolt names its per-request loggers after the app and sets their level to the
            # root's: under "paperboy" that would reset our own logger's level.
            name="slack_bolt.paperboy",
            process_before_response=False,
        )

        async def acknowledge(ack: Callable[..., Awaitable[Any]]) -> None:
            await ack()

        async def answer_command(body: dict[str, Any], respond: Respond) -> None:
            await self._answer_command(on_command, body, respond)

        async def share_digest(body: dict[str, Any], respond: Respond) -> None:
            await self._share(on_command, body, respond)

        async def subscribe_search(body: dict[str, Any], respond: Respond) -> None:
            await self._subscribe(on_command, body, respond)

        async def vote(body: dict[str, Any], respond: Respond) -> None:
            await self._vote(on_command, body, respond)

        app.use(WellFormed())
        app.command(ANY_COMMAND)(ack=acknowledge, lazy=[answer_command])
        app.action(SHARE_ACTION)(ack=acknowledge, lazy=[share_digest])
        app.action(SUBSCRIBE_ACTION)(ack=acknowledge, lazy=[subscribe_search])
        for action in VOTE_ACTIONS.values():
            app.action(action)(ack=acknowledge, lazy=[vote])
        return app

    async def _answer_command(
        self, on_command: CommandHandler, body: Mapping[str, Any], respond: Respond
    ) -> None:
        target = Target("slack", str(body.get("team_id") or ""), str(body.get("channel_id") or ""))
        ctx = CommandContext(target, user=str(body.get("user_id") or ""))
        text = unescape(str(body.get("text") or ""))
        try:
            reply = await on_command(ctx, text)
        except Exception:
            log.exception("slack: /papers failed")
            reply = Reply("Sorry, that command failed. Please try again later.", ok=False)
        image = reply.extra.get("image")
        if isinstance(image, Mapping):
            problem = await self._post_chart(target.channel, reply, image)
            if problem is None:
                return
            reply = Reply(f"{reply.text}\n(The chart could not be posted here: {problem}.)")
        await self._respond(respond, reply)
        if reply.files and reply.ok:
            await self._upload_files(target, reply.files, respond)

    async def _post_chart(self, channel: str, reply: Reply, image: Mapping[str, Any]) -> str | None:
        """Share a reply's chart (`/papers trends`) into the channel with the reply's text
        (a response_url message cannot carry a file); the problem when it could not."""
        try:
            await self._delivery_client().files_upload_v2(
                file=bytes(image["png"]),
                filename=str(image["name"]),
                # The alt text holds the user's query: escaped like the rollup's.
                title=escaped_within(str(image.get("alt") or image["name"]), 250),
                alt_txt=escaped_within(str(image.get("alt") or ""), FILE_ALT_TEXT) or None,
                channel=channel,
                blocks=json.dumps(text_blocks(reply.text, reply.ok)),
            )
        except SlackApiError as error:
            return _code(error) or f"HTTP {_status(error)}"
        except SlackRequestError:
            return "the upload failed"
        except (TimeoutError, aiohttp.ClientError) as error:
            return type(error).__name__
        return None

    async def _respond(self, respond: Respond, reply: Reply, **extra: Any) -> None:
        response_type = "ephemeral" if reply.ephemeral else "in_channel"
        # Rendering a preview is CPU work: off the event loop, which keeps acking.
        for part in await asyncio.to_thread(render_reply, reply):
            try:
                result = await respond(**sendable(part), response_type=response_type, **extra)
            except (TimeoutError, aiohttp.ClientError) as error:  # one line, not a traceback
                log.warning("slack: could not answer at response_url: %s", type(error).__name__)
                return
            status = getattr(result, "status_code", 200)
            if status != 200:
                log.warning("slack: response_url answered %s: %s", status, result.body)
                return

    @staticmethod
    def _action_origin(body: Mapping[str, Any]) -> tuple[Target, str]:
        """The channel a button was pressed in, and who pressed it."""

        def field(name: str, key: str) -> str:
            value = body.get(name)
            found = value.get(key) if isinstance(value, Mapping) else None
            return found if isinstance(found, str) else ""

        team = field("team", "id") or field("user", "team_id")
        channel = field("channel", "id") or field("container", "channel_id")
        return Target("slack", team, channel), field("user", "id")

    @staticmethod
    def _action_value(body: Mapping[str, Any]) -> str:
        """The `value` of the button that was pressed ("" when there is none)."""
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else None
        value = first.get("value") if isinstance(first, Mapping) else None
        return value if isinstance(value, str) else ""

    async def _subscribe(
        self, on_command: CommandHandler, body: Mapping[str, Any], respond: Respond
    ) -> None:
        """A search's "Subscribe this channel" button: `/papers subscribe <its terms>`."""
        target, user = self._action_origin(body)
        terms = self._action_value(body)
        try:
            reply = await on_command(CommandContext(target, user=user), f"subscribe {terms}")
        except Exception:
            log.exception("slack: subscribing from a search failed")
            reply = Reply("Sorry, that failed. Please try again later.", ok=False)
        await self._respond(respond, reply, replace_original=False)

    async def _vote(
        self, on_command: CommandHandler, body: Mapping[str, Any], respond: Respond
    ) -> None:
        """A feedback button (👍, 👎, 🔖) under a paper: acked at once (bolt's ack), then
        recorded for the channel the click came from, with the button's token, and
        answered with an ephemeral "noted" that leaves the digest as it is."""
        target, user = self._action_origin(body)
        actions = body.get("actions")
        first = actions[0] if isinstance(actions, list) and actions else {}
        action_id = first.get("action_id") if isinstance(first, Mapping) else None
        vote = next((v for v, a in VOTE_ACTIONS.items() if a == action_id), None)
        parsed = parse_vote_value(self._action_value(body))
        if vote is None or parsed is None or not user:
            reply = Reply("That button is not one of paperboy's; nothing was recorded.", ok=False)
        else:
            paper_id, token = parsed
            try:
                reply = await on_command(
                    CommandContext(target, user=user), f"feedback {vote} {paper_id} {token}"
                )
            except Exception:
                log.exception("slack: recording feedback failed")
                reply = Reply("Sorry, that failed. Please try again later.", ok=False)
        await self._respond(respond, reply, replace_original=False)

    # -- file uploads (the reading list's BibTeX) --------------------------------------

    async def _upload_files(
        self, target: Target, files: Sequence[ReplyFile], respond: Respond
    ) -> None:
        """Upload a reply's files to its channel (files_upload_v2: files.getUploadURLExternal,
        the upload, files.completeUploadExternal; scope files:write). A failure is told to
        the user in one ephemeral line."""
        for file in files:
            try:
                await self.app_client.files_upload_v2(
                    channel=target.channel,
                    content=file.content,
                    filename=file.name,
                    title=file.title or file.name,
                )
            except SlackApiError as error:
                code = _code(error) or f"HTTP {_status(error)}"
                log.warning("slack: uploading %s to %s failed: %s", file.name, target, code)
                text = (
                    "I can't upload files here: invite me first (/invite @paperboy)."
                    if code in ("not_in_channel", "channel_not_found")
                    else "I can't upload files here: the app needs the files:write scope "
                    "(reinstall it from the manifest)."
                    if code == "missing_scope"
                    else "Slack did not take the file just now. Please try again in a minute."
                )
                await self._respond(respond, Reply(text, ok=False), replace_original=False)
                return
            except (TimeoutError, aiohttp.ClientError, SlackClientError) as error:
                log.warning("slack: uploading %s failed: %s", file.name, type(error).__name__)
                text = "Slack did not take the file just now. Please try again in a minute."
                await self._respond(respond, Reply(text, ok=False), replace_original=False)
                return

    async def _share(
        self, on_command: CommandHandler, body: Mapping[str, Any], respond: Respond
    ) -> None:
        target, user = self._action_origin(body)
        try:
            value = json.loads(self._action_value(body) or "{}")
            day = value.get("date") if isinstance(value, dict) else None
        except (ValueError, RecursionError):
            day = None
        line = (
            f"digest {day}"
            if isinstance(day, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", day)
            else "digest"
        )
        try:
            reply = await on_command(CommandContext(target, user=user), line)
        except Exception:
            log.exception("slack: sharing a digest failed")
            reply = Reply("Sorry, sharing failed. Please try again later.", ok=False)
        if reply.digest is None or not reply.ok:
            await self._respond(respond, reply)
            return
        parts = await asyncio.to_thread(
            render_digest, reply.digest, thread=self.thread_digests, cache=self.render_cache
        )
        if _USER_ID.fullmatch(user):
            parts[0]["blocks"].append(context(f"Shared by <@{user}>"))
        try:
            for part in parts:
                await self.post(target, part)
        except ChatError as error:
            if error.permanent:
                text = (
                    "I can't post in this channel. Invite me first (/invite @paperboy), "
                    "then share again."
                )
            else:
                text = "Slack did not take the digest just now. Please try again in a minute."
            log.warning("slack: sharing in %s failed: %s", target, error)
            await self._respond(respond, Reply(text, ok=False), replace_original=False)
            return
        try:
            await respond(
                text="Shared in this channel.", response_type="ephemeral", replace_original=True
            )
        except (TimeoutError, aiohttp.ClientError) as error:
            log.warning("slack: could not answer at response_url: %s", type(error).__name__)

    async def start(self, on_command: CommandHandler) -> None:
        """Socket Mode: connect and answer commands until `stop()`.

        Without an app token there is nothing to connect: commands then come through
        `paperboy serve` (HTTP mode) and this adapter only delivers digests.
        """
        if not self.app_token:
            log.info("slack: no app token; commands are served over HTTP by `paperboy serve`")
            return
        try:
            await self.app_client.auth_test()
            opened = await self.app_client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as error:
            log.error("slack: cannot connect in Socket Mode: %s", chat_error(error, "connect"))
            return
        except (TimeoutError, aiohttp.ClientError) as error:
            log.error("slack: cannot reach the Slack API: %s", type(error).__name__)
            return
        handler = ScreenedSocketMode(
            self.build_app(on_command), self.app_token, web_client=self.app_client
        )
        handler.client.wss_uri = opened["url"]  # use the URL just issued (checked the token)
        self._socket = handler
        try:
            await handler.connect_async()
            log.info("slack: connected in Socket Mode")
            await self._stopping.wait()
        finally:
            self._socket = None
            await handler.close_async()

    async def connected(self) -> bool | None:
        """Whether the Socket Mode connection is up (for `/readyz`); None without an app
        token (HTTP mode or delivery only: no connection to keep)."""
        if not self.app_token:
            return None
        socket = self._socket
        return socket is not None and bool(await socket.client.is_connected())

    async def stop(self) -> None:
        """Leave Socket Mode (`start()` closes the connection on its way out) and close
        the delivery session."""
        self._stopping.set()
        session, self.client.session = self.client.session, None
        if session is not None and not session.closed:
            if self._session_loop is asyncio.get_running_loop():
                await session.close()
            # A session of another (finished) event loop cannot be closed from this one.
        self._session_loop = None
