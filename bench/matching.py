"""Benchmark: one compiled matcher for many subscriptions vs. a regex per term.

Run: ``.venv/bin/python bench/matching.py [--subs 100000] [--papers 1000] [--seed 1]``
(``--markdown`` also prints the table for docs/benchmarks.md).

Workload (deterministic for a given ``--seed``):

- Vocabulary from the real seed abstracts (tests/fixtures/seed_search_results.txt):
  content words, acronym-like words (MoE, LoRA, ...) and 2-3 word phrases that occur
  at least twice, minus those found in more than ``MAX_DF`` seed papers (the seed's
  common theme, not topics). Each kind is drawn Zipf-like (weight 1/rank over a
  shuffled order), so a few terms are very popular and most are rare.
- Subscriptions: 1 to 4 distinct comma-separated terms (short ones more often); one
  in ten uses AND, -term or title:.
- Papers: a seed title plus sentences of seed abstracts recombined to ~1.5 KB.

The baseline does what a naive bot would: per subscription, per term, a compiled
case-insensitive regex (``\\b`` + escaped words joined by non-word runs) searched in
every paper's title and abstract (every term, since a digest shows all matched
terms). It runs on a sample of subscriptions and is extrapolated to all of them.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import platform
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from paperboy.matching import (  # noqa: E402
    Matcher,
    is_acronym,
    make_term,
    normalize,
    tokenize,
)
from paperboy.models import Paper  # noqa: E402
from tests.seed_corpus import load_seed_papers  # noqa: E402

STOPWORDS = frozenset(
    """a about above after again against all also an and any are as at be because been
    being both but by can could did do does doing down during each few for from further
    had has have having here how however i if in into is it its itself just more most
    much new no nor not of off on once only or other our out over own same several she
    should so some such than that the their them then there these they this those
    through thus to too two under until up upon us using very via was we were what when
    where which while who whom why will with within without would yet you your one
    first second three based show shows shown propose proposed paper approach method
    methods results""".split()
)
ZIPF_EXPONENT = 1.0
TERM_COUNT_WEIGHTS = (4, 3, 2, 1)
MAX_DF = 3
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")


# --- workload -------------------------------------------------------------------------


def vocabulary(papers: Sequence[Paper], max_df: int) -> dict[str, list[str]]:
    """Topic terms of the seed abstracts: seen twice or more, in at most ``max_df`` papers.

    The seed papers all share one theme (efficient LLMs); terms found in more than
    a few of them ("language models", "efficient") are that theme, not topics one
    would subscribe to, and would make nearly every subscription match every day.
    Document frequency is counted with the matcher's own rules.
    """
    words: collections.Counter[str] = collections.Counter()
    acronyms: collections.Counter[str] = collections.Counter()
    phrases: collections.Counter[str] = collections.Counter()
    for paper in papers:
        for text in (paper.title, paper.abstract):
            tokens = [t.surface for t in tokenize(normalize(text)[0])]
            for tok in tokens:
                if is_acronym(tok):
                    if 2 <= len(tok) <= 10 and tok.isalpha():
                        acronyms[tok] += 1
                elif tok.isalpha() and len(tok) >= 4 and tok.lower() not in STOPWORDS:
                    words[tok.lower()] += 1
            lowered = [t.lower() for t in tokens]
            for n in (2, 3):
                for i in range(len(lowered) - n + 1):
                    gram = lowered[i : i + n]
                    if not all(w.isalpha() for w in gram):
                        continue
                    if gram[0] in STOPWORDS or gram[-1] in STOPWORDS:
                        continue
                    if any(is_acronym(w) for w in tokens[i : i + n]):
                        continue
                    phrases[" ".join(gram)] += 1
    candidates = {
        "word": sorted(w for w, c in words.items() if c >= 2),
        "acronym": sorted(w for w, c in acronyms.items() if c >= 2),
        "phrase": sorted(p for p, c in phrases.items() if c >= 2),
    }
    flat = [(kind, term) for kind, terms in candidates.items() for term in terms]
    found = Matcher.compile(enumerate(term for _, term in flat)).match(papers)
    out: dict[str, list[str]] = {kind: [] for kind in candidates}
    for i, (kind, term) in enumerate(flat):
        if len(found.get(i, ())) <= max_df:
            out[kind].append(term)
    return out


class TermSampler:
    """Zipf-like draws: a shuffled order per kind, weight 1/rank^s."""

    KINDS = ("word", "phrase", "acronym")
    KIND_WEIGHTS = (0.45, 0.35, 0.20)

    def __init__(self, vocab: dict[str, list[str]], rng: random.Random) -> None:
        self.rng = rng
        self.lists: dict[str, list[str]] = {}
        self.cumulative: dict[str, list[float]] = {}
        for kind in self.KINDS:
            items = list(vocab[kind])
            rng.shuffle(items)
            self.lists[kind] = items
            total, cum = 0.0, []
            for rank in range(1, len(items) + 1):
                total += 1.0 / rank**ZIPF_EXPONENT
                cum.append(total)
            self.cumulative[kind] = cum

    def draw(self) -> str:
        kind = self.rng.choices(self.KINDS, self.KIND_WEIGHTS)[0]
        items = self.lists[kind]
        return self.rng.choices(items, cum_weights=self.cumulative[kind])[0]

    def draw_distinct(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            term = self.draw()
            if term not in out:
                out.append(term)
        return out


def make_subscriptions(n: int, vocab: dict[str, list[str]], rng: random.Random) -> list[str]:
    """1 to 4 distinct terms, short ones more often; one in ten with AND, -term or title:."""
    sampler = TermSampler(vocab, rng)
    queries = []
    for _ in range(n):
        terms = sampler.draw_distinct(rng.choices((1, 2, 3, 4), TERM_COUNT_WEIGHTS)[0])
        terms = [f'"{t}"' if " " in t and rng.random() < 0.5 else t for t in terms]
        roll = rng.random()
        if roll < 0.04 and len(terms) >= 2:
            queries.append(f"{terms[0]} AND {terms[1]}")
        elif roll < 0.07:
            queries.append(f"{', '.join(terms)} -{sampler.draw().split()[0]}")
        elif roll < 0.10:
            queries.append(f"title:{terms[0]}")
        else:
            queries.append(", ".join(terms))
    return queries


def make_papers(n: int, seed_papers: Sequence[Paper], rng: random.Random) -> list[Paper]:
    sentences = [s for p in seed_papers for s in SENTENCE_RE.split(p.abstract) if s]
    titles = [p.title for p in seed_papers]
    papers = []
    for i in range(n):
        title = rng.choice(titles)
        parts: list[str] = []
        size = len(title)
        while size < 1500:
            sentence = rng.choice(sentences)
            parts.append(sentence)
            size += len(sentence) + 1
        papers.append(Paper(id=f"bench.{i:05d}", title=title, abstract=" ".join(parts)))
    return papers


# --- measurements -----------------------------------------------------------------------


def naive_regex(term_text: str) -> re.Pattern[str]:
    term = make_term(term_text)
    assert term is not None
    return re.compile(r"\b" + r"[\W_]+".join(map(re.escape, term.words)), re.IGNORECASE)


def baseline_seconds(queries: Sequence[str], papers: Sequence[Paper]) -> tuple[float, int]:
    """Time a regex per term per paper over ``queries``; returns (seconds, pairs)."""
    compiled = []
    for query in queries:
        parts = re.split(r",|\bAND\b|\s-|title:", query)
        terms = [p.strip().strip('"') for p in parts if p.strip().strip('"')]
        compiled.append([naive_regex(t) for t in terms])
    texts = [f"{p.title}\n{p.abstract}" for p in papers]
    pairs = 0
    start = time.perf_counter()
    for regexes in compiled:
        for text in texts:
            found = [r for r in regexes if r.search(text)]
            if found:
                pairs += 1
    return time.perf_counter() - start, pairs


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Clock:
    """Wall and CPU time of a block (the CPU time is less disturbed by neighbours)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.2f} s (CPU {self.cpu:.2f} s)"


