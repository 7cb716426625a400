"""All of paperboy's settings, read from `PAPERBOY_*` variables and an optional `.env`.

Tokens are `SecretStr`: they print as `**********` and are never logged.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PAPERBOY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///paperboy.db",
        description="SQLAlchemy async URL: an SQLite file by default, or postgresql+asyncpg://...",
    )
    hf_api_url: str = Field(
        default="https://huggingface.co/api/",
        description="Base URL of the Hugging Face API (daily_papers lives under it).",
    )
    hf_timeout: float = Field(default=20.0, gt=0, description="Seconds per HF request.")
    hf_retries: int = Field(default=4, ge=0, le=10, description="Retries after the first try.")
    hf_page_size: int = Field(default=50, ge=1, le=100)

    demo_queries: Annotated[list[str], NoDecode] = Field(
        default=["LoRA", "pipeline parallelism"],
        description="Subscriptions of the console channel on first start.",
    )
    console_channel: str = Field(default="demo", description="Channel name of the console adapter.")
    default_tz: str = Field(default="UTC", description="Time zone of a new channel's schedule.")
    source: str = Field(
        default="hf",
        description="Where `paperboy run` reads the day's papers: hf, sample or a path.",
    )

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PAPERBOY_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PAPERBOY_SLACK_APP_TOKEN", "SLACK_APP_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PAPERBOY_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
    )
    slack_api_url: str = "https://slack.com/api/"
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PAPERBOY_DISCORD_TOKEN", "DISCORD_TOKEN")
    )
    slack_thread_digests: bool = Field(
        default=False, description="Post a long digest as a parent summary plus thread replies."
    )
    slack_port: int = Field(default=3000, description="Port of `paperboy serve` (HTTP mode).")
    discord_api_url: str | None = Field(
        default=None, description="Discord REST base URL (a test server); default Discord's own."
    )
    discord_dev_guild: int | None = Field(
        default=None, description="Sync the slash commands to this guild only (instant)."
    )
    discord_require_manage_channels: bool = Field(
        default=True,
        description="Changing a channel's subscriptions needs Manage Channels (Discord).",
    )

    log_level: str = "INFO"

    @field_validator("demo_queries", mode="before")
    @classmethod
    def _split_queries(cls, value: object) -> object:
        # `PAPERBOY_DEMO_QUERIES=LoRA;pipeline parallelism` as well as a JSON list.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @field_validator("hf_api_url", "slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
