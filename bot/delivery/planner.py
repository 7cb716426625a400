"""Planning: which papers go to which channel in which digest, written to the outbox.

A plan covers any number of due digests at once (all channels scheduled for 09:00, or a
`paperboy deliver`): their papers are read once and matched once, by ONE matcher compiled
over every subscription of every channel in the plan. Then, per batch of channels, one
write transaction locks the channels, reads the ledger, and writes each new digest run
with its ledger rows, rendered parts and advanced watermark, all or nothing. A digest
planned before (by another process, an earlier run, a retry) is found taken and skipped.

A digest holds the papers that entered the archive since the channel's previous digest
(its watermark) and have never reached the channel (the ledger), so a paper listed again
or filled in late by Hugging Face goes out exactly once. Papers younger than
`settle_seconds` wait for the next digest: an ingest in another process may still be
committing papers stamped a moment earlier.

Fan-out: the CPU work (compiling and matching; building and rendering each batch's
digests) runs in a worker thread, so the event loop keeps answering commands and
sending; a paper is made into a digest entry once per plan and rendered once for all
the channels that list it (the adapter's render cache). After each batch commits,
`on_batch` is called (the delivery worker's `wake`), so sending starts while later
batches are still being planned.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import functools
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from paperboy import jsontext
from paperboy.chat import ChatAdapter
from paperboy.clock import Clock, SystemClock
from paperboy.delivery.cron import fire_on, is_active, previous_fire
from paperboy.digest import (
    EntryCache,
    Selected,
    SummaryMap,
    build_digest,
    merge_matches,
    shown_papers,
)
from paperboy.feedback import (
    FeedbackSigner,
    RelevanceModel,
    examples,
    rank,
    signer,
    stored_vectors,
)
from paperboy.llm import Summarizer, Wanted
from paperboy.matching import Matcher, PaperMatch, Query, QueryError, parse
from paperboy.metrics import METRICS
from paperboy.models import WEBHOOK_PLATFORM, ChannelSettings, Digest, Paper
from paperboy.store import RENDER_AT_SEND, NewRun, Store, TargetState
from paperboy.summaries import DEFAULT_LANGUAGE

log = logging.getLogger(__name__)

TRIGGER_SCHEDULE = "schedule"
TRIGGER_CATCH_UP = "catch-up"
TRIGGER_MANUAL = "manual"
#: The model of a channel without feedback: priors only.
UNTRAINED = RelevanceModel()
#: A plan writing this many parts refreshes the database's statistics (PostgreSQL).
ANALYZE_AFTER_PARTS = 1000


@dataclass(frozen=True, slots=True)
class DueDigest:
    """A digest that should exist: this target's digest of this (local) date."""

    target_id: int
    digest_date: dt.date
    trigger: str = TRIGGER_SCHEDULE


@dataclass
class PlanResult:
    planned: int = 0
    already: int = 0
    parts: int = 0
    empty: int = 0
    unrendered: int = 0
    missing: int = 0
    keys: list[tuple[int, dt.date]] = field(default_factory=list)
    #: Where the windows of the digests planned now end: papers first seen later (inside
    #: the settle window) wait for each channel's next digest.
    until: dt.datetime | None = None

    def add(self, other: PlanResult) -> None:
        self.planned += other.planned
        self.already += other.already
        self.parts += other.parts
        self.empty += other.empty
        self.unrendered += other.unrendered
        self.missing += other.missing
        self.keys.extend(other.keys)
        if other.until is not None:
            self.until = max(self.until or other.until, other.until)


@dataclass(frozen=True, slots=True)
class Rendered:
    parts: list[Any] | None
    keep_digest: bool = False


