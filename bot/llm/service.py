"""Summaries made once per (paper, style, language) for every channel, in the background.

`Summarizer.start(wanted)` is called right after an ingest with the papers some active
channel will receive (`paperboy.delivery` works out which): each key not yet stored
gets one task, at most `concurrency` model calls in flight. `Summarizer.gather(wanted,
timeout)` is what a digest asks: the summaries ready within `timeout` (started now if
nobody asked before), and for the rest why not ("deadline passed", "budget spent",
"model down", ...): those papers go out with their extractive summary, never later.

Every summary made is stored (`store.summaries`, keyed by model and prompt version too),
so a restart, another process or the next digest reuses it; a key already being made
is awaited, not asked for twice. A model that stays down after the SDK's retries is left
alone for `DOWN_SECONDS` (papers asked for meanwhile fall back at once); a 429 that
outlasts the SDK's retries pauses calls for its Retry-After. Tokens (the API's usage) are
counted per UTC day; past `daily_tokens` no call is made until the next day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from paperboy.clock import Clock, SystemClock
from paperboy.llm.client import (
    REASON_DOWN,
    REASON_INVALID,
    REASON_REFUSED,
    REASON_REJECTED,
    ModelAnswer,
    ModelClient,
    ModelError,
)
from paperboy.models import Paper
from paperboy.store import Store, SummaryKey
from paperboy.summaries import PROMPT_VERSION, Summary, model_summary
from paperboy_config import Settings

log = logging.getLogger(__name__)

DOWN_SECONDS = 60.0
REASON_DEADLINE = "deadline passed"
REASON_BUDGET = "budget spent"
REASON_ERROR = "unexpected error"
#: Failures not retried in this process (the others are: after a pause, the next day...).
FINAL = frozenset({REASON_INVALID, REASON_REFUSED, REASON_REJECTED})
#: Summaries kept in memory at most (the store keeps them all).
MEMORY_LIMIT = 20_000

Wanted = tuple[Paper, str, str]  # (paper, style, language)


@dataclass
class SummaryStats:
    """This process's counters (the store keeps the day's for `paperboy status`)."""

    calls: int = 0
    made: int = 0
    cache_hits: int = 0
    tokens: int = 0
    fallbacks: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Summarizer:
    """Model summaries for digests (see the module docstring)."""

    def __init__(
        self,
        client: ModelClient,
        store: Store | None = None,
        *,
        concurrency: int = 4,
        daily_tokens: int | None = None,
        wait_seconds: float = 120.0,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.model = client.model
        self.store = store
        self.daily_tokens = daily_tokens
        self.wait_seconds = wait_seconds
        self.clock = clock or SystemClock()
        self.stats = SummaryStats()
        self._slots = asyncio.Semaphore(concurrency)
        self._memory: dict[SummaryKey, Summary] = {}
        self._tasks: dict[SummaryKey, asyncio.Task[None]] = {}
        self._failed: dict[SummaryKey, str] = {}
        self._down_until = 0.0
        self._paused_until = 0.0
        self._tokens_day: dt.date | None = None
        self._tokens_used = 0  # today's, this process's view (the store's read once a day)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.client.close()

    # ----------------------------------------------------------------- asking

    async def start(self, wanted: Iterable[Wanted]) -> int:
        """Start making the summaries of `wanted` not stored yet; returns how many started."""
        todo: dict[SummaryKey, Paper] = {}
        for paper, style, language in wanted:
            key = (paper.id, style, language)
            if key in self._memory or key in self._tasks:
                continue
            if self._failed.get(key) in FINAL:  # the model will not do better next time
                continue
            todo[key] = paper
        if not todo:
            return 0
        if self.store is not None:
            stored = await self.store.summaries.get_many(
                todo, model=self.model, prompt_version=PROMPT_VERSION
            )
            self._remember(stored)
            for key in stored:
                todo.pop(key)
        for key, paper in todo.items():
            self._failed.pop(key, None)
            self._tasks[key] = asyncio.create_task(self._make(key, paper))
        return len(todo)

    async def gather(
        self, wanted: Iterable[Wanted], wait: float | None = None
    ) -> tuple[dict[SummaryKey, Summary], dict[SummaryKey, str]]:
        """The summaries of `wanted` ready within `wait` seconds (default the digest
        wait), and for each missing one the reason."""
        wanted = list(wanted)
        keys = {(p.id, style, language) for p, style, language in wanted}
        await self.start(wanted)
        pending = [self._tasks[k] for k in keys if k in self._tasks]
        wait = self.wait_seconds if wait is None else wait
        if pending and wait > 0:
            await asyncio.wait(pending, timeout=wait)
        ready = {k: self._memory[k] for k in keys if k in self._memory}
        missing = {k: self._failed.get(k, REASON_DEADLINE) for k in keys if k not in ready}
        return ready, missing

    def _remember(self, found: dict[SummaryKey, Summary]) -> None:
        if len(self._memory) + len(found) > MEMORY_LIMIT:
            self._memory.clear()  # the store has them all; memory is only a shortcut
        self._memory.update(found)

    # ----------------------------------------------------------------- making

    async def _tokens_today(self) -> int:
        today = self.clock.now().astimezone(dt.UTC).date()
        if self._tokens_day != today:
            # Read before marking the day as known: tasks asking meanwhile read it too.
            used = (await self.store.summaries.usage(today)).tokens if self.store else 0
            if self._tokens_day != today:
                self._tokens_day, self._tokens_used = today, used
        return self._tokens_used

    async def _blocked(self) -> str | None:
        if time.monotonic() < self._down_until:
            return REASON_DOWN
        if self.daily_tokens is not None and await self._tokens_today() >= self.daily_tokens:
            return REASON_BUDGET
        return None

    async def _spend(self, tokens: int) -> None:
        """Count tokens against today's budget at once (before the next call may start)."""
        await self._tokens_today()
        self._tokens_used += tokens
        self.stats.tokens += tokens

    async def _record(self, *, made: int = 0, tokens: int = 0) -> None:
        if self.store is not None and (made or tokens):
            day = self.clock.now().astimezone(dt.UTC).date()
            await self.store.summaries.add_usage(day, made=made, tokens=tokens)

    async def _call(self, paper: Paper, style: str, language: str) -> ModelAnswer | str:
        """One model call within the concurrency limit, or why none was made."""
        reason = await self._blocked()
        if reason is not None:
            return reason
        async with self._slots:
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            reason = await self._blocked()  # the budget may be spent meanwhile
            if reason is not None:
                return reason
            self.stats.calls += 1
            try:
                answer = await self.client.summarize(paper, style, language)
            except ModelError as error:
                await self._spend(error.tokens)
                raise
            await self._spend(answer.tokens)
            return answer

    async def _make(self, key: SummaryKey, paper: Paper) -> None:
        _, style, language = key
        try:
            answer = await self._call(paper, style, language)
            if isinstance(answer, str):
                self._failed[key] = answer
                return
            summary = model_summary(style, language, answer.parts)
            self._remember({key: summary})
            self.stats.made += 1
            if self.store is not None:
                await self.store.summaries.put(
                    key,
                    summary,
                    model=self.model,
                    prompt_version=PROMPT_VERSION,
                    tokens=answer.tokens,
                    now=self.clock.now(),
                )
        except ModelError as error:
            self._failed[key] = error.reason
            self.stats.reasons[error.reason] = self.stats.reasons.get(error.reason, 0) + 1
            if error.reason == REASON_DOWN:
                self._down_until = time.monotonic() + DOWN_SECONDS
            if error.retry_after:
                self._paused_until = time.monotonic() + min(error.retry_after, 3600.0)
            await self._record(tokens=error.tokens)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("summary of %s failed unexpectedly", paper.id)
            self._failed[key] = REASON_ERROR
        finally:
            self._tasks.pop(key, None)

    # ----------------------------------------------------------------- reporting

    async def record_digest(self, *, hits: int, fallbacks: int) -> None:
        """Count a digest's entries served from stored model summaries and those that fell
        back to extractive ones (the day's counters `paperboy status` shows)."""
        self.stats.cache_hits += hits
        self.stats.fallbacks += fallbacks
        if self.store is not None:
            day = self.clock.now().astimezone(dt.UTC).date()
            await self.store.summaries.add_usage(day, cache_hits=hits, fallbacks=fallbacks)


def summarizer_from_settings(
    settings: Settings, store: Store | None, *, clock: Clock | None = None
) -> Summarizer | None:
    """The Summarizer `PAPERBOY_LLM_*` describe, or None when no model is configured."""
    if not settings.llm_base_url:
        return None
    key = settings.llm_api_key
    client = ModelClient(
        settings.llm_base_url,
        settings.llm_model,
        api_key=key.get_secret_value() if key is not None else None,
        timeout=settings.llm_timeout,
    )
    return Summarizer(
        client,
        store,
        concurrency=settings.llm_concurrency,
        daily_tokens=settings.llm_daily_tokens,
        wait_seconds=settings.llm_digest_wait_seconds,
        clock=clock,
    )
