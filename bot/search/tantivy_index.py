"""SQLite's search index: a tantivy index in a folder beside the database file.

tantivy (a search library in Rust, through its Python binding) keeps an inverted index
with positions and ranks by BM25 over all of a query's matches in a few milliseconds at
a million papers, with an exact count; FTS5 needed a budget, a ranking window and an
estimate to come near (docs/benchmarks.md, "Against tantivy"). It stores what FTS5
stored: the lexemes of `paperboy.search.lexemes` (never raw text), in the columns t
(title, prefixed), a (abstract), x (HF summary and keywords) and u (authors, prefixed);
the word pairs of t, a and x (`tp`, `ap`, `xp`: `paperboy.search.lexemes.pair_words`,
which phrase queries read before positions); and the paper id and the day, votes and
code flag the filters and ties read.

The database stays the source of truth: papers reach the index through the
`search_pending` queue (`paperboy.search.index.SearchIndex.sync`), a queue entry is
removed only after the index has committed its paper, and the folder can always be
rebuilt from the archive (`paperboy reindex`). The folder is tied to its database by an
id kept in both (`search_state.index_id` and the file `paperboy-index-id`): a folder
that is missing, unreadable, or another database's is made anew and every paper queued.

- Where: `<database file>.search/` (as the vectors' `<database file>.vectors/`); a
  database without a file (in memory) gets an index in memory.
- Several processes: tantivy allows one writer per folder at a time and any number of
  readers. A process takes the writer only for one sync pass and lets it go; a process
  that finds it taken leaves the queue to the holder and searches what is committed.
  Readers see another process's commit within a second (tantivy watches the folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import tantivy

from paperboy.search.lexemes import DAY_SHIFT

__all__ = [
    "FolderIndex",
    "FolderWriter",
    "Hit",
    "IndexBusy",
    "IndexReplaced",
    "IndexedDoc",
    "folder_of",
]

#: The file in the folder holding its id (the same as the database's `search_state`) and
#: the version of its schema.
ID_FILE = "paperboy-index-id"
#: Raise when `schema()` or what a column holds changes: older folders are then rebuilt.
SCHEMA_VERSION = 3
#: Memory the writer fills before it writes a segment (split among its threads).
WRITER_HEAP = 64_000_000
#: Matches ranked by BM25 that a search puts in its own order before the cut.
POOL = 200
#: How long a sync waits for another process's writer before it leaves the work to it.
WRITER_WAIT = 2.0


class IndexBusy(Exception):
    """Another process holds the folder's writer."""


class IndexReplaced(Exception):
    """The folder was made anew since this process opened it."""


class FolderWriter:
    """tantivy's writer of a folder, while `FolderIndex.writing` holds it."""

    def __init__(self, writer: tantivy.IndexWriter) -> None:
        self._writer = writer

    def write(
        self, removed: Iterable[str], added: Iterable[IndexedDoc], *, clear: bool = False
    ) -> None:
        """Remove the papers `removed` (and those re-added), add `added`, and commit:
        all of it becomes visible at once, or none of it. `clear` first removes every
        document."""
        writer = self._writer
        try:
            if clear:
                writer.delete_all_documents()
            for paper_id in removed:
                writer.delete_documents_by_term("paper_id", paper_id)
            for doc in added:
                writer.delete_documents_by_term("paper_id", doc.paper_id)
                writer.add_document(
                    tantivy.Document(
                        paper_id=doc.paper_id, day=doc.day, upvotes=doc.upvotes,
                        has_code=int(doc.has_code), recency=recency(doc.day),
                        t=doc.t, a=doc.a, x=doc.x, u=doc.u,
                        tp=doc.tp, ap=doc.ap, xp=doc.xp,
                    )
                )  # fmt: skip
            writer.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.rollback()
            raise


@dataclass(frozen=True, slots=True)
class IndexedDoc:
    """What the index stores of one paper (lexeme columns as `FieldText.column` writes)."""

    paper_id: str
    day: int  # date ordinal, 0 if undated
    upvotes: int
    has_code: bool
    t: str
    a: str
    x: str
    u: str
    tp: str = ""  # word pairs of t, a and x (`FieldText.pairs`)
    ap: str = ""
    xp: str = ""


@dataclass(slots=True)
class Hit:
    paper_id: str  # read for the hits kept (see FolderIndex.search)
    score: float
    day: int  # date ordinal, 0 if undated
    upvotes: int
    address: Any = None  # tantivy's DocAddress


