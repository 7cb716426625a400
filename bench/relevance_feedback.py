"""Benchmark: retraining a channel's relevance model (the feedback side of issue 13).

Run: ``.venv/bin/python bench/relevance_feedback.py [--votes 10,100,1000] [--runs 30]
[--database-url URL]`` (``--markdown`` also prints the table for docs/benchmarks.md).

Workload: an archive of 5,000 papers made from the real seed abstracts (titles and
sentences recombined, ~1.5 KB of text each); a channel with N votes (70 % 👍, 20 % 👎,
10 % 🔖) on N distinct papers; a day's digest of 30 candidate papers.

Measures, per N (median and 95th percentile over ``--runs``):

- **retrain + score, warm**: the model built from the N examples and a 30-paper day
  scored (features of the voted papers from the per-process word cache), what every
  digest after the first costs;
- **retrain + score, cold**: the same with the word cache emptied first (the first digest
  of a process: every voted paper's words read again);
- **+ embeddings, warm**: the same with a 256-dimension embedding for every paper beside
  the words (what the archive stores with the bundled model);
- **from the store**: what the planner does before a digest: the channel's feedback read
  from the database (`paperboy.feedback.examples`: votes grouped per paper, the papers
  fetched), then retrain + score, warm.

Target: retrain <= 50 ms for a channel with 1,000 votes.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from paperboy.feedback import RelevanceModel, examples, rank, signer  # noqa: E402
from paperboy.feedback.features import _terms  # noqa: E402
from paperboy.models import Paper, Target  # noqa: E402
from paperboy.store import Store, migrate  # noqa: E402
from tests.seed_corpus import load_seed_papers  # noqa: E402

DAY = dt.date(2025, 3, 3)
ARCHIVE = 5_000
CANDIDATES = 30


def make_archive(count: int, seed: int) -> list[Paper]:
    rng = random.Random(seed)
    seeds = load_seed_papers()
    sentences = [s.strip() + "." for p in seeds for s in p.abstract.split(". ") if len(s) > 40]
    out = []
    for n in range(count):
        base = rng.choice(seeds)
        text = " ".join(rng.sample(sentences, 10))[:1500]
        out.append(
            Paper(
                id=f"2503.{n:05d}",
                title=f"{base.title} ({n})",
                abstract=text,
                upvotes=rng.randint(0, 80),
                daily_date=DAY - dt.timedelta(days=rng.randint(0, 60)),
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(votes_list: list[int], runs: int, url: str | None, seed: int) -> list[dict]:
    papers = make_archive(ARCHIVE, seed)
    rng = random.Random(seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate(db)
        async with Store(db) as store:
            await store.papers.upsert(papers)
            sign = await signer(store)
            for votes in votes_list:
                target = Target("slack", "T1", f"C{votes}")
                voted = rng.sample(papers, votes)
                for index, paper in enumerate(voted):
                    roll = index % 10
                    action = "up" if roll < 7 else "down" if roll < 9 else "save"
                    user = sign.user_hash("slack", "T1", f"U{index % 7}")
                    await store.feedback.record(target, paper.id, user, action)
                target_id = await store.targets.get_id(target)
                assert target_id is not None
                taught = (await examples(store, [target_id]))[target_id]
                day = rng.sample(papers, CANDIDATES)

                def once(
                    taught: list = taught, day: list[Paper] = day, vectors: dict | None = None
                ) -> tuple[float, float]:
                    start, cpu = time.perf_counter(), time.process_time()
                    rank(RelevanceModel(taught, vectors=vectors), day, suggest=False)
                    return time.perf_counter() - start, time.process_time() - cpu

                once()  # warm the word cache
                warm = [once() for _ in range(runs)]
                cold = []
                for _ in range(max(3, runs // 3)):
                    _terms.cache_clear()
                    cold.append(once())
                once()
                stored = []
                for _ in range(max(3, runs // 3)):
                    start, cpu = time.perf_counter(), time.process_time()
                    loaded = (await examples(store, [target_id]))[target_id]
                    rank(RelevanceModel(loaded), day, suggest=False)
                    stored.append((time.perf_counter() - start, time.process_time() - cpu))
                # With embeddings beside the words: 256 dimensions, as the bundled model's.
                np_rng = np.random.default_rng(seed)
                ids = [e.paper.id for e in taught] + [p.id for p in day]
                matrix = np_rng.standard_normal((len(ids), 256)).astype(np.float32)
                vectors = dict(zip(ids, matrix, strict=True))
                embedded = [once(vectors=vectors) for _ in range(runs)]
                rows.append(
                    {
                        "embedded": summary(embedded),
                        "votes": votes,
                        "examples": len(taught),
                        "warm": summary(warm),
                        "cold": summary(cold),
                        "stored": summary(stored),
                    }
                )
    return rows


def summary(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Wall-clock p50 and p95, and the CPU time's p50 (the machine is shared: CPU time is
    the work itself, wall time includes waiting for a core)."""
    wall = [w for w, _ in samples]
    cpu = [c for _, c in samples]
    return statistics.median(wall), percentile(wall, 0.95), statistics.median(cpu)


def ms(stats: tuple[float, float, float]) -> str:
    return f"{stats[0] * 1000:.1f} / {stats[1] * 1000:.1f} ms (CPU {stats[2] * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", default="10,100,1000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    votes = [int(v) for v in args.votes.split(",")]
    rows = asyncio.run(run(votes, args.runs, args.database_url, args.seed))
    backend = "PostgreSQL" if args.database_url else "SQLite"
    title = f"Relevance retraining (wall p50 / p95, CPU p50; {CANDIDATES}-paper day; {backend})"
    table = Table(title=title)
    columns = (
        "votes",
        "retrain + score, warm",
        "+ embeddings, warm",
        "retrain + score, cold",
        "from the store",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            str(row["votes"]),
            ms(row["warm"]),
            ms(row["embedded"]),
            ms(row["cold"]),
            ms(row["stored"]),
        )
    Console().print(table)
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}, archive {ARCHIVE:,} papers, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    if args.markdown:
        print("\n| " + " | ".join(columns) + " |")
        print("|---:|---:|---:|---:|---:|")
        for row in rows:
            cells = [
                f"{row['votes']:,}",
                ms(row["warm"]),
                ms(row["embedded"]),
                ms(row["cold"]),
                ms(row["stored"]),
            ]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
