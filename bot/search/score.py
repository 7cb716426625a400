"""Relevance of a search's candidates on SQLite: BM25 with column weights, computed here.

FTS5's own `bm25()` starts every query by counting each of its phrases over the whole
index (the IDF): for a word in most papers that is a walk over a doclist of a million
entries, for a phrase of such words a position-by-position merge of several (100-600 ms
at a million papers, whatever the number of matches). So on SQLite the index only finds
the candidates (`paperboy.search.index`) and they are ranked here, with FTS5's formula::

    score = sum over terms of  idf * f * (k1 + 1) / (f + k1 * (1 - b + b * |d| / avgdl))
    f     = sum over columns of  weight * occurrences of the term in the column

- occurrences are counted in the stored lexeme text, the very text FTS5 indexed: a
  phrase is its lexemes side by side, an acronym any of its codes, and a phrase mixing
  words and acronyms counts as often as its rarest part;
- |d| is the paper's length in lexemes and avgdl the mean over the candidates;
- idf is 1 for a one-term query (it would scale every score alike), and otherwise comes
  from each term's estimated document frequency (`SearchIndex.estimate_df`).

PostgreSQL ranks in the database (`ts_rank_cd`): it has no such cost to avoid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from paperboy.matching import Query, Term
from paperboy.search.lexemes import AUTHOR_PREFIX, TITLE_PREFIX, query_lexemes
from paperboy.search.sql import MAX_CODES, Fts5, compile_query_term

__all__ = ["BM25_B", "BM25_K1", "COLUMN_WEIGHTS", "Probe", "bm25", "idf", "probes"]

BM25_K1 = 1.2
BM25_B = 0.75
#: Weights of the stored columns t (title), a (abstract), x (summary, keywords), u (authors).
COLUMN_WEIGHTS = (10.0, 1.0, 0.5, 1.0)

_FIELD_COLUMNS: Mapping[str | None, tuple[tuple[int, str], ...]] = {
    None: ((0, TITLE_PREFIX), (1, ""), (2, "")),
    "title": ((0, TITLE_PREFIX),),
    "abstract": ((1, ""),),
    "author": ((3, AUTHOR_PREFIX),),
}


@dataclass(frozen=True, slots=True)
class Probe:
    """How to count one positive query term in a paper's stored columns.

    `parts`: the term's pieces (a run of words, or one acronym); each is a tuple of
    alternatives (a space-separated lexeme phrase, or the codes of the acronym's
    surfaces). `fts`: the term alone as an FTS5 query, to estimate its frequency.
    """

    columns: tuple[tuple[int, str], ...]
    parts: tuple[tuple[str, ...], ...]
    fts: str | None


def probes(query: Query, codes: Mapping[str, tuple[str, ...] | None]) -> list[Probe]:
    """A probe per distinct positive term (terms the index cannot narrow count as 0)."""
    out: list[Probe] = []
    seen: set[tuple[str | None, tuple[tuple[str, ...], ...]]] = set()
    for term in query.positive_terms:
        parts = _parts(term, codes)
        if parts is None or (term.field, parts) in seen:
            continue
        seen.add((term.field, parts))
        compiled = compile_query_term(term, Fts5(), codes)
        out.append(Probe(_FIELD_COLUMNS[term.field], parts, compiled.text))
    return out


def _parts(
    term: Term, codes: Mapping[str, tuple[str, ...] | None]
) -> tuple[tuple[str, ...], ...] | None:
    parts: list[tuple[str, ...]] = []
    run: list[str] = []
    for word, lex in zip(term.words, query_lexemes(term.words), strict=True):
        if lex is not None:
            run.append(lex)
            continue
        if run:
            parts.append((" ".join(run),))
            run = []
        found = codes.get(word, ())
        if found is None or len(found) > MAX_CODES:
            continue  # too common to count: the other parts decide
        parts.append(tuple(found))
    if run:
        parts.append((" ".join(run),))
    return tuple(parts) or None


def idf(documents: int, frequency: float) -> float:
    """FTS5's IDF (a term in more than half the papers weighs next to nothing)."""
    value = math.log((documents - frequency + 0.5) / (frequency + 0.5))
    return value if value > 0 else 1e-6


