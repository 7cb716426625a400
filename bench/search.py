"""Benchmark: archive search on SQLite (a tantivy folder) and PostgreSQL (tsvector), vs. a
LIKE scan and tantivy alone.

Run: ``.venv/bin/python bench/search.py`` (1,000,000 papers on SQLite, a 100,000 subset
with the LIKE baseline, 100,000 on PostgreSQL when a URL is given). Scale down with
``--papers 100000 --subset 20000 --pg-papers 20000``; ``--markdown`` also prints the
tables for docs/benchmarks.md. PostgreSQL: ``--pg-url postgresql+asyncpg://...`` or
PAPERBOY_BENCH_DATABASE_URL / PAPERBOY_TEST_DATABASE_URL (a scratch schema is created
and dropped).

Workload (deterministic for a given ``--seed``):

- Papers: the seed abstracts' vocabulary (tests/fixtures/seed_search_results.txt) drawn
  with Zipf frequencies (weight 1/rank, ranks by the word's count in the seed), and one
  stretch in three copied from a seed abstract, so real phrases occur at realistic
  rates. Title 6-14 words, abstract 120-220, a third with an HF summary and keywords,
  1-6 authors, votes mostly 0-5 with a long tail, a quarter with a GitHub link, dates
  spread over three years in order (as a backfill writes them).
- 200 queries: single words (log-uniform over the vocabulary ranks, function words and
  the 20 most frequent content words excluded: those are the corpus's theme, in most
  papers), phrases from the seed titles, acronyms of the seed (LoRA, MoE, ...), and
  boolean ones (A, B / A AND B / A -B / (A, B) AND C / title:A / with since:, has:code,
  min-upvotes:). Each is timed once end to end (`paperboy.search.search`: parse, index
  query, count, rank, fetch, re-check with the matcher) for the top 10, after a warm-up.
- Ingest: `PaperRepo.upsert` plus the index sync, in batches, as a backfill does it;
  generating the papers is not timed.
- Baseline: what a naive search does without an index, on the same subset: each term a
  case-insensitive substring `LIKE '%term%'` over title and abstract, combined with the
  query's AND/OR/NOT; the newest 10 and the count of matches (no ranking, no stemming,
  and it finds LoRA in "exploration": less work than the real thing).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import itertools
import math
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from search_tantivy import TantivySide  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from paperboy.matching import (  # noqa: E402
    And,
    Node,
    Not,
    Or,
    QueryError,
    Term,
    is_acronym,
    normalize_fast,
    words_of,
)
from paperboy.models import Paper  # noqa: E402
from paperboy.search import (  # noqa: E402
    WINDOW,
    Filters,
    SearchIndex,
    SearchRequest,
    parse_search,
    search,
)
from paperboy.search.index import folder_index  # noqa: E402
from paperboy.search.lexemes import acronym_code, docid_range  # noqa: E402
from paperboy.search.sql import MAX_CODES, acronym_words, compile_query  # noqa: E402
from paperboy.search.tantivy_query import filtered  # noqa: E402
from paperboy.store import Store, make_engine, migrate  # noqa: E402
from tests.seed_corpus import load_seed_papers  # noqa: E402

STOPWORDS = frozenset(
    """a about after all also an and any are as at be been both but by can could do does
    each for from had has have how however if in into is it its more most much new no not
    of on one only or other our over same so some such than that the their them then there
    these they this those through thus to two under up upon us using very via was we were
    what when where which while who will with within without would""".split()
)
START_DAY = dt.date(2022, 1, 1)
SPAN_DAYS = 3 * 365
TODAY = START_DAY + dt.timedelta(days=SPAN_DAYS)
COMMON = 20  # the most frequent content words, left out of single-word queries
FIRST_NAMES = "Ada Alan Grace Linus Barbara Edsger Donald Frances Tim Radia Yann Fei".split()
LAST_NAMES = "Lovelace Turing Hopper Torvalds Liskov Dijkstra Knuth Allen Perlman Li".split()


# --------------------------------------------------------------------------- workload


@dataclass
class Corpus:
    vocab: list[str]
    cumulative: list[float]
    seed_words: list[list[str]]
    acronyms: list[str]
    phrases: list[str]
    words: list[str]  # content words, by frequency rank


def build_corpus() -> Corpus:
    seed = load_seed_papers()
    counts: collections.Counter[str] = collections.Counter()
    seed_words: list[list[str]] = []
    title_grams: collections.Counter[str] = collections.Counter()
    for paper in seed:
        words = words_of(normalize_fast(paper.title + " " + paper.abstract)[0])
        counts.update(words)
        seed_words.append(words_of(normalize_fast(paper.abstract)[0]))
        title = [w for w in words_of(normalize_fast(paper.title)[0])]
        for n in (2, 3):
            for i in range(len(title) - n + 1):
                gram = title[i : i + n]
                if gram[0].lower() in STOPWORDS or gram[-1].lower() in STOPWORDS:
                    continue
                if not all(w.isalpha() for w in gram) or any(is_acronym(w) for w in gram):
                    continue
                title_grams[" ".join(w.lower() for w in gram)] += 1
    vocab = [w for w, _ in counts.most_common()]
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(vocab))))
    acronyms = [w for w in vocab if is_acronym(w) and w.isalpha() and 2 <= len(w) <= 10]
    words = [w for w in vocab if w.isalpha() and w.islower() and len(w) > 2 and w not in STOPWORDS]
    return Corpus(vocab, cumulative, seed_words, acronyms, sorted(title_grams), words)


def _text(corpus: Corpus, rng: random.Random, n: int) -> str:
    out: list[str] = []
    while len(out) < n:
        if rng.random() < 1 / 3:
            source = rng.choice(corpus.seed_words)
            start = rng.randrange(len(source))
            out.extend(source[start : start + rng.randint(3, 8)])
        else:
            out.extend(rng.choices(corpus.vocab, cum_weights=corpus.cumulative, k=6))
    return " ".join(out[:n])


def make_papers(corpus: Corpus, start: int, count: int, total: int, seed: int) -> list[Paper]:
    rng = random.Random(f"{seed}:{start}")
    papers = []
    for i in range(start, start + count):
        day = START_DAY + dt.timedelta(days=i * SPAN_DAYS // max(total, 1))
        on_hf = rng.random() < 1 / 3
        papers.append(
            Paper(
                id=f"{(i // 99999) % 10000:04d}.{i % 99999 + 1:05d}",
                title=_text(corpus, rng, rng.randint(6, 14)),
                abstract=_text(corpus, rng, rng.randint(120, 220)),
                authors=tuple(
                    f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                    for _ in range(rng.randint(1, 6))
                ),
                daily_date=day,
                upvotes=min(int(rng.paretovariate(1.2)) - 1, 5000) if on_hf else 0,
                ai_summary=_text(corpus, rng, rng.randint(30, 60)) if on_hf else None,
                ai_keywords=tuple(_text(corpus, rng, 2).split()) if on_hf else (),
                github_url=f"https://github.com/lab/repo{i}" if rng.random() < 0.25 else None,
                on_hf=on_hf,
                source="hf" if on_hf else "arxiv",
            )
        )
    return papers


def make_queries(corpus: Corpus, n: int, seed: int) -> list[tuple[str, str]]:
    """(class, query text): words, phrases, acronyms and boolean queries."""
    rng = random.Random(f"{seed}:queries")

    def word() -> str:
        # Log-uniform over the ranks: as many queries among the 100 most frequent words as
        # among the next 900. The top COMMON words are the corpus's theme ("model",
        # "language", in most papers), not something one searches for alone.
        low, high = math.log(COMMON), math.log(len(corpus.words))
        rank = int(math.exp(rng.uniform(low, high)))
        return corpus.words[min(rank, len(corpus.words) - 1)]

    def term() -> str:
        roll = rng.random()
        if roll < 0.5:
            return word()
        if roll < 0.75:
            return rng.choice(corpus.acronyms)
        return f'"{rng.choice(corpus.phrases)}"'

    templates = [
        lambda: f"{term()}, {term()}",
        lambda: f"{term()} AND {term()}",
        lambda: f"{term()} -{word()}",
        lambda: f"({term()}, {term()}) AND {word()}",
        lambda: f"title:{term()}",
        lambda: f"{term()} since:180d",
        lambda: f"{term()} has:code",
        lambda: f"{term()} min-upvotes:5",
    ]
    kinds = ["word"] * 60 + ["phrase"] * 50 + ["acronym"] * 40 + ["boolean"] * 50
    rng.shuffle(kinds)
    out = []
    for kind in itertools.islice(itertools.cycle(kinds), n):
        if kind == "word":
            out.append((kind, word()))
        elif kind == "phrase":
            out.append((kind, rng.choice(corpus.phrases)))
        elif kind == "acronym":
            out.append((kind, rng.choice(corpus.acronyms)))
        else:
            out.append((kind, rng.choice(templates)()))
    return out


# --------------------------------------------------------------------------- runs


@dataclass
class Run:
    name: str
    papers: int = 0
    ingest_seconds: float = 0.0
    index_mb: float = 0.0
    archive_mb: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)  # class -> ms
    like_latencies: dict[str, list[float]] = field(default_factory=dict)
    totals: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # CPU ms of each query (all threads)
    tantivy: dict[str, list[float]] = field(default_factory=dict)  # class -> ms
    tantivy_cpu: list[float] = field(default_factory=list)
    tantivy_seconds: float = 0.0  # building its index from the stored lexemes
    tantivy_mb: float = 0.0
    ingest_reused: bool = False

    @property
    def rate(self) -> float:
        return self.papers / self.ingest_seconds if self.ingest_seconds else 0.0


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def flat(latencies: dict[str, list[float]]) -> list[float]:
    return [v for values in latencies.values() for v in values]


async def ingest(
    store: Store, corpus: Corpus, count: int, total: int, args: argparse.Namespace, label: str
) -> float:
    """Seconds to write `count` papers as `paperboy ingest` does: each batch (a day)
    analysed ahead in a worker while the one before is upserted and indexed. The papers
    are generated first, outside the timing."""
    batches = [
        make_papers(corpus, start, min(args.batch, count - start), total, args.seed)
        for start in range(0, count, args.batch)
    ]
    async with SearchIndex(store, workers=args.workers) as index:
        started = time.perf_counter()
        if batches:
            index.prepare(batches[0])
        done = 0
        for i, papers in enumerate(batches):
            if i + 1 < len(batches):
                index.prepare(batches[i + 1])
            # What paperboy.ingest.ingest does with a fetched day: store, then index.
            await store.papers.upsert(papers)
            await index.sync()
            done += len(papers)
            if done % max(args.batch, count // 10) < args.batch or done == count:
                seconds = time.perf_counter() - started
                print(
                    f"  {label}: {done:,} papers, {done / seconds:,.0f}/s indexed", file=sys.stderr
                )
        return time.perf_counter() - started


async def tantivy_queries(
    index: SearchIndex, side: TantivySide, queries: list[tuple[str, SearchRequest]]
) -> list[object | None]:
    """Each query as a tantivy query (None: nothing can match), compiled before timing."""
    out: list[object | None] = []
    for _, request in queries:
        surfaces = await index.acronym_surfaces(acronym_words(request.query), limit=MAX_CODES)
        codes = {w: None if s is None else tuple(map(acronym_code, s)) for w, s in surfaces.items()}
        try:
            compiled = compile_query(request.query, side.dialect, codes)
        except QueryError:
            out.append(None)
            continue
        if compiled.never or compiled.text is None:
            out.append(None)
            continue
        options = request.options
        low, high = docid_range(options.since, options.until)
        filters = Filters(low, high, options.min_upvotes, options.has_code)
        out.append(filtered(compiled.text, filters))
    return out


async def time_queries(
    store: Store,
    queries: list[tuple[str, SearchRequest]],
    args: argparse.Namespace,
    run: Run,
    side: TantivySide | None = None,
) -> None:
    """Each query through paperboy, then (interleaved) the same one through tantivy."""
    index = SearchIndex(store, window=args.window)
    timed: list[tuple[float, str, str, int, float]] = []
    compiled = await tantivy_queries(index, side, queries) if side else []
    for i, (_, request) in enumerate(queries[:20]):  # warm-up: caches, prepared statements
        await search(store, request, limit=10, index=index, sync=False)
        if side and compiled[i] is not None:
            side.search(compiled[i], 10)
    mismatched = 0
    for i, (kind, request) in enumerate(queries):
        t0, c0 = time.perf_counter(), time.process_time()
        results = await search(store, request, limit=10, index=index, sync=False)
        ms = (time.perf_counter() - t0) * 1000
        run.cpu.append((time.process_time() - c0) * 1000)
        run.latencies.setdefault(kind, []).append(ms)
        run.totals.append(results.total)
        other_ms = float("nan")
        if side:
            t0, c0 = time.perf_counter(), time.process_time()
            count = side.search(compiled[i], 10)[1] if compiled[i] is not None else 0
            other_ms = (time.perf_counter() - t0) * 1000
            run.tantivy_cpu.append((time.process_time() - c0) * 1000)
            run.tantivy.setdefault(kind, []).append(other_ms)
            if results.total_exact and count != results.total:
                mismatched += 1  # (a superset query's tantivy count may be larger)
        timed.append((ms, kind, request.text, results.total, other_ms))
    if side:
        print(f"  {run.name}: exact totals unlike tantivy's count: {mismatched}", file=sys.stderr)
    for ms, kind, text, total, other in sorted(timed, reverse=True)[: args.slowest]:
        beside = f" (tantivy {other:5.1f})" if side else ""
        print(f"  {run.name}: {ms:7.1f} ms{beside}  {kind:8} {total:>7,}  {text}", file=sys.stderr)


def like_sql(node: Node, params: dict[str, object]) -> str:
    if isinstance(node, Term):
        key = f"p{len(params)}"
        params[key] = f"%{node.text}%"
        columns = {"title": ("title",), "abstract": ("abstract",), "author": ("authors",)}
        cols = columns.get(node.field or "", ("title", "abstract"))
        return "(" + " OR ".join(f"{c} LIKE :{key}" for c in cols) + ")"
    if isinstance(node, Not):
        return f"NOT {like_sql(node.child, params)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    assert isinstance(node, And | Or)
    return "(" + joiner.join(like_sql(c, params) for c in node.children) + ")"


async def time_like(
    store: Store, queries: list[tuple[str, SearchRequest]], run: Run, *, postgres: bool
) -> None:
    async with store.engine.connect() as conn:
        for kind, request in queries:
            params: dict[str, object] = {}
            where = like_sql(request.query.root, params)
            if postgres:
                where = where.replace(" LIKE ", " ILIKE ")
                where = where.replace("authors ILIKE", "authors::text ILIKE")
            options = request.options
            if options.since:
                where += " AND daily_date >= :since"
                params["since"] = options.since
            if options.min_upvotes:
                where += " AND upvotes >= :mu"
                params["mu"] = options.min_upvotes
            if options.has_code:
                where += " AND github_url IS NOT NULL"
            top = sa.text(f"SELECT id FROM papers WHERE {where} ORDER BY daily_date DESC LIMIT 10")
            count = sa.text(f"SELECT count(*) FROM papers WHERE {where}")
            t0 = time.perf_counter()
            (await conn.execute(top, params)).fetchall()
            (await conn.execute(count, params)).scalar_one()  # the total a search reports
            run.like_latencies.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)


async def sqlite_sizes(store: Store) -> tuple[float, float]:
    """(index, archive) MB: the index is the folder and the database's search tables."""
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(sa.text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        ).all()
    index = sum(size for name, size in rows if "search_" in name)
    archive = sum(size for name, size in rows if "papers" in name)
    folder = folder_index(store).path
    if folder is not None:
        index += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return index / 1e6, archive / 1e6


