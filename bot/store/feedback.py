"""Feedback tables: votes and saves per (channel, paper, hashed user), the install secret,
and each channel's feedback options. See `paperboy.feedback` for what they mean.

Recording is idempotent: one row per (channel, paper, user), so a second click of the
same button changes nothing, a new vote replaces the old one, and a save is kept with the
time of the first save. A vote on a paper the archive does not hold raises
`UnknownPaperError` and writes nothing.
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paperboy.errors import UnknownPaperError
from paperboy.models import Target
from paperboy.store.repositories import (
    StoreContext,
    _ensure_target,
    _find_target,
    chunks,
)
from paperboy.store.tables import (
    feedback_settings,
    feedback_votes,
    install_secrets,
    papers,
)

SECRET_NAME = "feedback"
UP, DOWN, NONE = 1, -1, 0


@dataclass(frozen=True, slots=True)
class FeedbackState:
    """One user's feedback on one paper in one channel, after a change."""

    vote: int  # +1, -1 or 0
    saved: bool
    changed: bool  # False: the click repeated what was already recorded


@dataclass(frozen=True, slots=True)
class PaperFeedback:
    """A channel's feedback on one paper, over all its users (since the last reset)."""

    paper_id: str
    ups: int
    downs: int
    saves: int
    latest: dt.datetime


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    ups: int = 0
    downs: int = 0
    saves: int = 0
    papers: int = 0
    people: int = 0
    reset_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SavedPaper:
    paper_id: str
    saved_at: dt.datetime  # the latest save
    savers: int


