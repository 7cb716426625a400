"""Slack's message limits, as data next to the renderer (see DESIGN.md, Boundaries).

Documented Block Kit limits, plus one that is not: Slack rejects a message whose
blocks hold more than about 12,000 characters of text in total
(`msg_blocks_too_long`, slackapi/bolt-js#2509), so the renderer packs messages
to a lower budget than that.

Lengths are counted in UTF-16 code units (`slack_len`): an emoji outside the BMP
counts twice. That is never less than Python's `len`, so a text that fits by this
measure fits whatever Slack counts in characters.
"""

from __future__ import annotations

BLOCKS_PER_MESSAGE = 50
SECTION_TEXT = 3000
SECTION_FIELD_TEXT = 2000
SECTION_FIELDS = 10
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000  # not documented for context elements; the common text object cap
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
BLOCK_ID = 255
URL_LENGTH = 3000
ALT_TEXT = 2000
FILE_ALT_TEXT = 1000  # files.getUploadURLExternal `alt_txt` (alt_txt_too_large beyond)
MESSAGE_TEXT = 40_000  # chat.postMessage `text` (Slack truncates beyond it)
BLOCKS_TEXT_TOTAL = 12_000  # undocumented: sum of all text in a message's blocks

# What the renderer aims for (below the hard limits, leaving room for framing).
TEXT_FALLBACK_BUDGET = 3000
BLOCKS_TEXT_BUDGET = 11_000
RESPONSE_URL_MESSAGES = 5  # a response_url accepts five messages within 30 minutes


def slack_len(text: str) -> int:
    """Length in UTF-16 code units (see the module docstring)."""
    return len(text.encode("utf-16-le")) // 2
