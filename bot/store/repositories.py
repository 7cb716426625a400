"""Repositories: the only code that reads and writes the tables.

Every method opens its own short transaction. Methods that read and then write use the
write engine (BEGIN IMMEDIATE on SQLite; on PostgreSQL they lock what they depend on), so
concurrent callers in one or several processes cannot both pass a check and then both write.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import datetime as dt
import operator
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from paperboy.errors import (
    DuplicateSubscriptionError,
    InvalidSettingError,
    InvalidSubscriptionError,
    SubscriptionLimitError,
)
from paperboy.models import (
    MAX_INTEGER,
    PAPER_FIELDS,
    SUMMARY_STYLES,
    WEEKDAYS,
    ChannelSettings,
    Paper,
    Subscription,
    Target,
)
from paperboy.store.tables import channel_settings, papers, subscriptions, targets
from paperboy.summaries import LanguageError, normalize_language

MAX_SUBSCRIPTIONS_PER_CHANNEL = 50
MAX_QUERY_LENGTH = 300
#: Upper bound of a channel's `max_papers` setting.
MAX_PAPERS_LIMIT = 100
#: Rows per statement in bulk writes and `IN (...)` lists: 500 papers x 17 columns stays
#: well below the bind-parameter limits of SQLite (32766) and asyncpg (32767).
CHUNK_SIZE = 500

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What an upsert did: new papers, and known papers whose stored data changed."""

    inserted: int
    updated: int


@dataclass(frozen=True, slots=True)
class StoreContext:
    """What the repositories share: the engine, its write twin, the default time zone and,
    on SQLite, the lock this process's writers take turns on (see `writing`)."""

    engine: AsyncEngine
    writer: AsyncEngine
    default_tz: str = "UTC"
    write_lock: asyncio.Lock | None = None

    def __post_init__(self) -> None:
        _check_timezone(self.default_tz)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite).

        SQLite has one writer at a time, and a connection waiting for the lock polls in
        SQLite's busy handler with growing sleeps and gives up ("database is locked")
        after the busy timeout: a burst of commands made most of them fail that way. The
        writers of one process therefore wait in line on `write_lock` instead, in order
        and without a deadline; the busy timeout only covers other processes.
        """
        if self.write_lock is None:
            async with self.writer.begin() as conn:
                yield conn
            return
        async with self.write_lock, self.writer.begin() as conn:
            yield conn

    def insert(self, table: sa.Table) -> Any:
        """The dialect's own INSERT, which knows ON CONFLICT."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


# --------------------------------------------------------------------------- helpers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def chunks(items: Sequence[_T], size: int = CHUNK_SIZE) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _text(value: str | None) -> str | None:
    # PostgreSQL cannot store NUL in text or jsonb; drop it on both backends alike.
    if value is None:
        return None
    return value.replace("\x00", "")


def _ids(paper_ids: Iterable[str]) -> list[str]:
    if isinstance(paper_ids, str):
        raise TypeError("pass an iterable of paper ids, not a single string")
    return list(dict.fromkeys(paper_ids))


def _target_where(target: Target) -> sa.ColumnElement[bool]:
    return sa.and_(
        targets.c.platform == target.platform,
        targets.c.workspace == (target.workspace or ""),
        targets.c.channel == target.channel,
    )


def _target_id_subquery(target: Target) -> sa.ScalarSelect[int]:
    return sa.select(targets.c.id).where(_target_where(target)).scalar_subquery()


def _check_target(target: Target) -> None:
    if not isinstance(target, Target):
        raise TypeError(f"expected a Target, got {type(target).__name__}")
    if not target.platform or not target.channel:
        raise ValueError(f"target {target!r} needs a platform and a channel")


async def _find_target(conn: AsyncConnection, target: Target) -> int | None:
    return (
        await conn.execute(sa.select(targets.c.id).where(_target_where(target)))
    ).scalar_one_or_none()


