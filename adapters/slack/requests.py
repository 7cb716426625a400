"""What `POST /slack/events` (and Socket Mode) checks before bolt sees a request.

1. The signature, on the raw bytes, before anything is parsed (`signature_ok`): Slack's
   v0 scheme, HMAC-SHA256 over `v0:<timestamp>:<body>` with the signing secret. A
   timestamp that is not 1-12 ASCII digits or is more than five minutes off, a
   signature that is not ASCII `v0=<hex>`, a missing header: all simply "not signed".
   Nothing here raises on hostile input. (Socket Mode needs none: Slack is the peer.)
2. The body of a signed request (`parse_signed`): UTF-8, parsed exactly as bolt parses it.
3. What it is (`screen`). Only what paperboy answers is handed to bolt, in the shape
   Slack sends it: a slash command (flat string fields, a `/name`, an http(s)
   `response_url`), a `block_actions` click on one of paperboy's own buttons (its
   `actions` a non-empty list of objects with paperboy's action ids), and Slack's
   `ssl_check` ping, which bolt answers. An Events API callback is answered 200 and
   dropped: paperboy subscribes to no events, and Slack retries (and may end up
   disabling) an event answered otherwise. Everything else (a view submission, a
   shortcut, an attachment button, a field of the wrong type) is refused, 400 over
   HTTP, unacknowledged in Socket Mode, before bolt or a listener indexes into it: an
   allow-list, because bolt's own readers cannot be kept up with one shape at a time.

`Refusals` keeps the log of refused requests to one WARNING line per interval, so a
stranger cannot fill the log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from slack_bolt.request.internals import parse_body

from paperboy_adapters.slack.render import SHARE_ACTION, SUBSCRIBE_ACTION, VOTE_ACTIONS

MAX_SKEW = 300  # seconds: Slack's (and bolt's) five minutes
_TIMESTAMP_DIGITS = 12
_SIGNATURE_PREFIX = "v0="

#: The buttons paperboy puts in its messages; a click on anything else is not ours.
PAPERBOY_ACTIONS = frozenset({SHARE_ACTION, SUBSCRIBE_ACTION, *VOTE_ACTIONS.values()})
#: Events API envelopes: answered 200 and dropped (paperboy subscribes to no events).
EVENT_TYPES = frozenset({"event_callback", "app_rate_limited"})
_COMMAND_NAME = re.compile(r"/\S+")

# Fields bolt's request context and matchers (and paperboy's listeners) read, with the
# types Slack sends them as; checked on whatever is handed to bolt.
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
#: Objects Slack itself sends as null (`"enterprise": null` outside Enterprise Grid);
#: bolt reads these with `is not None`. Any other object key present as null is refused.
_NULLABLE = frozenset({"enterprise", "team"})
_LISTS_OF_OBJECTS = ("authorizations", "response_urls")
_ACTION_STRINGS = ("action_id", "block_id", "value", "type", "action_ts")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a signed request: hand it to bolt (`route`), answer 200 and drop
    it (`ignore`), or refuse it (`refuse`, with the reason for the log)."""

    action: Literal["route", "ignore", "refuse"]
    reason: str = ""


ROUTE = Verdict("route")
IGNORE = Verdict("ignore", "an Events API callback; paperboy subscribes to no events")


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


def parse_signed(body: bytes, content_type: str | None) -> tuple[str, Any] | str:
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
    return text, parsed


def screen(body: Any) -> Verdict:
    """What to do with a signed request whose parsed body is `body` (module docstring)."""
    if isinstance(body, dict) and isinstance(body.get("type"), str):
        if body["type"] in EVENT_TYPES:
            return IGNORE
    problem = shape_problem(body)
    return ROUTE if problem is None else Verdict("refuse", problem)


def shape_problem(body: Any) -> str | None:
    """Why `body` is not one of the requests paperboy answers, in Slack's shape, or None."""
    if not isinstance(body, dict):
        return "the body is not an object"
    problem = _field_problem(body)
    if problem is not None:
        return problem
    if "command" in body:
        return _command_problem(body)
    kind = body.get("type")
    if kind == "block_actions":
        return _click_problem(body)
    if kind is None and body.get("ssl_check") == "1" and _flat(body):
        return None  # Slack's certificate check of a command URL: bolt answers it
    if kind is None:
        return "neither a command nor an interaction"
    return f"a {_shown(kind)} request, which paperboy does not handle"


def _field_problem(body: dict[str, Any]) -> str | None:
    for key in _STRINGS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"`{key}` is not a string"
    for key in _OBJECTS:
        value = body.get(key)
        if value is None and (key not in body or key in _NULLABLE):
            continue
        if not isinstance(value, dict):  # bolt reads e.g. `body.get("event", {}).get(...)`
            return f"`{key}` is not an object"
    for key in _LISTS_OF_OBJECTS:
        value = body.get(key)
        if value is not None and not _list_of_objects(value):
            return f"`{key}` is not a list of objects"
    return None


def _command_problem(body: dict[str, Any]) -> str | None:
    """A slash command: the form fields Slack posts, all strings, and nothing else."""
    if "type" in body:
        return "a command with a `type`"
    if not _flat(body):
        return "a command field is not a string"
    if not _COMMAND_NAME.fullmatch(body["command"]):
        return "the command is not a `/name`"
    return _response_url_problem(body)


def _click_problem(body: dict[str, Any]) -> str | None:
    """A click on one of paperboy's buttons."""
    actions = body.get("actions")
    if not _list_of_objects(actions) or not actions:
        return "`actions` is not a non-empty list of objects"
    for action in actions:
        for key in _ACTION_STRINGS:
            if action.get(key) is not None and not isinstance(action[key], str):
                return f"an action's `{key}` is not a string"
        if action.get("action_id") not in PAPERBOY_ACTIONS:
            return "a click on a button that is not paperboy's"
    return _response_url_problem(body)


def _response_url_problem(body: dict[str, Any]) -> str | None:
    url = body.get("response_url")
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "no `response_url` to answer at"
    return None


def _flat(body: dict[str, Any]) -> bool:
    """Every value a string (or a bool): what a form-encoded body can hold."""
    return all(isinstance(value, str | bool) for value in body.values())


def _shown(value: str) -> str:
    """An untrusted name for a log line: quoted, escaped, short."""
    return repr(value[:40])


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
