"""The signature check and the refusal log of `POST /slack/events` (adapters/slack/requests.py)."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest

from adapters.slack.render import SHARE_ACTION
from adapters.slack.requests import Refusals, screen, signature_ok

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000.0
BODY = b"command=%2Fpapers&text=list"


def sign(body: bytes, timestamp: str) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


def test_slacks_own_signature_is_accepted_within_five_minutes() -> None:
    for skew in (0, 300, -300):
        ts = str(int(NOW) + skew)
        assert signature_ok(SECRET, BODY, ts, sign(BODY, ts), now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, None),
        (str(int(NOW)), None),
        (None, "v0=00"),
        ("9" * 400, "v0=00"),
        ("-1", "v0=00"),
        ("١٧٠٠٠٠٠٠٠٠", "v0=00"),  # digits, but not ASCII
        (" 1700000000", "v0=00"),
        (str(int(NOW)), "v0=é" + "0" * 63),
        (str(int(NOW)), "v1=" + "0" * 64),
        (str(int(NOW)), ""),
    ],
)
def test_anything_else_is_refused_without_raising(
    timestamp: str | None, signature: str | None
) -> None:
    assert not signature_ok(SECRET, BODY, timestamp, signature, now=NOW)


def test_a_correct_signature_more_than_five_minutes_off_is_refused() -> None:
    for skew in (-301, 301, -(10**9)):
        ts = str(int(NOW) + skew)
        assert not signature_ok(SECRET, BODY, ts, sign(BODY, ts), now=NOW)


def test_the_body_is_signed_as_bytes_whatever_its_encoding() -> None:
    body = b"text=\xff\xfe"  # not UTF-8: still just bytes to sign
    ts = str(int(NOW))
    assert signature_ok(SECRET, body, ts, sign(body, ts), now=NOW)
    assert not signature_ok(SECRET, body + b"x", ts, sign(body, ts), now=NOW)
    assert not signature_ok("", body, ts, sign(body, ts), now=NOW)


def test_refusals_are_one_warning_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    refusals = Refusals(logging.getLogger("test.refusals"), interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for _ in range(100):
            refusals.note(401, "no valid signature")
        now[0] = 61.0
        refusals.note(401, "no valid signature")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "slack: answered 401 to a request: no valid signature",
        "slack: answered 401 to a request: no valid signature (99 more since the last report)",
    ]


COMMAND = {
    "command": "/papers",
    "text": "list",
    "team_id": "T1",
    "channel_id": "C1",
    "user_id": "U1",
    "is_enterprise_install": "false",
    "response_url": "https://hooks.slack.com/commands/T1/1/x",
}
CLICK = {
    "type": "block_actions",
    "user": {"id": "U1", "team_id": "T1"},
    "channel": {"id": "C1"},
    "response_url": "https://hooks.slack.com/actions/T1/1/x",
    "actions": [{"action_id": SHARE_ACTION, "block_id": "b", "value": "{}", "type": "button"}],
}


def test_only_what_paperboy_answers_is_let_through() -> None:
    assert screen(COMMAND).action == "route"
    assert screen(CLICK).action == "route"
    assert screen({"ssl_check": "1", "token": "t"}).action == "route"  # bolt answers it
    for event in ({"type": "event_callback", "event": "x"}, {"type": "app_rate_limited"}):
        assert screen(event).action == "ignore"
    refused = {
        "a view": {"type": "view_submission", "view": {"id": "V1"}},
        "another app's button": {**CLICK, "actions": [{"action_id": "x"}]},
        "a type on a command": {**COMMAND, "type": "shortcut"},
        "a nested command field": {**COMMAND, "blocks": []},
        "an unnamed command": {**COMMAND, "command": "/"},
        "a response_url that is not http(s)": {**COMMAND, "response_url": "file:///etc/x"},
        "nothing": {},
        "not an object": [COMMAND],
    }
    verdicts = {name: screen(body) for name, body in refused.items()}
    assert {name: v.action for name, v in verdicts.items()} == dict.fromkeys(refused, "refuse")
    assert all(v.reason and "\n" not in v.reason for v in verdicts.values())


def test_an_untrusted_type_is_quoted_in_the_reason() -> None:
    verdict = screen({"type": "x\x1b[31m" + "y" * 100})
    assert verdict.action == "refuse"
    assert "\x1b" not in verdict.reason and len(verdict.reason) < 120
