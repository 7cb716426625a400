"""`/papers schedule | pause | resume | settings` through `Commands.handle`."""

from __future__ import annotations

import pytest

from paperboy.chat import CommandContext
from paperboy.commands import Commands
from paperboy.models import Target
from paperboy.store import Store

TARGET = Target("slack", "T1", "C1")
CTX = CommandContext(TARGET, user="U1")
MEMBER = CommandContext(TARGET, user="U2", can_manage=False)


@pytest.fixture
def changes() -> list[int]:
    """One entry per schedule change the commands report to their listener."""
    return []


@pytest.fixture
def commands(store: Store, changes: list[int]) -> Commands:
    return Commands(store, on_schedule_change=lambda: changes.append(1))


async def test_schedule_time_zone_and_days(
    commands: Commands, store: Store, changes: list[int]
) -> None:
    reply = await commands.handle(CTX, "/papers schedule 8:30 Europe/Berlin mon,wed,fri")
    assert reply.ok, reply.text
    assert "08:30 Europe/Berlin, mon,wed,fri" in reply.text and "next:" in reply.text
    settings = await store.settings.get(TARGET)
    assert (settings.schedule_time, settings.timezone) == ("08:30", "Europe/Berlin")
    assert settings.days == ("mon", "wed", "fri") and settings.schedule_enabled
    assert changes == [1]

    reply = await commands.handle(CTX, "/papers schedule 07:00 daily")
    assert "07:00 Europe/Berlin, daily" in reply.text
    reply = await commands.handle(CTX, "/papers schedule 07:00 weekdays America/New_York")
    assert "07:00 America/New_York, weekdays" in reply.text
    assert (await store.settings.get(TARGET)).days == ("mon", "tue", "wed", "thu", "fri")

    reply = await commands.handle(CTX, "/papers schedule off")
    assert reply.ok and "off" in reply.text
    assert not (await store.settings.get(TARGET)).schedule_enabled
    reply = await commands.handle(CTX, "/papers schedule")
    assert "Digests for this channel: off" in reply.text
    assert len(changes) == 4


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("/papers schedule 25:00", "not a time"),
        ("/papers schedule 9am", "not a time"),
        ("/papers schedule 09:00 Mars/Olympus", "not a time zone"),
        ("/papers schedule 09:00 Europe/Berlin UTC", "one time zone"),
        ("/papers schedule 09:00 funday", "not weekdays, daily"),
        ("/papers schedule off now", "takes nothing"),
        ("/papers schedule ²:00", "not a time"),  # "²".isdigit(), but int("²") fails
        ("/papers schedule 09:٣٠", "not a time"),  # digits, but not ASCII ones
        ("/papers schedule 99999999999999999999:00", "not a time"),
    ],
)
async def test_schedule_bad_input_is_one_usage_line(
    commands: Commands, store: Store, changes: list[int], line: str, problem: str
) -> None:
    reply = await commands.handle(CTX, line)
    assert not reply.ok
    assert problem in reply.text and "Usage: /papers schedule" in reply.text
    assert "\n" not in reply.text
    assert changes == []
    assert (await store.settings.get(TARGET)).schedule_time == "09:00"


async def test_pause_and_resume(commands: Commands, store: Store, changes: list[int]) -> None:
    reply = await commands.handle(CTX, "/papers pause")
    assert reply.ok and "resume" in reply.text
    settings = await store.settings.get(TARGET)
    assert settings.paused and "U1" in (settings.paused_reason or "")
    reply = await commands.handle(CTX, "/papers schedule")
    assert "paused" in reply.text
    reply = await commands.handle(CTX, "/papers resume")
    assert reply.ok and reply.text.startswith("Resumed")
    settings = await store.settings.get(TARGET)
    assert not settings.paused and settings.paused_reason is None
    reply = await commands.handle(CTX, "/papers resume")
    assert "was not paused" in reply.text
    assert len(changes) == 3
    assert not (await commands.handle(CTX, "/papers pause now")).ok


async def test_settings_show_and_change(commands: Commands, store: Store) -> None:
    reply = await commands.handle(CTX, "/papers settings")
    assert "max papers per digest: 20" in reply.text
    assert "post when nothing matched: off" in reply.text
    assert (await commands.handle(CTX, "/papers settings max 10")).ok
    assert (await commands.handle(CTX, "/papers settings min-upvotes 5")).ok
    reply = await commands.handle(CTX, "/papers settings post-empty on")
    assert "post when nothing matched: on" in reply.text
    settings = await store.settings.get(TARGET)
    assert (settings.max_papers, settings.min_upvotes, settings.post_empty) == (10, 5, True)
    numbers = ("max ²", "max ٣", "min-upvotes ²", "min-upvotes -1", "max 99999999999999999999")
    for bad in ("max 0", "max lots", "post-empty maybe", "colour blue", "max", *numbers):
        reply = await commands.handle(CTX, f"/papers settings {bad}")
        assert not reply.ok and "Usage: /papers settings" in reply.text, bad


async def test_members_may_look_but_not_change(commands: Commands, store: Store) -> None:
    assert (await commands.handle(MEMBER, "/papers settings")).ok
    assert (await commands.handle(MEMBER, "/papers schedule")).ok is False
    assert not (await commands.handle(MEMBER, "/papers settings max 3")).ok
    assert not (await commands.handle(MEMBER, "/papers pause")).ok
    assert (await store.settings.get(TARGET)).max_papers == 20


async def test_help_lists_the_new_commands(commands: Commands) -> None:
    text = (await commands.handle(CTX, "/papers help")).text
    for name in ("schedule", "pause", "resume", "settings"):
        assert f"/papers {name}" in text


async def test_summary_style_and_language_settings(commands: Commands, store: Store) -> None:
    reply = await commands.handle(CTX, "/papers settings")
    assert "summary: structured" in reply.text and "language: en (the default)" in reply.text
    reply = await commands.handle(CTX, "/papers settings summary tldr")
    assert reply.ok and "summary: tldr (one line)" in reply.text
    reply = await commands.handle(CTX, "/papers settings language ZH-hans")
    assert reply.ok and "language: zh-Hans" in reply.text
    # No model configured: the channel is told why its summaries stay English.
    assert "no summary model is configured" in reply.text and "in English" in reply.text
    settings = await store.settings.get(TARGET)
    assert (settings.summary_style, settings.language) == ("tldr", "zh-Hans")
    reply = await commands.handle(CTX, "/papers settings language default")
    assert reply.ok and "language: en (the default)" in reply.text
    assert (await store.settings.get(TARGET)).language is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("/papers settings summary long", "summary is one of structured, paragraph, tldr"),
        ("/papers settings language klingon-x", "is not a language tag"),
        ("/papers settings language", "give each option its value"),
    ],
)
async def test_bad_summary_settings_are_one_usage_line(
    commands: Commands, line: str, problem: str
) -> None:
    reply = await commands.handle(CTX, line)
    assert not reply.ok and problem in reply.text and "Usage: /papers settings" in reply.text
    assert "\n" not in reply.text


async def test_a_model_lifts_the_english_note(store: Store) -> None:
    commands = Commands(store, default_language="ko", summary_model="m")
    reply = await commands.handle(CTX, "/papers settings")
    assert "language: ko (the default)" in reply.text
    assert "no summary model" not in reply.text
