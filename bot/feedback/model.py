"""A channel's relevance model: what its votes say about new papers (numpy, milliseconds).

Training is a weighted Rocchio: the centroid of what the channel liked (thumbs up and
saves) and the centroid of what it voted down, over the papers' feature vectors
(`paperboy.feedback.features`). A paper's learned interest is its cosine to the liked
centroid minus its cosine to the disliked one. Until a channel has feedback the order
comes from priors only, Hugging Face votes first and recency a little; each voted paper
moves the weight from the priors to what was learned (`alpha = n / (n + 2)`), so a first
vote already shows and ten votes dominate.

The model only orders and explains: which papers a digest holds is the subscriptions'
business (every keyword match stays), except for the optional suggestions, which are
labelled with why they were suggested.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from paperboy.feedback.features import _STOP_STEMS, SparseRows, normalize_rows
from paperboy.matching import normalize_fast, stem, words_of
from paperboy.models import Paper

#: The least cosine to a liked paper that is worth naming as the reason (words only), and
#: the least mean of the words' and the embeddings' cosines when both papers have one.
WHY_MIN_SIMILARITY = 0.12
WHY_MIN_COMBINED = 0.3
WHY_TITLE = 80
#: Papers given a reason, at most, per call (the best liked of a digest: more are never
#: shown with one).
EXPLAINED = 20
#: Priors: Hugging Face votes, and recency (a week old counts half).
UPVOTE_WEIGHT = 0.85
RECENCY_WEIGHT = 0.15
RECENCY_DAYS = 7.0


@dataclass(frozen=True, slots=True)
class Example:
    """One paper the channel gave feedback on: `weight` > 0 liked, < 0 disliked."""

    paper: Paper
    weight: float


@dataclass(frozen=True, slots=True)
class Scored:
    """A paper as the model sees it: `score` orders (higher first); `learned` is the raw
    liked-minus-disliked cosine (0 without feedback); `why` names the closest liked paper."""

    paper: Paper
    score: float
    learned: float = 0.0
    prior: float = 0.0
    why: str | None = None


def _day(paper: Paper) -> dt.date | None:
    if paper.daily_date is not None:
        return paper.daily_date
    return paper.published_at.date() if paper.published_at is not None else None


def priors(papers: Sequence[Paper]) -> list[float]:
    """Votes (log-scaled to the most voted of `papers`) and recency (to the newest).

    Plain Python: a channel without feedback is ordered by these alone, at fan-out once
    per channel, where numpy's per-call cost would be most of the work."""
    if not papers:
        return []
    votes = [math.log1p(max(0, p.upvotes)) for p in papers]
    top = max(votes)
    days = [_day(p) for p in papers]
    known = [d for d in days if d is not None]
    newest = max(known) if known else None
    out = []
    for vote, day in zip(votes, days, strict=True):
        recency = (
            0.5
            if day is None or newest is None
            else 1.0 / (1.0 + (newest - day).days / RECENCY_DAYS)
        )
        out.append(UPVOTE_WEIGHT * (vote / top if top > 0 else 0.0) + RECENCY_WEIGHT * recency)
    return out


