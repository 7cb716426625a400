"""Persistence: SQLAlchemy 2 async tables, repositories and Alembic migrations.

`Store` bundles an engine with one repository per table; `migrate()` brings a database
(SQLite or PostgreSQL) to the newest schema.
"""

from bot.store.db import (
    Store,
    current_revision,
    head_revision,
    make_engine,
    migrate,
    overloaded,
)
from bot.store.repositories import (
    MAX_QUERY_LENGTH,
    MAX_SUBSCRIPTIONS_PER_CHANNEL,
    DeliveryRepo,
    DuplicateSubscriptionError,
    InvalidSettingError,
    InvalidSubscriptionError,
    PaperRepo,
    SettingsRepo,
    SubscriptionLimitError,
    SubscriptionRepo,
    TargetRepo,
    UpsertResult,
)

__all__ = [
    "MAX_QUERY_LENGTH",
    "MAX_SUBSCRIPTIONS_PER_CHANNEL",
    "DeliveryRepo",
    "DuplicateSubscriptionError",
    "InvalidSettingError",
    "InvalidSubscriptionError",
    "PaperRepo",
    "SettingsRepo",
    "Store",
    "SubscriptionLimitError",
    "SubscriptionRepo",
    "TargetRepo",
    "UpsertResult",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "overloaded",
]
