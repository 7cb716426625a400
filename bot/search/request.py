"""A search request: `/papers search` and `paperboy search` text, parsed.

A search is a subscription query (`paperboy.matching.query`: same language, same
matching semantics) plus options, written anywhere in the text outside quotes::

    since:30d | since:2w | since:2024-11-01     papers dated on or after (also 3m, 1y)
    until:7d | until:2024-11-30                 papers dated on or before
    min-upvotes:10                              at least 10 Hugging Face votes
    has:code                                    with a GitHub repository
    limit:20                                    how many results (1-100; default 10)

A paper's date is its Hugging Face daily list, else its publication day.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from paperboy.matching import MAX_LENGTH, Query, QueryError, check_characters, parse

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "OPTION_HELP",
    "SearchOptions",
    "SearchRequest",
    "parse_search",
]


DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_TEXT = MAX_LENGTH + 100

OPTION_HELP = (
    "Search options: since:30d or since:YYYY-MM-DD, until:..., min-upvotes:N, has:code, limit:N"
)

_OPTION = re.compile(r"(since|until|min-upvotes|has|limit):", re.IGNORECASE)
_QUOTES = frozenset('"“”„‟')
# ASCII digits only (\d would take "٣" and "²"); at most 5 of them.
_RELATIVE = re.compile(r"([0-9]{1,5})([dwmy])", re.IGNORECASE)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


@dataclass(frozen=True, slots=True)
class SearchOptions:
    since: dt.date | None = None
    until: dt.date | None = None
    min_upvotes: int = 0
    has_code: bool = False
    limit: int | None = None

    def describe(self) -> tuple[str, ...]:
        out: list[str] = []
        if self.since:
            out.append(f"since {self.since.isoformat()}")
        if self.until:
            out.append(f"until {self.until.isoformat()}")
        if self.min_upvotes:
            out.append(f"at least {self.min_upvotes} upvotes")
        if self.has_code:
            out.append("with code")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A parsed search: `query` holds the terms, `terms` their text (a subscription)."""

    text: str
    query: Query
    terms: str
    options: SearchOptions = field(default_factory=SearchOptions)


def _date(value: str, today: dt.date, column: int, name: str) -> dt.date:
    """A relative (30d, 2w, 3m, 1y) or ISO (YYYY-MM-DD, years 0001-9999) date."""
    relative = _RELATIVE.fullmatch(value)
    if relative:
        unit = relative.group(2).lower()
        days = int(relative.group(1)) * _UNIT_DAYS[unit]
        if days >= today.toordinal():  # before 0001-01-01, the first date there is
            most = (today.toordinal() - 1) // _UNIT_DAYS[unit]
            raise QueryError(f"{name}: goes back at most {most}{unit} from today", column)
        return today - dt.timedelta(days=days)
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise QueryError(
        f"{name}: takes a number of days, weeks, months or years (30d, 2w, 3m, 1y) "
        "or a date like 2024-11-01",
        column,
    )


def _number(value: str, column: int, name: str, low: int, high: int) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise QueryError(f"{name}: takes a whole number like {name}:{max(low, 10)}", column)
    number = int(value)
    if not low <= number <= high:
        raise QueryError(f"{name}: must be between {low} and {high}", column)
    return number


def _split_options(text: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    """The text with option words blanked out (columns kept), and the options found:
    (name, value, column of the option, column of its value), columns 1-based."""
    chars = list(text)
    found: list[tuple[str, str, int, int]] = []
    i, n = 0, len(text)
    in_quote = False
    while i < n:
        char = text[i]
        if char in _QUOTES:
            in_quote = not in_quote
            i += 1
            continue
        at_word_start = i == 0 or text[i - 1].isspace() or text[i - 1] in "(,"
        glued_minus = i > 0 and text[i - 1] in "-−" and (i == 1 or text[i - 2].isspace())
        if in_quote or not (at_word_start or glued_minus):
            i += 1
            continue
        match = _OPTION.match(text, i)
        if match is None:
            i += 1
            continue
        if glued_minus:
            raise QueryError(f"search options like {match.group(0)} cannot be negated", i)
        end = match.end()
        while (
            end < n
            and not text[end].isspace()
            and text[end] not in "),"
            and text[end] not in _QUOTES
        ):
            end += 1
        found.append((match.group(1).lower(), text[match.end() : end], i + 1, match.end() + 1))
        for k in range(i, end):
            chars[k] = " "
        i = end
    return "".join(chars), found


def parse_search(text: str, *, today: dt.date | None = None) -> SearchRequest:
    """Split options from terms and parse the terms; QueryError (with a column) if bad."""
    today = today or dt.datetime.now(dt.UTC).date()
    if len(text) > MAX_TEXT:
        raise QueryError(f"a search is at most {MAX_TEXT} characters long", MAX_TEXT + 1)
    check_characters(text)
    rest, found = _split_options(text)
    values: dict[str, object] = {}
    for name, value, column, value_column in found:
        if name in values:
            raise QueryError(f"{name}: is given twice", column)
        if not value:
            raise QueryError(f"{name}: needs a value, like {_EXAMPLES[name]}", value_column)
        if name in ("since", "until"):
            values[name] = _date(value, today, value_column, name)
        elif name == "min-upvotes":
            values[name] = _number(value, value_column, name, 0, 1_000_000)
        elif name == "limit":
            values[name] = _number(value, value_column, name, 1, MAX_LIMIT)
        elif value.lower() != "code":
            raise QueryError("has: only knows has:code", value_column)
        else:
            values[name] = True
    since, until = values.get("since"), values.get("until")
    if isinstance(since, dt.date) and isinstance(until, dt.date) and since > until:
        raise QueryError("since: is after until:, so nothing can match")
    if not rest.strip(" ,"):
        raise QueryError("give some words to search for, like: LoRA since:30d")
    try:
        query = parse(rest)
    except QueryError as error:
        if error.message.startswith("unknown field"):
            raise QueryError(f"{error.message}; {OPTION_HELP}", error.column) from None
        raise
    options = SearchOptions(
        since=since if isinstance(since, dt.date) else None,
        until=until if isinstance(until, dt.date) else None,
        min_upvotes=int(values.get("min-upvotes", 0)),  # type: ignore[call-overload]
        has_code=bool(values.get("has", False)),
        limit=values.get("limit"),  # type: ignore[arg-type]
    )
    return SearchRequest(text=text, query=query, terms=" ".join(rest.split()), options=options)


_EXAMPLES = {
    "since": "since:30d",
    "until": "until:2024-11-30",
    "min-upvotes": "min-upvotes:10",
    "has": "has:code",
    "limit": "limit:20",
}