def _cut(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= WHY_TITLE else title[: WHY_TITLE - 1].rstrip() + "…"


def liked_reason(title: str) -> str:
    return f"close to “{_cut(title)}”, which this channel liked"


class RelevanceModel:
    """A channel's model, trained from its `examples` (see the module docstring).

    `vectors` (paper id -> embedding) is used beside the words where the archive has one.
    """

    def __init__(
        self,
        examples: Sequence[Example] = (),
        *,
        vectors: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        merged: dict[str, Example] = {}
        for example in examples:
            if example.weight == 0:
                continue
            known = merged.get(example.paper.id)
            weight = example.weight + (known.weight if known else 0.0)
            merged[example.paper.id] = Example(example.paper, weight)
        self.examples = [e for e in merged.values() if e.weight != 0]
        self.vectors = vectors

    @property
    def trained(self) -> bool:
        return bool(self.examples)

    @property
    def alpha(self) -> float:
        """How much of a score is learned rather than prior."""
        n = len(self.examples)
        return n / (n + 2.0)

    def score(self, papers: Sequence[Paper], split: int | None = None) -> list[Scored]:
        """Every paper scored, in the order given (sort by `score` to rank).

        Reasons (`why`) are found for the papers the model likes most: up to `EXPLAINED`
        of `papers[:split]` and as many of `papers[split:]` (the digest's matches and the
        candidates for suggestions)."""
        if not papers:
            return []
        if not self.examples:
            return [Scored(p, s, 0.0, s) for p, s in zip(papers, priors(papers), strict=True)]
        prior = np.array(priors(papers), dtype=np.float32)
        ex_papers = [e.paper for e in self.examples]
        weights = np.array([e.weight for e in self.examples], dtype=np.float32)
        learned, nearest = self._learn(ex_papers, weights, papers, split)
        scale = float(np.abs(learned).max()) or 1.0
        alpha = self.alpha
        scores = (1.0 - alpha) * prior + alpha * (learned / scale)
        reasons: list[str | None] = [None] * len(papers)
        for row, (best, similarity) in nearest.items():
            liked = ex_papers[best]
            if similarity >= WHY_MIN_SIMILARITY and liked.id != papers[row].id:
                reasons[row] = liked_reason(liked.title)
        return [
            Scored(p, float(s), float(raw), float(pr), why)
            for p, s, raw, pr, why in zip(papers, scores, learned, prior, reasons, strict=True)
        ]

    def _learn(
        self,
        ex_papers: list[Paper],
        weights: np.ndarray,
        papers: Sequence[Paper],
        split: int | None,
    ) -> tuple[np.ndarray, dict[int, tuple[int, float]]]:
        """Learned interest of `papers` and, for those it likes most, the nearest liked
        example (index, cosine).

        Words on the flat rows (see `SparseRows`); where the archive has an embedding for
        a paper (`vectors`), its embedding's cosines are averaged with the words' (a small
        dense block: 256 numbers a paper)."""
        rows = SparseRows([*ex_papers, *papers])
        n = len(ex_papers)
        liked = weights > 0
        pull, push = np.maximum(weights, 0), np.maximum(-weights, 0)
        learned = np.zeros(rows.n - n, dtype=np.float32)
        for side, sign in ((pull, 1.0), (push, -1.0)):
            if side.any():
                centroid = rows.weighted_sum(side)
                centroid /= np.linalg.norm(centroid) or 1.0
                learned += sign * rows.dot(centroid, first=n)
        block = self._vector_block([*ex_papers, *papers])
        if block is not None:
            taught, candidates = block[:n], block[n:]
            has = np.linalg.norm(candidates, axis=1) > 0
            semantic = np.zeros(len(papers), dtype=np.float32)
            # Plain numpy loops, not BLAS: on a busy machine BLAS's threads cost more than
            # these small products (1,000 x 256) themselves.
            for side, sign in ((pull, 1.0), (push, -1.0)):
                if side.any():
                    centroid = (taught * side[:, None]).sum(axis=0)
                    centroid /= np.linalg.norm(centroid) or 1.0
                    semantic += sign * (candidates * centroid).sum(axis=1)
            learned = np.where(has, (learned + semantic) / 2.0, learned)
        nearest: dict[int, tuple[int, float]] = {}
        explain = _to_explain(learned, split)
        liked_rows = np.flatnonzero(liked & (rows.starts[1 : n + 1] > rows.starts[:n]))
        if not len(explain) or not len(liked_rows):
            return learned, nearest
        # The liked example nearest to each paper the model likes most: one pass over the
        # liked rows' entries (their entries are contiguous, row after row).
        dense = rows.dense(explain + n)
        entries = np.flatnonzero(liked[rows.rows[: rows.starts[n]]])
        lengths = (rows.starts[1 : n + 1] - rows.starts[:n])[liked_rows]
        bounds = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        products = dense[:, rows.indices[entries]] * rows.values[entries]
        sims = np.add.reduceat(products, bounds, axis=1)
        if block is not None:
            vector_sims = np.einsum(
                "ij,kj->ik", block[explain + n], block[liked_rows], optimize=False
            )
            both = (np.linalg.norm(block[explain + n], axis=1) > 0)[:, None] & (
                np.linalg.norm(block[liked_rows], axis=1) > 0
            )[None, :]
            # Embeddings of unrelated papers are still 0.1-0.4 alike (words: ~0): the mean
            # of both is held to a higher bar, scaled here onto the words' one.
            combined = (sims + vector_sims) / 2.0
            scaled = combined * (WHY_MIN_SIMILARITY / WHY_MIN_COMBINED)
            sims = np.where(both, scaled, sims)
        best = sims.argmax(axis=1)
        for k, row in enumerate(explain):
            nearest[int(row)] = (int(liked_rows[best[k]]), float(sims[k, best[k]]))
        return learned, nearest

    def rank(self, papers: Sequence[Paper]) -> list[Scored]:
        """The papers, most interesting first (ties: more votes, then title)."""
        scored = self.score(papers)
        scored.sort(
            key=lambda s: (-s.score, -s.paper.upvotes, s.paper.title.casefold(), s.paper.id)
        )
        return scored

    def _vector_block(self, papers: Sequence[Paper]) -> np.ndarray | None:
        """Unit embeddings of `papers` (zeros for those without one), None without any."""
        if not self.vectors:
            return None
        found = [self.vectors.get(p.id) for p in papers]
        dims = {np.asarray(v).shape[-1] for v in found if v is not None}
        if len(dims) != 1:
            return None
        block = np.zeros((len(papers), dims.pop()), dtype=np.float32)
        for row, vector in enumerate(found):
            if vector is not None:
                block[row] = np.asarray(vector, dtype=np.float32)
        return normalize_rows(block)


def _to_explain(learned: np.ndarray, split: int | None) -> np.ndarray:
    """Indices of the papers whose reason is looked for: those the model likes (learned >
    0), the `EXPLAINED` it likes most on each side of `split`."""
    out = []
    bounds = [(0, len(learned))] if split is None else [(0, split), (split, len(learned))]
    for low, high in bounds:
        part = learned[low:high]
        liked = np.flatnonzero(part > 0)
        liked = liked[np.argsort(-part[liked], kind="stable")][:EXPLAINED]
        out.append(liked + low)
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def top_topics(examples: Sequence[Example], limit: int = 5) -> list[str]:
    """The words that best describe what a channel liked: in the most liked papers' titles
    and keywords, and not in what it voted down (shown as the commonest spelling)."""
    weight: dict[str, float] = {}
    spelling: dict[str, Counter[str]] = {}
    for example in examples:
        text, _ = normalize_fast(f"{example.paper.title} {' '.join(example.paper.ai_keywords)}")
        seen: set[str] = set()
        for word in words_of(text):
            if len(word) < 3 or word.isdigit():
                continue
            stemmed = stem(word)
            if stemmed in _STOP_STEMS or stemmed in seen:
                continue
            seen.add(stemmed)
            weight[stemmed] = weight.get(stemmed, 0.0) + example.weight
            spelling.setdefault(stemmed, Counter())[
                word if _is_acronym(word) else word.lower()
            ] += 1
    best = [s for s, w in sorted(weight.items(), key=lambda kv: -kv[1]) if w > 0]
    return [spelling[s].most_common(1)[0][0] for s in best[:limit]]


def _is_acronym(word: str) -> bool:
    return any(c.isupper() for c in word[1:])


def interest(scored: Scored) -> float:
    """A score as shown to people (3 decimals, finite)."""
    value = scored.score
    return round(value, 3) if math.isfinite(value) else 0.0