async def postgres_sizes(store: Store) -> tuple[float, float]:
    async with store.engine.connect() as conn:

        async def size(table: str) -> int:
            return (
                await conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": table})
            ).scalar_one()

        index = sum([await size(t) for t in ("search_vectors", "search_docs", "search_acronyms")])
        return index / 1e6, await size("papers") / 1e6


async def sqlite_run(
    path: Path, count: int, corpus: Corpus, queries, args, *, like: bool, label: str
) -> Run:
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    run = Run(label, count)
    measured = path.with_suffix(".ingest")  # the ingest time of a reused file's build
    async with Store(url) as store:
        if args.reuse and await store.papers.count() == count:
            print(f"  {label}: reusing {path.name}", file=sys.stderr)
            run.ingest_reused = True
            with contextlib.suppress(OSError, ValueError):
                run.ingest_seconds = float(measured.read_text())
            # A folder of an older schema is rebuilt (not timed: not an ingest).
            async with SearchIndex(store, workers=args.workers) as index:
                if caught_up := await index.sync():
                    print(f"  {label}: indexed {caught_up:,} papers again", file=sys.stderr)
        else:
            measured.unlink(missing_ok=True)
            run.ingest_seconds = await ingest(
                store, corpus, count, args.papers or count, args, label
            )
            measured.write_text(f"{run.ingest_seconds}\n")
        run.index_mb, run.archive_mb = await sqlite_sizes(store)
        side = None
        if not args.no_tantivy:
            side = TantivySide(path.with_suffix(".tantivy"))
            if not (args.reuse and run.ingest_reused and side.open_existing(count)):
                async with store.engine.connect() as conn:
                    run.tantivy_seconds = await side.build(conn)
                print(
                    f"  {label}: tantivy indexed {count:,} papers in {run.tantivy_seconds:.1f} s",
                    file=sys.stderr,
                )
            run.tantivy_mb = side.size_mb()
        await time_queries(store, queries, args, run, side)
        if like:
            await time_like(store, queries, run, postgres=False)
    return run


