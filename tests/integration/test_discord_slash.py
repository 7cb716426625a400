"""`/papers` end to end: the real discord.py client, logged in to the fake Discord over
REST + gateway, answering slash commands with the real Commands and store."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from paperboy.bootstrap import open_app
from paperboy.chat import CommandContext
from paperboy.commands import Commands
from paperboy.models import Reply, Target
from paperboy.sources.file import FileSource
from paperboy.sources.registry import source_from_spec
from paperboy_adapters.discord.adapter import DiscordAdapter
from paperboy_config import Settings
from tests.fakes.discord import MANAGER, MEMBER, FakeDiscord, FakeInteraction, FakeMessage
from tests.fakes.discord.harness import running_bot

GUILD, CHANNEL = "111111111111111111", "222222222222222222"
TARGET = Target("discord", GUILD, CHANNEL)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EPHEMERAL = 64


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.add_channel(CHANNEL, guild_id=GUILD)
        yield server


@pytest.fixture
def commands(store) -> Commands:
    return Commands(store, source_from_spec("sample", Settings()))


@pytest.fixture
async def bot(fake: FakeDiscord, commands: Commands) -> AsyncIterator[DiscordAdapter]:
    # defer_after is generous: these tests look at answers, not at timing.
    async with running_bot(
        fake, commands.handle, defer_after=30.0, subscriptions=commands.store.subscriptions.list
    ) as adapter:
        yield adapter


async def papers(
    fake: FakeDiscord, sub: str, permissions: int = MANAGER, **options: str
) -> FakeMessage:
    interaction = await fake.slash(
        "papers", sub, options, guild_id=GUILD, channel_id=CHANNEL, permissions=permissions
    )
    return await interaction.answer()


def help_fields(answer: Any) -> list[str]:
    """The field names of the answer's help embed (`/papers help` is one embed)."""
    (embed,) = answer.body["embeds"]
    return [field["name"] for field in embed["fields"]]


