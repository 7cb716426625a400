"""Terminal-safe text: no control or bidi-override character reaches a terminal raw."""

from __future__ import annotations

import io
import json
import logging

from hypothesis import given
from hypothesis import strategies as st

from paperboy.terminal import BIDI_CONTROLS, SafeFormatter, json_safe, terminal_safe, unsafe_chars

ESC_LINK = "\x1b]8;;https://evil.example/\x07click me\x1b]8;;\x07"
HOSTILE = f"\x1b[31mred\x1b[0m {ESC_LINK} \x9b31m C1 \u202egnp.exe\u202c \x00\x7f\t\n"

# Every code point the helper must neutralise, and a sample of ordinary text around them.
UNSAFE = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))] + sorted(BIDI_CONTROLS)
texts = st.text(alphabet=st.one_of(st.sampled_from(UNSAFE), st.characters()), max_size=200)


def test_escape_sequences_become_visible_text() -> None:
    out = terminal_safe(HOSTILE)
    assert unsafe_chars(out) == []
    assert "␛[31mred" in out and "␛]8;;https://evil.example/␇click me" in out
    assert "\ufffdgnp.exe\ufffd" in out  # the override is gone, the text readable as stored


def test_keep_allows_layout_characters_only() -> None:
    out = terminal_safe("a\tb\nc\x1bd", keep="\n\t")
    assert out == "a\tb\nc␛d"


@given(texts)
def test_nothing_unsafe_survives_and_length_is_kept(text: str) -> None:
    out = terminal_safe(text)
    assert unsafe_chars(out) == []
    assert len(out) == len(text)  # highlight spans computed on `text` still fit


@given(st.recursive(st.none() | texts | st.integers(), lambda c: st.lists(c, max_size=4)))
def test_json_safe_keeps_the_data_and_escapes_every_unsafe_char(value: object) -> None:
    document = json_safe(json.dumps({"v": value}, ensure_ascii=False, indent=2))
    assert json.loads(document) == {"v": value}
    assert unsafe_chars(document, keep="\n") == []


def test_log_records_carry_no_control_characters() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test_terminal.safe")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("source said: %s", HOSTILE)
        try:
            raise ValueError(HOSTILE)
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert unsafe_chars(text, keep="\n") == []
    # The record is one line (data cannot forge a second record); a traceback keeps its.
    assert text.splitlines()[0].startswith("WARNING source said: ␛[31mred")
    assert "Traceback (most recent call last):" in text.splitlines()