async def postgres_run(url: str, count: int, corpus: Corpus, queries, args) -> Run:
    keep = args.pg_schema is not None
    schema = args.pg_schema or f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, poolclass=NullPool)
    async with admin.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    try:
        await migrate(url, schema=schema)
        run = Run(f"PostgreSQL, {count:,}", count)
        async with Store(url, schema=schema) as store:
            if keep and await store.papers.count() == count:
                print(f"  pg: reusing schema {schema}", file=sys.stderr)
                run.ingest_reused = True
            else:
                run.ingest_seconds = await ingest(
                    store, corpus, count, args.papers or count, args, "pg"
                )
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
            run.index_mb, run.archive_mb = await postgres_sizes(store)
            await time_queries(store, queries, args, run)
            if args.pg_like:
                await time_like(store, queries, run, postgres=True)
        return run
    finally:
        if not keep:
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.dispose()


# --------------------------------------------------------------------------- report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import sqlite3

    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def tables(runs: list[Run]) -> list[tuple[str, list[str], list[list[str]]]]:
    main = []
    for run in runs:
        all_ms = flat(run.latencies)
        main.append(
            [
                run.name,
                f"{run.rate:,.0f}",
                f"{run.index_mb:,.0f} MB (archive {run.archive_mb:,.0f} MB)",
                f"{pct(all_ms, 50):.1f}",
                f"{pct(all_ms, 95):.1f}",
                f"{max(all_ms):.1f}",
            ]
        )
        if run.tantivy:
            other = flat(run.tantivy)
            main.append(
                [
                    f"{run.name}: tantivy (same lexemes, same queries)",
                    f"{run.papers / run.tantivy_seconds:,.0f}" if run.tantivy_seconds else "",
                    f"{run.tantivy_mb:,.0f} MB",
                    f"{pct(other, 50):.1f}",
                    f"{pct(other, 95):.1f}",
                    f"{max(other):.1f}",
                ]
            )
        if run.like_latencies:
            like = flat(run.like_latencies)
            main.append(
                [
                    f"{run.name}: LIKE scan (newest 10 + count)",
                    "",
                    "",
                    f"{pct(like, 50):.1f} ({pct(like, 50) / pct(all_ms, 50):.1f}x)",
                    f"{pct(like, 95):.1f} ({pct(like, 95) / pct(all_ms, 95):.1f}x)",
                    f"{max(like):.1f}",
                ]
            )
    kinds = ["word", "phrase", "acronym", "boolean"]
    per_class = []
    for run in runs:
        per_class.append(
            [run.name, *(f"{pct(run.latencies.get(k, []), 50):.1f} / "
                         f"{pct(run.latencies.get(k, []), 95):.1f}" for k in kinds)]
        )  # fmt: skip
        if run.tantivy:
            per_class.append(
                [f"{run.name}: tantivy", *(f"{pct(run.tantivy.get(k, []), 50):.1f} / "
                                           f"{pct(run.tantivy.get(k, []), 95):.1f}" for k in kinds)]
            )  # fmt: skip
            per_class.append(
                [f"{run.name}: ratio p50 / p95", *(
                    f"{pct(run.latencies.get(k, []), 50) / pct(run.tantivy.get(k, []), 50):.2f}x / "
                    f"{pct(run.latencies.get(k, []), 95) / pct(run.tantivy.get(k, []), 95):.2f}x"
                    for k in kinds)]
            )  # fmt: skip
    return [
        (
            "Search: top 10, end to end",
            ["run", "ingest papers/s", "index size", "p50 ms", "p95 ms", "max ms"],
            main,
        ),
        ("p50 / p95 ms by query class", ["run", *kinds], per_class),
    ]


