"""Settings errors as one line per bad variable, for people rather than for pydantic.

    PAPERBOY_HF_RETRIES=99: too large; accepted: a whole number from 0 to 10

pydantic's own report is many lines with links; a user who mistyped a variable needs its
name, the value read and what would have been accepted. A secret's value is never
repeated (its name is enough to find it).
"""

from __future__ import annotations

import os
import re
import types
import typing
from collections.abc import Iterable
from typing import Any

import annotated_types
from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from paperboy_config.settings import Settings

__all__ = ["accepted_values", "env_name", "settings_problems"]

_MAX_VALUE = 60
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PASSWORD = re.compile(r"(://[^/@:\s]*):[^/\s]*@")  # a URL's user:password@
#: a URL's ?password=... (libpq and asyncpg take the password as a query parameter too)
_QUERY_PASSWORD = re.compile(r"([?&](?:password|pass|passwd|pwd)=)[^&#\s]*", re.IGNORECASE)

_KINDS: dict[type, str] = {
    bool: "true or false (also 1/0, yes/no, on/off)",
    int: "a whole number",
    float: "a number",
    str: "text",
}

# pydantic's error types whose message says no more than the "accepted" part does.
_SHORT_REASONS = {
    "float_parsing": "not a number",
    "float_type": "not a number",
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "int_type": "not a whole number",
    "bool_parsing": "not true or false",
    "bool_type": "not true or false",
    "greater_than": "too small",
    "greater_than_equal": "too small",
    "less_than": "too large",
    "less_than_equal": "too large",
    "finite_number": "not a finite number",
    "json_invalid": "not valid JSON",
}


def env_name(field: str, info: FieldInfo | None = None) -> str:
    """The environment variable that sets `field` (the one in use, for aliased fields)."""
    info = info if info is not None else Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        names = [c for c in alias.choices if isinstance(c, str)]
        for name in names:
            if name in os.environ:
                return name
        if names:
            return names[0]
    elif isinstance(alias, str):
        return alias
    prefix = Settings.model_config.get("env_prefix", "")
    return f"{prefix}{field}".upper()


def _base_types(annotation: Any) -> list[type]:
    """The plain types inside `annotation` (Optional and Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _base_types(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[type] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                out += _base_types(arg)
        return out
    if origin is not None:
        return [origin]
    return [annotation] if isinstance(annotation, type) else []


def _is_secret(info: FieldInfo) -> bool:
    return SecretStr in _base_types(info.annotation)


def _bounds(info: FieldInfo) -> str:
    low = high = ""
    for item in info.metadata:
        if isinstance(item, annotated_types.Gt):
            low = f"above {item.gt:g}"
        elif isinstance(item, annotated_types.Ge):
            low = f"at least {item.ge:g}"
        elif isinstance(item, annotated_types.Lt):
            high = f"below {item.lt:g}"
        elif isinstance(item, annotated_types.Le):
            high = f"at most {item.le:g}"
    if low.startswith("at least") and high.startswith("at most"):
        return f"from {low.removeprefix('at least ')} to {high.removeprefix('at most ')}"
    return " and ".join(b for b in (low, high) if b)


def accepted_values(field: str) -> str:
    """What `field` accepts, in words: its own `accepted` note, else from its type."""
    info = Settings.model_fields[field]
    extra = info.json_schema_extra
    accepted = extra.get("accepted") if isinstance(extra, dict) else None
    if isinstance(accepted, str):
        return accepted
    kinds = _base_types(info.annotation)
    if list in kinds:
        return "a comma-separated list"
    words = next((_KINDS[k] for k in (bool, int, float, str) if k in kinds), "")
    if not words:
        return "text"
    bounds = _bounds(info)
    return f"{words} {bounds}" if bounds else words


def _shown(value: object) -> str:
    """The value as read, short, on one line, control characters as `\\xNN`, a URL's
    password as ***."""
    text = value if isinstance(value, str) else repr(value)
    text = _QUERY_PASSWORD.sub(r"\1***", _PASSWORD.sub(r"\1:***@", text))
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _reason(error: ErrorDetails) -> str:
    kind = error.get("type", "")
    if kind in _SHORT_REASONS:
        return _SHORT_REASONS[kind]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return " ".join(message.split())


def _field_of(name: str) -> str:
    """The field an error's location names (pydantic names an aliased field by alias)."""
    if name in Settings.model_fields:
        return name
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        if name in choices:
            return field
    return name


def _problems(errors: Iterable[ErrorDetails]) -> list[str]:
    lines: list[str] = []
    seen: set[str] = set()
    for error in errors:
        loc = error.get("loc") or ("?",)
        field = _field_of(str(loc[0]))
        if field in seen:  # one line per variable, the first problem is enough
            continue
        seen.add(field)
        info = Settings.model_fields.get(field)
        if info is None:
            lines.append(f"{field}: {_reason(error)}")
            continue
        name = env_name(field, info)
        if _is_secret(info):
            lines.append(f"{name}: {_reason(error)}")  # never the secret's value
            continue
        value = _shown(error.get("input", ""))
        lines.append(f"{name}={value}: {_reason(error)}; accepted: {accepted_values(field)}")
    return lines


def settings_problems(error: BaseException) -> list[str]:
    """One line per bad variable for a failed `Settings()`; one line for anything else."""
    if isinstance(error, ValidationError):
        lines = _problems(error.errors(include_url=False))
        if lines:
            return lines
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return [f"invalid settings: {_CONTROL.sub('?', first)}"]
