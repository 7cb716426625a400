"""Bolt's per-request app logger must not pin the level of paperboy's own loggers."""

from __future__ import annotations

import logging

from slack_bolt.logger import get_bolt_app_logger

from paperboy_adapters.slack.adapter import SlackAdapter


async def test_the_bolt_app_logger_is_not_paperboys() -> None:
    adapter = SlackAdapter("xoxb-test", signing_secret="s", api_url="http://127.0.0.1:9/api/")
    root = logging.getLogger()
    before = root.level, logging.getLogger("paperboy").level
    try:
        root.setLevel(logging.WARNING)
        app = adapter.build_app(lambda *a: None)  # type: ignore[arg-type,return-value]
        get_bolt_app_logger(app_name=app.name)  # what bolt does for each request
        root.setLevel(logging.INFO)
        assert logging.getLogger("paperboy.delivery").getEffectiveLevel() == logging.INFO
    finally:
        root.setLevel(before[0])
        logging.getLogger("paperboy").setLevel(before[1])
