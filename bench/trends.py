"""Benchmark: trend charts and weekly rollups over a large archive.

Run: ``.venv/bin/python bench/trends.py [--papers 50000] [--weeks 26] [--markdown]``.

Workload: a fresh SQLite archive of synthetic papers spread evenly over `--weeks` ISO
weeks (50,000 over 26 weeks is about 270 papers a day, arXiv's cs.* pace), titles and
abstracts drawn from a fixed vocabulary with seed 1, 5 % of them mentioning LoRA. Timed,
each the median of 3 runs (wall clock, one process):

- ``trend LoRA, 12 weeks``: `paperboy.delivery.trend` (the papers of the 12 weeks read
  from the store, matched in a worker thread, the PNG drawn), as `/papers trends` and
  `paperboy trends` run it; and the same without drawing;
- ``chart only``: `render_png` of a 12-week chart with six lines;
- ``rollup, 10 subscriptions``: `build_rollup` for a channel with ten subscriptions
  (12 weeks matched, top papers, rising terms, the chart).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from paperboy.delivery import build_rollup, trend  # noqa: E402
from paperboy.models import Paper, Target  # noqa: E402
from paperboy.store import Store, migrate  # noqa: E402
from paperboy.trends import ChartData, ChartSeries, render_png, weeks_ending  # noqa: E402

TOPICS = [
    "speculative decoding", "mixture of experts", "diffusion transformers", "quantization",
    "retrieval augmented generation", "reinforcement learning", "vision language models",
    "pipeline parallelism", "tokenization", "reward models", "state space models", "agents",
]  # fmt: skip
WORDS = "efficient scalable robust sparse dense adaptive multimodal long context".split()
QUERIES = ["LoRA", *TOPICS[:9]]


def synthetic(count: int, weeks: int, end: dt.datetime, rng: random.Random) -> list[Any]:
    span = weeks * 7 * 86400
    out = []
    for i in range(count):
        seen = end - dt.timedelta(seconds=span * (count - i) / count)
        topic = rng.choice(TOPICS)
        lora = " with LoRA" if rng.random() < 0.05 else ""
        title = f"{rng.choice(WORDS).title()} {topic}{lora} {rng.choice(WORDS)} {i}"
        abstract = " ".join(rng.choice(WORDS + TOPICS) for _ in range(60))
        out.append((Paper(f"{2400 + i // 100000}.{i % 100000:05d}", title, abstract,
                          upvotes=rng.randint(0, 80), daily_date=seen.date()), seen))  # fmt: skip
    return out


async def timed(run: Callable[[], Awaitable[Any]], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main(args: argparse.Namespace) -> list[tuple[str, float]]:
    rng = random.Random(1)
    end = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        await migrate(url)
        async with Store(url) as store:
            rows = synthetic(args.papers, args.weeks, end, rng)
            for i in range(0, len(rows), 5000):
                by_time: dict[dt.datetime, list[Paper]] = {}  # one write per day
                for paper, seen in rows[i : i + 5000]:
                    day = seen.replace(hour=12, minute=0, second=0, microsecond=0)
                    by_time.setdefault(day, []).append(paper)
                for seen, papers in by_time.items():
                    await store.papers.upsert(papers, seen_at=seen)
            target = Target("console", "", "bench")
            for query in QUERIES:
                await store.subscriptions.add(target, query)
            until = end.date()
            monday = weeks_ending(until, 1)[0]
            lines = tuple(
                ChartSeries(q, tuple(rng.randint(0, 40) for _ in range(12))) for q in QUERIES[:6]
            )
            weeks = tuple(f"2026-W{w:02d}" for w in range(37, 49))
            chart = ChartData("bench", weeks, lines, "2026-W48")
            render_png(chart)  # matplotlib's import and font cache, once
            results = [
                ("trend LoRA, 12 weeks (with the chart)",
                 await timed(lambda: trend(store, "LoRA", weeks=12, until=until))),
                ("trend LoRA, 12 weeks (counts only)",
                 await timed(lambda: trend(store, "LoRA", weeks=12, until=until, draw=False))),
                ("chart only (12 weeks, 6 lines)",
                 await timed(lambda: asyncio.to_thread(render_png, chart))),
                ("rollup, 10 subscriptions (with the chart)",
                 await timed(lambda: build_rollup(store, target, monday, tz="UTC"))),
            ]  # fmt: skip
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--markdown", action="store_true")
    options = parser.parse_args()
    rows = asyncio.run(main(options))
    cores = os.cpu_count()
    title = (
        f"trends: {options.papers:,} papers over {options.weeks} weeks, SQLite, "
        f"{platform.machine()} {cores} cores, median of 3"
    )
    table = Table(title=title)
    table.add_column("what")
    table.add_column("seconds", justify="right")
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.2f}")
    Console().print(table)
    if options.markdown:
        print(f"\n{title}\n\n| what | seconds |\n|---|---:|")
        for name, seconds in rows:
            print(f"| {name} | {seconds:.2f} |")