async def test_logs_in_syncs_and_prints_the_invite(
    fake: FakeDiscord, commands: Commands, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_bot(fake, commands.handle) as bot:
        printed = capsys.readouterr().out
    session = fake.sessions[-1]
    assert session.identify is not None and session.identify["token"] == fake.token
    assert session.heartbeats >= 1
    # synced once, globally, as one /papers group with typed options
    assert [guild for guild, _ in fake.command_syncs] == [None]
    (papers_command,) = fake.global_commands
    subs = {o["name"]: o for o in papers_command["options"]}
    assert set(subs) >= {
        "subscribe",
        "unsubscribe",
        "list",
        "digest",
        "schedule",
        "pause",
        "resume",
        "settings",
        "help",
        "search",
        "weekly",
        "trends",
    }
    assert subs["subscribe"]["options"][0] | {"description": ""} == {
        "type": 3,
        "name": "query",
        "description": "",
        "required": True,
        "min_length": 1,
        "max_length": 500,
    }
    assert subs["unsubscribe"]["options"][0]["autocomplete"] is True
    assert papers_command["dm_permission"] is False
    assert bot.invite_url == (
        f"https://discord.com/oauth2/authorize?client_id={fake.application_id}"
        # Send Messages + Embed Links + Attach Files (the rollup's chart)
        "&scope=bot+applications.commands&permissions=51200"
    )
    assert bot.invite_url in printed


async def test_dev_guild_sync(fake: FakeDiscord, commands: Commands) -> None:
    async with running_bot(fake, commands.handle, dev_guild=int(GUILD)):
        assert [guild for guild, _ in fake.command_syncs] == [GUILD]
        assert fake.global_commands == []
        assert fake.guild_commands[GUILD][0]["name"] == "papers"
        answer = await papers(fake, "help")
        assert "`/papers subscribe <query>`" in help_fields(answer)  # help: an embed


async def test_subscribe_list_unsubscribe_with_autocomplete(
    fake: FakeDiscord, bot: DiscordAdapter, store
) -> None:
    first = await papers(fake, "subscribe", query="LoRA")
    assert re.fullmatch(r"Subscribed #\d+: LoRA", first.content)
    assert first.flags & EPHEMERAL
    assert first.body["allowed_mentions"] == {"parse": []}
    second = await papers(fake, "subscribe", query='"pipeline parallelism"')
    assert second.content.startswith("Subscribed #")

    listed = await papers(fake, "list")
    assert "LoRA" in listed.content and "pipeline parallelism" in listed.content

    typing = await fake.autocomplete(
        "papers",
        "unsubscribe",
        {"subscription": "pipe"},
        "subscription",
        guild_id=GUILD,
        channel_id=CHANNEL,
    )
    choices = await typing.autocomplete_choices()
    subs = await store.subscriptions.list(TARGET)
    pipeline = next(s for s in subs if "pipeline" in s.query)
    assert choices == [{"name": f"#{pipeline.id} {pipeline.query}", "value": str(pipeline.id)}]
    everything = await fake.autocomplete(
        "papers",
        "unsubscribe",
        {"subscription": ""},
        "subscription",
        guild_id=GUILD,
        channel_id=CHANNEL,
    )
    assert len(await everything.autocomplete_choices()) == 2

    gone = await papers(fake, "unsubscribe", subscription=choices[0]["value"])
    assert gone.content.startswith(f"Unsubscribed #{pipeline.id}")
    assert [s.query for s in await store.subscriptions.list(TARGET)] == ["LoRA"]


async def test_permission_refusal(fake: FakeDiscord, bot: DiscordAdapter, store) -> None:
    refused = await papers(fake, "subscribe", permissions=MEMBER, query="LoRA")
    assert "Manage Channels" in refused.content
    assert refused.flags & EPHEMERAL
    assert await store.subscriptions.list(TARGET) == []
    # reading is for everyone
    listed = await papers(fake, "list", permissions=MEMBER)
    assert "no subscriptions" in listed.content


async def test_manage_channels_requirement_can_be_relaxed(
    fake: FakeDiscord, commands: Commands, store
) -> None:
    async with running_bot(fake, commands.handle, require_manage_channels=False):
        answer = await papers(fake, "subscribe", permissions=MEMBER, query="LoRA")
        assert answer.content.startswith("Subscribed #")
    assert [s.query for s in await store.subscriptions.list(TARGET)] == ["LoRA"]


async def test_bad_query_answered_with_the_column(
    fake: FakeDiscord, bot: DiscordAdapter, store
) -> None:
    answer = await papers(fake, "subscribe", query='LoRA "abc')
    assert "column 6" in answer.content
    assert await store.subscriptions.list(TARGET) == []


async def test_untrusted_text_in_answers_pings_nobody(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    answer = await papers(fake, "subscribe", query="@everyone <@123456789012345678> **x**")
    assert answer.content.startswith("Subscribed #")
    assert "@everyone" not in answer.content and "<@1" not in answer.content
    assert answer.live_mentions == []


async def test_digest_preview_is_embeds(fake: FakeDiscord, bot: DiscordAdapter) -> None:
    await papers(fake, "subscribe", query="model, LoRA")
    answer = await papers(fake, "digest", date="2024-11-11")
    assert answer.content.startswith("**Papers for 2024-11-11**")
    assert 1 <= len(answer.embeds) <= 10
    first = answer.embeds[0]
    assert first["url"].startswith("https://arxiv.org/abs/")  # the title links arXiv everywhere
    assert {f["name"] for f in first["fields"]} >= {"Votes", "Matched", "Links"}
    assert fake.rejections == []


async def test_long_digest_answers_with_follow_ups(
    fake: FakeDiscord, store, tmp_path: Path
) -> None:
    """23 papers: one response and four follow-ups (five papers a message, each with its
    row of feedback buttons), every paper shown once."""
    items = json.loads((FIXTURES / "hf_daily_papers_2024-11-11.json").read_text())
    many = []
    for n in range(23):
        item = json.loads(json.dumps(items[n % len(items)]))
        item["paper"]["id"] = f"2411.9{n:04d}"
        item["paper"]["title"] = f"LoRA study number {n}"
        many.append(item)
    day_file = tmp_path / "many.json"
    day_file.write_text(json.dumps(many))
    commands = Commands(store, FileSource(day_file))
    await store.settings.update(TARGET, max_papers=50)
    async with running_bot(fake, commands.handle, defer_after=30.0):
        await papers(fake, "subscribe", query="LoRA")
        interaction = await fake.slash(
            "papers", "digest", {"date": "2024-11-11"}, guild_id=GUILD, channel_id=CHANNEL
        )
        messages = await interaction.wait_messages(5)
    assert [len(m.embeds) for m in messages] == [5, 5, 5, 5, 3]
    assert [len(m.components) for m in messages] == [5, 5, 5, 5, 3]
    titles = [e["title"] for m in messages for e in m.embeds]
    assert sorted(titles) == sorted(f"LoRA study number {n}" for n in range(23))
    assert all(m.flags & EPHEMERAL for m in messages)
    assert fake.rejections == []


async def test_slow_command_is_deferred_then_answered(
    fake: FakeDiscord, commands: Commands
) -> None:
    release = asyncio.Event()

    async def slow(ctx: CommandContext, line: str) -> Reply:
        await release.wait()  # held until the test has seen the deferral
        return await commands.handle(ctx, line)

    async with running_bot(fake, slow, defer_after=0.5):
        interaction = await fake.slash("papers", "help", guild_id=GUILD, channel_id=CHANNEL)
        await interaction.wait_for(lambda: interaction.deferred)
        assert interaction.messages == []  # "thinking…", nothing shown yet
        release.set()
        answer = await interaction.answer()
    assert [c["type"] for c in interaction.callbacks] == [5]  # deferred, thinking
    assert interaction.callbacks[0]["data"]["flags"] == EPHEMERAL
    assert "`/papers subscribe <query>`" in help_fields(answer)  # the deferred answer, edited in
    assert answer.flags & EPHEMERAL


async def test_every_subcommand_reaches_the_core_as_a_text_line(fake: FakeDiscord) -> None:
    seen: list[tuple[CommandContext, str]] = []

    async def handler(ctx: CommandContext, line: str) -> Reply:
        seen.append((ctx, line))
        return Reply("ok")

    calls: list[tuple[str, dict[str, str], str]] = [
        (
            "subscribe",
            {"query": 'LoRA, "pipeline parallelism"'},
            'subscribe LoRA, "pipeline parallelism"',
        ),
        ("unsubscribe", {"subscription": "3"}, "unsubscribe 3"),
        ("list", {}, "list"),
        ("digest", {}, "digest"),
        ("digest", {"date": "2024-11-11"}, "digest 2024-11-11"),
        (
            "schedule",
            {"time": "09:30", "timezone": "Europe/Berlin", "days": "mon-fri"},
            "schedule 09:30 Europe/Berlin mon-fri",
        ),
        ("schedule", {"time": "off"}, "schedule off"),
        ("pause", {}, "pause"),
        ("resume", {}, "resume"),
        ("settings", {}, "settings"),
        ("help", {}, "help"),
        ("search", {"query": "mixture of experts"}, "search mixture of experts"),
    ]
    async with running_bot(fake, handler, defer_after=30.0):
        for sub, options, _ in calls:
            await papers(fake, sub, permissions=MEMBER, **options)
        zones: FakeInteraction = await fake.autocomplete(
            "papers",
            "schedule",
            {"time": "09:00", "timezone": "berl"},
            "timezone",
            guild_id=GUILD,
            channel_id=CHANNEL,
        )
        assert {"name": "Europe/Berlin", "value": "Europe/Berlin"} in (
            await zones.autocomplete_choices()
        )
    assert [line for _, line in seen] == [line for _, _, line in calls]
    ctx = seen[0][0]
    assert ctx.target == TARGET
    assert ctx.user == "900000000000000001"
    assert ctx.can_manage is False  # MEMBER has no Manage Channels


async def test_refused_token_fails_start_and_restores_the_rest_base(fake: FakeDiscord) -> None:
    from discord import LoginFailure
    from discord.http import Route

    before = Route.BASE
    adapter = DiscordAdapter("not-the-token", api_url=fake.api_url)
    with pytest.raises(LoginFailure):
        await asyncio.wait_for(adapter.start(lambda ctx, line: None), 15)
    assert Route.BASE == before
    assert fake.sessions == []


async def test_the_app_gives_the_adapter_its_subscriptions(fake: FakeDiscord, db_url: str) -> None:
    """The Discord adapter built by the composition root lists a channel's subscriptions
    (autocomplete) through what the plugin contract passes it, whatever handler it gets."""
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        source="sample",
        discord_token=fake.token,
        discord_api_url=fake.api_url,
    )
    async with open_app(settings) as app:
        adapter = app.chat_adapter("discord")
        assert isinstance(adapter, DiscordAdapter)
        adapter.client_options["guild_ready_timeout"] = 0.05
        commands = app.commands()

        async def handler(ctx: CommandContext, text: str) -> Reply:  # not a bound method
            return await commands.handle(ctx, text)

        async with running_bot(fake, handler, adapter=adapter):
            await papers(fake, "subscribe", query="LoRA")
            typing = await fake.autocomplete(
                "papers",
                "unsubscribe",
                {"subscription": ""},
                "subscription",
                guild_id=GUILD,
                channel_id=CHANNEL,
            )
            (sub,) = await app.store.subscriptions.list(TARGET)
            assert await typing.autocomplete_choices() == [
                {"name": f"#{sub.id} LoRA", "value": str(sub.id)}
            ]
