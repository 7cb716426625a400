"""Feedback in the store (SQLite and PostgreSQL): one row per (channel, paper, user),
idempotent clicks, replaced votes, hashed users, the reading list, reset, suggest."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from paperboy.errors import UnknownPaperError
from paperboy.feedback import examples, record, signer
from paperboy.models import Paper, Target
from paperboy.store import Store

LAB = Target("slack", "T1", "C1")
OTHER = Target("discord", "G1", "42")
DAY = dt.date(2024, 11, 11)


def paper(pid: str, title: str = "A paper", **fields: object) -> Paper:
    return Paper(id=pid, title=title, daily_date=DAY, **fields)  # type: ignore[arg-type]


@pytest.fixture
async def archived(store: Store) -> Store:
    await store.papers.upsert(
        [paper("2411.00001", "LoRA adapters"), paper("2411.00002", "Pipeline parallelism")]
    )
    return store


async def rows(store: Store) -> list[dict[str, object]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT * FROM feedback_votes ORDER BY paper_id"))
        return [dict(r._mapping) for r in result]


async def test_a_second_click_counts_once_and_a_new_vote_replaces(archived: Store) -> None:
    first = await record(archived, LAB, "U0ALICE", "2411.00001", "up")
    again = await record(archived, LAB, "U0ALICE", "2411.00001", "up")
    assert first.changed and first.vote == 1
    assert not again.changed and again.vote == 1
    assert len(await rows(archived)) == 1
    down = await record(archived, LAB, "U0ALICE", "2411.00001", "down")
    assert down.changed and down.vote == -1
    [row] = await rows(archived)
    assert row["vote"] == -1
    counts = await archived.feedback.counts(LAB)
    assert (counts.ups, counts.downs, counts.people) == (0, 1, 1)


async def test_save_keeps_the_vote_and_clear_removes_everything(archived: Store) -> None:
    await record(archived, LAB, "U0ALICE", "2411.00001", "up")
    saved = await record(archived, LAB, "U0ALICE", "2411.00001", "save")
    assert saved.vote == 1 and saved.saved
    first_save = (await rows(archived))[0]["saved_at"]
    assert not (await record(archived, LAB, "U0ALICE", "2411.00001", "save")).changed
    assert (await rows(archived))[0]["saved_at"] == first_save
    cleared = await record(archived, LAB, "U0ALICE", "2411.00001", "clear")
    assert cleared.changed and await rows(archived) == []
    assert not (await record(archived, LAB, "U0ALICE", "2411.00001", "clear")).changed


async def test_unknown_paper_is_refused_and_nothing_written(archived: Store) -> None:
    with pytest.raises(UnknownPaperError):
        await record(archived, LAB, "U0ALICE", "2499.99999", "up")
    assert await rows(archived) == []
    assert await archived.targets.get_id(LAB) is None


async def test_users_are_stored_hashed_per_install(archived: Store) -> None:
    await record(archived, LAB, "U0ALICE", "2411.00001", "up")
    await record(archived, LAB, "U0BOB", "2411.00001", "up")
    stored = await rows(archived)
    assert len(stored) == 2
    text = repr(stored)
    assert "U0ALICE" not in text and "U0BOB" not in text
    sign = await signer(archived)
    assert {r["user_hash"] for r in stored} == {
        sign.user_hash("slack", "T1", "U0ALICE"),
        sign.user_hash("slack", "T1", "U0BOB"),
    }
    assert (await archived.feedback.secret()) == (await signer(archived)).secret


async def test_channels_are_apart(archived: Store) -> None:
    await record(archived, LAB, "U1", "2411.00001", "up")
    await record(archived, OTHER, "U1", "2411.00002", "down")
    lab, other = await archived.targets.get_id(LAB), await archived.targets.get_id(OTHER)
    assert lab is not None and other is not None
    taught = await examples(archived, [lab, other])
    assert [(e.paper.id, e.weight) for e in taught[lab]] == [("2411.00001", 1.0)]
    assert [(e.paper.id, e.weight) for e in taught[other]] == [("2411.00002", -1.0)]


async def test_reading_list_newest_first_with_counts_per_hashed_user(archived: Store) -> None:
    await record(archived, LAB, "U1", "2411.00001", "save")
    await record(archived, LAB, "U2", "2411.00001", "save")
    await record(archived, LAB, "U2", "2411.00002", "save")
    listing = await archived.feedback.reading_list(LAB)
    assert [p.paper_id for p in listing.papers] == ["2411.00002", "2411.00001"]
    assert [p.savers for p in listing.papers] == [1, 2]
    assert sorted(n for _, n in listing.savers) == [1, 2]
    assert all(len(h) == 32 and "U" not in h for h, _ in listing.savers)


async def test_reset_forgets_votes_but_keeps_the_reading_list(archived: Store) -> None:
    await record(archived, LAB, "U1", "2411.00001", "up")
    await record(archived, LAB, "U1", "2411.00002", "save")
    assert await archived.feedback.reset(LAB) == 1
    lab = await archived.targets.get_id(LAB)
    assert lab is not None
    assert await examples(archived, [lab]) == {}
    assert [p.paper_id for p in (await archived.feedback.reading_list(LAB)).papers] == [
        "2411.00002"
    ]
    await record(archived, LAB, "U1", "2411.00001", "down")
    assert [(e.paper.id, e.weight) for e in (await examples(archived, [lab]))[lab]] == [
        ("2411.00001", -1.0)
    ]


async def test_suggest_is_off_until_turned_on(archived: Store) -> None:
    assert not await archived.feedback.suggest(LAB)
    await archived.feedback.set_suggest(LAB, True)
    assert await archived.feedback.suggest(LAB)
    lab = await archived.targets.get_id(LAB)
    assert await archived.feedback.suggesting([lab or 0]) == {lab}
    await archived.feedback.set_suggest(LAB, False)
    assert not await archived.feedback.suggest(LAB)


async def test_button_tokens_belong_to_one_channel_and_one_paper(archived: Store) -> None:
    sign = await signer(archived)
    token = sign.token(LAB, "2411.00001")
    assert sign.check(LAB, "2411.00001", token)
    assert not sign.check(OTHER, "2411.00001", token)
    assert not sign.check(LAB, "2411.00002", token)
    assert not sign.check(LAB, "2411.00001", token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not sign.check(LAB, "2411.00001", "x" * 200)