def print_tables(runs: list[Run], markdown: bool) -> None:
    console = Console()
    for title, header, rows in tables(runs):
        table = Table(title=title)
        for name in header:
            table.add_column(name)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        if markdown:
            print(f"\n**{title}**\n")
            print("| " + " | ".join(header) + " |")
            print("|" + "|".join("---" for _ in header) + "|")
            for row in rows:
                print("| " + " | ".join(row) + " |")
            print()
    print(f"Machine: {machine()}")
    for run in runs:
        if run.tantivy:
            print(
                f"{run.name}: CPU ms per query p50 / p95: paperboy {pct(run.cpu, 50):.1f} / "
                f"{pct(run.cpu, 95):.1f}, tantivy {pct(run.tantivy_cpu, 50):.1f} / "
                f"{pct(run.tantivy_cpu, 95):.1f}"
            )


def summary_line(runs: list[Run]) -> str | None:
    """The last line of the output, kept stable for automated checks: the largest SQLite
    run against tantivy (ratios of paperboy's latency to tantivy's over the same queries)."""
    compared = [run for run in runs if run.tantivy]
    if not compared:
        return None
    run = max(compared, key=lambda r: r.papers)
    ours, other = flat(run.latencies), flat(run.tantivy)
    return (
        f"search vs tantivy at {run.papers} papers: p50 {pct(ours, 50) / pct(other, 50):.2f}x, "
        f"p95 {pct(ours, 95) / pct(other, 95):.2f}x, max {max(ours):.0f} ms, "
        f"ingest {run.rate:.0f} papers/s"
    )


