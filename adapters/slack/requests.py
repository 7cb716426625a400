"""What `POST /slack/events` checks before bolt sees a request.

1. The signature, on the raw bytes, before anything is parsed (`signature_ok`): Slack's
   v0 scheme, HMAC-SHA256 over `v0:<timestamp>:<body>` with the signing secret. A
   timestamp that is not 1-12 ASCII digits or is more than five minutes off, a
   signature that is not ASCII `v0=<hex>`, a missing header: all simply "not signed".
   Nothing here raises on hostile input.
2. The body of a signed request (`parse_signed`): UTF-8, parsed exactly as bolt parses it,
   and then checked for the shapes bolt and the listeners index into (`shape_problem`).
   Slack never sends anything else, so a mismatch is answered 400 rather than handed to
   code that would fail on it.

`Refusals` keeps the log of refused requests to one WARNING line per interval, so a
stranger cannot fill the log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt.request.internals import parse_body

MAX_SKEW = 300  # seconds: Slack's (and bolt's) five minutes
_TIMESTAMP_DIGITS = 12
_SIGNATURE_PREFIX = "v0="

# Fields bolt's request context and listener matchers index into, with their types.
_STRINGS = (
    "type",
    "command",
    "text",
    "callback_id",
    "response_url",
    "trigger_id",
    "channel_id",
    "user_id",
    "team_id",
    "enterprise_id",
    "api_app_id",
)
_OBJECTS = ("channel", "user", "team", "enterprise", "container", "view", "event", "message")
_LISTS_OF_OBJECTS = ("authorizations", "response_urls")


def signature_ok(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: float | None = None,
) -> bool:
    """True when `signature` is Slack's v0 signature of `body` at a fresh `timestamp`."""
    if not secret or timestamp is None or signature is None:
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _TIMESTAMP_DIGITS):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > MAX_SKEW:
        return False
    if not signature.isascii() or not signature.startswith(_SIGNATURE_PREFIX):
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))


def parse_signed(body: bytes, content_type: str | None) -> tuple[str, dict[str, Any]] | str:
    """(text, parsed body) of a signed request as bolt will read it, or the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    media_type = content_type.split(";")[0] if content_type else None  # as bolt reads it
    try:
        parsed = parse_body(text, media_type)
    except (ValueError, RecursionError):
        return "the body does not parse"
    problem = shape_problem(parsed)
    if problem is not None:
        return problem
    return text, parsed


def shape_problem(body: Any) -> str | None:
    """Why `body` is not shaped like a Slack request, or None."""
    if not isinstance(body, dict):
        return "the body is not an object"
    for key in _STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"`{key}` is not a string"
    for key in _OBJECTS:
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"`{key}` is not an object"
    for key in _LISTS_OF_OBJECTS:
        value = body.get(key)
        if value is not None and not _list_of_objects(value):
            return f"`{key}` is not a list of objects"
    routed = "command" in body or body.get("type") in {"block_actions", "interactive_message"}
    if routed and not body.get("response_url"):
        return "no `response_url` to answer at"
    if "actions" in body or body.get("type") in {"block_actions", "interactive_message"}:
        actions = body.get("actions")
        if not _list_of_objects(actions) or not actions:
            return "`actions` is not a non-empty list of objects"
        for action in actions:
            for key in ("action_id", "block_id", "value", "name"):
                if action.get(key) is not None and not isinstance(action[key], str):
                    return f"an action's `{key}` is not a string"
    return None


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


class Refusals:
    """At most one WARNING per `interval` seconds about refused requests (with a count)."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self._quiet = 0

    def note(self, status: int, reason: str) -> None:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self._quiet += 1
            return
        more = f" ({self._quiet} more since the last report)" if self._quiet else ""
        self.logger.warning("slack: answered %d to a request: %s%s", status, reason, more)
        self._last = now
        self._quiet = 0
