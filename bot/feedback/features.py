"""What the relevance model sees of a paper: a vector per paper (numpy).

`features(papers, vectors=None)` is the one seam: the words of a paper as a hashed,
TF-IDF-weighted bag of stemmed words (the same normalisation and stemming matching uses),
and, when the archive holds an embedding for a paper (`vectors`, by paper id), that
embedding next to them. Rows are L2-normalised, so a dot product is a cosine.

The words of a paper are counted once per process (`_terms`, a bounded cache keyed by
the paper itself): retraining a channel's model then costs a few array operations, not
re-reading a thousand abstracts.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from paperboy.matching import normalize_fast, stem, words_of
from paperboy.models import Paper

#: Buckets of the hashed bag of words.
DIM = 4096
#: How much of an abstract is read (the first sentences carry the topic).
ABSTRACT_CHARS = 1500
#: Weight of the embedding block next to the words when a paper has one.
VECTOR_WEIGHT = 1.0

_STOPWORDS = frozenset(
    """a an the and or of for in on to with by from at as is are be been being was were
    this that these those it its we our us they their them which who whom what when where
    how why can could may might will would shall should do does did done have has had not
    no nor but if then than so such into onto over under via using use used based also
    both each other more most less least very much many new show shows shown propose
    proposes proposed present presents paper work approach method methods model models
    result results task tasks data while however further thus furthermore moreover well
    between across through within without about one two three first second different""".split()
)
_STOP_STEMS = frozenset(stem(w) for w in _STOPWORDS)


def paper_text(paper: Paper) -> str:
    """The text a paper is read by: title (twice: it weighs more), keywords, summary or
    the start of the abstract."""
    body = paper.ai_summary or paper.abstract[:ABSTRACT_CHARS]
    return " \n ".join((paper.title, paper.title, " ".join(paper.ai_keywords), body))


@lru_cache(maxsize=16384)
def _terms(paper: Paper) -> tuple[np.ndarray, np.ndarray]:
    """(bucket indices, sublinear counts) of a paper's words; cached per paper."""
    text, _ = normalize_fast(paper_text(paper))
    counts: dict[int, int] = {}
    for word in words_of(text):
        if len(word) < 2 or word.isdigit():
            continue
        stemmed = stem(word)
        if stemmed in _STOP_STEMS:
            continue
        bucket = zlib.crc32(stemmed.encode()) % DIM
        counts[bucket] = counts.get(bucket, 0) + 1
    index = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
    values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    return index, (1.0 + np.log(values)).astype(np.float32)


def term_matrix(papers: Sequence[Paper]) -> np.ndarray:
    """Sublinear term counts, one row per paper (not yet weighted or normalised)."""
    out = np.zeros((len(papers), DIM), dtype=np.float32)
    for row, paper in enumerate(papers):
        index, values = _terms(paper)
        out[row, index] = values
    return out


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def features(
    papers: Sequence[Paper], vectors: Mapping[str, np.ndarray] | None = None
) -> np.ndarray:
    """One L2-normalised row per paper: TF-IDF words (IDF over `papers` themselves), and
    the paper's embedding beside them when `vectors` holds one (zeros otherwise)."""
    counts = term_matrix(papers)
    if len(papers):
        df = np.count_nonzero(counts, axis=0).astype(np.float32)
        idf = np.log((len(papers) + 1.0) / (df + 1.0)) + 1.0
        counts *= idf
    words = normalize_rows(counts)
    if not vectors:
        return words
    dims = {np.asarray(v).shape[-1] for v in vectors.values()}
    if len(dims) != 1:
        return words
    dim = dims.pop()
    block = np.zeros((len(papers), dim), dtype=np.float32)
    for row, paper in enumerate(papers):
        vector = vectors.get(paper.id)
        if vector is not None:
            block[row] = np.asarray(vector, dtype=np.float32)
    block = normalize_rows(block) * VECTOR_WEIGHT
    return normalize_rows(np.hstack([words, block]))


class SparseRows:
    """TF-IDF rows of many papers in one flat (CSR-like) form: `indices` and `values` of
    every row's non-zero buckets one after another, `rows` the row of each entry. The
    model works on these directly: a channel's 1,000 voted papers hold ~150,000 entries,
    where dense rows would be 1,000 x 4,096."""

    __slots__ = ("indices", "n", "rows", "starts", "values")

    def __init__(self, papers: Sequence[Paper]) -> None:
        parts = [_terms(p) for p in papers]
        self.n = len(parts)
        lengths = np.array([i.size for i, _ in parts], dtype=np.int64)
        if parts and lengths.sum():
            self.indices = np.concatenate([i for i, _ in parts])
            values = np.concatenate([v for _, v in parts])
        else:
            self.indices = np.zeros(0, dtype=np.int32)
            values = np.zeros(0, dtype=np.float32)
        self.rows = np.repeat(np.arange(self.n), lengths)
        #: Where each row's entries start (and, last, where they end).
        self.starts = np.concatenate([[0], np.cumsum(lengths)])
        df = np.bincount(self.indices, minlength=DIM).astype(np.float32)
        idf = np.log((self.n + 1.0) / (df + 1.0)) + 1.0
        values = values * idf[self.indices]
        norms = np.sqrt(np.bincount(self.rows, weights=values * values, minlength=self.n))
        norms[norms == 0] = 1.0
        self.values = (values / norms[self.rows]).astype(np.float32)

    def weighted_sum(self, weights: np.ndarray) -> np.ndarray:
        """sum_i weights[i] * row_i, as one dense vector of DIM (rows past `weights`: 0)."""
        end = self.starts[len(weights)]
        products = self.values[:end] * weights[self.rows[:end]]
        return np.bincount(self.indices[:end], weights=products, minlength=DIM).astype(np.float32)

    def dot(self, vector: np.ndarray, first: int = 0) -> np.ndarray:
        """The dot product of each row from `first` on with a dense vector of DIM."""
        start = self.starts[first]
        products = self.values[start:] * vector[self.indices[start:]]
        return np.bincount(
            self.rows[start:] - first, weights=products, minlength=self.n - first
        ).astype(np.float32)

    def dense(self, which: np.ndarray) -> np.ndarray:
        """The rows `which` (indices) as a dense matrix."""
        out = np.zeros((len(which), DIM), dtype=np.float32)
        position = np.full(self.n, -1)
        position[which] = np.arange(len(which))
        keep = position[self.rows] >= 0
        out[position[self.rows[keep]], self.indices[keep]] = self.values[keep]
        return out