def timed_match(matcher: Matcher, papers: Sequence[Paper]) -> tuple[Clock, int]:
    """Time deciding every (subscription, paper) pair; the lists are built on access."""
    with Clock() as clock:
        pairs = matcher.match(papers).pairs
    return clock, pairs


def timed_materialise(matcher: Matcher, papers: Sequence[Paper]) -> tuple[Clock, int]:
    """Time building every key's PaperMatch list too (what all digests together read)."""
    with Clock() as clock:
        result = matcher.match(papers)
        pairs = sum(len(result[key]) for key in result)
    return clock, pairs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subs", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    seed_papers = load_seed_papers()
    vocab = vocabulary(seed_papers, MAX_DF)
    queries = make_subscriptions(args.subs, vocab, rng)
    papers = make_papers(args.papers, seed_papers, rng)
    kilobytes = sum(len(p.title) + len(p.abstract) for p in papers) / 1000

    with Clock() as compile_clock:
        matcher = Matcher.compile(enumerate(queries))
    size = matcher.size
    first, pairs = timed_match(matcher, papers)
    second, _ = timed_match(matcher, papers)
    everything, listed = timed_materialise(matcher, papers)
    assert listed == pairs, (listed, pairs)
    with Clock() as scan_clock:  # the part that grows with the text: tokens, lookups
        for paper in papers:
            matcher._scan(paper)
    scaling = []
    for n in (1_000, 10_000):
        if n < len(queries):
            small = Matcher.compile(enumerate(queries[:n]))
            clock, small_pairs = timed_match(small, papers)
            scaling.append((n, clock, small_pairs))

    sample = rng.sample(queries, min(args.baseline_sample, len(queries)))
    sample_s, sample_pairs = baseline_seconds(sample, papers)
    baseline_s = sample_s * len(queries) / len(sample)

    rate = pairs / (len(queries) * len(papers))
    rows = [
        ("subscriptions", f"{len(queries):,}"),
        (
            "distinct queries / terms / patterns",
            f"{size['queries']:,} / {size['terms']:,} / {size['patterns']:,}",
        ),
        (
            "vocabulary: words / phrases / acronyms",
            f"{len(vocab['word']):,} / {len(vocab['phrase']):,} / {len(vocab['acronym']):,}",
        ),
        ("papers", f"{len(papers):,} ({kilobytes / len(papers):.2f} KB title+abstract each)"),
        ("compile (parse + index)", str(compile_clock)),
        ("match: every pair decided, first run", str(first)),
        ("match: every pair decided, second run", str(second)),
        ("match + every key's list built (all digests' reads)", str(everything)),
        ("  of which scanning the text", str(scan_clock)),
        ("matched (subscription, paper) pairs", f"{pairs:,} ({rate:.1%} of all pairs)"),
        *(
            (f"match with the first {n:,} subscriptions", f"{clock} · {p:,} pairs")
            for n, clock, p in scaling
        ),
        (
            "naive baseline, extrapolated",
            f"{baseline_s:,.0f} s ({len(sample)} subscriptions measured: {sample_s:.2f} s)",
        ),
        ("speed-up vs baseline (first run, wall)", f"{baseline_s / first.wall:,.0f}x"),
    ]
    table = Table(title="Matching benchmark", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    console = Console()
    console.print(table)
    console.print(
        f"{dt.date.today().isoformat()} · Python {platform.python_version()} · "
        f"{cpu_model()} · {_cores()} cores · seed {args.seed} · "
        f"baseline pairs in sample {sample_pairs:,}",
        highlight=False,
    )
    if args.markdown:
        print("\n| measure | value |\n|---|---:|")
        for name, value in rows:
            print(f"| {name.strip()} | {value} |")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    main()
