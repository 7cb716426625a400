"""Nearest neighbours in memory: an HNSW graph (usearch) over the stored vectors.

Why in process: the vectors live in the database (SQLite or PostgreSQL, the same code);
pgvector is not available everywhere (not in Debian's archive, so not on CI) and
sqlite-vec only scans every vector (`docs/benchmarks.md`, "Relevance", has the
measurements). An HNSW graph answers in about a millisecond at a million papers while
an exact scan reads every vector. It is built from the stored vectors on first use and
kept in step by `seq` (see `paperboy.embeddings.vectors`); small indexes (below
`EXACT_BELOW` vectors) are searched exactly.

Keys are positions in `paper_ids`; a re-embedded paper's old key is removed.
Thread-safe: searches and additions take a lock.

`save(folder)` / `VectorIndex.load(folder)` keep a copy on disk (the graph in a file of its
own, and `index.json` naming it with the ids and the last `seq`), so that a process need
not rebuild the graph at start; see `paperboy.embeddings.archive` for when.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Below this many vectors a search compares against every vector (exact, still fast).
EXACT_BELOW = 20_000
#: HNSW parameters: edges per node, and the breadth of the search while building / querying.
CONNECTIVITY = 16
EXPANSION_ADD = 32
EXPANSION_SEARCH = 256


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A paper near a query vector; `similarity` is the cosine (1 = same direction)."""

    paper_id: str
    similarity: float


class VectorIndex:
    """Unit vectors by paper id; `search` returns the most similar ones."""

    def __init__(self, dims: int) -> None:
        from usearch.index import Index

        self.dims = dims
        self._index = Index(
            ndim=dims,
            metric="ip",  # unit vectors: the inner product is the cosine
            dtype="f16",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        self._ids: list[str | None] = []
        self._keys: dict[str, int] = {}
        self._lock = threading.Lock()
        #: The highest `seq` of `paper_embeddings` added so far.
        self.last_seq = 0

    def __len__(self) -> int:
        return len(self._keys)

    def add(
        self, paper_ids: list[str], matrix: NDArray[np.float32], last_seq: int | None = None
    ) -> None:
        """Add (or replace) the vectors of `paper_ids`."""
        if len(paper_ids) != len(matrix):
            raise ValueError("one id per vector")
        if not paper_ids:
            if last_seq is not None:
                self.last_seq = max(self.last_seq, last_seq)
            return
        with self._lock:
            stale = [self._keys[p] for p in paper_ids if p in self._keys]
            if stale:
                self._index.remove(np.asarray(stale, dtype=np.uint64))
                for key in stale:
                    self._ids[key] = None
            start = len(self._ids)
            keys = np.arange(start, start + len(paper_ids), dtype=np.uint64)
            self._ids.extend(paper_ids)
            for n, pid in enumerate(paper_ids):
                old = self._keys.get(pid)
                if old is not None and old >= start:  # the same id twice in one call
                    self._index.remove(np.asarray([old], dtype=np.uint64))
                    self._ids[old] = None
                self._keys[pid] = start + n
            self._index.add(keys, np.ascontiguousarray(matrix, dtype=np.float32), threads=0)
            if last_seq is not None:
                self.last_seq = max(self.last_seq, last_seq)

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        """Write the index to `folder` (created if missing): the graph to a new file, then
        `index.json` (with `extra`) replaced atomically; older graph files are removed."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"graph-{uuid.uuid4().hex[:12]}.usearch"
        with self._lock:
            self._index.save(str(folder / name))
            meta = {
                **extra,
                "graph": name,
                "dims": self.dims,
                "last_seq": self.last_seq,
                "count": len(self._keys),
                "ids": [pid or "" for pid in self._ids],
            }
        tmp = folder / f"index.json.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, folder / "index.json")
        for old in folder.glob("graph-*.usearch"):
            if old.name != name:
                old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path) -> tuple[VectorIndex, dict[str, Any]] | None:
        """The index saved in `folder` and its `index.json`, or None when there is none or
        it cannot be read (a half-written or foreign folder: it is simply rebuilt)."""
        try:
            meta = json.loads((folder / "index.json").read_text(encoding="utf-8"))
            graph = folder / str(meta["graph"])
            index = cls(int(meta["dims"]))
            index._index.load(str(graph))
            ids = [pid or None for pid in meta["ids"]]
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return None
        if len(index._index) != int(meta.get("count", -1)):
            return None
        index._ids = ids
        index._keys = {pid: key for key, pid in enumerate(ids) if pid is not None}
        index.last_seq = int(meta["last_seq"])
        if len(index._keys) != len(index._index):
            return None
        return index, meta

    def vectors(self, paper_ids: Collection[str]) -> dict[str, NDArray[np.float32]]:
        """The indexed vectors (float16 precision) of those of `paper_ids` it holds."""
        with self._lock:
            found = [(pid, self._keys[pid]) for pid in paper_ids if pid in self._keys]
            if not found:
                return {}
            keys = np.asarray([key for _, key in found], dtype=np.uint64)
            got = self._index.get(keys, dtype="f32")
        rows = got if isinstance(got, tuple) else (got,)
        return {pid: np.asarray(row, np.float32) for (pid, _), row in zip(found, rows, strict=True)}

    def search(
        self, vector: NDArray[np.float32], k: int, *, exclude: Collection[str] = ()
    ) -> list[Neighbour]:
        """The `k` papers most similar to `vector`, best first, none of `exclude`."""
        if k <= 0 or not self._keys:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
        want = k + len(exclude)
        with self._lock:
            count = min(want, len(self._index))
            exact = len(self._keys) < EXACT_BELOW
            matches = self._index.search(query, count, exact=exact, threads=1)
            keys = np.asarray(matches.keys, dtype=np.int64).reshape(-1).tolist()
            distances = np.asarray(matches.distances, dtype=np.float64).reshape(-1).tolist()
            ids = [self._ids[key] if 0 <= key < len(self._ids) else None for key in keys]
        found: list[Neighbour] = []
        for pid, distance in zip(ids, distances, strict=True):
            if pid is None or pid in exclude:
                continue
            found.append(Neighbour(pid, round(1.0 - distance, 6)))
            if len(found) >= k:
                break
        return found