@dataclass(frozen=True, slots=True)
class ReadingList:
    papers: list[SavedPaper]
    #: (hashed user, how many papers they saved), most first.
    savers: list[tuple[str, int]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FeedbackRepo:
    """Votes, saves, the install secret and the feedback options of channels."""

    def __init__(self, ctx: StoreContext) -> None:
        self._ctx = ctx
        self._secret: bytes | None = None

    # ------------------------------------------------------------------ the secret

    async def secret(self) -> bytes:
        """The install's feedback secret (made on first use, the same in every process)."""
        if self._secret is not None:
            return self._secret
        stmt = sa.select(install_secrets.c.value).where(install_secrets.c.name == SECRET_NAME)
        async with self._ctx.engine.connect() as conn:
            value: str | None = (await conn.execute(stmt)).scalar_one_or_none()
        if value is None:
            async with self._ctx.writing() as conn:
                await conn.execute(
                    self._ctx.insert(install_secrets)
                    .values(name=SECRET_NAME, value=secrets.token_hex(32), created_at=_now())
                    .on_conflict_do_nothing(index_elements=["name"])
                )
                value = (await conn.execute(stmt)).scalar_one()
        self._secret = bytes.fromhex(value)
        return self._secret

    # ------------------------------------------------------------------ recording

    async def record(
        self, target: Target, paper_id: str, user_hash: str, action: str
    ) -> FeedbackState:
        """Record `action` (up, down, save, clear) of one user on one paper."""
        if action not in ("up", "down", "save", "clear"):
            raise ValueError(f"unknown feedback action {action!r}")
        now = _now()
        t = feedback_votes
        async with self._ctx.writing() as conn:
            known = (
                await conn.execute(sa.select(papers.c.id).where(papers.c.id == paper_id))
            ).scalar_one_or_none()
            if known is None:
                raise UnknownPaperError(paper_id)
            target_id = await _ensure_target(self._ctx, conn, target)
            key = sa.and_(
                t.c.target_id == target_id, t.c.paper_id == paper_id, t.c.user_hash == user_hash
            )
            row = (await conn.execute(sa.select(t.c.vote, t.c.saved_at).where(key))).first()
            before = (row.vote, row.saved_at is not None) if row is not None else (NONE, False)
            if action == "clear":
                if row is not None:
                    await conn.execute(sa.delete(t).where(key))
                return FeedbackState(NONE, False, changed=row is not None)
            vote, saved = before
            if action == "up":
                vote = UP
            elif action == "down":
                vote = DOWN
            else:
                saved = True
            if (vote, saved) == before and row is not None:
                return FeedbackState(vote, saved, changed=False)
            values = {
                "vote": vote,
                "updated_at": now,
                "voted_at": now if action in ("up", "down") else None,
                "saved_at": now if saved else None,
            }
            if row is None:
                await conn.execute(
                    self._ctx.insert(t)
                    .values(target_id=target_id, paper_id=paper_id, user_hash=user_hash, **values)
                    .on_conflict_do_nothing(index_elements=["target_id", "paper_id", "user_hash"])
                )
            else:
                changes = {"vote": vote, "updated_at": now}
                if action in ("up", "down"):
                    changes["voted_at"] = now
                if action == "save":
                    changes["saved_at"] = now
                await conn.execute(sa.update(t).where(key).values(**changes))
        return FeedbackState(vote, saved, changed=True)

    async def reset(self, target: Target) -> int:
        """Forget the channel's votes (its reading list stays; saves made before now no
        longer teach its model). Returns how many votes were cleared."""
        now = _now()
        t = feedback_votes
        async with self._ctx.writing() as conn:
            target_id = await _ensure_target(self._ctx, conn, target)
            mine = t.c.target_id == target_id
            cleared = (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(t).where(mine, t.c.vote != NONE)
                )
            ).scalar_one()
            await conn.execute(sa.delete(t).where(mine, t.c.saved_at.is_(None)))
            await conn.execute(sa.update(t).where(mine).values(vote=NONE, voted_at=None))
            await self._upsert_settings(conn, target_id, now, reset_at=now)
        return int(cleared)

    # ------------------------------------------------------------------ options

    async def _upsert_settings(
        self,
        conn: AsyncConnection,
        target_id: int,
        now: dt.datetime,
        **values: object,
    ) -> None:
        await conn.execute(
            self._ctx.insert(feedback_settings)
            .values(target_id=target_id, updated_at=now, **values)
            .on_conflict_do_update(index_elements=["target_id"], set_={"updated_at": now, **values})
        )

    async def set_suggest(self, target: Target, on: bool) -> None:
        async with self._ctx.writing() as conn:
            target_id = await _ensure_target(self._ctx, conn, target)
            await self._upsert_settings(conn, target_id, _now(), suggest=on)

    async def suggest(self, target: Target) -> bool:
        async with self._ctx.engine.connect() as conn:
            target_id = await _find_target(conn, target)
            if target_id is None:
                return False
            found = (
                await conn.execute(
                    sa.select(feedback_settings.c.suggest).where(
                        feedback_settings.c.target_id == target_id
                    )
                )
            ).scalar_one_or_none()
        return bool(found)

    async def suggesting(self, target_ids: Collection[int]) -> set[int]:
        """Those of `target_ids` with suggestions on."""
        out: set[int] = set()
        async with self._ctx.engine.connect() as conn:
            for chunk in chunks(sorted(set(target_ids))):
                rows = await conn.execute(
                    sa.select(feedback_settings.c.target_id).where(
                        feedback_settings.c.target_id.in_(chunk), feedback_settings.c.suggest
                    )
                )
                out.update(row.target_id for row in rows)
        return out

    # ------------------------------------------------------------------ reading

    async def by_paper(self, target_ids: Iterable[int]) -> dict[int, list[PaperFeedback]]:
        """Each channel's feedback per paper since its last reset (saves made before a
        reset stay in the reading list but no longer count here)."""
        t, s = feedback_votes, feedback_settings
        since_reset = sa.or_(s.c.reset_at.is_(None), t.c.saved_at > s.c.reset_at)
        save = sa.case((sa.and_(t.c.saved_at.is_not(None), since_reset), 1), else_=0)
        stmt = (
            sa.select(
                t.c.target_id,
                t.c.paper_id,
                sa.func.sum(sa.case((t.c.vote == UP, 1), else_=0)).label("ups"),
                sa.func.sum(sa.case((t.c.vote == DOWN, 1), else_=0)).label("downs"),
                sa.func.sum(save).label("saves"),
                sa.func.max(t.c.updated_at).label("latest"),
            )
            .select_from(t.outerjoin(s, s.c.target_id == t.c.target_id))
            .group_by(t.c.target_id, t.c.paper_id)
        )
        out: dict[int, list[PaperFeedback]] = {}
        ids = sorted(set(target_ids))
        async with self._ctx.engine.connect() as conn:
            for chunk in chunks(ids):
                for row in await conn.execute(stmt.where(t.c.target_id.in_(chunk))):
                    if not (row.ups or row.downs or row.saves):
                        continue
                    out.setdefault(row.target_id, []).append(
                        PaperFeedback(
                            row.paper_id,
                            int(row.ups),
                            int(row.downs),
                            int(row.saves),
                            row.latest,
                        )
                    )
        return out

    async def for_target(self, target: Target) -> list[PaperFeedback]:
        async with self._ctx.engine.connect() as conn:
            target_id = await _find_target(conn, target)
        if target_id is None:
            return []
        return (await self.by_paper([target_id])).get(target_id, [])

    async def counts(self, target: Target) -> FeedbackCounts:
        t, s = feedback_votes, feedback_settings
        async with self._ctx.engine.connect() as conn:
            target_id = await _find_target(conn, target)
            if target_id is None:
                return FeedbackCounts()
            mine = t.c.target_id == target_id
            row = (
                await conn.execute(
                    sa.select(
                        sa.func.coalesce(sa.func.sum(sa.case((t.c.vote == UP, 1), else_=0)), 0),
                        sa.func.coalesce(sa.func.sum(sa.case((t.c.vote == DOWN, 1), else_=0)), 0),
                        sa.func.count(t.c.saved_at),
                        sa.func.count(sa.distinct(t.c.paper_id)),
                        sa.func.count(sa.distinct(t.c.user_hash)),
                    ).where(mine)
                )
            ).one()
            reset_at = (
                await conn.execute(sa.select(s.c.reset_at).where(s.c.target_id == target_id))
            ).scalar_one_or_none()
        return FeedbackCounts(
            int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), reset_at
        )

    async def reading_list(self, target: Target) -> ReadingList:
        """The channel's saved papers, newest save first, and who saved how many."""
        t = feedback_votes
        async with self._ctx.engine.connect() as conn:
            target_id = await _find_target(conn, target)
            if target_id is None:
                return ReadingList([], [])
            saved = sa.and_(t.c.target_id == target_id, t.c.saved_at.is_not(None))
            rows = await conn.execute(
                sa.select(
                    t.c.paper_id,
                    sa.func.max(t.c.saved_at).label("latest"),
                    sa.func.count().label("savers"),
                )
                .where(saved)
                .group_by(t.c.paper_id)
                .order_by(sa.func.max(t.c.saved_at).desc(), t.c.paper_id)
            )
            listed = [SavedPaper(r.paper_id, r.latest, int(r.savers)) for r in rows]
            people = await conn.execute(
                sa.select(t.c.user_hash, sa.func.count().label("n"))
                .where(saved)
                .group_by(t.c.user_hash)
                .order_by(sa.func.count().desc(), t.c.user_hash)
            )
            savers = [(r.user_hash, int(r.n)) for r in people]
        return ReadingList(listed, savers)

    async def papers_listed(self, first: dt.date, last: dt.date) -> builtins.list[str]:
        """Ids of the archived papers listed on the days `first`..`last` (their daily
        date: the Hugging Face list, or the arXiv announcement)."""
        stmt = (
            sa.select(papers.c.id)
            .where(papers.c.daily_date >= first, papers.c.daily_date <= last)
            .order_by(papers.c.daily_date, papers.c.id)
        )
        async with self._ctx.engine.connect() as conn:
            return [row.id for row in await conn.execute(stmt)]
