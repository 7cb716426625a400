"""Text to vectors: the `Embedder` interface and the bundled model (wordllama).

An `Embedder` turns texts into L2-normalised float32 vectors (one row per text), so a dot
product is the cosine similarity. Anything with `name`, `dims` and `embed` fits: a stronger
model can be plugged in later without touching the store, the index or search (vectors
carry the model's `name`; those of another model count as missing and are recomputed).

`WordLlamaEmbedder` is the default: wordllama's 256-dimension static token embeddings
(`l2_supercat`, 16 MB, shipped inside the wheel; no torch, no download). A text's vector
is the mean of its tokens' vectors, normalised. wordllama's own loader looks for the
tokenizer in a folder that does not exist (`tokenizer/`, the wheel has `tokenizers/`) and
then downloads it: it is loaded with `cache_dir` set to the installed package's folder and
`disable_download=True`, so nothing is ever fetched (tests block the network to prove it).

Speed: wordllama's `embed` pads every batch to its longest text and tokenizes whole texts
with BPE. The tokenizer has no pre-tokenizer and splits at spaces anyway (SentencePiece's
"▁" starts every word, and no merge crosses one), so tokenizing each distinct word once
and summing its tokens' vectors gives the same vectors (cosine 0.99999 or closer) at
several times the rate; the word cache is bounded.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from paperboy.models import Paper

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: The wordllama configuration and width used by default (both ship in its wheel).
WORDLLAMA_CONFIG = "l2_supercat"
WORDLLAMA_DIMS = 256
#: Characters of a paper's text that are embedded (title, then abstract): the mean of a
#: static embedding settles long before, and hostile 50,000-character abstracts stay cheap.
MAX_TEXT_CHARS = 4000
#: Texts per tokenizer / numpy batch.
BATCH = 128
#: Distinct words whose token ids are kept (about 200 bytes each).
WORD_CACHE = 200_000


class EmbedderError(RuntimeError):
    """The model could not be loaded (for example, the package is missing)."""


@runtime_checkable
class Embedder(Protocol):
    """What search, similarity and the relevance model need from an embedding model."""

    #: Names the model and its version: stored with each vector.
    name: str
    #: Width of every vector.
    dims: int

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """`(len(texts), dims)` float32, each row L2-normalised (an empty text: zeros).

        CPU-bound and thread-safe: async callers run it in a worker thread."""
        ...


def paper_text(paper: Paper) -> str:
    """The text of a paper that is embedded: title, abstract (cut), AI keywords."""
    parts = [paper.title, paper.abstract[:MAX_TEXT_CHARS]]
    if paper.ai_keywords:
        parts.append(", ".join(paper.ai_keywords[:30]))
    return "\n".join(p for p in parts if p)


def normalise(matrix: NDArray[np.float32]) -> NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


def wordllama_folder() -> Path:
    """The installed wordllama package's folder, which holds its weights and tokenizer."""
    try:
        import wordllama
    except ImportError as error:  # pragma: no cover - a dependency
        raise EmbedderError("the wordllama package is not installed") from error
    return Path(wordllama.__file__).resolve().parent


def _load_wordllama(config: str, dims: int) -> Any:
    root = logging.getLogger()
    handlers = list(root.handlers)
    level = root.level
    try:
        # wordllama.inference calls logging.basicConfig(level=INFO) at import: undo it.
        from wordllama import WordLlama
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    folder = wordllama_folder()
    try:
        return WordLlama.load(config, cache_dir=folder, dim=dims, disable_download=True)
    except (FileNotFoundError, ValueError, AttributeError) as error:
        raise EmbedderError(f"cannot load the wordllama model {config}-{dims}: {error}") from error


class WordLlamaEmbedder:
    """wordllama's static embeddings (see the module docstring)."""

    def __init__(self, config: str = WORDLLAMA_CONFIG, dims: int = WORDLLAMA_DIMS) -> None:
        from tokenizers import Tokenizer

        model = _load_wordllama(config, dims)
        self.name = f"wordllama-{config}-{dims}"
        self._matrix: NDArray[np.float32] = np.ascontiguousarray(model.embedding, np.float32)
        self.dims = int(self._matrix.shape[1])
        # A copy without padding (wordllama's pads every batch to its longest text).
        self._tokenizer = Tokenizer.from_str(model.tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._words: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def _token_ids(self, words: list[str]) -> None:
        encoded = self._tokenizer.encode_batch(words, add_special_tokens=False)
        with self._lock:
            if len(self._words) + len(words) > WORD_CACHE:
                self._words.clear()
            for word, enc in zip(words, encoded, strict=True):
                self._words[word] = enc.ids

    def _batch(self, texts: Sequence[str]) -> NDArray[np.float32]:
        docs = [text.split() for text in texts]
        words = self._words
        new = list({w for ws in docs for w in ws if w not in words})
        if new:
            self._token_ids(new)
            words = self._words
        lookup = words.get
        tokens = [list(chain.from_iterable(lookup(w) or () for w in ws)) for ws in docs]
        lengths = [len(t) for t in tokens]
        ids = np.fromiter(chain.from_iterable(tokens), np.int64, sum(lengths))
        np.clip(ids, 0, self._matrix.shape[0] - 1, out=ids)
        rows = self._matrix[ids]
        out = np.zeros((len(texts), self.dims), np.float32)
        start = 0
        for i, n in enumerate(lengths):
            if n:
                out[i] = rows[start : start + n].sum(axis=0)
            start += n
        return normalise(out)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dims), np.float32)
        return np.concatenate(
            [self._batch(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        )


@functools.cache
def default_embedder() -> Embedder:
    """The process's shared default model (loaded once, about half a second)."""
    return WordLlamaEmbedder()


def embed_papers(embedder: Embedder, papers: Sequence[Paper]) -> NDArray[np.float32]:
    """Each paper's vector (`paper_text`), one row per paper."""
    return embedder.embed([paper_text(p) for p in papers])


__all__ = [
    "Embedder",
    "EmbedderError",
    "WordLlamaEmbedder",
    "default_embedder",
    "embed_papers",
    "normalise",
    "paper_text",
    "wordllama_folder",
]
