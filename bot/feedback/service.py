"""Feedback as the rest of the bot uses it: recording, a channel's model, ranking a digest.

- `record(store, target, user, paper_id, action)`: one user's click (or typed vote),
  with the user id hashed before it reaches the store;
- `examples(store, target_ids)`: each channel's feedback as training examples;
- `rank(model, matched, unmatched, suggest=...)`: the learned order of a digest's papers,
  their reasons, and up to `SUGGESTIONS` "also worth a look" papers from the unmatched;
- `signer(store)`: the install's `FeedbackSigner` (button tokens, user hashes).

The model is retrained from the stored feedback before each digest (milliseconds), so a
vote counts in the next digest and every process sees the same model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from paperboy.embeddings import EmbedderError, Embeddings
from paperboy.feedback.model import Example, RelevanceModel, Scored
from paperboy.feedback.tokens import FeedbackSigner
from paperboy.models import Paper, Target
from paperboy.store import FeedbackState, PaperFeedback, Store

log = logging.getLogger(__name__)

#: At most this many "also worth a look" papers per digest.
SUGGESTIONS = 3
#: The least learned interest (liked-minus-disliked cosine) a suggestion needs.
SUGGEST_MIN_LEARNED = 0.1


async def signer(store: Store) -> FeedbackSigner:
    return FeedbackSigner(await store.feedback.secret())


async def record(
    store: Store, target: Target, user: str, paper_id: str, action: str
) -> FeedbackState:
    """Record one user's `action` (up, down, save, clear); raises UnknownPaperError."""
    sign = await signer(store)
    user_hash = sign.user_hash(target.platform, target.workspace, user or "anonymous")
    return await store.feedback.record(target, paper_id, user_hash, action)


def example_weight(feedback: PaperFeedback) -> float:
    """A paper's weight for the model: thumbs up and saves for, thumbs down against."""
    return float(feedback.ups + feedback.saves - feedback.downs)


async def examples(store: Store, target_ids: Iterable[int]) -> dict[int, list[Example]]:
    """Each channel's feedback (since its last reset) as training examples."""
    by_target = await store.feedback.by_paper(target_ids)
    wanted = {f.paper_id for rows in by_target.values() for f in rows}
    papers = await store.papers.get_many(wanted) if wanted else {}
    out: dict[int, list[Example]] = {}
    for target_id, rows in by_target.items():
        found = [
            Example(papers[f.paper_id], example_weight(f))
            for f in rows
            if f.paper_id in papers and example_weight(f) != 0
        ]
        if found:
            out[target_id] = found
    return out


async def stored_vectors(store: Store, paper_ids: Iterable[str]) -> dict[str, np.ndarray]:
    """The archive's embeddings of these papers, by id (those without one are missing;
    nothing when the embedding model cannot be loaded: the model then reads words only)."""
    wanted = list(dict.fromkeys(paper_ids))
    if not wanted:
        return {}
    embeddings = Embeddings(store)
    try:
        await embeddings.load()
        return await embeddings.vectors_for(wanted)
    except EmbedderError as error:
        log.warning("the relevance model goes on without embeddings: %s", error)
        return {}


async def model_for(
    store: Store, target: Target, candidates: Sequence[Paper] = ()
) -> RelevanceModel:
    """The channel's model, trained from its feedback now; with the stored embeddings of
    its examples and of the `candidates` it is about to score."""
    target_id = await store.targets.get_id(target)
    if target_id is None:
        return RelevanceModel()
    taught = (await examples(store, [target_id])).get(target_id, [])
    if not taught:
        return RelevanceModel()
    ids = [e.paper.id for e in taught] + [p.id for p in candidates]
    return RelevanceModel(taught, vectors=await stored_vectors(store, ids))


@dataclass
class Ranking:
    """The model's view of one digest's papers."""

    scored: dict[str, Scored] = field(default_factory=dict)
    suggestions: list[Scored] = field(default_factory=list)

    @property
    def scores(self) -> dict[str, float]:
        return {pid: s.score for pid, s in self.scored.items()}

    @property
    def reasons(self) -> dict[str, str]:
        return {pid: s.why for pid, s in self.scored.items() if s.why}

    def suggested(self) -> list[tuple[Paper, str]]:
        return [(s.paper, s.why or "") for s in self.suggestions]


def rank(
    model: RelevanceModel,
    matched: Sequence[Paper],
    unmatched: Sequence[Paper] = (),
    *,
    suggest: bool = False,
    limit: int = SUGGESTIONS,
) -> Ranking:
    """Score a digest's papers (CPU only: call it from a worker thread at scale).

    Suggestions (when `suggest`, and only once the channel has liked something) are the
    unmatched papers the model rates highest, each close to a paper the channel liked.
    """
    unmatched = list(unmatched) if suggest and model.trained else []
    scored = model.score([*matched, *unmatched], split=len(matched))
    ranking = Ranking({s.paper.id: s for s in scored[: len(matched)]})
    if unmatched:
        voted = {e.paper.id for e in model.examples}
        pool = [
            s
            for s in scored[len(matched) :]
            if s.why and s.learned >= SUGGEST_MIN_LEARNED and s.paper.id not in voted
        ]
        pool.sort(key=lambda s: (-s.score, -s.paper.upvotes, s.paper.id))
        ranking.suggestions = pool[:limit]
    return ranking