def _padded(text: str) -> str:
    # Two spaces between lexemes: every lexeme then has spaces of its own on both sides,
    # so str.count finds a word repeated back to back every time.
    return " " + text.replace(" ", "  ") + " "


class _Needle:
    """One phrase or code to count in a column (see `_count`)."""

    __slots__ = ("back_to_back", "bordered", "head", "inner", "middle", "padded", "tail")

    def __init__(self, prefix: str, alternative: str) -> None:
        words = [prefix + lex for lex in alternative.split()]
        inner = " ".join(words)
        # A phrase that ends as it starts ("b a b") can overlap itself: counted padded.
        self.bordered = any(words[:k] == words[-k:] for k in range(1, len(words)))
        self.inner = inner
        self.middle = f" {inner} "
        self.head = f"{inner} "
        self.tail = f" {inner}"
        self.back_to_back = f"{inner} {inner}"
        self.padded = _with_prefix(prefix, alternative)


def _count(text: str, needle: _Needle) -> int:
    """Occurrences of `needle` in a column's text, as whole lexemes.

    Lexemes are one space apart: an occurrence inside the text has a space on either
    side, the first and last one a space on one side. Two occurrences back to back
    share a space, and str.count would see only one of them: a column where that may
    be (rare) is counted in the padded text (`_padded`), where every lexeme has spaces
    of its own, as is a phrase that may overlap itself (see _Needle). Either way the
    count is the same; most of the time the text is not copied.
    """
    if needle.bordered:
        return _padded(text).count(needle.padded)
    found = text.count(needle.middle)
    found += text.startswith(needle.head) + text.endswith(needle.tail)
    if not found:
        return 1 if text == needle.inner else 0
    if needle.back_to_back in text:
        return _padded(text).count(needle.padded)
    return found


def bm25(
    rows: Sequence[tuple[int, Sequence[str]]],
    terms: Sequence[Probe],
    weights: Sequence[float] | None = None,
) -> dict[int, float]:
    """Scores of `rows` (docid, the stored columns t, a, x, u) for `terms`.

    `weights` are the terms' IDFs (default 1 each).
    """
    if not rows or not terms:
        return {docid: 0.0 for docid, _ in rows}
    idfs = list(weights) if weights is not None else [1.0] * len(terms)
    # Per term: (idf, [(column, column weight, [needles of each part])]).
    plan = [
        (
            weight,
            [
                (
                    column,
                    COLUMN_WEIGHTS[column],
                    [[_Needle(prefix, alt) for alt in part] for part in probe.parts],
                )
                for column, prefix in probe.columns
            ],
        )
        for probe, weight in zip(terms, idfs, strict=True)
    ]
    used = sorted({column for _, columns in plan for column, _, _ in columns})
    k1, b = BM25_K1, BM25_B
    # A column of n lexemes has n - 1 spaces.
    lengths = [sum(columns[c].count(" ") + 1 for c in used if columns[c]) for _, columns in rows]
    average = (sum(lengths) / len(lengths)) or 1.0
    scores: dict[int, float] = {}
    for (docid, texts), length in zip(rows, lengths, strict=True):
        norm = k1 * (1 - b + b * length / average)
        score = 0.0
        for weight, columns in plan:
            f = 0.0
            for column, column_weight, parts in columns:
                text = texts[column]
                if not text:
                    continue
                if len(parts) == 1 and len(parts[0]) == 1:
                    count = _count(text, parts[0][0])
                else:
                    count = min(sum(_count(text, n) for n in part) for part in parts)
                if count:
                    f += column_weight * count
            if f:
                score += weight * f * (k1 + 1) / (f + norm)
        scores[docid] = score
    return scores


def _with_prefix(prefix: str, alternative: str) -> str:
    """The padded needle (see _padded) of a phrase or code, with `prefix` on each lexeme."""
    return " " + "  ".join(prefix + lex for lex in alternative.split()) + " "
