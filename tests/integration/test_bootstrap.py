"""The composition root: Settings in, the wired app out."""

from __future__ import annotations

import pytest

from paperboy.bootstrap import build_source, close_adapters, open_app
from paperboy.chat import CommandContext
from paperboy.models import Target
from paperboy.sources.file import FileSource
from paperboy.sources.huggingface import HuggingFaceSource
from paperboy.store import current_revision, head_revision
from paperboy_config import Settings


def settings_for(db_url: str, **values: object) -> Settings:
    return Settings(_env_file=None, database_url=db_url, source="sample", **values)


async def test_open_app_migrates_unless_told_not_to(db_url: str) -> None:
    async with open_app(settings_for(db_url), migrate=False):
        pass
    assert await current_revision(db_url) is None
    async with open_app(settings_for(db_url)) as app:
        assert await current_revision(db_url) == head_revision()
        target = Target("console", "", "demo")
        reply = await app.commands().handle(CommandContext(target), "subscribe LoRA")
        assert reply.ok, reply.text
        assert [s.query for s in await app.store.subscriptions.list(target)] == ["LoRA"]


async def test_sources_come_from_the_settings_given(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not from the environment: a source never reads settings by itself."""
    monkeypatch.setenv("PAPERBOY_HF_API_URL", "http://127.0.0.1:1/from-env/")
    given = settings_for(db_url, hf_api_url="http://127.0.0.1:9/given/", hf_retries=3)
    source = build_source(given, "hf")
    assert isinstance(source, HuggingFaceSource)
    assert (source.base_url, source.retries) == ("http://127.0.0.1:9/given/", 3)
    quick = build_source(given, "hf", hf_retries=0)
    assert isinstance(quick, HuggingFaceSource) and quick.retries == 0
    async with open_app(given, migrate=False) as app:
        assert isinstance(app.source(), FileSource)  # settings.source is "sample"
        hf = app.source("hf")
        assert isinstance(hf, HuggingFaceSource) and hf.base_url == "http://127.0.0.1:9/given/"


async def test_delivery_adapters_are_built_by_the_plugins(db_url: str) -> None:
    async with open_app(settings_for(db_url), migrate=False) as app:
        adapters = app.delivery_adapters()
        try:
            # The console is always there; Discord's webhook poster needs no token.
            assert {"console", "discord-webhook"} <= set(adapters)
        finally:
            await close_adapters(adapters)
        assert app.chat_adapters() == []  # no chat platform configured
