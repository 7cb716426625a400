"""Benchmark: embeddings, hybrid search and `similar` (paperboy.embeddings, paperboy.search.hybrid).

Run: ``.venv/bin/python bench/relevance.py`` (embedding rate on 100,000 papers; search at
100,000 and 1,000,000 papers on SQLite). Scale down with ``--embed-papers 20000 --sizes
20000``; ``--markdown`` also prints the tables for docs/benchmarks.md; ``--dir D --reuse``
keeps the SQLite files and skips building them when complete; ``--pg-papers N`` (with
``--pg-url`` or PAPERBOY_BENCH_DATABASE_URL / PAPERBOY_TEST_DATABASE_URL) adds a
PostgreSQL run in a scratch schema. ``--only embedding,search`` runs some sections.

Sections (each a function; more can be added to SECTIONS):

- *embedding*: papers per second through the bundled model (`Embedder.embed` on each
  paper's text, batches of 1,000 like an ingest's day), wall clock and per CPU second
  (the machine is shared), then the same with the vectors written to the store
  (`Embeddings.write`: the hash check and the insert), as `paperboy.ingest.ingest` does.
- *search*: an archive of N papers (papers, search index and vectors written as an ingest
  writes them; not timed), the in-memory vector index built from the stored vectors
  (timed: what the first query after a start pays), then in the same run, over the same
  queries: keyword-only search (`paperboy.search.search`), hybrid search (the default of
  `/papers search`), semantic-only, and `similar` for random archived papers. Each
  query is timed once end to end for the top 10 after a warm-up; p50 / p95 / max.

Workload (deterministic for a ``--seed``): bench/search.py's vocabulary (the seed
abstracts' words with Zipf frequencies) with topics: each paper has a main topic and a
second one (two of the 130 seed abstracts), and its text is drawn 60% from stretches of
the main topic's abstract, 15% from the second's, the rest Zipf words. Papers on a topic
share words the way a field's papers do, so their embeddings cluster (a corpus of
uniformly random words would put every vector near the same centroid). Queries: the
keyword queries of bench/search.py (words, phrases, acronyms, boolean) and as many
paraphrase-like ones (4-7 consecutive words of a seed abstract, lower-cased).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bench.search import (  # noqa: E402
    FIRST_NAMES,
    LAST_NAMES,
    SPAN_DAYS,
    START_DAY,
    TODAY,
    Corpus,
    build_corpus,
    machine,
    make_queries,
    pct,
)
from paperboy.embeddings import Embeddings, default_embedder, paper_text  # noqa: E402
from paperboy.models import Paper  # noqa: E402
from paperboy.search import (  # noqa: E402
    SearchIndex,
    SearchRequest,
    hybrid_search,
    parse_search,
    search,
    similar,
)
from paperboy.store import Store, make_engine, migrate  # noqa: E402

# --------------------------------------------------------------------------- workload


def _stretch(words: list[str], rng: random.Random) -> list[str]:
    start = rng.randrange(max(1, len(words) - 3))
    return words[start : start + rng.randint(3, 8)]


def _topical_text(corpus: Corpus, rng: random.Random, main: int, second: int, n: int) -> str:
    out: list[str] = []
    while len(out) < n:
        roll = rng.random()
        if roll < 0.60:
            out.extend(_stretch(corpus.seed_words[main], rng))
        elif roll < 0.75:
            out.extend(_stretch(corpus.seed_words[second], rng))
        else:
            out.extend(rng.choices(corpus.vocab, cum_weights=corpus.cumulative, k=4))
    return " ".join(out[:n])


def paper_id(i: int) -> str:
    """The id of the archive's `i`-th paper (as bench/search.py numbers them)."""
    return f"{(i // 99999) % 10000:04d}.{i % 99999 + 1:05d}"


