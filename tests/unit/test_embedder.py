"""The bundled embedder: loads from the installed wheel with the network blocked, gives
unit vectors, and agrees with wordllama's own `embed`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from paperboy.embeddings import Embedder, WordLlamaEmbedder, default_embedder, paper_text
from paperboy.models import Paper
from tests.seed_corpus import load_seed_papers


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return default_embedder()


def test_it_is_an_embedder_of_unit_float32_rows(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dims == 256
    assert embedder.name == "wordllama-l2_supercat-256"
    out = embedder.embed(["LoRA adapters", "pipeline parallelism across GPUs", "", "  \n "])
    assert out.dtype == np.float32 and out.shape == (4, 256)
    np.testing.assert_allclose(np.linalg.norm(out[:2], axis=1), 1.0, rtol=1e-5)
    assert not out[2].any() and not out[3].any()  # no words: a zero vector, not NaN
    assert embedder.embed([]).shape == (0, 256)


def test_same_vectors_as_wordllama_itself(embedder: Embedder) -> None:
    from paperboy.embeddings.embedder import WORDLLAMA_CONFIG, _load_wordllama

    papers = load_seed_papers()[:40]
    texts = [" ".join(paper_text(p).split()) for p in papers]
    reference = _load_wordllama(WORDLLAMA_CONFIG, 256).embed(texts, norm=True)
    ours = embedder.embed(texts)
    cosines = (reference * ours).sum(axis=1)
    assert cosines.min() > 0.9999


def test_batches_and_the_word_cache_do_not_change_results() -> None:
    fresh = WordLlamaEmbedder()
    texts = [paper_text(p) for p in load_seed_papers()]
    whole = fresh.embed(texts)
    one_by_one = np.stack([fresh.embed([t])[0] for t in texts])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)


def test_related_texts_are_closer_than_unrelated(embedder: Embedder) -> None:
    a, b, c = embedder.embed(
        [
            "LoRA: low-rank adaptation of large language models for parameter-efficient tuning",
            "QLoRA fine-tunes quantized language models with low-rank adapters",
            "A survey of coral reef fish populations in the Pacific ocean",
        ]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_paper_text_is_bounded() -> None:
    paper = Paper(id="x", title="T", abstract="word " * 20_000, ai_keywords=("k1", "k2"))
    text = paper_text(paper)
    assert text.startswith("T\n") and text.endswith("k1, k2") and len(text) < 4100


def test_loading_never_touches_the_network(tmp_path: os.PathLike[str]) -> None:
    """A fresh interpreter with every socket refused and an empty home (no cache of an
    earlier download) loads the model and embeds."""
    script = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise AssertionError("network access while loading the embedder")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from paperboy.embeddings import WordLlamaEmbedder

        vectors = WordLlamaEmbedder().embed(["low-rank adapters"])
        assert vectors.shape == (1, 256), vectors.shape
        print("ok")
        """
    )
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path),
        "HF_HOME": str(tmp_path),
        "HF_HUB_OFFLINE": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
    assert not list(os.scandir(tmp_path))  # nothing was cached or downloaded
