"""Discord's `/papers settings`: a typed, optional option for every setting; the values a
member picks reach the core as one `/papers settings` line and change the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paperboy.commands import Commands
from paperboy.models import Target
from paperboy_adapters.discord.slash import SETTINGS_OPTIONS
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.harness import running_bot
from tests.integration.test_discord_slash import CHANNEL, GUILD, papers

TARGET = Target("discord", GUILD, CHANNEL)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(CHANNEL, guild_id=GUILD)
        yield server


def settings_schema(fake: FakeDiscord) -> dict[str, dict]:
    (group,) = fake.global_commands
    sub = next(o for o in group["options"] if o["name"] == "settings")
    return {o["name"]: o for o in sub.get("options", [])}


async def test_every_setting_is_a_typed_optional_option(fake: FakeDiscord, store) -> None:
    async with running_bot(fake, Commands(store).handle, defer_after=30.0):
        options = settings_schema(fake)
    assert list(options) == [o.name for o in SETTINGS_OPTIONS]
    assert {"max", "min-upvotes", "post-empty"} <= set(options)
    assert not any(o.get("required") for o in options.values())
    assert options["max"]["type"] == 4 and options["max"]["min_value"] == 1
    assert options["max"]["max_value"] == 100
    assert options["min-upvotes"]["type"] == 4 and options["min-upvotes"]["min_value"] == 0
    assert options["post-empty"]["type"] == 5
    assert all(o["description"] and len(o["description"]) <= 100 for o in options.values())


async def test_chosen_options_change_the_channel(fake: FakeDiscord, store) -> None:
    commands = Commands(store)
    async with running_bot(fake, commands.handle, defer_after=30.0):
        answer = await papers(fake, "settings", **{"max": 7, "min-upvotes": 3, "post-empty": True})
        assert "max papers per digest: 7" in answer.content
        changed = await store.settings.get(TARGET)
        assert (changed.max_papers, changed.min_upvotes, changed.post_empty) == (7, 3, True)
        shown = await papers(fake, "settings")  # no option: the settings as they are
        assert "minimum upvotes: 3" in shown.content
        await papers(fake, "settings", **{"post-empty": False})
        assert (await store.settings.get(TARGET)).post_empty is False
        assert (await store.settings.get(TARGET)).max_papers == 7  # the others untouched


async def test_the_client_refuses_a_value_out_of_range(fake: FakeDiscord, store) -> None:
    async with running_bot(fake, Commands(store).handle, defer_after=30.0):
        with pytest.raises(ValueError, match="max"):
            await papers(fake, "settings", max=0)
        with pytest.raises(ValueError, match="post-empty"):
            await papers(fake, "settings", **{"post-empty": "maybe"})


async def test_the_core_takes_several_options_all_or_none(store) -> None:
    from paperboy.chat import CommandContext

    commands = Commands(store)
    ctx = CommandContext(TARGET, user="u")
    await store.targets.ensure(TARGET)
    bad = await commands.handle(ctx, "settings max 5 min-upvotes lots")
    assert not bad.ok and "min-upvotes needs a whole number" in bad.text
    assert (await store.settings.get(TARGET)).max_papers != 5  # nothing changed
    odd = await commands.handle(ctx, "settings max 5 min-upvotes")
    assert not odd.ok and "Usage: /papers settings" in odd.text
    good = await commands.handle(ctx, "settings max 5 min-upvotes 2 post-empty on")
    assert good.ok and "max papers per digest: 5" in good.text
