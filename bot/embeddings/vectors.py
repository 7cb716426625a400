"""The stored vectors: one per paper in `paper_embeddings` (SQLite and PostgreSQL alike).

Vectors are kept as float16 bytes (512 bytes for 256 dimensions: half the size, and a
cosine within 1e-3 of float32's) and read back as float32. A row names the model that made
it; rows of another model count as missing, so switching models re-embeds the archive
(`paperboy reindex`). Every write gets a new `seq`, which an in-memory index follows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from paperboy.store import Store
from paperboy.store.tables import paper_embeddings, papers

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Rows per statement (SQLite allows 32,766 bound parameters).
CHUNK = 500
#: Stored element type.
STORED = np.dtype("<f2")


def text_hash(text: str) -> str:
    """What `text_hash` holds: 32 hex digits of the embedded text's BLAKE2b."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def to_bytes(vector: NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype=STORED).tobytes()


def from_bytes(data: bytes, dims: int) -> NDArray[np.float32]:
    return np.frombuffer(data, dtype=STORED, count=dims).astype(np.float32)


@dataclass(frozen=True, slots=True)
class VectorRows:
    """A page of stored vectors in `seq` order (what an index catches up with)."""

    seqs: NDArray[np.int64]
    paper_ids: list[str]
    matrix: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.paper_ids)


class PaperVectors:
    """Read and write the vectors of one model (`model`, `dims`)."""

    def __init__(self, store: Store, model: str, dims: int) -> None:
        self.store = store
        self.model = model
        self.dims = dims

    async def hashes(self, paper_ids: Iterable[str]) -> dict[str, str]:
        """`text_hash` of the papers among `paper_ids` that have a vector of this model."""
        ids = list(dict.fromkeys(paper_ids))
        found: dict[str, str] = {}
        t = paper_embeddings.c
        async with self.store.engine.connect() as conn:
            for i in range(0, len(ids), CHUNK):
                stmt = sa.select(t.paper_id, t.text_hash).where(
                    t.paper_id.in_(ids[i : i + CHUNK]), t.model == self.model
                )
                found.update((row.paper_id, row.text_hash) for row in await conn.execute(stmt))
        return found

    async def put(
        self, paper_ids: Sequence[str], hashes: Sequence[str], matrix: NDArray[np.float32]
    ) -> int:
        """Store one vector per paper (replacing any earlier one); papers that are not in
        the archive are skipped. Returns the number written."""
        if len(paper_ids) != len(matrix) or len(paper_ids) != len(hashes):
            raise ValueError("one id and one hash per vector")
        if len(paper_ids) and matrix.shape[1] != self.dims:
            raise ValueError(f"vectors of {matrix.shape[1]} dimensions, not {self.dims}")
        latest: dict[str, int] = {pid: n for n, pid in enumerate(paper_ids)}
        ids = list(latest)
        written = 0
        t = paper_embeddings.c
        async with self.store.begin_write() as conn:
            for i in range(0, len(ids), CHUNK):
                chunk = ids[i : i + CHUNK]
                query = sa.select(papers.c.id).where(papers.c.id.in_(chunk))
                present: set[str] = set((await conn.execute(query)).scalars())
                chunk = [pid for pid in chunk if pid in present]
                if not chunk:
                    continue
                await conn.execute(sa.delete(paper_embeddings).where(t.paper_id.in_(chunk)))
                await conn.execute(
                    sa.insert(paper_embeddings),
                    [
                        {
                            "paper_id": pid,
                            "model": self.model,
                            "dims": self.dims,
                            "text_hash": hashes[latest[pid]],
                            "vector": to_bytes(matrix[latest[pid]]),
                        }
                        for pid in chunk
                    ],
                )
                written += len(chunk)
        return written

    async def vectors_for(self, paper_ids: Iterable[str]) -> dict[str, NDArray[np.float32]]:
        """The stored vector (float32, unit length) of each paper that has one."""
        ids = list(dict.fromkeys(paper_ids))
        found: dict[str, NDArray[np.float32]] = {}
        t = paper_embeddings.c
        async with self.store.engine.connect() as conn:
            for i in range(0, len(ids), CHUNK):
                stmt = sa.select(t.paper_id, t.vector).where(
                    t.paper_id.in_(ids[i : i + CHUNK]), t.model == self.model
                )
                for row in await conn.execute(stmt):
                    found[row.paper_id] = from_bytes(row.vector, self.dims)
        return found

    async def matrix_for(self, paper_ids: Sequence[str]) -> tuple[list[str], NDArray[np.float32]]:
        """The papers of `paper_ids` that have a vector, in that order, and their vectors
        as one `(n, dims)` matrix."""
        found = await self.vectors_for(paper_ids)
        ids = [pid for pid in dict.fromkeys(paper_ids) if pid in found]
        if not ids:
            return [], np.zeros((0, self.dims), np.float32)
        return ids, np.stack([found[pid] for pid in ids])

    async def missing(self, limit: int, *, after: str = "") -> list[str]:
        """Up to `limit` archived papers (id order, ids above `after`) without a vector of
        this model."""
        t = paper_embeddings.c
        stmt = (
            sa.select(papers.c.id)
            .outerjoin(paper_embeddings, sa.and_(t.paper_id == papers.c.id, t.model == self.model))
            .where(t.seq.is_(None), papers.c.id > after)
            .order_by(papers.c.id)
            .limit(limit)
        )
        async with self.store.engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())

    async def count(self) -> int:
        """Papers with a vector of this model."""
        stmt = sa.select(sa.func.count()).where(paper_embeddings.c.model == self.model)
        async with self.store.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def id_at(self, seq: int) -> str | None:
        """The paper of the row numbered `seq` (None: no such row)."""
        t = paper_embeddings.c
        stmt = sa.select(t.paper_id).where(t.seq == seq)
        async with self.store.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one_or_none()

    async def agrees(self, seq: int, count: int, last_id: object) -> bool:
        """Whether an index built from this model's rows up to `seq`, holding `count`
        papers, the last of them `last_id`, can have come from this table: that paper's
        row is `seq` (or a later one, re-embedded since), and the rows up to `seq` are no
        more than `count` (fewer when papers were re-embedded since), all rows no fewer."""
        if seq == 0:
            return count == 0
        t = paper_embeddings.c
        upto = sa.select(sa.func.count()).where(t.seq <= seq, t.model == self.model)
        total = sa.select(sa.func.count()).where(t.model == self.model)
        last = sa.select(t.seq).where(t.paper_id == last_id, t.model == self.model)
        async with self.store.engine.connect() as conn:
            before = int((await conn.execute(upto)).scalar_one())
            rows = int((await conn.execute(total)).scalar_one())
            at = (await conn.execute(last)).scalar_one_or_none() if last_id else None
        return at is not None and at >= seq and before <= count <= rows

    async def since(self, seq: int, limit: int) -> VectorRows:
        """Up to `limit` rows of this model written after `seq`, in `seq` order."""
        t = paper_embeddings.c
        stmt = (
            sa.select(t.seq, t.paper_id, t.vector)
            .where(t.seq > seq, t.model == self.model)
            .order_by(t.seq)
            .limit(limit)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        seqs = np.fromiter((r.seq for r in rows), np.int64, len(rows))
        ids = [r.paper_id for r in rows]
        if not rows:
            return VectorRows(seqs, ids, np.zeros((0, self.dims), np.float32))
        raw = b"".join(r.vector for r in rows)
        matrix = np.frombuffer(raw, dtype=STORED).reshape(len(rows), self.dims)
        return VectorRows(seqs, ids, matrix.astype(np.float32))
