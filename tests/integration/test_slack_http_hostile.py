"""Hostile requests at `POST /slack/events`, through the real HTTP endpoint.

A request without a valid signature is answered 401 before anything in it is parsed,
whatever the body and headers hold; a signed request that is not one paperboy answers
(a slash command, a click on one of its buttons), in the shape Slack sends it, is
answered 400, and an Events API callback 200. None of them ever reaches a listener,
answers 500 or logs a traceback, and refusals are logged as one WARNING line at most
(per minute).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import http.client
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.chat import CommandContext
from paperboy.models import Reply
from paperboy_adapters.slack.adapter import SlackAdapter
from paperboy_adapters.slack.http import web_app
from paperboy_adapters.slack.render import SHARE_ACTION, SUBSCRIBE_ACTION
from tests.fakes.slack import BOT_TOKEN, FakeSlack, form_body, interaction_body, settled
from tests.integration.test_slack_http import SECRET, serving

CHAN = "C0GENERAL"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Server:
    url: str
    seen: list[str]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(CHAN)
        yield fake


@asynccontextmanager
async def events_server(slack: FakeSlack) -> AsyncIterator[Server]:
    seen: list[str] = []

    async def handler(ctx: CommandContext, text: str) -> Reply:
        seen.append(text)
        return Reply("ok")

    adapter = SlackAdapter(BOT_TOKEN, signing_secret=SECRET, api_url=slack.base_url)
    async with serving(web_app(adapter.build_app(handler), SECRET)) as url:
        yield Server(url, seen)


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed(body: bytes, content_type: str = FORM) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(body, ts),
    }


async def send(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session, asyncio.timeout(10):
        async with session.post(
            url + "/slack/events",
            data=body,
            headers=headers,
            skip_auto_headers=["Content-Type"],
        ) as resp:
            await resp.read()
            return resp.status


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        return [
            r.getMessage()
            for r in self.records
            if r.exc_info is not None or r.levelno >= logging.ERROR
        ]

    def warnings(self) -> list[str]:
        return [
            r.getMessage()
            for r in self.records
            if r.levelno == logging.WARNING and r.name.startswith("paperboy_adapters.slack")
        ]


@contextmanager
def recording() -> Iterator[Records]:
    """Every log record of every logger (bolt's, aiohttp's, ours) while inside.

    Objects an earlier test left for the garbage collector (an aiohttp session it did not
    close logs "Unclosed client session" when collected) are collected before, so that
    what is recorded is this test's own."""
    gc.collect()
    records = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(records)
        root.setLevel(level)


DEEP = b"[" * 100_000 + b"]" * 100_000
COMMAND = form_body(
    {
        "command": "/papers",
        "text": "list",
        "team_id": "T0FAKE",
        "channel_id": CHAN,
        "user_id": "U0ALICE",
        "response_url": "http://127.0.0.1:9/response/x",
    }
).encode()

# What a stranger sent (issue 10, item 1): each answered 500 with a traceback before.
UNSIGNED: dict[str, tuple[bytes, dict[str, str]]] = {
    "json array": (b"[1, 2]", {"Content-Type": "application/json"}),
    "json null": (b"null", {"Content-Type": "application/json"}),
    "json string": (b'"hello"', {"Content-Type": "application/json"}),
    "payload=notjson": (b"payload=notjson", {"Content-Type": FORM}),
    "form body as json": (COMMAND, {"Content-Type": "application/json"}),
    "100k-deep json": (DEEP, {"Content-Type": "application/json"}),
    "not utf-8": (b"text=\xff\xfe\xfa", {"Content-Type": FORM}),
    "charset=bogus": (COMMAND, {"Content-Type": FORM + "; charset=bogus"}),
    "400-digit timestamp": (
        COMMAND,
        {"Content-Type": FORM, "X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=0"},
    ),
    "non-ascii signature": (
        COMMAND,
        {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=é" + "0" * 63,
        },
    ),
    "non-ascii timestamp digits": (
        COMMAND,
        {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠",
            "X-Slack-Signature": "v0=0",
        },
    ),
    "another body's signature": (COMMAND + b"&x=1", signed(COMMAND)),
}


