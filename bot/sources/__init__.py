"""Where papers come from. Every source yields `Paper`s for a day."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from bot.models import Paper


class SourceError(Exception):
    """A source could not deliver (after its retries); the message is one line for a user."""


class PaperSource(Protocol):
    name: str

    async def fetch_day(self, day: dt.date | None) -> list[Paper]:
        """The papers listed for `day` (None: the source's latest day)."""
