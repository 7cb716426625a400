"""Summaries for one morning: model calls, time until every digest's summaries are ready,
and the extractive summarizer's speed.

    .venv/bin/python bench/summaries.py [--papers 120] [--channels 2000] [--latency 0.8]
                                        [--concurrency 4] [--markdown]

A morning: `--papers` new papers (real titles and abstracts of seed 004, recycled past its
130), `--channels` channels in 3 languages (en, ko, de) x 2 styles (structured, tldr),
each subscribed to 2 words of the papers' titles. The model is the loopback fake
OpenAI-compatible server (tests/fakes/openai.py) answering every call after `--latency`
seconds, through the real `openai` SDK. The run is the production path: the papers are
stored as an ingest stores them, `Planner.prefetch` (what the scheduler calls after an
ingest) starts the summaries, and one plan of every channel's digest waits for them (its
deadline set past the run) and writes the digests.

Measured: model calls against the distinct (paper, style, language) the digests need
(they must be equal: one call per key, whatever the number of channels), the time from
the ingest to every digest planned with model summaries, and the extractive summarizer
alone in papers per second (each of the 130 real abstracts in the three styles).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from paperboy.clock import ManualClock  # noqa: E402
from paperboy.delivery import DueDigest, Planner  # noqa: E402
from paperboy.digest import merge_matches, shown_papers  # noqa: E402
from paperboy.llm import ModelClient, Summarizer  # noqa: E402
from paperboy.matching import Matcher, words_of  # noqa: E402
from paperboy.models import Digest, Paper  # noqa: E402
from paperboy.store import Store, migrate  # noqa: E402
from paperboy.store.tables import channel_settings, subscriptions, targets  # noqa: E402
from paperboy.summaries import find_roles, local_summary  # noqa: E402
from tests.fakes.openai import FakeOpenAI  # noqa: E402
from tests.seed_corpus import load_seed_papers  # noqa: E402

MONDAY = dt.datetime(2024, 11, 11, 9, 0, tzinfo=dt.UTC)
LANGUAGES = ("en", "ko", "de")
STYLES = ("structured", "tldr")
_STOP = {"a", "an", "and", "for", "of", "the", "in", "on", "to", "with", "via", "from", "by"}


class CountingAdapter:
    """Renders nothing but what the digest holds: (paper, summary source) per entry."""

    platform = "bench"

    def render(self, digest: Digest) -> list[dict[str, object]]:
        return [{"entries": [[e.paper.id, e.summary_source] for e in digest.entries]}]


@contextlib.asynccontextmanager
async def served_apart(server: FakeOpenAI) -> AsyncIterator[FakeOpenAI]:
    """The fake model server on an event loop of its own thread, as a remote server would
    be: its work does not queue behind the client's on one loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result()
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def morning(count: int) -> list[Paper]:
    seeds = load_seed_papers()
    return [
        Paper(
            id=f"2411.{i:05d}",
            title=seeds[i % len(seeds)].title,
            abstract=seeds[i % len(seeds)].abstract,
            upvotes=random.Random(i).randint(0, 50),
            daily_date=MONDAY.date(),
        )
        for i in range(count)
    ]


def title_words(papers: list[Paper]) -> list[str]:
    words = {
        w
        for p in papers
        for w in words_of(p.title)
        if len(w) > 4 and w.isalpha() and w.lower() not in _STOP
    }
    return sorted(words)


async def add_channels(
    store: Store,
    channels: list[str],
    queries: dict[str, str],
    combos: list[tuple[str, str]],
) -> list[int]:
    """The channels (plain inserts), each with its query, style and language."""
    created = MONDAY - dt.timedelta(days=30)
    async with store.begin_write() as conn:
        await conn.execute(
            sa.insert(targets),
            [
                {"platform": "bench", "workspace": "", "channel": c, "created_at": created}
                for c in channels
            ],
        )
        rows = await conn.execute(sa.select(targets.c.id, targets.c.channel))
        by_channel = {r.channel: r.id for r in rows}
        ids = [by_channel[c] for c in channels]
        await conn.execute(
            sa.insert(channel_settings),
            [
                {
                    "target_id": tid,
                    "schedule_time": "09:00",
                    "timezone": "UTC",
                    "days": "mon,tue,wed,thu,fri",
                    "schedule_enabled": True,
                    "paused": False,
                    "max_papers": 20,
                    "min_upvotes": 0,
                    "post_empty": False,
                    "summary_style": combos[n % len(combos)][0],
                    "language": combos[n % len(combos)][1],
                    "updated_at": created,
                }
                for n, tid in enumerate(ids)
            ],
        )
        await conn.execute(
            sa.insert(subscriptions),
            [
                {"target_id": tid, "query": queries[c], "created_at": created}
                for c, tid in zip(channels, ids, strict=True)
            ],
        )
    return ids


