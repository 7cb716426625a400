"""The team loop: one-click feedback, a relevance model per channel, the reading list.

- `tokens`: signed feedback buttons and hashed user ids (`FeedbackSigner`);
- `features`: what the model sees of a paper (hashed words; embeddings where present);
- `model`: a channel's `RelevanceModel` (numpy Rocchio over its votes, plus priors);
- `service`: recording, training from the store, ranking a digest and its suggestions;
- `preview`: the digest a channel would get for archived days, in its learned order;
- `bibtex`: the reading list as a BibTeX file.
"""

from paperboy.feedback.bibtex import to_bibtex
from paperboy.feedback.model import Example, RelevanceModel, Scored, top_topics
from paperboy.feedback.preview import Preview, channel_digest, preview, preview_json
from paperboy.feedback.service import (
    SUGGESTIONS,
    Ranking,
    examples,
    model_for,
    rank,
    record,
    signer,
    stored_vectors,
)
from paperboy.feedback.tokens import (
    ACTIONS,
    VOTES,
    FeedbackSigner,
    is_paper_id,
    is_token,
    user_label,
)

__all__ = [
    "ACTIONS",
    "SUGGESTIONS",
    "VOTES",
    "Example",
    "FeedbackSigner",
    "Preview",
    "Ranking",
    "RelevanceModel",
    "Scored",
    "channel_digest",
    "examples",
    "is_paper_id",
    "is_token",
    "model_for",
    "preview",
    "preview_json",
    "rank",
    "record",
    "signer",
    "stored_vectors",
    "to_bibtex",
    "top_topics",
    "user_label",
]