async def _ensure_target(ctx: StoreContext, conn: AsyncConnection, target: Target) -> int:
    """The target's id, creating it and its default settings row when new.

    Safe against concurrent callers: the insert is an insert-or-ignore on the unique key and
    the id is read afterwards (on PostgreSQL a second inserter waits for the first to commit).
    """
    _check_target(target)
    target_id = await _find_target(conn, target)
    if target_id is not None:
        return target_id
    now = _now()
    await conn.execute(
        ctx.insert(targets)
        .values(
            platform=target.platform,
            workspace=target.workspace or "",
            channel=target.channel,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["platform", "workspace", "channel"])
    )
    target_id = await _find_target(conn, target)
    if target_id is None:  # pragma: no cover - would be a database bug
        raise RuntimeError(f"target {target} vanished right after it was inserted")
    row = _settings_values(ChannelSettings(timezone=ctx.default_tz))
    await conn.execute(
        ctx.insert(channel_settings)
        .values(target_id=target_id, updated_at=now, **row)
        .on_conflict_do_nothing(index_elements=["target_id"])
    )
    return target_id


# --------------------------------------------------------------------------- papers


def paper_columns(paper: Paper) -> dict[str, Any]:
    """The `papers` columns a paper is stored with (timestamps aside): one per field of
    `Paper` (`PAPER_FIELDS`), as given but for the conversions below.

    Raises ValueError for an empty or too long id.
    """
    if not isinstance(paper.id, str) or not paper.id.strip():
        raise ValueError(f"paper id {paper.id!r} is empty")
    if len(paper.id) > 64:
        raise ValueError(f"paper id {paper.id[:80]!r} is longer than 64 characters")
    values = dict(zip(PAPER_FIELDS, _paper_values_of(paper), strict=True))
    # Empty strings and lists are stored as NULL: "nothing new" for the upsert's COALESCE.
    values["title"] = _text(paper.title) or ""
    values["abstract"] = _text(paper.abstract) or ""
    values["authors"] = [_text(a) for a in paper.authors if a] or None
    # An SQL INTEGER (32 bits on PostgreSQL): a larger count is kept as the largest.
    values["upvotes"] = min(max(int(paper.upvotes or 0), -MAX_INTEGER - 1), MAX_INTEGER)
    values["ai_summary"] = _text(paper.ai_summary) or None
    values["ai_keywords"] = [_text(k) for k in paper.ai_keywords if k] or None
    values["github_url"] = _text(paper.github_url) or None
    values["project_url"] = _text(paper.project_url) or None
    values["thumbnail_url"] = _text(paper.thumbnail_url) or None
    values["on_hf"] = bool(paper.on_hf)
    values["source"] = _text(paper.source) or "hf"
    return values


_paper_values_of = operator.attrgetter(*PAPER_FIELDS)


def _paper_values(paper: Paper, seen_at: dt.datetime) -> dict[str, Any]:
    values = paper_columns(paper)
    values["first_seen_at"] = values["updated_at"] = seen_at
    return values


