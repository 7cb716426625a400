"""Feedback on Discord end to end: the real discord.py client against the fake Discord
(REST + gateway): feedback buttons on digests within Discord's five action rows, clicks as
MESSAGE_COMPONENT interactions answered with an ephemeral "noted", tampered clicks
refused, and the reading list attached as a BibTeX file."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from paperboy.clock import ManualClock
from paperboy.commands import Commands
from paperboy.delivery import DueDigest
from paperboy.feedback import signer
from paperboy.models import Target
from paperboy.sources.registry import source_from_spec
from paperboy.store import Store
from paperboy_adapters.discord.render import feedback_id, parse_feedback_id
from paperboy_config import Settings
from tests.fakes.discord import FakeDiscord, FakeMessage
from tests.fakes.discord.harness import running_bot
from tests.integration.delivery_support import MONDAY, deliverer_for, lora_papers, planner_for

GUILD, CHANNEL, OTHER = "111111111111111111", "222222222222222222", "333333333333333333"
TARGET = Target("discord", GUILD, CHANNEL)
EPHEMERAL = 64


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(CHANNEL, guild_id=GUILD)
        server.add_channel(OTHER, guild_id=GUILD)
        yield server


@pytest.fixture
def commands(store: Store) -> Commands:
    return Commands(store, source_from_spec("sample", Settings(_env_file=None)))


@pytest.fixture
async def bot(fake: FakeDiscord, commands: Commands):
    async with running_bot(fake, commands.handle, defer_after=30.0) as adapter:
        yield adapter


async def deliver(store: Store, bot, count: int) -> int:
    clock = ManualClock(MONDAY)
    target_id = await store.targets.ensure(TARGET)
    await store.subscriptions.add(TARGET, "LoRA")
    await store.papers.upsert(lora_papers(count), seen_at=clock.now() - dt.timedelta(hours=1))
    result = await planner_for(store, [bot], clock).plan([DueDigest(target_id, MONDAY.date())])
    await deliverer_for(store, [bot], clock).run_until_idle()
    return result.parts


def buttons(messages: list[FakeMessage]) -> dict[str, dict[str, str]]:
    """paper id -> {vote: custom_id} over the messages' components."""
    found: dict[str, dict[str, str]] = {}
    for message in messages:
        for row in message.components:
            for button in row["components"]:
                parsed = parse_feedback_id(button["custom_id"])
                if parsed is not None:
                    found.setdefault(parsed[1], {})[parsed[0]] = button["custom_id"]
    return found


def message_of(messages: list[FakeMessage], custom_id: str) -> FakeMessage:
    return next(
        m
        for m in messages
        for row in m.components
        for b in row["components"]
        if b["custom_id"] == custom_id
    )


async def votes(store: Store) -> list[tuple[str, int, bool]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT paper_id, vote, saved_at IS NOT NULL AS saved FROM feedback_votes"
                " ORDER BY paper_id, user_hash"
            )
        )
        return [(r.paper_id, r.vote, bool(r.saved)) for r in rows]


async def test_digest_buttons_fit_five_rows_and_clicks_are_noted_once(
    fake: FakeDiscord, bot, store: Store
) -> None:
    parts = await deliver(store, bot, 12)
    posted = fake.channel_messages(CHANNEL)
    assert len(posted) == parts == 3  # five papers a message: one row of buttons each
    assert fake.rejections == []
    for message in posted:
        assert len(message.embeds) <= 5 and len(message.components) == len(message.embeds)
        assert all(len(row["components"]) == 3 for row in message.components)
    found = buttons(posted)
    assert len(found) == 12 and all(set(v) == {"up", "down", "save"} for v in found.values())

    paper_id, ids = next(iter(found.items()))
    clicked = await fake.click(message_of(posted, ids["up"]), ids["up"])
    answer = await clicked.answer()
    assert answer.flags & EPHEMERAL and "noted" in answer.content.lower()
    again = await fake.click(message_of(posted, ids["up"]), ids["up"])
    assert "already noted" in (await again.answer()).content.lower()
    assert await votes(store) == [(paper_id, 1, False)]
    down = await fake.click(message_of(posted, ids["down"]), ids["down"])
    await down.answer()
    save = await fake.click(
        message_of(posted, ids["save"]), ids["save"], user_id="900000000000000002"
    )
    assert "saved" in (await save.answer()).content.lower()
    assert sorted(await votes(store)) == [(paper_id, -1, False), (paper_id, 0, True)]
    # The digest messages themselves are unchanged (the answers are ephemeral).
    assert len(fake.channel_messages(CHANNEL)) == 3 + 4 and all(
        m.flags & EPHEMERAL for m in fake.channel_messages(CHANNEL)[3:]
    )


async def test_tampered_clicks_are_refused(fake: FakeDiscord, bot, store: Store) -> None:
    await deliver(store, bot, 2)
    posted = fake.channel_messages(CHANNEL)
    _, ids = next(iter(buttons(posted).items()))
    message = message_of(posted, ids["up"])
    # The button's payload claiming another channel of the server.
    moved = await fake.click(message, ids["up"], channel_id=OTHER, forged=True)
    assert "does not belong" in (await moved.answer()).content
    # The paper edited in the custom_id: the token no longer matches.
    token = ids["up"].split(":")[-1]
    edited = await fake.click(message, feedback_id("up", "2411.90001", token), forged=True)
    assert "does not belong" in (await edited.answer()).content
    # A valid token of this channel for a paper the archive does not hold.
    sign = await signer(store)
    ghost = feedback_id("up", "2499.99999", sign.token(TARGET, "2499.99999"))
    unknown = await fake.click(message, ghost, forged=True)
    assert "No paper 2499.99999" in (await unknown.answer()).content
    assert await votes(store) == []


async def test_search_results_carry_buttons_and_saved_export_attaches_bibtex(
    fake: FakeDiscord, bot, store: Store
) -> None:
    async def papers(sub: str, **options: object) -> FakeMessage:
        interaction = await fake.slash("papers", sub, options, guild_id=GUILD, channel_id=CHANNEL)
        return await interaction.answer()

    await papers("subscribe", query="LoRA")
    await papers("digest", date="2024-11-11")
    found = await papers("search", query="LoRA")
    assert fake.rejections == []
    hit_buttons = buttons([found])
    assert "2411.02462" in hit_buttons
    save_id = hit_buttons["2411.02462"]["save"]
    saved = await fake.click(found, save_id)
    assert "saved" in (await saved.answer()).content.lower()
    listed = await papers("saved")
    assert "2411.02462" in listed.content and "900000000000000001" not in listed.content
    interaction = await fake.slash(
        "papers", "saved", {"export": True}, guild_id=GUILD, channel_id=CHANNEL
    )
    [_, attached] = await interaction.wait_messages(2)
    assert not attached.flags & EPHEMERAL
    [upload] = attached.files
    assert upload.filename.endswith(".bib") and b"eprint = {2411.02462}" in upload.data
    summary = await papers("feedback")
    assert "1 🔖" in summary.content