def render_parts(adapter: ChatAdapter | None, digest: Digest) -> Rendered:
    """The adapter's parts as JSON data for the outbox (None: no adapter, or it failed).

    An adapter whose parts are not JSON (the console's Rich objects) renders again at
    send time: each part stores only its index and the run keeps the digest.
    """
    if adapter is None:
        return Rendered(None)
    try:
        parts = list(adapter.render(digest))
    except Exception:
        log.exception("the %s adapter failed to render a digest", adapter.platform)
        return Rendered(None)
    try:
        jsontext.check(parts)  # JSON data? The outbox stores it as JSON (a copy of its own).
        return Rendered(parts)
    except (TypeError, ValueError):
        return Rendered([{RENDER_AT_SEND: i} for i in range(len(parts))], keep_digest=True)


def first_window_start(state: TargetState, day: dt.date, until: dt.datetime) -> dt.datetime:
    """Where a channel's very first digest starts: its previous scheduled time."""
    s = state.settings
    start = _previous_slot(s.schedule_time, tuple(s.days), s.timezone, day)
    if start is None:
        start = until - dt.timedelta(days=1)
    return min(start, until - dt.timedelta(days=1)) if start >= until else start


@lru_cache(maxsize=4096)
def _previous_slot(
    schedule_time: str, days: tuple[str, ...], timezone: str, day: dt.date
) -> dt.datetime | None:
    """The scheduled time before the one on `day` (cached: many channels share a schedule)."""
    settings = ChannelSettings(schedule_time=schedule_time, days=days, timezone=timezone)
    fire = fire_on(settings, day)
    if fire is None:
        return None
    return previous_fire(settings, fire - dt.timedelta(seconds=1))


def _compile(
    subs: Mapping[int, Sequence[str]],
) -> tuple[Matcher | None, dict[int, list[tuple[int, int]]]]:
    """One matcher for every query of every channel; a stored query that no longer parses
    is skipped with a warning (it cannot stop everyone's digest)."""
    parsed: dict[str, Query | None] = {}
    pairs: list[tuple[Hashable, Query]] = []
    keys: dict[int, list[tuple[int, int]]] = {}
    for tid, queries in subs.items():
        for index, text in enumerate(queries):
            if text not in parsed:
                try:
                    parsed[text] = parse(text, stored=True)
                except QueryError as error:
                    log.warning("skipping stored query %r: %s", text, error)
                    parsed[text] = None
            query = parsed[text]
            if query is not None:
                pairs.append(((tid, index), query))
                keys.setdefault(tid, []).append((tid, index))
    return (Matcher.compile(pairs) if pairs else None), keys


def _compile_and_match(
    subs: Mapping[int, Sequence[str]], papers: Sequence[Any]
) -> tuple[Mapping[Hashable, list[PaperMatch]], dict[int, list[tuple[int, int]]]]:
    """Every subscription's matches among `papers` (CPU only: runs in a worker thread)."""
    matcher, keys = _compile(subs)
    if matcher is None or not papers:
        return {}, keys
    return matcher.match(papers), keys


@dataclass(frozen=True, slots=True)
class _RunJob:
    """What one digest of a batch is made from."""

    due: DueDigest
    state: TargetState
    queries: Sequence[str]
    selected: list[Any]
    since: dt.datetime
    checked: int
    #: The channel's relevance model (None: no feedback yet, so the usual order).
    model: RelevanceModel | None = None
    #: Papers of the window no subscription matched (only when suggestions are on).
    unmatched: tuple[Paper, ...] = ()


