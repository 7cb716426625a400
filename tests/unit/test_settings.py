"""Settings: env names, secrets, and the example file kept complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.env"


def test_example_env_lists_every_setting() -> None:
    text = EXAMPLE.read_text()
    missing = [n for n in Settings.model_fields if f"PAPERBOY_{n.upper()}=" not in text]
    assert missing == []


def test_tokens_are_secret_and_short_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-value")
    monkeypatch.setenv("PAPERBOY_DISCORD_TOKEN", "discord-secret-value")
    settings = Settings(_env_file=None)
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-secret-value"
    shown = repr(settings) + str(settings)
    assert "xoxb-secret-value" not in shown and "discord-secret-value" not in shown


def test_demo_queries_from_a_semicolon_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_DEMO_QUERIES", 'LoRA; "pipeline parallelism", MoE')
    assert Settings(_env_file=None).demo_queries == ["LoRA", '"pipeline parallelism", MoE']
