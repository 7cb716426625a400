"""All of paperboy's settings, read from `PAPERBOY_*` variables and an optional `.env`.

Tokens are `SecretStr`: they print as `**********` and are never logged.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# SQLAlchemy's own URL pattern (`sqlalchemy.engine.url._parse_url`), read here so that
# checking the setting does not import SQLAlchemy: commands without a database
# (`digest`) start without it. tests/unit/test_settings.py holds it to `make_url`.
_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


def database_backend(url: str) -> str | None:
    """The backend a database URL names (`sqlite`, `postgresql`, ...), as SQLAlchemy's
    `make_url(url).get_backend_name()` reads it; None when SQLAlchemy would refuse it."""
    match = _URL.match(url)
    if match is None:
        return None
    port = match.group("port")
    if port is not None:  # "host:" too: SQLAlchemy refuses an empty port
        try:
            int(port)
        except ValueError:
            return None
    return match.group("name").split("+")[0]


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
        json_schema_extra={
            "accepted": "sqlite+aiosqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB"
        },
    )
    hf_api_url: str = Field(
        default="https://huggingface.co/api/",
        description="Base URL of the Hugging Face API (daily_papers lives under it).",
    )
    hf_timeout: float = Field(
        default=20.0, gt=0, description="Seconds for a whole HF request, body included."
    )
    hf_retries: int = Field(default=4, ge=0, le=10, description="Retries after the first try.")
    hf_page_size: int = Field(default=50, ge=1, le=100)
    hf_concurrency: int = Field(
        default=4, ge=1, le=4, description="HF requests in flight during a backfill (at most 4)."
    )

    # arXiv (bot/sources/arxiv.py): its terms ask for one request every 3 s, one at a time.
    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/",
        description="Base URL of the arXiv API (`query` lives under it): past days.",
    )
    arxiv_rss_url: str = Field(
        default="https://rss.arxiv.org/rss/",
        description="Base URL of the arXiv RSS feeds: the latest announcement.",
    )
    arxiv_categories: Annotated[list[str], NoDecode] = Field(
        default=["cs.CL", "cs.LG"],
        description="Categories to list, comma-separated: PAPERBOY_ARXIV_CATEGORIES=cs.CL,cs.LG",
        json_schema_extra={"accepted": "arXiv categories separated by commas, like cs.CL,cs.LG"},
    )
    arxiv_interval: float = Field(
        default=3.0, ge=0, description="Seconds between two arXiv requests (arXiv asks for 3)."
    )
    arxiv_timeout: float = Field(
        default=30.0, gt=0, description="Seconds for a whole arXiv request, body included."
    )
    arxiv_retries: int = Field(default=4, ge=0, le=10, description="Retries after the first try.")
    arxiv_page_size: int = Field(default=200, ge=1, le=2000)
    http_max_bytes: int = Field(
        default=50_000_000,
        ge=1,
        description="Largest response (decoded) or papers file a source reads, in bytes.",
    )

    demo_queries: Annotated[list[str], NoDecode] = Field(
        default=["LoRA", "pipeline parallelism"],
        description="Subscriptions of the console channel on first start.",
        json_schema_extra={"accepted": "queries separated by ; or a JSON list of strings"},
    )
    console_channel: str = Field(default="demo", description="Channel name of the console adapter.")
    default_tz: str = Field(
        default="UTC",
        description="Time zone of a new channel's schedule (an IANA name such as Europe/Berlin).",
        json_schema_extra={"accepted": "an IANA time zone such as UTC or Europe/Berlin"},
    )
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
    slack_port: int = Field(
        default=3000, ge=1, le=65535, description="Port of `paperboy serve` (HTTP mode)."
    )
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

    log_level: str = Field(
        default="INFO",
        description="DEBUG, INFO, WARNING, ERROR or CRITICAL.",
        json_schema_extra={"accepted": ", ".join(LOG_LEVELS) + " (any case)"},
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: timestamped lines; json: one JSON object a line (log shippers).",
        json_schema_extra={"accepted": "text or json"},
    )
    log_file: str | None = Field(
        default=None,
        description="Write the log to this file instead of stderr (the terminal demo's "
        "screen stays the chat's).",
    )
    library_log_level: str = Field(
        default="WARNING",
        description="Level of third-party loggers (APScheduler, httpx, discord.py, slack_bolt).",
        json_schema_extra={"accepted": ", ".join(LOG_LEVELS) + " (any case)"},
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /healthz, /readyz and /metrics on this port (off when unset).",
        json_schema_extra={"accepted": "a port number from 1 to 65535, or empty for off"},
    )
    metrics_host: str = Field(
        default="0.0.0.0", description="Interface the health and metrics endpoint binds."
    )

    # Scheduling and delivery (bot/delivery/, docs/delivery.md).
    ingest_interval_minutes: float = Field(
        default=30.0, gt=0, description="How often the ingest job polls today and yesterday."
    )
    misfire_grace_seconds: float = Field(
        default=6 * 3600.0, ge=0, description="A digest missed in downtime goes out this late."
    )
    fanout_concurrency: int = Field(
        default=40, ge=1, le=1000, description="Messages in flight at once (per process)."
    )
    channel_min_interval: float = Field(
        default=1.0, ge=0, description="Seconds between two messages to one channel."
    )
    delivery_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Failed sends (5xx, timeouts) before giving up."
    )
    delivery_backoff_base: float = Field(
        default=2.0, gt=0, description="First retry delay in seconds (doubles, with jitter)."
    )
    delivery_backoff_max: float = Field(
        default=600.0, gt=0, description="Longest retry delay in seconds."
    )
    delivery_send_timeout: float = Field(
        default=30.0, gt=0, description="Seconds one send may take before it counts as failed."
    )
    delivery_lookups: int = Field(
        default=3, ge=1, le=20, description="Lookups of a part whose send had no clear outcome."
    )
    delivery_lookup_seconds: float = Field(
        default=10.0, ge=0, description="Seconds between those lookups, before it is resent."
    )
    delivery_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A claimed part is reclaimed this long after a crash (above the send timeout).",
    )
    delivery_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often an idle delivery worker looks for work."
    )
    digest_settle_seconds: float = Field(
        default=30.0, ge=0, description="Papers this fresh wait for the next digest."
    )
    schedule_poll_seconds: float = Field(
        default=30.0, gt=0, description="How often the scheduler re-reads schedules."
    )
    scheduler_lock_poll_seconds: float = Field(
        default=15.0, gt=0, description="How often a standby process tries to take over."
    )
    default_language: str = Field(
        default="en",
        description="Summary language (BCP 47 tag) of channels that did not choose one.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint for summaries (e.g. https://api.openai.com/v1, "
        "http://localhost:11434/v1); unset: extractive summaries, no model.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key of the summary model's endpoint."
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name for summaries.")
    llm_concurrency: int = Field(
        default=4, ge=1, le=64, description="Model calls in flight at most."
    )
    llm_daily_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Tokens (the API's usage) per UTC day; then summaries are extractive.",
    )
    llm_digest_wait_seconds: float = Field(
        default=120.0,
        ge=0,
        description="How long a due digest waits for its summaries before it goes out with "
        "extractive ones for the papers not summarised yet.",
    )
    llm_timeout: float = Field(default=60.0, gt=0, description="Seconds for one model call.")

    @field_validator("demo_queries", mode="before")
    @classmethod
    def _split_queries(cls, value: object) -> object:
        # `PAPERBOY_DEMO_QUERIES=LoRA;pipeline parallelism` as well as a JSON list.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @field_validator("arxiv_categories", mode="before")
    @classmethod
    def _split_categories(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.replace("+", ",").split(",") if part.strip()]
        return value

    @field_validator("arxiv_categories")
    @classmethod
    def _check_categories(cls, value: list[str]) -> list[str]:
        for category in value:
            if not re.fullmatch(r"[a-z][a-z-]*(\.[A-Za-z][A-Za-z-]*)?", category):
                raise ValueError(f"{category!r} is not an arXiv category like cs.CL")
        if not value:
            raise ValueError("give at least one arXiv category, like cs.CL")
        return value

    @field_validator("delivery_lease_seconds")
    @classmethod
    def _lease_outlasts_a_send(cls, value: float, info: ValidationInfo) -> float:
        # A live worker renews its claims, but a lease shorter than one send is a setting
        # that can only be a mistake: refused at start rather than trusted to the renewal.
        timeout = info.data.get("delivery_send_timeout")
        if timeout is not None and value <= timeout:
            raise ValueError(
                f"must be above PAPERBOY_DELIVERY_SEND_TIMEOUT ({timeout:g} s): a claimed part's "
                "lease has to outlast one send"
            )
        return value

    @field_validator("hf_api_url", "slack_api_url", "arxiv_api_url", "arxiv_rss_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        backend = database_backend(value)
        if backend is None:
            raise ValueError("not a database URL")
        if backend not in ("sqlite", "postgres", "postgresql"):
            raise ValueError(f"unsupported database {backend!r}")
        return value

    @field_validator("default_tz")
    @classmethod
    def _check_time_zone(cls, value: str) -> str:
        name = value.strip()
        try:
            zoneinfo.ZoneInfo(name)  # refuses paths; the same check a channel's zone gets
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("unknown time zone") from None
        return name

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        import langcodes

        tag = value.strip().replace("_", "-")
        if not tag or not langcodes.tag_is_valid(tag):
            raise ValueError("not a BCP 47 language tag like en, ko or zh-Hans")
        return str(langcodes.standardize_tag(tag))

    @field_validator("llm_base_url")
    @classmethod
    def _check_llm_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^\s/]+", value.strip()):
            raise ValueError("not an http(s) URL")
        return value.strip() if value is not None else None

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("metrics_port", "log_file", "llm_base_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", "library_log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: object) -> object:
        if isinstance(value, str):
            level = value.strip().upper()
            level = "WARNING" if level == "WARN" else level
            if level not in LOG_LEVELS:
                raise ValueError("unknown log level")
            return level
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