class Planner:
    """Plans due digests into the outbox (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, ChatAdapter],
        *,
        clock: Clock | None = None,
        settle_seconds: float = 30.0,
        batch_size: int = 100,
        on_batch: Callable[[], None] | None = None,
        default_language: str = DEFAULT_LANGUAGE,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.store = store
        #: The summaries' language of channels that chose none.
        self.default_language = default_language
        #: Model summaries (None: extractive ones only); a plan waits for them at most
        #: the summarizer's `wait_seconds`, then uses extractive ones for the rest.
        self.summarizer = summarizer
        self.adapters = adapters
        self.clock = clock or SystemClock()
        self.settle = dt.timedelta(seconds=settle_seconds)
        self.batch_size = batch_size
        #: Called after each batch of digests is committed (new parts can be sent).
        self.on_batch = on_batch
        #: Held while planning; the ingest job takes it too, so that one process never
        #: plans in the middle of its own ingest.
        self.lock = asyncio.Lock()

    async def prefetch(self, papers: Sequence[Paper]) -> int:
        """Start the model summaries of `papers` (just ingested) that some active channel
        will receive, in its style and language; returns how many were started. They are
        made in the background and stored, so a digest due later finds them ready."""
        summarizer = self.summarizer
        if summarizer is None or not papers:
            return 0
        repo = self.store.outbox
        states = {s.id: s for s in await repo.target_states() if is_active(s.settings)}
        if not states:
            return 0
        subs = await repo.subscriptions_of(set(states))
        matches, keys = await asyncio.to_thread(_compile_and_match, subs, papers)
        wanted: dict[tuple[str, str, str], Wanted] = {}
        for tid, state in states.items():
            settings = state.settings
            language = settings.language or self.default_language
            for selected in merge_matches(matches, keys.get(tid, ())):
                if selected.paper.upvotes >= settings.min_upvotes:
                    key = (selected.paper.id, settings.summary_style, language)
                    wanted.setdefault(key, (selected.paper, settings.summary_style, language))
        return await summarizer.start(wanted.values()) if wanted else 0

    async def plan(self, due: Iterable[DueDigest]) -> PlanResult:
        async with self.lock:
            return await self._plan(due)

    async def _plan(self, due: Iterable[DueDigest]) -> PlanResult:
        result = PlanResult()
        wanted = list({(d.target_id, d.digest_date): d for d in due}.values())
        if not wanted:
            return result
        repo = self.store.outbox
        states = {s.id: s for s in await repo.target_states({d.target_id for d in wanted})}
        result.missing = sum(1 for d in wanted if d.target_id not in states)
        taken = await repo.planned((d.target_id, d.digest_date) for d in wanted)
        todo = [
            d for d in wanted if d.target_id in states and (d.target_id, d.digest_date) not in taken
        ]
        result.already = len(wanted) - len(todo) - result.missing
        if not todo:
            return result

        now = self.clock.now()
        until = result.until = now - self.settle
        since: dict[tuple[int, dt.date], dt.datetime] = {}
        for d in todo:
            state = states[d.target_id]
            start = state.watermark or first_window_start(state, d.digest_date, until)
            since[(d.target_id, d.digest_date)] = min(start, until)
        subs = await repo.subscriptions_of({d.target_id for d in todo})
        candidates = await repo.papers_seen(min(since.values()), until)
        seen_at = {paper.id: when for paper, when in candidates}
        times = [when for _, when in candidates]
        matches, keys = await asyncio.to_thread(
            _compile_and_match, subs, [paper for paper, _ in candidates]
        )
        entries: EntryCache = {}
        sign = await signer(self.store)
        models: dict[int, RelevanceModel] = {}
        suggesting: set[int] = set()
        summaries = await self._summaries(todo, states, since, until, matches, keys, seen_at)

        def jobs_for(
            batch: Sequence[DueDigest],
            marks: Mapping[int, dt.datetime | None],
            delivered: Mapping[int, set[str]] | None,
        ) -> dict[tuple[int, dt.date], _RunJob]:
            """Each digest's inputs, given the channels' watermarks and (when known) the
            papers the ledger says they got; without the ledger, `selected` is unfiltered."""
            jobs = {}
            for d in batch:
                key = (d.target_id, d.digest_date)
                # Another digest of this channel may have moved the watermark meanwhile;
                # what it covered is not ours (the ledger below is the final word).
                low = since[key]
                current = marks.get(d.target_id)
                if current is not None and current > low:
                    low = min(current, until)
                picked = picks.get(d.target_id)
                if picked is None:
                    picked = picks[d.target_id] = merge_matches(matches, keys.get(d.target_id, ()))
                chosen = [s for s in picked if low < seen_at[s.paper.id] <= until]
                if delivered is not None:
                    chosen = [s for s in chosen if s.paper.id not in delivered[d.target_id]]
                unmatched: tuple[Paper, ...] = ()
                model = models.get(d.target_id)
                if model is not None and d.target_id in suggesting:
                    matched = {s.paper.id for s in picked}
                    unmatched = tuple(
                        paper
                        for paper, when in candidates
                        if low < when <= until and paper.id not in matched
                    )
                jobs[key] = _RunJob(
                    d,
                    states[d.target_id],
                    subs.get(d.target_id, []),
                    chosen,
                    low,
                    checked=len(times) - bisect.bisect_right(times, low),
                    model=model,
                    unmatched=unmatched,
                )
            return jobs

        def papers_of(jobs: Mapping[tuple[int, dt.date], _RunJob]) -> dict[int, set[str]]:
            return {job.due.target_id: {s.paper.id for s in job.selected} for job in jobs.values()}

        for offset in range(0, len(todo), self.batch_size):
            batch = todo[offset : offset + self.batch_size]
            picks: dict[int, list[Selected]] = {}  # each channel's matches, merged once
            # Each channel's model, retrained from its feedback now (milliseconds).
            batch_ids = [d.target_id for d in batch]
            taught = await examples(self.store, batch_ids)
            vectors = (
                await stored_vectors(
                    self.store,
                    [e.paper.id for found in taught.values() for e in found]
                    + [paper.id for paper, _ in candidates],
                )
                if taught
                else {}
            )
            models = {tid: RelevanceModel(found, vectors=vectors) for tid, found in taught.items()}
            suggesting = await self.store.feedback.suggesting(batch_ids) if models else set()
            # Build and render outside the write transaction (in a worker thread), from the
            # watermarks and ledger as they are now; the transaction then only checks that
            # neither changed meanwhile (another process planning the same channels) and
            # writes. So the database's write lock is never held for the CPU work.
            marks = {d.target_id: states[d.target_id].watermark for d in batch}
            unfiltered = jobs_for(batch, marks, None)
            ledger = await repo.delivered(papers_of(unfiltered))
            jobs = jobs_for(batch, marks, ledger)
            prepared = await asyncio.to_thread(
                self._runs, list(jobs.values()), until, entries, sign, summaries
            )
            runs_by_key = {(r.target_id, r.digest_date): r for r in prepared}
            async with repo.planning() as tx:
                marks = await tx.lock_targets([d.target_id for d in batch])
                unfiltered = jobs_for(batch, marks, None)
                current = jobs_for(batch, marks, await tx.delivered(papers_of(unfiltered)))
                stale = [job for key, job in current.items() if job != jobs[key]]
                if stale:
                    stale_runs = await asyncio.to_thread(
                        self._runs, stale, until, entries, sign, summaries
                    )
                    for run in stale_runs:
                        runs_by_key[(run.target_id, run.digest_date)] = run
                runs = [runs_by_key[(d.target_id, d.digest_date)] for d in batch]
                inserted = await tx.insert_runs(runs, now)
            if self.on_batch is not None:
                self.on_batch()
            for run in runs:
                if (run.target_id, run.digest_date) not in inserted:
                    result.already += 1
                    continue
                result.planned += 1
                METRICS.digests_planned.labels(states[run.target_id].target.platform).inc()
                result.keys.append((run.target_id, run.digest_date))
                if run.parts is None:
                    result.unrendered += 1
                elif not run.parts:
                    result.empty += 1
                result.parts += len(run.parts or ())
        if result.parts >= ANALYZE_AFTER_PARTS:
            await repo.analyze()
        return result

    async def _summaries(
        self,
        todo: Sequence[DueDigest],
        states: Mapping[int, TargetState],
        since: Mapping[tuple[int, dt.date], dt.datetime],
        until: dt.datetime,
        matches: Mapping[Hashable, list[PaperMatch]],
        keys: Mapping[int, list[tuple[int, int]]],
        seen_at: Mapping[str, dt.datetime],
    ) -> SummaryMap | None:
        """The model summaries of the papers these digests will show, waiting for them at
        most the summarizer's deadline; a digest with papers left extractive is logged
        once. None without a model."""
        summarizer = self.summarizer
        if summarizer is None:
            return None
        wanted: dict[tuple[str, str, str], Wanted] = {}
        per_digest: dict[DueDigest, list[tuple[str, str, str]]] = {}
        for d in todo:
            settings = states[d.target_id].settings
            language = settings.language or self.default_language
            low = since[(d.target_id, d.digest_date)]
            picked = [
                s.paper
                for s in merge_matches(matches, keys.get(d.target_id, ()))
                if low < seen_at[s.paper.id] <= until
            ]
            # A channel's learned order (feedback) may list any of them: all are wanted.
            shown = shown_papers(picked, None, settings.min_upvotes)
            digest_keys = []
            for paper in shown:
                key = (paper.id, settings.summary_style, language)
                wanted.setdefault(key, (paper, settings.summary_style, language))
                digest_keys.append(key)
            per_digest[d] = digest_keys
        if not wanted:
            return None
        try:
            ready, missing = await summarizer.gather(wanted.values())
        except Exception:  # a model summary is never worth a digest: extractive for all
            log.exception("model summaries failed; every paper gets its extractive summary")
            ready, missing = {}, dict.fromkeys(wanted, "unexpected error")
        hits = fallbacks = 0
        for d, digest_keys in per_digest.items():
            left = [key for key in digest_keys if key in missing]
            hits += len(digest_keys) - len(left)
            fallbacks += len(left)
            if left:
                reasons = sorted({missing[key] for key in left})
                log.info(
                    "digest for %s of %s: %d of %d papers with extractive summaries (%s)",
                    states[d.target_id].target.display,
                    d.digest_date,
                    len(left),
                    len(digest_keys),
                    ", ".join(reasons),
                )
        try:
            await summarizer.record_digest(hits=hits, fallbacks=fallbacks)
        except Exception:
            log.exception("could not count the digests' summaries")
        return ready

    def _runs(
        self,
        jobs: Sequence[_RunJob],
        until: dt.datetime,
        entries: EntryCache,
        sign: FeedbackSigner | None = None,
        summaries: SummaryMap | None = None,
    ) -> list[NewRun]:
        """Build and render a batch's digests (CPU only: runs in a worker thread)."""
        return [self._run(job, until, entries, sign, summaries) for job in jobs]

    def _run(
        self,
        job: _RunJob,
        until: dt.datetime,
        entries: EntryCache,
        sign: FeedbackSigner | None = None,
        summaries: SummaryMap | None = None,
    ) -> NewRun:
        due, state, queries, since = job.due, job.state, job.queries, job.since
        settings = state.settings
        target = state.target
        # The channel's learned order (HF votes and recency until it has feedback).
        ranking = rank(
            job.model or UNTRAINED,
            [s.paper for s in job.selected],
            job.unmatched,
            suggest=bool(job.unmatched),
        )
        # Feedback buttons, signed for this channel (a webhook's messages cannot have any).
        buttons = (
            functools.partial(sign.tokens, target)
            if sign is not None and target.platform != WEBHOOK_PLATFORM
            else None
        )
        digest = build_digest(
            job.selected,
            day=due.digest_date,
            queries=queries,
            checked=job.checked,
            max_papers=settings.max_papers,
            min_upvotes=settings.min_upvotes,
            entry_cache=entries,
            scores=ranking.scores,
            reasons=ranking.reasons,
            suggestions=ranking.suggested(),
            sign=buttons,
            style=settings.summary_style,
            language=settings.language or self.default_language,
            summaries=summaries,
        )
        empty = NewRun(
            target_id=state.id,
            digest_date=due.digest_date,
            trigger=due.trigger,
            window_start=since,
            window_end=until,
            digest=None,
            paper_ids=(),
            parts=[],
        )
        if not digest.entries and not (settings.post_empty and queries):
            return empty
        rendered = render_parts(self.adapters.get(state.target.platform), digest)
        return replace(
            empty,
            digest=digest,
            paper_ids=tuple(e.paper.id for e in digest.entries),
            parts=rendered.parts,
            keep_digest=rendered.keep_digest,
        )