def make_topical_papers(
    corpus: Corpus, start: int, count: int, total: int, seed: int
) -> list[Paper]:
    """Papers `start` .. `start + count` of an archive of `total` (ids, dates as in
    bench/search.py), each on a main and a second topic."""
    rng = random.Random(f"{seed}:topical:{start}")
    topics = len(corpus.seed_words)
    papers = []
    for i in range(start, start + count):
        day = START_DAY + dt.timedelta(days=i * SPAN_DAYS // max(total, 1))
        main, second = rng.randrange(topics), rng.randrange(topics)
        on_hf = rng.random() < 1 / 3
        papers.append(
            Paper(
                id=paper_id(i),
                title=_topical_text(corpus, rng, main, second, rng.randint(6, 14)),
                abstract=_topical_text(corpus, rng, main, second, rng.randint(120, 220)),
                authors=tuple(
                    f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                    for _ in range(rng.randint(1, 6))
                ),
                daily_date=day,
                upvotes=min(int(rng.paretovariate(1.2)) - 1, 5000) if on_hf else 0,
                ai_keywords=tuple(_topical_text(corpus, rng, main, main, 3).split())
                if on_hf
                else (),
                github_url=f"https://github.com/lab/repo{i}" if rng.random() < 0.25 else None,
                on_hf=on_hf,
                source="hf" if on_hf else "arxiv",
            )
        )
    return papers


def make_paraphrases(corpus: Corpus, n: int, seed: int) -> list[str]:
    """Paraphrase-like queries: 4-7 consecutive words of a seed abstract, lower-cased."""
    rng = random.Random(f"{seed}:paraphrases")
    out = []
    for _ in range(n):
        words = rng.choice(corpus.seed_words)
        start = rng.randrange(max(1, len(words) - 7))
        out.append(" ".join(w.lower() for w in words[start : start + rng.randint(4, 7)]))
    return out


def batches(corpus: Corpus, count: int, total: int, size: int, seed: int) -> list[list[Paper]]:
    return [
        make_topical_papers(corpus, start, min(size, count - start), total, seed)
        for start in range(0, count, size)
    ]


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """One section's rows for the report: a title, a header and rows of cells."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def ms_cells(values: Sequence[float]) -> list[str]:
    return [f"{pct(values, 50):.1f}", f"{pct(values, 95):.1f}", f"{max(values):.1f}"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- embedding


async def bench_embedding(args: argparse.Namespace, corpus: Corpus) -> list[Result]:
    """Embedding rate: the model alone, then with the vectors stored (SQLite)."""
    count = args.embed_papers
    if not count:
        return []
    days = batches(corpus, count, count, 1000, args.seed)
    embedder = default_embedder()
    embedder.embed([paper_text(p) for p in days[0][:100]])  # load and warm up
    wall, cpu = time.perf_counter(), time.process_time()
    for papers in days:
        embedder.embed([paper_text(p) for p in papers])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result = Result(
        f"Embedding {count:,} papers (wordllama, {embedder.dims} dimensions)",
        ["what", "papers/s (wall)", "papers/s per CPU second", "seconds"],
    )
    result.rows.append(["embed only", f"{count / wall:,.0f}", f"{count / cpu:,.0f}", f"{wall:.1f}"])
    log(f"  embedding: {count / wall:,.0f} papers/s wall, {count / cpu:,.0f} per CPU second")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'embed.db'}"
        await migrate(url)
        async with Store(url) as store:
            for papers in days:
                await store.papers.upsert(papers)
            emb = Embeddings(store, embedder)
            wall, cpu = time.perf_counter(), time.process_time()
            for papers in days:  # what ingest does with a day: prepare in a thread, write
                await emb.write(await emb.prepare(papers))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result.rows.append(
        ["embed + store (SQLite)", f"{count / wall:,.0f}", f"{count / cpu:,.0f}", f"{wall:.1f}"]
    )
    log(f"  embedding + store: {count / wall:,.0f} papers/s wall")
    return [result]


# --------------------------------------------------------------------------- search


@dataclass
class SearchRun:
    name: str
    papers: int
    build_seconds: float = 0.0  # papers + search index + vectors (not the target)
    index_seconds: float = 0.0  # the vector index from the stored vectors
    latencies: dict[str, list[float]] = field(default_factory=dict)
    related: list[int] = field(default_factory=list)  # hybrid hits found by meaning only


async def build_archive(
    store: Store, corpus: Corpus, count: int, args: argparse.Namespace
) -> float:
    """Write `count` papers as an ingest does (upsert, search index, vectors); the next
    batch is embedded in a worker thread while one is written."""
    emb = Embeddings(store, default_embedder())
    started = time.perf_counter()
    done = 0
    starts = list(range(0, count, args.batch))

    def papers_at(start: int) -> list[Paper]:
        return make_topical_papers(corpus, start, min(args.batch, count - start), count, args.seed)

    async with SearchIndex(store, workers=1) as index:
        papers = papers_at(starts[0]) if starts else []
        pending = asyncio.ensure_future(emb.prepare(papers))
        for n, _ in enumerate(starts):
            index.prepare(papers)
            prepared = await pending
            upcoming = papers_at(starts[n + 1]) if n + 1 < len(starts) else []
            pending = asyncio.ensure_future(emb.prepare(upcoming))
            await store.papers.upsert(papers)
            await index.sync()
            await emb.write(prepared)
            done += len(papers)
            papers = upcoming
            if done % max(args.batch, count // 10) < args.batch or done == count:
                rate = done / (time.perf_counter() - started)
                log(f"  archive: {done:,} papers written, {rate:,.0f}/s")
        await pending
    return time.perf_counter() - started


async def time_search(
    store: Store,
    run: SearchRun,
    queries: list[tuple[str, SearchRequest]],
    args: argparse.Namespace,
) -> None:
    emb = Embeddings(store, default_embedder())
    t0 = time.perf_counter()
    index = await emb.sync()
    run.index_seconds = time.perf_counter() - t0
    log(f"  {run.name}: vector index of {len(index):,} built in {run.index_seconds:.1f} s")
    keyword_index = SearchIndex(store)

    async def keyword(request: SearchRequest) -> Any:
        return await search(store, request, limit=10, index=keyword_index, sync=False)

    async def hybrid(request: SearchRequest) -> Any:
        return await hybrid_search(store, request, limit=10, embeddings=emb, index=keyword_index)

    async def semantic(request: SearchRequest) -> Any:
        return await hybrid_search(store, request, limit=10, mode="semantic", embeddings=emb)

    modes: list[tuple[str, Callable[[SearchRequest], Coroutine[Any, Any, Any]]]] = [
        ("keyword", keyword),
        ("hybrid", hybrid),
        ("semantic", semantic),
    ]
    for _, run_one in modes:  # warm-up: caches, prepared statements, the query embedding
        for _, request in queries[:10]:
            await run_one(request)
    # Interleaved, query by query: the machine's load hits every mode alike. The mode that
    # runs a query first reads its pages from disk for the others (hybrid and keyword
    # read the same index): the order turns with each query, so that no mode always pays.
    for number, (kind, request) in enumerate(queries):
        turn = number % len(modes)
        for mode, run_one in modes[turn:] + modes[:turn]:
            t0 = time.perf_counter()
            results = await run_one(request)
            ms = (time.perf_counter() - t0) * 1000
            run.latencies.setdefault(mode, []).append(ms)
            run.latencies.setdefault(f"{mode} ({kind})", []).append(ms)
            if mode == "hybrid":
                run.related.append(sum(1 for h in results.hits if not h.matched_terms))
    rng = random.Random(f"{args.seed}:similar")
    ids = [paper_id(i) for i in rng.sample(range(run.papers), min(args.similar, run.papers))]
    papers = await store.papers.get_many(ids)
    for pid in ids:
        t0 = time.perf_counter()
        await similar(store, papers[pid], limit=10, embeddings=emb)
        run.latencies.setdefault("similar", []).append((time.perf_counter() - t0) * 1000)


async def sqlite_search(
    args: argparse.Namespace,
    corpus: Corpus,
    queries: list[tuple[str, SearchRequest]],
    count: int,
    tmp: str,
) -> SearchRun:
    path = Path(tmp) / f"relevance-{count}.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    run = SearchRun(f"SQLite, {count:,}", count)
    async with Store(url) as store:
        emb = Embeddings(store, default_embedder())
        if (
            args.reuse
            and await store.papers.count() == count
            and await emb.vectors.count() == count
        ):
            log(f"  {run.name}: reusing {path.name} (build not measured)")
        else:
            run.build_seconds = await build_archive(store, corpus, count, args)
        await time_search(store, run, queries, args)
    return run


async def postgres_search(
    args: argparse.Namespace, corpus: Corpus, queries: list[tuple[str, SearchRequest]], url: str
) -> SearchRun:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, poolclass=NullPool)
    async with admin.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        await migrate(url, schema=schema)
        run = SearchRun(f"PostgreSQL, {args.pg_papers:,}", args.pg_papers)
        async with Store(url, schema=schema) as store:
            run.build_seconds = await build_archive(store, corpus, args.pg_papers, args)
            async with store.engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
            await time_search(store, run, queries, args)
        return run
    finally:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.dispose()


async def bench_search(args: argparse.Namespace, corpus: Corpus) -> list[Result]:
    """Keyword, hybrid, semantic and `similar` latencies at each archive size."""
    half = args.queries // 2
    texts = [(kind, text) for kind, text in make_queries(corpus, half, args.seed)]
    texts += [
        ("paraphrase", text) for text in make_paraphrases(corpus, args.queries - half, args.seed)
    ]
    queries = [(kind, parse_search(text, today=TODAY)) for kind, text in texts]
    runs: list[SearchRun] = []
    keep = contextlib.nullcontext(args.dir) if args.reuse else None
    with keep or tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for count in args.sizes:
            runs.append(await sqlite_search(args, corpus, queries, count, tmp))
    pg_url = (
        args.pg_url
        or os.environ.get("PAPERBOY_BENCH_DATABASE_URL")
        or os.environ.get("PAPERBOY_TEST_DATABASE_URL")
    )
    if pg_url and args.pg_papers:
        runs.append(await postgres_search(args, corpus, queries, pg_url))
    main = Result(
        "Search latency, top 10, ms (same queries, same run)",
        ["archive", "mode", "p50", "p95", "max", "p95 / keyword p95"],
    )
    for run in runs:
        keyword_p95 = pct(run.latencies["keyword"], 95)
        for mode in ("keyword", "hybrid", "semantic", "similar"):
            values = run.latencies.get(mode, [])
            if not values:
                continue
            ratio = pct(values, 95) / keyword_p95 if mode != "keyword" else 1.0
            main.rows.append([run.name, mode, *ms_cells(values), f"{ratio:.2f}"])
    by_kind = Result(
        "Keyword vs hybrid p50 / p95 ms by query class",
        ["archive", "class", "keyword", "hybrid", "semantic"],
    )
    kinds = sorted({k for k, _ in texts})
    for run in runs:
        for kind in kinds:
            cells = []
            for mode in ("keyword", "hybrid", "semantic"):
                values = run.latencies.get(f"{mode} ({kind})", [])
                cells.append(f"{pct(values, 50):.1f} / {pct(values, 95):.1f}" if values else "")
            by_kind.rows.append([run.name, kind, *cells])
    build = Result(
        "Archive build and vector index",
        ["archive", "build (papers, search index, vectors) s", "vector index from store s",
         "hybrid results found by meaning (mean of 10)"],
    )  # fmt: skip
    for run in runs:
        related = sum(run.related) / len(run.related) if run.related else 0.0
        build.rows.append(
            [
                run.name,
                f"{run.build_seconds:.0f}" if run.build_seconds else "reused",
                f"{run.index_seconds:.1f}",
                f"{related:.1f}",
            ]
        )
    counts = collections.Counter(k for k, _ in texts)
    main.notes.append(
        f"{len(texts)} queries: "
        + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
        + f"; {args.similar} `similar` lookups; examples: "
        + "; ".join(t for _, t in texts[:3] + texts[-3:])
    )
    return [main, by_kind, build]


# --------------------------------------------------------------------------- nearest neighbours


def mixed_vectors(base: Any, count: int, seed: int) -> Any:
    """`count` unit vectors made from `base` (embedded papers): each a mix of two of them
    (0.8 / 0.2) plus a little noise, so the clusters of real embeddings are kept."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((count, base.shape[1]), np.float32)
    step = 100_000
    for start in range(0, count, step):
        n = min(step, count - start)
        a = base[rng.integers(0, len(base), n)]
        b = base[rng.integers(0, len(base), n)]
        noise = rng.normal(scale=0.02, size=(n, base.shape[1])).astype(np.float32)
        mix = 0.8 * a + 0.2 * b + noise
        out[start : start + n] = mix / np.linalg.norm(mix, axis=1, keepdims=True)
    return out


def folder_mb(folder: str) -> float:
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 1e6


async def bench_ann(args: argparse.Namespace, corpus: Corpus) -> list[Result]:
    """The nearest-neighbour index at `--ann-papers`: build rate, memory, save / load, and
    query latency and recall beside an exact scan (what sqlite-vec or a numpy matrix
    product does: every vector read for every query)."""
    import numpy as np

    from paperboy.embeddings import VectorIndex

    count = args.ann_papers
    if not count:
        return []
    embedder = default_embedder()
    base_papers = make_topical_papers(corpus, 0, 20_000, 20_000, args.seed)
    base = embedder.embed([paper_text(p) for p in base_papers])
    vectors = mixed_vectors(base, count, args.seed)
    queries = embedder.embed(make_paraphrases(corpus, 200, args.seed))
    ids = [paper_id(i) for i in range(count)]
    index = VectorIndex(embedder.dims)
    t0 = time.perf_counter()
    step = 50_000
    for start in range(0, count, step):
        index.add(ids[start : start + step], vectors[start : start + step])
        rate = (start + step) / (time.perf_counter() - t0)
        log(f"  ann: {start + step:,} vectors indexed, {rate:,.0f}/s")
    build = time.perf_counter() - t0
    hnsw: list[float] = []
    exact: list[float] = []
    recall = 0
    for q in queries:
        t0 = time.perf_counter()
        found = index.search(q, 10)
        hnsw.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        scores = vectors @ q
        top = np.argpartition(-scores, 10)[:10]
        top = top[np.argsort(-scores[top])]
        exact.append((time.perf_counter() - t0) * 1000)
        recall += len({n.paper_id for n in found} & {ids[i] for i in top.tolist()})
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.perf_counter()
        index.save(Path(tmp), {"model": embedder.name})
        saved = time.perf_counter() - t0
        size = folder_mb(tmp)
        t0 = time.perf_counter()
        loaded = VectorIndex.load(Path(tmp))
        load = time.perf_counter() - t0
        assert loaded is not None and len(loaded[0]) == count
    result = Result(
        f"Nearest neighbours at {count:,} vectors (256 dimensions), top 10, ms",
        ["search", "p50", "p95", "max", "recall@10"],
    )
    result.rows.append(
        ["HNSW (usearch, f16)", *ms_cells(hnsw), f"{recall / (10 * len(queries)):.3f}"]
    )
    result.rows.append(["exact scan (numpy, float32)", *ms_cells(exact), "1.000"])
    result.notes.append(
        f"index build {build:.0f} s ({count / build:,.0f} vectors/s), "
        f"saved in {saved:.1f} s ({size:,.0f} MB on disk), loaded in {load:.1f} s; "
        f"vectors: {count:,} mixes of 20,000 embedded papers; 200 paraphrase queries"
    )
    return [result]


# --------------------------------------------------------------------------- report

#: The sections, in order: name -> coroutine (args, corpus) -> results.
SECTIONS: dict[str, Callable[[argparse.Namespace, Corpus], Coroutine[Any, Any, list[Result]]]] = {
    "embedding": bench_embedding,
    "search": bench_search,
    "ann": bench_ann,
}


def print_results(results: list[Result], markdown: bool) -> None:
    console = Console(soft_wrap=True)
    for result in results:
        table = Table(title=result.title)
        for column in result.header:
            table.add_column(column)
        for row in result.rows:
            table.add_row(*row)
        console.print(table)
        for note in result.notes:
            console.print(note, markup=False)
    if markdown:
        for result in results:
            print(f"\n**{result.title}**\n")
            print("| " + " | ".join(result.header) + " |")
            print("|" + "---|" * len(result.header))
            for row in result.rows:
                print("| " + " | ".join(row) + " |")
            for note in result.notes:
                print(f"\n{note}")
    print(f"\nMachine: {machine()}; load average {os.getloadavg()[0]:.1f} at the end")


async def main(args: argparse.Namespace) -> None:
    corpus = build_corpus()
    results: list[Result] = []
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        log(f"{name} ...")
        results += await section(args, corpus)
    print_results(results, args.markdown)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embed-papers", type=int, default=100_000, help="embedding rate run")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[100_000, 1_000_000],
        help="SQLite archive sizes for the search section (comma-separated)",
    )
    parser.add_argument(
        "--ann-papers", type=int, default=1_000_000, help="vectors for the index section"
    )
    parser.add_argument("--pg-papers", type=int, default=0, help="PostgreSQL archive size")
    parser.add_argument("--pg-url", default=None, help="postgresql+asyncpg://... (scratch)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--similar", type=int, default=100, help="`similar` lookups timed")
    parser.add_argument("--batch", type=int, default=10_000, help="papers per write")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where the SQLite files go (temporary)")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse files in --dir")
    parser.add_argument(
        "--only", type=lambda s: set(s.split(",")), default=None, help="sections to run"
    )
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.reuse and not args.dir:
        parser.error("--reuse needs --dir")
    if args.only and not args.only <= set(SECTIONS):
        parser.error(f"--only takes {', '.join(SECTIONS)}")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