async def test_unsigned_garbage_is_401_without_a_traceback(slack: FakeSlack) -> None:
    async with events_server(slack) as server:
        with recording() as records:
            statuses = {
                name: await send(server.url, body, headers)
                for name, (body, headers) in UNSIGNED.items()
            }
            # The same requests again: still 401, and the log does not grow a line each.
            for body, headers in UNSIGNED.values():
                assert await send(server.url, body, headers) == 401
    assert statuses == dict.fromkeys(UNSIGNED, 401)
    assert records.tracebacks() == []
    assert len(records.warnings()) <= 1
    assert server.seen == []


# Signed by Slack's secret but not shaped like anything Slack sends.
SIGNED_MALFORMED: dict[str, tuple[bytes, str]] = {
    "json array": (b"[1, 2]", "application/json"),
    "json null": (b"null", "application/json"),
    "json string": (b'"hello"', "application/json"),
    "payload=notjson": (b"payload=notjson", FORM),
    "payload is a list": (b"payload=%5B1%5D", FORM),
    "100k-deep json": (DEEP, "application/json"),
    "not utf-8": (b"text=\xff\xfe\xfa", FORM),
    "command is a number": (b'{"command": 5, "text": "list"}', "application/json"),
    # Found by the property test below: bolt's self-event check calls .get on `event`.
    "a click with a null event": (
        json.dumps(
            {
                "type": "block_actions",
                "user": {"id": "U0ALICE", "team_id": "T0FAKE"},
                "channel": {"id": "C0GENERAL"},
                "response_url": "http://127.0.0.1:9/response/x",
                "actions": [{"action_id": "paperboy_subscribe", "value": "LoRA"}],
                "event": None,
            }
        ).encode(),
        "application/json",
    ),
}


def as_json(payload: object) -> tuple[bytes, str]:
    return json.dumps(payload).encode(), "application/json"


def as_interaction(payload: dict[str, object]) -> tuple[bytes, str]:
    return interaction_body(payload).encode(), FORM


def as_form(fields: dict[str, str]) -> tuple[bytes, str]:
    return form_body(fields).encode(), FORM


VIEW = {"id": "V1", "callback_id": "x", "team_id": "T0FAKE"}  # no `type`: bolt read it
# Signed, and shaped like something Slack sends, but nothing paperboy answers: bolt
# used to see these, and some of them made it answer 500 with a traceback.
SIGNED_NOT_OURS: dict[str, tuple[bytes, str]] = {
    "view_submission": as_interaction({"type": "view_submission", "view": {"id": "V1"}}),
    "view_submission with a callback_id": as_interaction({"type": "view_submission", "view": VIEW}),
    "view_submission as json": as_json({"type": "view_submission", "view": VIEW}),
    "view_closed": as_interaction({"type": "view_closed", "view": VIEW}),
    "shortcut": as_interaction({"type": "shortcut", "callback_id": "x", "trigger_id": "1"}),
    "message_action": as_interaction({"type": "message_action", "callback_id": "x"}),
    "message_action with a list": as_interaction(
        {"type": "message_action", "callback_id": "x", "message": {"blocks": 5}, "user": {}}
    ),
    "interactive_message": as_interaction(
        {"type": "interactive_message", "callback_id": "x", "actions": [{"name": "a"}]}
    ),
    "block_suggestion": as_interaction({"type": "block_suggestion", "action_id": "x"}),
    "dialog_submission": as_interaction({"type": "dialog_submission", "callback_id": "x"}),
    "workflow_step_edit": as_interaction({"type": "workflow_step_edit", "callback_id": "x"}),
    "url_verification": as_json({"type": "url_verification", "challenge": "c"}),
    "an unknown type": as_json({"type": "something_new", "response_url": "http://x/"}),
    "no type at all": as_json({"user": {"id": "U1"}, "team": {"id": "T1"}}),
    "a command with a type": as_json(
        {"command": "/papers", "type": "view_submission", "view": {"callback_id": "x"}}
    ),
    "a command named /": as_form({"command": "/", "response_url": "http://127.0.0.1:9/r"}),
    "a command with a line break": as_form(
        {"command": "/papers\n", "response_url": "http://127.0.0.1:9/r"}
    ),
    "a command with an object": as_json(
        {"command": "/papers", "response_url": "http://127.0.0.1:9/r", "blocks": {"a": 1}}
    ),
    "a command whose response_url is not a URL": as_form(
        {"command": "/papers", "text": "list", "response_url": "not a url"}
    ),
    "authorizations is a string": as_form(
        {"command": "/papers", "response_url": "http://127.0.0.1:9/r", "authorizations": "x"}
    ),
}
# Events API callbacks (paperboy subscribes to none): 200, dropped, odd shapes or not.
SIGNED_EVENTS: dict[str, tuple[bytes, str]] = {
    "event_callback": as_json(
        {"type": "event_callback", "event": {"type": "message", "channel_type": "im"}}
    ),
    "event_callback, event a string": as_json({"type": "event_callback", "event": "x"}),
    "event_callback, event a list": as_json({"type": "event_callback", "event": [1]}),
    "event_callback, no event": as_json({"type": "event_callback"}),
    "app_rate_limited": as_json({"type": "app_rate_limited", "minute_rate_limited": 1}),
}