#: The word-pair column of each column that has one (not authors: names are short).
PAIRS = {"t": "tp", "a": "ap", "x": "xp"}


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for column in "taxu":
        # Lexemes are plain words separated by spaces: the whitespace tokenizer is exact.
        builder.add_text_field(column, tokenizer_name="whitespace", index_option="position")
    for column in PAIRS.values():
        # Which papers hold a word pair is all a phrase filter asks: no positions.
        builder.add_text_field(column, tokenizer_name="whitespace", index_option="basic")
    builder.add_text_field("paper_id", stored=True, tokenizer_name="raw")
    builder.add_integer_field("day", stored=True, indexed=True, fast=True)
    builder.add_integer_field("upvotes", stored=True, indexed=True, fast=True)
    builder.add_integer_field("has_code", indexed=True)
    builder.add_float_field("recency", fast=True)
    return builder.build()


#: Among equal BM25 scores the newer paper ranks first, inside the index: tantivy
#: multiplies a score by log2(2 + recency), and recency grows by this much a day from
#: RECENCY_START (a day is then 2.9e-7 of a score, above float32's 6e-8; a century 0.5 %).
RECENCY_STEP = 4e-7
RECENCY_START = 730_120  # 2000-01-01


def recency(day: int) -> float:
    return max(0, day - RECENCY_START) * RECENCY_STEP if day else 0.0


SCHEMA = schema()