async def main(args: argparse.Namespace) -> None:
    corpus = build_corpus()
    queries_text = make_queries(corpus, args.queries, args.seed)
    queries = [(kind, parse_search(text, today=TODAY)) for kind, text in queries_text]
    runs: list[Run] = []
    keep = contextlib.nullcontext(args.dir) if args.reuse else None
    with keep or tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if args.subset:
            label = f"SQLite, {args.subset:,}"
            path = Path(tmp) / "subset.db"
            runs.append(
                await sqlite_run(path, args.subset, corpus, queries, args, like=True, label=label)
            )
        if args.papers:
            label = f"SQLite, {args.papers:,}"
            path = Path(tmp) / "archive.db"
            runs.append(
                await sqlite_run(path, args.papers, corpus, queries, args, like=False, label=label)
            )
    pg_url = (
        args.pg_url
        or os.environ.get("PAPERBOY_BENCH_DATABASE_URL")
        or os.environ.get("PAPERBOY_TEST_DATABASE_URL")
    )
    if pg_url and args.pg_papers:
        runs.append(await postgres_run(pg_url, args.pg_papers, corpus, queries, args))
    elif args.pg_papers:
        print("PostgreSQL skipped: give --pg-url or PAPERBOY_BENCH_DATABASE_URL", file=sys.stderr)
    print(
        f"{len(queries)} queries: "
        + ", ".join(f"{k} {n}" for k, n in collections.Counter(k for k, _ in queries).items())
        + f"; ranking window {args.window or WINDOW:,} (PostgreSQL; SQLite ranks every match)"
        + "; examples: "
        + "; ".join(text for _, text in queries_text[:6]),
        file=sys.stderr,
    )
    print_tables(runs, args.markdown)
    line = summary_line(runs)
    if line:
        print(line)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=1_000_000, help="SQLite archive size")
    parser.add_argument("--subset", type=int, default=100_000, help="SQLite + LIKE baseline")
    parser.add_argument("--pg-papers", type=int, default=100_000, help="PostgreSQL archive size")
    parser.add_argument("--pg-url", default=None, help="postgresql+asyncpg://... (scratch)")
    parser.add_argument("--pg-like", action="store_true", help="also ILIKE on PostgreSQL")
    parser.add_argument(
        "--pg-schema",
        default=None,
        help="keep the PostgreSQL archive in this schema; reuse it when it holds the right count",
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10_000, help="papers per upsert")
    parser.add_argument("--workers", type=int, default=1, help="index analysis processes")
    parser.add_argument("--window", type=int, default=None, help="ranking window (2,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where the SQLite files go (temporary)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the SQLite files in --dir and reuse them when they hold the right count",
    )
    parser.add_argument("--no-tantivy", action="store_true", help="skip the tantivy reference")
    parser.add_argument("--slowest", type=int, default=0, help="print the N slowest queries")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.reuse and not args.dir:
        parser.error("--reuse needs --dir")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