async def run(args: argparse.Namespace) -> list[tuple[str, str]]:
    rng = random.Random(args.seed)
    papers = morning(args.papers)
    vocabulary = title_words(papers)
    channels = [f"c{i:05d}" for i in range(args.channels)]
    queries = {c: ", ".join(rng.sample(vocabulary, 2)) for c in channels}
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(url)
        async with Store(url) as store:
            combos = [(s, lang) for lang in LANGUAGES for s in STYLES]
            ids = await add_channels(store, channels, queries, combos)
            wanted_by_tid = {tid: combos[n % len(combos)] for n, tid in enumerate(ids)}
            # What the digests need, worked out on its own: (paper, style, language).
            matcher = Matcher.compile((tid, queries[channels[n]]) for n, tid in enumerate(ids))
            matches = matcher.match(papers)
            needed: set[tuple[str, str, str]] = set()
            for tid in ids:
                style, language = wanted_by_tid[tid]
                picked = [s.paper for s in merge_matches(matches, [tid])]
                for paper in shown_papers(picked, 20, 0):
                    needed.add((paper.id, style, language))

            clock = ManualClock(MONDAY)
            async with served_apart(FakeOpenAI(latency=args.latency)) as llm:
                client = ModelClient(llm.base_url, llm.model, api_key=llm.api_key, max_retries=0)
                summarizer = Summarizer(
                    client, store, concurrency=args.concurrency, wait_seconds=3600, clock=clock
                )
                planner = Planner(
                    store,
                    {"bench": CountingAdapter()},
                    clock=clock,
                    settle_seconds=0,
                    batch_size=200,
                    summarizer=summarizer,
                )
                start = time.perf_counter()
                await store.papers.upsert(papers, seen_at=MONDAY - dt.timedelta(hours=1))
                started = await planner.prefetch(papers)
                by_id = {p.id: p for p in papers}
                await summarizer.gather([(by_id[pid], st, lang) for pid, st, lang in needed])
                ready = time.perf_counter() - start
                result = await planner.plan([DueDigest(t, MONDAY.date()) for t in ids])
                planned = time.perf_counter() - start
                await summarizer.close()
            usage = await store.summaries.usage(MONDAY.date())
    rows += [
        ("papers / channels", f"{args.papers} / {args.channels:,}"),
        (
            "languages x styles",
            f"{len(LANGUAGES)} x {len(STYLES)} ({', '.join(LANGUAGES)}; {', '.join(STYLES)})",
        ),
        ("digests planned", f"{result.planned:,}"),
        ("distinct (paper, style, language) needed", f"{len(needed):,}"),
        ("summaries started after the ingest", f"{started:,}"),
        ("model calls", f"{len(llm.requests):,}"),
        ("calls = needed", "yes" if len(llm.requests) == len(needed) else "NO"),
        (
            "most calls in flight",
            f"{llm.max_in_flight} (PAPERBOY_LLM_CONCURRENCY={args.concurrency})",
        ),
        ("model latency per call", f"{args.latency * 1000:.0f} ms"),
        ("ingest to every summary ready (stored)", f"{ready:.1f} s"),
        ("ingest to every digest planned with its summaries", f"{planned:.1f} s"),
        (
            "lower bound (calls x latency / concurrency)",
            f"{len(needed) * args.latency / args.concurrency:.1f} s",
        ),
        ("digest entries served a stored model summary", f"{usage.cache_hits:,}"),
        ("fallbacks to extractive", f"{usage.fallbacks:,}"),
        ("tokens (fake usage: characters / 4)", f"{usage.tokens:,}"),
    ]
    return rows


def extractive_speed(rounds: int) -> list[tuple[str, str]]:
    papers = load_seed_papers()
    start = time.perf_counter()
    for _ in range(rounds):
        find_roles.cache_clear()  # each round reads every abstract anew (styles share it)
        for paper in papers:
            for style in ("structured", "paragraph", "tldr"):
                local_summary(paper, style)
    elapsed = time.perf_counter() - start
    made = rounds * len(papers)
    return [
        ("extractive: abstracts x styles", f"{made:,} x 3 in {elapsed:.2f} s"),
        ("extractive: papers/s (all three styles each)", f"{made / elapsed:,.0f}"),
        ("extractive: summaries/s", f"{3 * made / elapsed:,.0f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=120)
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(run(args)) + extractive_speed(args.rounds)
    cpu = platform.processor() or platform.machine()
    machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.markdown:
        print(f"machine: {machine}\n\n| measure | value |\n|---|---:|")
        for name, value in rows:
            print(f"| {name} | {value} |")
        return
    table = Table(title=f"Summaries for one morning ({machine})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)


if __name__ == "__main__":
    main()
