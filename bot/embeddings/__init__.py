"""Embeddings: papers as vectors, for meaning-aware search, `similar` and relevance models.

- `embedder`: the `Embedder` interface (`name`, `dims`, `embed(texts)` -> unit float32
  rows) and the bundled wordllama model (`WordLlamaEmbedder`, `default_embedder()`);
- `vectors`: one stored vector per paper (`paper_embeddings`, `PaperVectors`);
- `ann`: the in-memory nearest-neighbour index (`VectorIndex`, usearch HNSW);
- `archive`: `Embeddings`, what the rest of the core uses: embed at ingest, backfill,
  `vectors_for`, `nearest`, `similar_to`.
"""

from paperboy.embeddings.ann import Neighbour, VectorIndex
from paperboy.embeddings.archive import Embeddings, Prepared
from paperboy.embeddings.embedder import (
    Embedder,
    EmbedderError,
    WordLlamaEmbedder,
    default_embedder,
    embed_papers,
    normalise,
    paper_text,
)
from paperboy.embeddings.vectors import PaperVectors, VectorRows, text_hash

__all__ = [
    "Embedder",
    "EmbedderError",
    "Embeddings",
    "Neighbour",
    "PaperVectors",
    "Prepared",
    "VectorIndex",
    "VectorRows",
    "WordLlamaEmbedder",
    "default_embedder",
    "embed_papers",
    "normalise",
    "paper_text",
    "text_hash",
]
