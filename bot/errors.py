"""The errors that cross the core's package boundaries, defined in one place.

Each is re-exported by the package whose callers meet it (`paperboy.chat`,
`paperboy.sources`, `paperboy.matching`, `paperboy.store`); catch it from there or
from here, it is the same class. The hierarchy::

    Exception
    ├── ChatError                   a send failed; `permanent`, `retry_after`   (chat)
    │   └── DiscordAPIError           Discord's REST error       (paperboy_adapters.discord.rest)
    ├── SourceError                 a source could not deliver; one line for a user  (sources)
    │   ├── ResponseTooLarge          over the size cap             (sources.http_client)
    │   └── RetriesExhausted          every try failed              (sources.http_client)
    ├── SubscriptionLimitError      a channel already has the most subscriptions  (store)
    ├── DuplicateSubscriptionError  a channel already follows this query          (store)
    └── UnknownPaperError           feedback on a paper the archive does not hold  (store)
    ValueError
    ├── QueryError                  a query that cannot be used; `message`, `column`  (matching)
    ├── InvalidSubscriptionError    a query a database cannot store                   (store)
    └── InvalidSettingError         a setting name or value a channel cannot have     (store)

Errors that never leave their module stay next to their one user: `ClaimLost`
(delivery.sender: another worker took a part over), `Transient` (sources.http_client:
a failed try worth another), `UserError` (cli: bad input, exit code 2),
`ItemTooLarge` (paperboy_adapters.split).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperboy.models import Subscription, Target

__all__ = [
    "ChatError",
    "DuplicateSubscriptionError",
    "InvalidSettingError",
    "InvalidSubscriptionError",
    "QueryError",
    "SourceError",
    "SubscriptionLimitError",
    "UnknownPaperError",
]


class ChatError(Exception):
    """A send failed. `permanent` means retrying cannot help (channel gone, bot removed).

    `settled` means the platform itself answered (its own error body, not a proxy's page
    or a timeout): its handling of the request is over, so a post it may have made is
    visible now, and one lookup tells whether it went out; an unsettled failure may still
    land later and is looked up several times, spaced (delivery/sender.py).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        settled: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.settled = settled


class SourceError(Exception):
    """A source could not deliver (after its retries); the message is one line for a user."""


class QueryError(ValueError):
    """A query that cannot be used, with a message meant for the person who typed it."""

    message: str
    column: int

    def __init__(self, message: str, column: int | None = None) -> None:
        """``column`` is 1-based; errors about the query as a whole leave it out (1)."""
        self.message = message
        self.column = column if column is not None else 1
        text = message if column is None else f"{message} at column {column}"
        super().__init__(text)

    def __str__(self) -> str:
        return self.args[0]


class SubscriptionLimitError(Exception):
    """The channel already has `MAX_SUBSCRIPTIONS_PER_CHANNEL` subscriptions."""

    def __init__(self, target: Target, limit: int) -> None:
        super().__init__(
            f"{target} already has {limit} subscriptions, the most a channel can have; "
            "remove one first"
        )
        self.target = target
        self.limit = limit


class DuplicateSubscriptionError(Exception):
    """The channel is already subscribed to exactly this query."""

    def __init__(self, target: Target, query: str, existing: Subscription | None = None) -> None:
        super().__init__(f"{target} is already subscribed to {query!r}")
        self.target = target
        self.query = query
        self.existing = existing


class InvalidSubscriptionError(ValueError):
    """The query is empty, too long or contains characters a database cannot store."""


class InvalidSettingError(ValueError):
    """An unknown setting name or a value a setting cannot take."""


class UnknownPaperError(Exception):
    """Feedback names a paper the archive does not hold (a typo, or a forged button)."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(f"no paper {paper_id[:64]!r} in the archive")
        self.paper_id = paper_id