def share_click(slack: FakeSlack, **changes: object) -> bytes:
    payload = slack.block_action(SHARE_ACTION, '{"date": null}')
    payload.update(changes)
    return interaction_body(payload).encode()


async def test_signed_but_malformed_is_400_and_reaches_no_listener(slack: FakeSlack) -> None:
    cases = {name: (body, signed(body, ctype)) for name, (body, ctype) in SIGNED_MALFORMED.items()}
    for name, changes in {
        "actions is a string": {"actions": "share"},
        "actions is [1]": {"actions": [1]},
        "actions is []": {"actions": []},
        "action_id is a number": {"actions": [{"action_id": 1, "value": "{}"}]},
        "value is an object": {"actions": [{"action_id": SHARE_ACTION, "value": {"a": 1}}]},
        "channel is a string": {"channel": CHAN},
        "user is a list": {"user": ["U0ALICE"]},
        "no response_url": {"response_url": None},
        "response_url is not a URL": {"response_url": "javascript:alert(1)"},
        "a button that is not ours": {"actions": [{"action_id": "x", "value": "{}"}]},
        "one of two buttons not ours": {
            "actions": [{"action_id": SHARE_ACTION}, {"action_id": "x"}]
        },
    }.items():
        body = share_click(slack, **changes)
        cases[name] = (body, signed(body))
    for name, (body, ctype) in SIGNED_NOT_OURS.items():
        cases[name] = (body, signed(body, ctype))
    async with events_server(slack) as server:
        before = asyncio.all_tasks()
        with recording() as records:
            statuses = {
                name: await send(server.url, body, headers)
                for name, (body, headers) in cases.items()
            }
            await settled(before)  # a listener that did start has finished by now
    assert statuses == dict.fromkeys(cases, 400)
    assert records.tracebacks() == []
    assert server.seen == [] and slack.messages(CHAN) == []


async def test_events_are_answered_200_and_dropped(slack: FakeSlack) -> None:
    """Slack sends an event again (and in the end stops sending any) unless it gets 200."""
    async with events_server(slack) as server:
        before = asyncio.all_tasks()
        with recording() as records:
            statuses = {
                name: await send(server.url, body, signed(body, ctype))
                for name, (body, ctype) in SIGNED_EVENTS.items()
            }
            await settled(before)
    assert statuses == dict.fromkeys(SIGNED_EVENTS, 200)
    assert records.tracebacks() == []
    assert server.seen == [] and slack.messages(CHAN) == []