async def _insert_new(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows of `_paper_values` with each column's own bind processing."""
    dialect = conn.dialect
    columns = list(papers.c)
    names = [c.name for c in columns]
    processed = [
        (i, p)
        for i, c in enumerate(columns)
        if (p := c.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    values_of = operator.itemgetter(*names)
    # The same object repeats down a column (every row's seen_at): processed once.
    last: dict[int, tuple[Any, Any]] = {}
    params = []
    for row in rows:
        values = list(values_of(row))
        for i, process in processed:
            value = values[i]
            if value is None:
                continue
            seen = last.get(i)
            if seen is not None and seen[0] is value:
                values[i] = seen[1]
            else:
                values[i] = process(value)
                last[i] = (value, values[i])
        params.append(tuple(values))
    sql = f"INSERT INTO papers ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    await conn.exec_driver_sql(sql, params)


_row_values_of = operator.itemgetter(*PAPER_FIELDS)


def paper_from_row(row: Row[Any]) -> Paper:
    values = dict(zip(PAPER_FIELDS, _row_values_of(row._mapping), strict=True))
    values["abstract"] = values["abstract"] or ""
    values["authors"] = tuple(values["authors"] or ())
    values["ai_keywords"] = tuple(values["ai_keywords"] or ())
    values["on_hf"] = bool(values["on_hf"])
    return Paper(**values)


def _paper_merge(excluded: Any) -> dict[str, Any]:
    """How an incoming row (`excluded`) merges into a stored paper.

    - title, abstract, authors, ai_summary, ai_keywords, links: the new value unless empty.
    - upvotes: Hugging Face owns votes, so they change only with a row that is `on_hf`
      (an arXiv listing with 0 votes does not wipe them); `on_hf` never goes back to false.
    - daily_date: Hugging Face's day wins; otherwise the first known day stays.
    - published_at and source keep what was seen first; first_seen_at never changes.
    """
    c = papers.c
    f = sa.func
    return {
        "title": f.coalesce(f.nullif(excluded.title, ""), c.title),
        "abstract": f.coalesce(f.nullif(excluded.abstract, ""), c.abstract),
        "authors": f.coalesce(excluded.authors, c.authors),
        "published_at": f.coalesce(c.published_at, excluded.published_at),
        "daily_date": f.coalesce(
            sa.case((excluded.on_hf, excluded.daily_date), else_=sa.null()),
            c.daily_date,
            excluded.daily_date,
        ),
        "upvotes": sa.case((excluded.on_hf, excluded.upvotes), else_=c.upvotes),
        "ai_summary": f.coalesce(excluded.ai_summary, c.ai_summary),
        "ai_keywords": f.coalesce(excluded.ai_keywords, c.ai_keywords),
        "github_url": f.coalesce(excluded.github_url, c.github_url),
        "project_url": f.coalesce(excluded.project_url, c.project_url),
        "thumbnail_url": f.coalesce(excluded.thumbnail_url, c.thumbnail_url),
        "on_hf": sa.or_(c.on_hf, excluded.on_hf),
    }


class PaperRepo:
    """The archive of every paper the bot has seen."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def upsert(
        self, papers_in: Sequence[Paper], *, seen_at: dt.datetime | None = None
    ) -> UpsertResult:
        """Insert new papers, merge fresh data into known ones (see `_paper_merge`).

        Idempotent: re-ingesting the same data changes nothing, not even `updated_at`.
        `seen_at` (default now) becomes `first_seen_at` of new papers and `updated_at` of
        changed ones. Works in chunks of `CHUNK_SIZE`, one transaction each, so a bulk load
        holds no lock for long; a repeated id within one call counts once (the last wins).
        """
        seen = _utc(seen_at) if seen_at is not None else _now()
        rows: dict[str, dict[str, Any]] = {}
        for paper in papers_in:
            rows[paper.id] = _paper_values(paper, seen)
        # Sorted, so that concurrent upserts on PostgreSQL lock rows in the same order.
        ordered = [rows[paper_id] for paper_id in sorted(rows)]
        inserted = updated = 0
        for chunk in chunks(ordered):
            ids = [row["id"] for row in chunk]
            # One statement executed for many rows ("insertmanyvalues"): compiled once and
            # cached, where a multi-row VALUES literal would be compiled again per chunk.
            stmt = self._ctx.insert(papers)
            merged = _paper_merge(stmt.excluded)
            changed_if = sa.or_(*(papers.c[name].is_distinct_from(v) for name, v in merged.items()))
            stmt = stmt.on_conflict_do_update(
                index_elements=[papers.c.id],
                set_={**merged, "updated_at": stmt.excluded.updated_at},
                where=changed_if,
            ).returning(papers.c.id)
            async with self._ctx.writing() as conn:
                existing: set[str] = set(
                    (await conn.execute(sa.select(papers.c.id).where(papers.c.id.in_(ids))))
                    .scalars()
                    .all()
                )
                known = [row for row in chunk if row["id"] in existing]
                if conn.dialect.name == "sqlite" and len(known) < len(chunk):
                    # New papers need no merge: a plain INSERT, through the DB-API (a
                    # backfill writes millions). BEGIN IMMEDIATE holds the write lock since
                    # the read above, so none of them can have appeared meanwhile.
                    fresh = [row for row in chunk if row["id"] not in existing]
                    await _insert_new(conn, fresh)
                    inserted += len(fresh)
                    chunk = known
                if chunk:
                    written: set[str] = set(
                        (await conn.execute(stmt, builtins.list(chunk))).scalars().all()
                    )
                    inserted += len(written - existing)
                    updated += len(written & existing)
        return UpsertResult(inserted=inserted, updated=updated)

    async def get_many(self, ids: Iterable[str]) -> dict[str, Paper]:
        """The known papers among `ids`, by id (unknown ids are simply missing)."""
        wanted = _ids(ids)
        found: dict[str, Paper] = {}
        async with self._ctx.engine.connect() as conn:
            for chunk in chunks(wanted):
                result = await conn.execute(sa.select(papers).where(papers.c.id.in_(chunk)))
                for row in result:
                    paper = paper_from_row(row)
                    found[paper.id] = paper
        return found

    async def for_day(self, day: dt.date) -> list[Paper]:
        """The papers of one daily list, most upvoted first."""
        stmt = (
            sa.select(papers)
            .where(papers.c.daily_date == day)
            .order_by(papers.c.upvotes.desc(), papers.c.id)
        )
        async with self._ctx.engine.connect() as conn:
            return [paper_from_row(row) for row in await conn.execute(stmt)]

    async def latest_day(self) -> dt.date | None:
        """The newest daily date in the archive (None when it is empty)."""
        async with self._ctx.engine.connect() as conn:
            return (await conn.execute(sa.select(sa.func.max(papers.c.daily_date)))).scalar_one()

    async def count(self) -> int:
        async with self._ctx.engine.connect() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(papers))).scalar_one()


# --------------------------------------------------------------------------- targets


def target_from_row(row: Row[Any]) -> Target:
    m = row._mapping
    return Target(m["platform"], m["workspace"], m["channel"])


class TargetRepo:
    """Channels the bot posts to."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def ensure(self, target: Target) -> int:
        """The target's id; a new target is created with a default settings row."""
        _check_target(target)
        async with self._ctx.engine.connect() as conn:
            target_id = await _find_target(conn, target)
        if target_id is not None:
            return target_id
        async with self._ctx.writing() as conn:
            return await _ensure_target(self._ctx, conn, target)

    async def get_id(self, target: Target) -> int | None:
        async with self._ctx.engine.connect() as conn:
            return await _find_target(conn, target)


# --------------------------------------------------------------------------- subscriptions


def _clean_query(query: str) -> str:
    if not isinstance(query, str):
        raise InvalidSubscriptionError(f"a query is text, not {type(query).__name__}")
    cleaned = query.strip()
    if not cleaned:
        raise InvalidSubscriptionError("the query is empty")
    if len(cleaned) > MAX_QUERY_LENGTH:
        raise InvalidSubscriptionError(
            f"the query is {len(cleaned)} characters long; at most {MAX_QUERY_LENGTH} fit"
        )
    if "\x00" in cleaned:
        raise InvalidSubscriptionError("the query contains a NUL character")
    return cleaned


def _subscription_from_row(row: Row[Any], target: Target) -> Subscription:
    m = row._mapping
    return Subscription(id=m["id"], target=target, query=m["query"], created_at=m["created_at"])


_SUB_COLUMNS = (subscriptions.c.id, subscriptions.c.query, subscriptions.c.created_at)


class SubscriptionRepo:
    """A channel's queries. Queries are stored as given, minus surrounding whitespace."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def add(self, target: Target, query: str) -> Subscription:
        """Subscribe `target` to `query` (creating the target when new).

        Raises `InvalidSubscriptionError`, `DuplicateSubscriptionError` (same query, exact
        case) or `SubscriptionLimitError` (already `MAX_SUBSCRIPTIONS_PER_CHANNEL`). The
        limit check and the insert are one transaction; on PostgreSQL the target row is
        locked for it, so concurrent adds cannot overshoot the limit.
        """
        cleaned = _clean_query(query)
        _check_target(target)
        try:
            async with self._ctx.writing() as conn:
                target_id = await _ensure_target(self._ctx, conn, target)
                await conn.execute(
                    sa.select(targets.c.id).where(targets.c.id == target_id).with_for_update()
                )
                existing = (
                    await conn.execute(
                        sa.select(*_SUB_COLUMNS).where(
                            subscriptions.c.target_id == target_id,
                            subscriptions.c.query == cleaned,
                        )
                    )
                ).first()
                if existing is not None:
                    raise DuplicateSubscriptionError(
                        target, cleaned, _subscription_from_row(existing, target)
                    )
                count = (
                    await conn.execute(
                        sa.select(sa.func.count())
                        .select_from(subscriptions)
                        .where(subscriptions.c.target_id == target_id)
                    )
                ).scalar_one()
                if count >= MAX_SUBSCRIPTIONS_PER_CHANNEL:
                    raise SubscriptionLimitError(target, MAX_SUBSCRIPTIONS_PER_CHANNEL)
                row = (
                    await conn.execute(
                        sa.insert(subscriptions)
                        .values(target_id=target_id, query=cleaned, created_at=_now())
                        .returning(*_SUB_COLUMNS)
                    )
                ).one()
        except IntegrityError as exc:  # only reachable through a race the lock rules out
            raise DuplicateSubscriptionError(target, cleaned) from exc
        return _subscription_from_row(row, target)

    async def remove(self, target: Target, sub_id: int) -> Subscription | None:
        """Delete subscription `sub_id` if it belongs to `target`; return what was deleted."""
        if isinstance(sub_id, bool) or not isinstance(sub_id, int):
            raise TypeError(f"a subscription id is an int, not {type(sub_id).__name__}")
        if not 0 < sub_id < 2**31:  # beyond the column's range PostgreSQL would raise
            return None
        return await self._delete(target, subscriptions.c.id == sub_id)

    async def remove_query(self, target: Target, query: str) -> Subscription | None:
        """Delete the subscription with exactly this query (surrounding spaces ignored)."""
        if not isinstance(query, str) or not query.strip():
            return None
        return await self._delete(target, subscriptions.c.query == query.strip())

    async def _delete(
        self, target: Target, condition: sa.ColumnElement[bool]
    ) -> Subscription | None:
        stmt = (
            sa.delete(subscriptions)
            .where(subscriptions.c.target_id == _target_id_subquery(target), condition)
            .returning(*_SUB_COLUMNS)
        )
        async with self._ctx.writing() as conn:
            row = (await conn.execute(stmt)).first()
        return _subscription_from_row(row, target) if row is not None else None

    async def list(self, target: Target) -> builtins.list[Subscription]:
        """The target's subscriptions in the order they were added."""
        stmt = (
            sa.select(*_SUB_COLUMNS)
            .where(subscriptions.c.target_id == _target_id_subquery(target))
            .order_by(subscriptions.c.id)
        )
        async with self._ctx.engine.connect() as conn:
            return [_subscription_from_row(row, target) for row in await conn.execute(stmt)]


# --------------------------------------------------------------------------- settings


SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(ChannelSettings))
_TIME_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DAY_NAMES = {day: day for day in WEEKDAYS} | {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


def _check_timezone(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidSettingError(f"time zone {name!r} is not a name like Europe/Berlin")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSettingError(f"unknown time zone {name!r} (try e.g. Europe/Berlin)") from exc
    return name


def check_days(value: object) -> str:
    if isinstance(value, str):
        tokens = [t for t in re.split(r"[\s,]+", value) if t]
    elif isinstance(value, Iterable):
        tokens = builtins.list(value)
    else:
        raise InvalidSettingError(f"days {value!r} is not a list of weekdays")
    days: set[str] = set()
    for token in tokens:
        day = _DAY_NAMES.get(token.lower()) if isinstance(token, str) else None
        if day is None:
            raise InvalidSettingError(f"{token!r} is not a weekday (use mon, tue, ... sun)")
        days.add(day)
    if not days:
        raise InvalidSettingError("at least one weekday is needed (or turn the schedule off)")
    return ",".join(day for day in WEEKDAYS if day in days)


def _check_int(name: str, value: object, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSettingError(f"{name} must be a whole number, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidSettingError(f"{name} must be {bounds}, not {value}")
    return value


def _check_setting(name: str, value: object) -> object:
    """A valid value for the settings row, or InvalidSettingError."""
    if name == "schedule_time":
        if isinstance(value, dt.time):
            return f"{value.hour:02d}:{value.minute:02d}"
        match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise InvalidSettingError(f"schedule time {value!r} is not HH:MM (24-hour clock)")
        return f"{int(match[1]):02d}:{match[2]}"
    if name == "timezone":
        return _check_timezone(value)
    if name == "days":
        return check_days(value)
    if name in ("schedule_enabled", "paused", "post_empty"):
        if not isinstance(value, bool):
            raise InvalidSettingError(f"{name} must be true or false, not {value!r}")
        return value
    if name == "paused_reason":
        if value is not None and not isinstance(value, str):
            raise InvalidSettingError(f"paused_reason must be text, not {value!r}")
        return _text(value) or None
    if name == "max_papers":
        return _check_int(name, value, 1, MAX_PAPERS_LIMIT)
    if name == "min_upvotes":
        return _check_int(name, value, 0, None)
    if name == "summary_style":
        if value not in SUMMARY_STYLES:
            raise InvalidSettingError(
                f"summary style is one of {', '.join(SUMMARY_STYLES)}, not {value!r}"
            )
        return value
    if name == "language":
        if value is None:
            return None
        try:
            return normalize_language(value)
        except LanguageError as exc:
            raise InvalidSettingError(str(exc)) from exc
    raise InvalidSettingError(
        f"unknown setting {name!r}; known: {', '.join(sorted(SETTING_NAMES))}"
    )


def _settings_values(s: ChannelSettings) -> dict[str, Any]:
    values = {f.name: getattr(s, f.name) for f in dataclasses.fields(ChannelSettings)}
    values["days"] = ",".join(s.days)
    return values


def settings_from_row(row: Row[Any]) -> ChannelSettings:
    m = row._mapping
    return ChannelSettings(
        schedule_time=m["schedule_time"],
        timezone=m["timezone"],
        days=tuple(day for day in m["days"].split(",") if day),
        schedule_enabled=bool(m["schedule_enabled"]),
        paused=bool(m["paused"]),
        paused_reason=m["paused_reason"],
        max_papers=m["max_papers"],
        min_upvotes=m["min_upvotes"],
        post_empty=bool(m["post_empty"]),
        summary_style=m["summary_style"],
        language=m["language"],
    )


_SETTINGS_COLUMNS = tuple(channel_settings.c[name] for name in sorted(SETTING_NAMES))


class SettingsRepo:
    """A channel's schedule and digest options."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx

    async def get(self, target: Target, *, default_tz: str | None = None) -> ChannelSettings:
        """The target's settings; defaults (in the default time zone) for an unknown one."""
        stmt = sa.select(*_SETTINGS_COLUMNS).where(
            channel_settings.c.target_id == _target_id_subquery(target)
        )
        async with self._ctx.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return ChannelSettings(timezone=default_tz or self._ctx.default_tz)
        return settings_from_row(row)

    async def update(self, target: Target, **changes: Any) -> ChannelSettings:
        """Change some settings (creating the target when new) and return them all.

        Every name and value is checked before anything is written; `InvalidSettingError`
        says what is wrong. Unpausing clears `paused_reason` unless one is given.
        """
        values = {name: _check_setting(name, value) for name, value in changes.items()}
        if values.get("paused") is False and "paused_reason" not in values:
            values["paused_reason"] = None
        async with self._ctx.writing() as conn:
            target_id = await _ensure_target(self._ctx, conn, target)
            if values:
                await conn.execute(
                    sa.update(channel_settings)
                    .where(channel_settings.c.target_id == target_id)
                    .values(updated_at=_now(), **values)
                )
            row = (
                await conn.execute(
                    sa.select(*_SETTINGS_COLUMNS).where(channel_settings.c.target_id == target_id)
                )
            ).one()
        return settings_from_row(row)
