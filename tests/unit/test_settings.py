"""Settings: env names, secrets, and the example file kept complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from paperboy_config import settings_problems
from paperboy_config.settings import Settings

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


def test_time_zone_and_log_level_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_DEFAULT_TZ", "Europe/Berlin")
    monkeypatch.setenv("PAPERBOY_LOG_LEVEL", "warn")
    settings = Settings(_env_file=None)
    assert settings.default_tz == "Europe/Berlin" and settings.log_level == "WARNING"
    for name, value in [("PAPERBOY_DEFAULT_TZ", "Mars/Olympus"), ("PAPERBOY_LOG_LEVEL", "loud")]:
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            with pytest.raises(ValidationError):
                Settings(_env_file=None)


def test_problems_never_repeat_a_secret() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, PAPERBOY_SLACK_BOT_TOKEN=987654321, hf_retries="x")
    lines = settings_problems(caught.value)
    assert len(lines) == 2 and not any("987654321" in line for line in lines)
    assert any(line.startswith("PAPERBOY_SLACK_BOT_TOKEN: ") for line in lines)
    assert (
        "PAPERBOY_HF_RETRIES=x: not a whole number; accepted: a whole number from 0 to 10"
    ) in lines


def test_problems_hide_a_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", "mysql://app:hunter2@db.example/papers")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    (line,) = settings_problems(caught.value)
    assert "hunter2" not in line
    assert line.startswith("PAPERBOY_DATABASE_URL=mysql://app:***@db.example/papers: ")


def test_problems_hide_a_password_given_as_a_query_parameter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", "mysql://db.example/papers?password=hunter2")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    (line,) = settings_problems(caught.value)
    assert "hunter2" not in line
    assert line.startswith("PAPERBOY_DATABASE_URL=mysql://db.example/papers?password=***: ")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///paperboy.db",
        "sqlite://",
        "sqlite+aiosqlite:///:memory:",
        "postgresql+asyncpg://app:p%40ss@db.example:5432/papers?ssl=require",
        "postgres://db.example/papers",
        "postgresql://[::1]:5432/papers",
        "mysql://app:hunter2@db.example/papers",
        "postgresql://db.example:port/papers",
        "postgresql://db.example:/papers",
        "not a url",
        "",
        "://nothing",
        "sqlite:/one-slash.db",
    ],
)
def test_database_backend_reads_urls_as_sqlalchemy_does(url: str) -> None:
    """The setting's check reads a URL without importing SQLAlchemy, and agrees with it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from paperboy_config.settings import database_backend

    try:
        expected: str | None = make_url(url).get_backend_name()
    except (ArgumentError, ValueError):
        expected = None
    assert database_backend(url) == expected
