"""paperboy.jsontext: orjson's speed, the standard library's answers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pytest

from paperboy import jsontext

SAMPLES = [
    {"text": "👍 Save · naïve “quotes” \u2028 <&>", "blocks": [{"type": "divider"}]},
    {"n": 2**70, "neg": -(2**64), "small": 3, "f": 0.1, "none": None, "t": True},
    [[[[["deep"]]]]],
    ("a", "tuple"),
    "",
    0,
]


@pytest.mark.parametrize("value", SAMPLES)
def test_dumps_reads_back_as_json_dumps_does(value: object) -> None:
    assert json.loads(jsontext.dumps(value)) == json.loads(json.dumps(value))
    assert jsontext.loads(jsontext.dumps(value)) == json.loads(json.dumps(value))


def test_nan_and_infinity_are_written_and_read_as_json_does() -> None:
    value = {"a": [float("nan"), float("inf"), -float("inf")], "b": None}
    text = jsontext.dumps(value)
    assert text == json.dumps(value)
    back = jsontext.loads(text)
    assert math.isnan(back["a"][0]) and back["a"][1:] == [math.inf, -math.inf]


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [{1, 2}, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), _Point(1), object(), b"x", {(1, 2): "k"}],
)
def test_what_json_refuses_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        jsontext.dumps({"v": value})
    with pytest.raises(TypeError):
        jsontext.check([value])


def test_check_accepts_what_json_accepts() -> None:
    for value in SAMPLES:
        jsontext.check(value)


def test_keys_that_are_not_strings_are_written_as_json_writes_them() -> None:
    value = {1: "int key", None: "none key", 2.5: "float key", False: "bool key"}
    assert jsontext.dumps(value) == json.dumps(value)
    assert jsontext.dumps_bytes(value) == json.dumps(value).encode()


def test_integers_of_64_bits_are_read_exactly() -> None:
    """The widest integers the bot stores (clamped vote counts) read back as integers."""
    for number in (2**63 - 1, -(2**63), 2**64 - 1):
        text = json.dumps({"n": number})
        assert jsontext.loads(text) == {"n": number}
        assert isinstance(jsontext.loads(text.encode())["n"], int)


def test_serialized_text_is_stored_as_made_and_nothing_else_is() -> None:
    """The engine's serializer writes a `Serialized` as it is and anything else as
    `json.dumps` does (the papers' upsert compares the stored text)."""
    assert jsontext.column_dumps(jsontext.Serialized('{"a":1}')) == '{"a":1}'
    value = {"authors": ["Zoë Müller", "B. Li"]}
    assert jsontext.column_dumps(value) == json.dumps(value)
    with pytest.raises(TypeError):
        json.dumps(jsontext.Serialized("{}"))  # an engine without it fails loudly


def test_invalid_text_raises_json_s_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsontext.loads("{not json")
    assert jsontext.loads(b'{"a": 1}') == {"a": 1}


@pytest.mark.parametrize("value", SAMPLES)
def test_dumps_bytes_is_dumps_in_utf8(value: object) -> None:
    assert jsontext.dumps_bytes(value) == jsontext.dumps(value).encode()


def test_dumps_bytes_keeps_json_s_nan() -> None:
    assert jsontext.dumps_bytes([float("nan")]) == b"[NaN]"