def folder_of(database: str | None) -> Path | None:
    """The index folder of a SQLite database file (None: the database has no file)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser().with_name(Path(database).name + ".search")


class FolderIndex:
    """The tantivy index of one SQLite database, in `path` (None: in memory)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.index_id: str | None = None
        self.writer_wait = WRITER_WAIT
        self._index: tantivy.Index | None = None
        self._lock = threading.Lock()  # opening and writing, within this process

    # ------------------------------------------------------------------ the folder
    #
    # A lock file beside the folder orders processes (and threads): writing holds it
    # shared, and checks the folder is still the one it opened; making the folder anew
    # (and emptying it for a rebuild) holds it exclusively. So a folder is never removed
    # under a writer, and a writer never commits into a folder made since it opened it.

    @contextlib.asynccontextmanager
    async def locked(self, *, shared: bool) -> AsyncIterator[None]:
        """Hold the folder's lock file (shared: writing; exclusive: making it anew)."""
        if self.path is None:
            yield
            return
        handle = await asyncio.to_thread(self._lock_file, shared)
        try:
            yield
        finally:
            handle.close()  # closing the file lets the lock go

    def _lock_file(self, shared: bool) -> BinaryIO:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path.with_name(self.path.name + ".lock"), "a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        return handle

    def matches(self, index_id: str | None) -> bool:
        """Whether this index is open and is the one the database names."""
        return index_id is not None and self._index is not None and self.index_id == index_id

    def open(self, index_id: str | None) -> bool:
        """Open the folder if it holds the index the database names (`index_id`); call
        it holding the folder's lock exclusively (`locked`).

        Returns False if it does not (missing, unreadable, another database's): then call
        `create` and queue every paper.
        """
        with self._lock:
            if self.matches(index_id):
                return True
            if self.path is None or index_id is None:
                return False
            try:
                if self._on_disk() != index_id:
                    return False
                index = tantivy.Index.open(str(self.path))
            except (OSError, ValueError):
                return False
            self._index, self.index_id = index, index_id
            return True

    def _on_disk(self) -> str | None:
        """The id of the index in the folder (None: none, or of another schema)."""
        assert self.path is not None
        try:
            found = (self.path / ID_FILE).read_text().split()
        except OSError:
            return None
        return found[0] if found[1:] == [str(SCHEMA_VERSION)] else None

    def create(self) -> str:
        """An empty index in the folder (whatever was there is removed); its new id. Call
        it holding the folder's lock exclusively (`locked`)."""
        with self._lock:
            index_id = uuid.uuid4().hex
            if self.path is None:
                self._index = tantivy.Index(SCHEMA)
            else:
                if self.path.exists():
                    shutil.rmtree(self.path)
                self.path.mkdir(parents=True)
                self._index = tantivy.Index(SCHEMA, path=str(self.path), reuse=False)
                # Written last: a folder without it is never taken for a complete one.
                temporary = self.path / (ID_FILE + ".tmp")
                temporary.write_text(f"{index_id} {SCHEMA_VERSION}\n")
                os.replace(temporary, self.path / ID_FILE)
            self.index_id = index_id
            return index_id

    @property
    def is_open(self) -> bool:
        return self._index is not None

    @property
    def index(self) -> tantivy.Index:
        if self._index is None:
            raise RuntimeError("the search index is not open")
        return self._index

    # ------------------------------------------------------------------ writing

    @contextlib.asynccontextmanager
    async def writing(self, *, wait: float | None = None) -> AsyncIterator[FolderWriter]:
        """Hold the folder for writing: its lock file shared, and tantivy's writer (one
        at a time over all processes; waited for up to `wait` seconds, default
        `writer_wait`). Raises IndexBusy if it stays taken, IndexReplaced if the folder
        was made anew since this process opened it (open it again)."""
        async with self.locked(shared=True):
            if self.path is not None and self._on_disk() != self.index_id:
                raise IndexReplaced("the index folder was made anew by another process")
            writer = await asyncio.to_thread(
                self._writer, self.writer_wait if wait is None else wait
            )
            try:
                yield FolderWriter(writer)
            finally:
                # Merges finish and the writer (and tantivy's lock) goes, even if the
                # caller was cancelled meanwhile.
                await asyncio.shield(asyncio.to_thread(self._finish, writer))

    async def empty(self) -> None:
        """Remove every document and commit; call it holding the folder's lock
        exclusively (`locked`), so that no sync writes meanwhile."""
        writer = await asyncio.to_thread(self._writer, self.writer_wait)
        try:
            await asyncio.to_thread(FolderWriter(writer).write, [], [], clear=True)
        finally:
            await asyncio.shield(asyncio.to_thread(self._finish, writer))

    def forget(self) -> None:
        """Let go of the open index (the folder was made anew or removed): the next
        sync opens the folder again, or makes it anew."""
        with self._lock:
            self._index = None
            self.index_id = None

    def _finish(self, writer: tantivy.IndexWriter) -> None:
        writer.wait_merging_threads()
        self.index.reload()

    def _writer(self, wait: float) -> tantivy.IndexWriter:
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as error:
                if "lock" not in str(error).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise IndexBusy(str(error)) from None
                time.sleep(0.05)

    # ------------------------------------------------------------------ reading

    def search(
        self,
        query: tantivy.Query,
        limit: int,
        *,
        shown: int = 0,
        tier: Callable[[float], int] | None = None,
        order: Callable[[Hit], Any] | None = None,
    ) -> tuple[list[Hit], int]:
        """The best `limit` matches of `query`, and the exact number of matches.

        With `tier` (a score's relevance tier: scores within 2 % share one) and `order`
        (a sort key of a hit, say its tier and then its date), the hits are the first
        `limit` in that order: of the best `POOL` by BM25, those past the `limit`-th
        that share its tier are put in order with it, so a newer paper of equal
        relevance is not lost below the cut. Days and votes come from fast fields, the
        ids of the hits kept from stored documents. If even the last of the pool scores
        as high as the `shown`-th, papers of that very score may have been left out in
        index order (oldest first): the search is made again with newer papers first
        among equal scores (`recency`; not always: weighing every match costs about a
        millisecond at a million papers).
        """
        searcher = self.index.searcher()
        pool = max(POOL, limit) if tier is not None else limit
        found = searcher.search(query, pool, count=True)
        scores = [score for score, _ in found.hits]
        if 0 < shown < pool == len(scores) and scores[-1] >= scores[shown - 1]:
            found = searcher.search(query, pool, count=True, weight_by_field="recency")
            scores = [score for score, _ in found.hits]
        end = min(limit, len(scores))
        if tier is not None and end == limit:
            cut = tier(scores[limit - 1])
            while end < len(scores) and tier(scores[end]) == cut:
                end += 1
        kept = found.hits[:end]
        addresses = [address for _, address in kept]
        days = searcher.fast_field_values("day", addresses)
        votes = searcher.fast_field_values("upvotes", addresses)
        hits = [
            Hit("", score, int(day or 0), int(upvotes or 0), address)
            for (score, address), day, upvotes in zip(kept, days, votes, strict=True)
        ]
        if order is not None:
            hits.sort(key=order)
        hits = hits[:limit]
        for hit in hits:
            hit.paper_id = searcher.doc(hit.address)["paper_id"][0]
        return hits, cast("Any", found).count or 0  # (missing from the stubs)

    def count(self) -> int:
        """Papers in the index (as of the last commit this process has seen)."""
        return int(self.index.searcher().num_docs)


def day_bounds(low: int, high: int) -> tuple[int, int]:
    """Document id bounds (`paperboy.search.lexemes.docid_range`) as day ordinals."""
    return low >> DAY_SHIFT, high >> DAY_SHIFT
