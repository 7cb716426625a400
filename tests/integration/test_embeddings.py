"""Stored vectors and nearest neighbours on SQLite and PostgreSQL (`paperboy.embeddings`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from paperboy.embeddings import Embeddings, VectorIndex, default_embedder, paper_text
from paperboy.embeddings.ann import EXACT_BELOW
from paperboy.ingest import ingest
from paperboy.models import Paper
from paperboy.sources.file import FileSource
from paperboy.store import Store
from tests.seed_corpus import load_seed_papers


async def _archive(store: Store, papers: list[Paper]) -> None:
    await store.papers.upsert(papers)


async def test_vectors_round_trip_and_skip_unchanged_papers(store: Store) -> None:
    papers = load_seed_papers()[:30]
    await _archive(store, papers)
    emb = Embeddings(store, default_embedder())
    assert await emb.add_papers(papers) == 30
    assert await emb.vectors.count() == 30
    assert await emb.add_papers(papers) == 0  # same text: not written again
    changed = dataclasses.replace(papers[0], abstract=papers[0].abstract + " Also robots.")
    await _archive(store, [changed])
    assert await emb.add_papers([changed, *papers[1:5]]) == 1

    stored = await emb.vectors_for([p.id for p in papers[:3]] + ["nope"])
    assert set(stored) == {p.id for p in papers[:3]}
    expected = default_embedder().embed([paper_text(changed), paper_text(papers[1])])
    for pid, want in zip([changed.id, papers[1].id], expected, strict=True):
        got = stored[pid]
        assert got.dtype == np.float32 and got.shape == (256,)
        assert float(got @ want) > 0.9999  # float16 storage, float32 back
    ids, matrix = await emb.matrix_for(["nope", papers[2].id, papers[1].id])
    assert ids == [papers[2].id, papers[1].id] and matrix.shape == (2, 256)


async def test_vectors_of_papers_not_archived_are_not_stored(store: Store) -> None:
    emb = Embeddings(store, default_embedder())
    assert await emb.add_papers([Paper(id="9999.00001", title="Ghost", abstract="x")]) == 0
    assert await emb.vectors.count() == 0


async def test_backfill_embeds_what_is_missing(store: Store) -> None:
    papers = load_seed_papers()
    await _archive(store, papers)
    emb = Embeddings(store, default_embedder())
    await emb.add_papers(papers[:10])
    progress: list[int] = []
    assert await emb.backfill(batch=50, on_batch=progress.append) == len(papers) - 10
    assert progress[-1] == len(papers) - 10 and len(progress) == 3
    assert await emb.vectors.missing(10) == []
    assert await emb.backfill() == 0


async def test_nearest_neighbours_follow_new_writes(store: Store) -> None:
    papers = load_seed_papers()
    await _archive(store, papers)
    emb = Embeddings(store, default_embedder())
    titled = [p for p in papers if "LoRA" in p.title]
    others = [p for p in papers if "LoRA" not in p.title]
    await emb.add_papers(others)
    lora = next(p for p in papers if p.title.startswith("DyLoRA"))
    query = await emb.embed_query("LoRA low-rank adaptation for parameter-efficient tuning")
    first = await emb.nearest(query, 5)
    assert len(first) == 5 and all(-1 <= n.similarity <= 1 for n in first)
    assert [n.similarity for n in first] == sorted((n.similarity for n in first), reverse=True)
    assert not {n.paper_id for n in first} & {p.id for p in titled}  # not embedded yet
    # Another process's writes (a second Embeddings on the same store) are caught up with.
    await Embeddings(store, default_embedder()).add_papers(titled)
    found = await emb.nearest(query, 5)
    assert lora.id in {n.paper_id for n in found}
    similar = await emb.similar_to(lora, 5)
    assert lora.id not in {n.paper_id for n in similar} and len(similar) == 5
    assert any("LoRA" in p.title for p in papers if p.id in {n.paper_id for n in similar})


async def test_ingest_stores_vectors(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fixture = "tests/fixtures/hf_daily_papers_2024-11-11.json"
    result = await ingest(store, FileSource(fixture), None)
    emb = Embeddings(store)
    stored = await emb.vectors_for(p.id for p in result.papers)
    assert len(stored) == result.fetched > 0
    # Re-ingesting is harmless and writes nothing new.
    before = (await emb.vectors.since(0, 1000)).seqs.tolist()
    await ingest(store, FileSource(fixture), None)
    assert (await emb.vectors.since(0, 1000)).seqs.tolist() == before


def test_index_replaces_and_excludes() -> None:
    index = VectorIndex(4)
    m = np.eye(4, dtype=np.float32)
    index.add(["a", "b", "c", "d"], m, last_seq=4)
    assert [n.paper_id for n in index.search(m[0], 1)] == ["a"]
    assert next(n.paper_id for n in index.search(m[0], 1, exclude={"a"})) != "a"
    index.add(["a"], m[1:2], last_seq=5)  # a re-embedded paper: its old vector is gone
    top = index.search(m[1], 2)
    assert {n.paper_id for n in top} == {"a", "b"} and len(index) == 4
    assert index.search(m[0], 4, exclude=set()) and index.last_seq == 5
    assert all(n.paper_id != "a" or n.similarity < 0.5 for n in index.search(m[0], 4))


def test_index_large_enough_for_the_graph_finds_the_same_neighbours() -> None:
    rng = np.random.default_rng(7)
    n = EXACT_BELOW + 2000
    centres = rng.normal(size=(50, 16)).astype(np.float32)
    m = centres[rng.integers(0, 50, n)] + 0.3 * rng.normal(size=(n, 16)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    index = VectorIndex(16)
    ids = [f"p{i}" for i in range(n)]
    index.add(ids, m)
    hits = 0
    for q in range(20):
        exact = set(np.argsort(-(m @ m[q]))[:10].tolist())
        found = {int(x.paper_id[1:]) for x in index.search(m[q], 10)}
        hits += len(exact & found)
    assert hits / 200 >= 0.9  # recall@10 of the graph search


@pytest.mark.parametrize("k", [0, -1])
def test_index_empty_answers(k: int) -> None:
    index = VectorIndex(4)
    assert index.search(np.ones(4, np.float32), 3) == []
    index.add(["a"], np.eye(4, dtype=np.float32)[:1])
    assert index.search(np.ones(4, np.float32), k) == []


async def test_the_index_is_kept_beside_a_sqlite_file(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    from paperboy.embeddings import PaperVectors, archive
    from paperboy.store import migrate
    from paperboy.store.tables import paper_embeddings

    monkeypatch.setattr(archive, "SAVE_EVERY", 10)
    await migrate(sqlite_url)
    papers = load_seed_papers()
    query = default_embedder().embed(["low-rank adaptation of language models"])[0]
    async with Store(sqlite_url) as store:
        await store.papers.upsert(papers)
        emb = Embeddings(store, default_embedder())
        await emb.add_papers(papers[:100])
        saved = await emb.sync()
        folder = emb.cache_folder()
        assert folder is not None and (folder / "index.json").exists()
        assert folder.parent.name.endswith(".db.vectors")
        saved_seq = saved.last_seq

    reads: list[int] = []
    since = PaperVectors.since

    async def spy(self: PaperVectors, seq: int, limit: int):  # type: ignore[no-untyped-def]
        reads.append(seq)
        return await since(self, seq, limit)

    monkeypatch.setattr(PaperVectors, "since", spy)
    # Another process: loads the saved graph, then reads only the rows written since.
    async with Store(sqlite_url) as store:
        emb = Embeddings(store, default_embedder())
        await emb.add_papers(papers[100:])
        index = await emb.sync()
        assert reads[0] == saved_seq > 0
        assert len(index) == len(papers)
        found = await emb.nearest(query, 5)
        stored = await emb.vectors_for(p.id for p in papers)
        exact = sorted(stored, key=lambda pid: -float(stored[pid] @ query))[:5]
        assert len({n.paper_id for n in found} & set(exact)) >= 4
        # The table changes behind the saved copy's back (emptied, refilled).
        async with store.begin_write() as conn:
            await conn.execute(sa.delete(paper_embeddings))
        await emb.add_papers(papers[:10])

    reads.clear()
    async with Store(sqlite_url) as store:
        emb = Embeddings(store, default_embedder())
        index = await emb.sync()
        assert reads[0] == 0  # not trusted: rebuilt from the table
        assert len(index) == 10
