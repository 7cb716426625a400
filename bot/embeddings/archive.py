"""`Embeddings`: the archive's vectors, from papers to nearest neighbours.

- `prepare(papers)` embeds papers in a worker thread (never on the event loop) and
  `write(prepared)` stores the vectors whose text changed: `paperboy.ingest.ingest` does
  both for every paper that enters the archive.
- `backfill()` embeds archived papers that have no vector of the current model
  (`paperboy reindex`, and in the background when `paperboy run` starts).
- `vectors_for(ids)`, `matrix_for(ids)`: stored vectors (float32, unit length).
- `nearest(vector, k)`, `similar_to(paper_id, k)`: nearest neighbours through the
  process's in-memory index (`paperboy.embeddings.ann`), caught up with the table first.

With a SQLite file, the index is also kept on disk beside it (`paperboy.db` ->
`paperboy.db.vectors/<model>/`) and saved again after every `SAVE_EVERY` new vectors: a
process that starts loads it (a second or two at a million papers) instead of rebuilding
the graph (minutes), then catches up from its last `seq`. A copy that does not agree with
the table (its last row, its count) is ignored and replaced. On PostgreSQL each process
builds its index from the table (`paperboy run` does it in the background at start).

The embedder is loaded on first use (the shared default, wordllama) unless one is given.
One `VectorIndex` is kept per store and model, so every `Embeddings` of a process shares it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperboy.embeddings.ann import Neighbour, VectorIndex
from paperboy.embeddings.embedder import Embedder, default_embedder, paper_text
from paperboy.embeddings.vectors import PaperVectors, text_hash
from paperboy.models import Paper
from paperboy.store import Store

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: Papers per backfill batch, and stored rows read per step when an index catches up.
BACKFILL_BATCH = 1000
SYNC_PAGE = 20_000
#: A query looks for other processes' writes at most this often (seconds); this process's
#: own writes are seen at once.
SYNC_EVERY = 2.0
#: An index on disk is brought up to date after this many vectors were added to it.
SAVE_EVERY = 10_000
#: Texts up to this long are embedded on the event loop (tens of microseconds), longer
#: ones in a worker thread.
INLINE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Prepared:
    """Papers embedded, not yet stored."""

    paper_ids: list[str]
    hashes: list[str]
    matrix: NDArray[np.float32]


@dataclass(slots=True)
class _Shared:
    index: VectorIndex
    lock: asyncio.Lock
    synced_at: float = float("-inf")  # monotonic time of the last catch-up
    opened: bool = False  # the copy on disk was looked for
    saved_count: int = 0  # vectors in the index when it was last saved (or loaded)


_SHARED: weakref.WeakKeyDictionary[Store, dict[str, _Shared]] = weakref.WeakKeyDictionary()


class Embeddings:
    """See the module docstring."""

    def __init__(self, store: Store, embedder: Embedder | None = None) -> None:
        self.store = store
        self._embedder = embedder
        self._vectors: PaperVectors | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    async def load(self) -> Embedder:
        """The embedder, loaded in a worker thread the first time (about half a second)."""
        if self._embedder is None:
            self._embedder = await asyncio.to_thread(default_embedder)
        return self._embedder

    @property
    def vectors(self) -> PaperVectors:
        if self._vectors is None:
            self._vectors = PaperVectors(self.store, self.embedder.name, self.embedder.dims)
        return self._vectors

    @property
    def dims(self) -> int:
        return self.embedder.dims

    # ------------------------------------------------------------------ embedding

    async def embed_texts(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """`(len(texts), dims)` unit vectors, computed in a worker thread."""
        await self.load()
        return await asyncio.to_thread(self.embedder.embed, list(texts))

    async def embed_query(self, text: str) -> NDArray[np.float32]:
        """One text's unit vector (zeros for a text without words)."""
        await self.load()
        if len(text) <= INLINE_CHARS:
            return self.embedder.embed([text])[0]
        return (await self.embed_texts([text]))[0]

    def prepare_sync(self, papers: Sequence[Paper]) -> Prepared:
        texts = [paper_text(p) for p in papers]
        matrix = self.embedder.embed(texts)
        return Prepared([p.id for p in papers], [text_hash(t) for t in texts], matrix)

    async def prepare(self, papers: Sequence[Paper]) -> Prepared:
        """Embed `papers` in a worker thread."""
        await self.load()
        return await asyncio.to_thread(self.prepare_sync, list(papers))

    async def write(self, prepared: Prepared) -> int:
        """Store the prepared vectors of papers whose embedded text changed."""
        if not prepared.paper_ids:
            return 0
        stored = await self.vectors.hashes(prepared.paper_ids)
        keep = [
            n
            for n, (pid, digest) in enumerate(zip(prepared.paper_ids, prepared.hashes, strict=True))
            if stored.get(pid) != digest
        ]
        if not keep:
            return 0
        written = await self.vectors.put(
            [prepared.paper_ids[n] for n in keep],
            [prepared.hashes[n] for n in keep],
            prepared.matrix[keep],
        )
        self._shared().synced_at = float("-inf")  # the next query catches up
        return written

    async def add_papers(self, papers: Sequence[Paper]) -> int:
        """Embed and store `papers` (already archived); unchanged ones are skipped."""
        return await self.write(await self.prepare(papers))

    async def backfill(
        self,
        *,
        batch: int = BACKFILL_BATCH,
        limit: int | None = None,
        on_batch: Callable[[int], object] | None = None,
    ) -> int:
        """Embed archived papers that have no vector of this model; returns how many.

        `on_batch(done)` is called after each batch (a progress display)."""
        done = 0
        after = ""
        while limit is None or done < limit:
            size = batch if limit is None else min(batch, limit - done)
            ids = await self.vectors.missing(size, after=after)
            if not ids:
                break
            after = ids[-1]
            found = await self.store.papers.get_many(ids)
            papers = [found[pid] for pid in ids if pid in found]
            done += await self.write(await self.prepare(papers))
            if on_batch is not None:
                on_batch(done)
        return done

    # ------------------------------------------------------------------ reading

    async def vectors_for(self, paper_ids: Iterable[str]) -> dict[str, NDArray[np.float32]]:
        """Stored vectors of the papers that have one (float32, unit length)."""
        return await self.vectors.vectors_for(paper_ids)

    async def matrix_for(self, paper_ids: Sequence[str]) -> tuple[list[str], NDArray[np.float32]]:
        """The papers of `paper_ids` that have a vector, in order, and an `(n, dims)` matrix."""
        return await self.vectors.matrix_for(paper_ids)

    # ------------------------------------------------------------------ neighbours

    def _shared(self) -> _Shared:
        per_store = _SHARED.setdefault(self.store, {})
        shared = per_store.get(self.vectors.model)
        if shared is None:
            shared = _Shared(VectorIndex(self.dims), asyncio.Lock())
            per_store[self.vectors.model] = shared
        return shared

    def cache_folder(self) -> Path | None:
        """Where this store's index is kept on disk: beside a SQLite file, else nowhere."""
        if self.store.dialect != "sqlite":
            return None
        database = self.store.engine.url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        path = Path(database).expanduser()
        return path.with_name(path.name + ".vectors") / self.vectors.model

    async def _open(self, shared: _Shared) -> None:
        """Load the index saved on disk, if it agrees with the table."""
        shared.opened = True
        folder = self.cache_folder()
        if folder is None or not (folder / "index.json").exists():
            return
        loaded = await asyncio.to_thread(VectorIndex.load, folder)
        if loaded is None:
            return
        index, meta = loaded
        if meta.get("model") != self.vectors.model or index.dims != self.dims:
            return
        if not await self.vectors.agrees(index.last_seq, len(index), meta.get("last_id")):
            log.info("the saved vector index does not match the database: rebuilding it")
            return
        shared.index = index
        shared.saved_count = len(index)

    async def _save(self, shared: _Shared) -> None:
        folder = self.cache_folder()
        index = shared.index
        if folder is None or len(index) - shared.saved_count < SAVE_EVERY:
            return
        last_id = await self.vectors.id_at(index.last_seq)
        try:
            await asyncio.to_thread(
                index.save, folder, {"model": self.vectors.model, "last_id": last_id}
            )
        except OSError as error:  # a read-only folder, a full disk: keep it in memory
            log.warning("cannot save the vector index in %s: %s", folder, error)
        shared.saved_count = len(index)

    async def sync(self, *, max_age: float = 0.0) -> VectorIndex:
        """The process's index for this store and model, caught up with the table (unless
        it was less than `max_age` seconds ago and this process wrote nothing since)."""
        shared = self._shared()
        if time.monotonic() - shared.synced_at < max_age:
            return shared.index
        async with shared.lock:
            if not shared.opened:
                await self._open(shared)
            index = shared.index
            shared.synced_at = time.monotonic()
            while True:
                rows = await self.vectors.since(index.last_seq, SYNC_PAGE)
                if not len(rows):
                    break
                await asyncio.to_thread(index.add, rows.paper_ids, rows.matrix, int(rows.seqs[-1]))
                if len(rows) < SYNC_PAGE:
                    break
            await self._save(shared)
        return index

    async def nearest(
        self,
        vector: NDArray[np.float32],
        k: int,
        *,
        exclude: Collection[str] = (),
        sync: bool = True,
    ) -> list[Neighbour]:
        """The `k` archived papers nearest `vector`, best first, none of `exclude`.

        The graph search takes about a millisecond: it runs on the event loop."""
        index = await self.sync(max_age=SYNC_EVERY) if sync else self._shared().index
        if not np.any(vector):
            return []
        return index.search(vector, k, exclude=exclude)

    async def similarities(
        self, vector: NDArray[np.float32], paper_ids: Collection[str]
    ) -> dict[str, float]:
        """The cosine between `vector` and each of `paper_ids` that has a vector (from the
        in-memory index, the store for any it does not hold yet)."""
        found = self._shared().index.vectors(paper_ids)
        rest = [pid for pid in paper_ids if pid not in found]
        if rest:
            found.update(await self.vectors_for(rest))
        return {pid: round(float(v @ vector), 6) for pid, v in found.items()}

    async def vector_of(self, paper: Paper) -> NDArray[np.float32]:
        """The paper's stored vector, or (not stored yet) computed and stored now."""
        found = await self.vectors_for([paper.id])
        if paper.id in found:
            return found[paper.id]
        prepared = await self.prepare([paper])
        await self.write(prepared)
        return prepared.matrix[0]

    async def similar_to(self, paper: Paper, k: int) -> list[Neighbour]:
        """The `k` archived papers nearest `paper`, itself excluded."""
        return await self.nearest(await self.vector_of(paper), k, exclude={paper.id})