async def test_signed_requests_still_work_whatever_the_charset_says(slack: FakeSlack) -> None:
    response_url = slack.response_url()
    fields = slack.slash_command("list", response_url=response_url)
    body = form_body(fields).encode()
    async with events_server(slack) as server:
        assert await send(server.url, body, signed(body, FORM + "; charset=bogus")) == 200
        await slack.wait_for(lambda: bool(slack.responses_to(response_url)))
        # A button click with a well-formed payload goes through as before.
        click_url = slack.response_url()
        click = slack.block_action(SUBSCRIBE_ACTION, "LoRA", response_url=click_url)
        click_body = interaction_body(click).encode()
        assert await send(server.url, click_body, signed(click_body)) == 200
        await slack.wait_for(lambda: bool(slack.responses_to(click_url)))
    assert server.seen == ["list", "subscribe LoRA"]


# -- the property: arbitrary bytes and headers ---------------------------------------

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            FORM,
            FORM + "; charset=bogus",
            "application/json",
            "application/json; charset=utf-16",
            "text/plain",
            "multipart/form-data; boundary=x",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)
# Field values HTTP allows: visible ASCII, space, tab and obs-text (0x80-0xff).
FIELD_VALUE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=80,
).map(str.strip)
TIMESTAMPS = st.one_of(
    FIELD_VALUE,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.just("9" * 400),
    st.builds(lambda d: str(int(time.time()) + d), st.integers(-400, 400)),
)
SIGNATURES = st.one_of(
    FIELD_VALUE,
    st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "v0=" + h),
)
BODIES = st.one_of(
    st.binary(max_size=2000),
    # (not the well-formed command: signed, it would be answered at its response_url)
    st.sampled_from(
        [b for b, _ in UNSIGNED.values() if not b.startswith(COMMAND)]
        + [b for b, _ in SIGNED_MALFORMED.values()]
        + [b for b, _ in SIGNED_NOT_OURS.values()]
        + [b for b, _ in SIGNED_EVENTS.values()]
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
    st.recursive(
        st.none() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
        max_leaves=20,
    ).map(lambda v: interaction_body({"type": "block_actions", "actions": v}).encode()),
)
EXTRA_HEADERS = st.dictionaries(
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
        min_size=1,
        max_size=20,
    ),
    FIELD_VALUE,
    max_size=4,
)


TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def post_blocking(url: str, body: bytes, headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("POST", "/slack/events", skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value.encode("latin-1"))
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


async def test_arbitrary_bytes_and_headers_get_401_or_400_never_a_traceback(
    slack: FakeSlack,
) -> None:
    async with events_server(slack) as server:

        @settings(
            max_examples=100,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(
            body=BODIES,
            content_type=CONTENT_TYPES,
            timestamp=st.none() | TIMESTAMPS,
            signature_=st.none() | SIGNATURES,
            extra=EXTRA_HEADERS,
            sign=st.booleans(),
        )
        def check(
            body: bytes,
            content_type: str,
            timestamp: str | None,
            signature_: str | None,
            extra: dict[str, str],
            sign: bool,
        ) -> None:
            reserved = {"content-type", "content-length", "host", "transfer-encoding"}
            headers = {k: v for k, v in extra.items() if k.lower() not in reserved}
            headers = {k: v for k, v in headers.items() if not k.lower().startswith("x-slack")}
            headers["Content-Type"] = content_type
            if sign:
                headers.update(signed(body, content_type))
            else:
                if timestamp is not None:
                    headers["X-Slack-Request-Timestamp"] = timestamp
                if signature_ is not None:
                    headers["X-Slack-Signature"] = signature_
            status = post_blocking(server.url, body, headers)
            if sign:
                # What paperboy answers (or an event) is 200; anything else is 400.
                assert status in {200, 400}, (status, body[:100], headers)
            elif all(TOKEN.fullmatch(name) for name in headers):
                assert status == 401, (status, body[:100], headers)
            else:  # a header name that is not HTTP: aiohttp refuses it before the handler
                assert status in {400, 401}, (status, body[:100], headers)

        before = asyncio.all_tasks()
        with recording() as records:
            await asyncio.to_thread(check)
            await settled(before)
    assert records.tracebacks() == []


# -- the property: signed objects of any shape, in Slack's vocabulary ----------------

RESPONSE_URL = "@response_url@"  # replaced by a live response_url of the fake
SLACK_TYPES = [
    "block_actions",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "interactive_message",
    "block_suggestion",
    "dialog_submission",
    "dialog_cancellation",
    "workflow_step_edit",
    "event_callback",
    "url_verification",
    "app_rate_limited",
    "message",
    "workflow_step",
    "modal",
    "function_executed",
]
SLACK_KEYS = st.sampled_from(
    [
        "type", "command", "text", "callback_id", "response_url", "response_urls",
        "trigger_id", "view", "actions", "action_id", "block_id", "value", "name",
        "event", "channel", "channel_id", "user", "user_id", "team", "team_id",
        "enterprise", "enterprise_id", "container", "message", "previous_message",
        "authorizations", "challenge", "token", "ssl_check", "id", "state",
        "workflow_step", "is_enterprise_install", "is_ext_shared_channel", "channel_type",
        "subtype", "bot_id", "thread_ts", "function_data", "item", "assistant_thread",
        "app_installed_team_id", "api_app_id",
    ]
)  # fmt: skip
SLACK_VALUES = st.sampled_from(
    [*SLACK_TYPES, SHARE_ACTION, SUBSCRIBE_ACTION, "/papers", "/", "1", "true", RESPONSE_URL]
)
SHAPED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | SLACK_VALUES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(SLACK_KEYS | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=16,
)
BASES = st.sampled_from(
    [
        {},
        {  # a slash command as Slack sends it
            "command": "/papers",
            "text": "list",
            "team_id": "T0FAKE",
            "channel_id": CHAN,
            "user_id": "U0ALICE",
            "response_url": RESPONSE_URL,
        },
        {  # a click on a button of paperboy's
            "type": "block_actions",
            "user": {"id": "U0ALICE", "team_id": "T0FAKE"},
            "team": {"id": "T0FAKE"},
            "channel": {"id": CHAN},
            "container": {"type": "message", "channel_id": CHAN},
            "response_url": RESPONSE_URL,
            "actions": [{"action_id": SUBSCRIBE_ACTION, "block_id": "b", "value": "LoRA"}],
        },
    ]
)
# Something Slack sends, with fields added or replaced, or an object of any shape.
OBJECTS = st.builds(
    lambda base, changes: {**base, **changes},
    BASES,
    st.dictionaries(SLACK_KEYS, SHAPED, max_size=3),
) | st.dictionaries(SLACK_KEYS, SHAPED, max_size=8)


def encoded(shape: dict[str, object], how: str, response_url: str) -> tuple[bytes, str]:
    text = json.dumps(shape).replace(json.dumps(RESPONSE_URL), json.dumps(response_url))
    if how == "json":
        return text.encode(), "application/json"
    if how == "payload":
        return interaction_body(json.loads(text)).encode(), FORM
    fields = {k: v for k, v in json.loads(text).items() if isinstance(v, str)}
    return form_body(fields).encode(), FORM


async def test_signed_objects_of_any_shape_never_get_5xx_or_a_traceback(
    slack: FakeSlack,
) -> None:
    async with events_server(slack) as server:

        @settings(
            max_examples=100,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(shape=OBJECTS, how=st.sampled_from(["json", "payload", "form"]))
        def check(shape: dict[str, object], how: str) -> None:
            body, content_type = encoded(shape, how, slack.response_url())
            status = post_blocking(server.url, body, signed(body, content_type))
            assert status in {200, 400}, (status, body[:300])

        before = asyncio.all_tasks()
        with recording() as records:
            await asyncio.to_thread(check)
            await settled(before)  # what was let through has been answered
    assert records.tracebacks() == []
