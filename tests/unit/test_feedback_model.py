"""The relevance model, the BibTeX export and the signer, pure."""

from __future__ import annotations

import datetime as dt

import numpy as np

from paperboy.feedback import FeedbackSigner, RelevanceModel, rank, to_bibtex, top_topics
from paperboy.feedback.features import features
from paperboy.feedback.model import Example
from paperboy.models import Paper, Target

DAY = dt.date(2024, 11, 11)


def paper(pid: str, title: str, abstract: str = "", upvotes: int = 0, **kw: object) -> Paper:
    return Paper(pid, title, abstract, upvotes=upvotes, daily_date=kw.pop("day", DAY), **kw)  # type: ignore[arg-type]


LORA = paper("1", "LoRA adapters for efficient fine-tuning", "low-rank adapters fine-tune", 1)
QLORA = paper("2", "Quantized low-rank adapters", "QLoRA fine-tuning with 4-bit adapters", 2)
PIPE = paper("3", "Pipeline parallelism at scale", "pipeline stages and bubbles", 50)
VISION = paper("4", "Diffusion models for image generation", "image diffusion denoising", 40)


def test_without_feedback_votes_then_recency_order() -> None:
    older = paper("5", "Old but popular", upvotes=50, day=DAY - dt.timedelta(days=30))
    ranked = RelevanceModel().rank([LORA, PIPE, VISION, older])
    assert [s.paper.id for s in ranked][:2] == ["3", "4"]  # 50 and 40 votes, today
    assert ranked[0].score > ranked[-1].score and all(s.why is None for s in ranked)


def test_liked_kinds_rise_and_disliked_sink_with_a_reason() -> None:
    model = RelevanceModel([Example(LORA, 1.0), Example(VISION, -1.0)])
    ranked = model.rank([PIPE, QLORA, paper("6", "Image diffusion transformers", upvotes=45)])
    assert [s.paper.id for s in ranked] == ["2", "3", "6"]
    assert ranked[0].why is not None and "LoRA adapters" in ranked[0].why
    assert "which this channel liked" in ranked[0].why
    assert ranked[0].learned > 0 > ranked[-1].learned


def test_rank_suggests_only_close_to_something_liked_and_never_voted() -> None:
    model = RelevanceModel([Example(LORA, 2.0)])
    ranking = rank(model, [PIPE], [QLORA, VISION, LORA], suggest=True)
    assert [s.paper.id for s in ranking.suggestions] == ["2"]
    assert set(ranking.scores) == {"3"}
    assert rank(model, [PIPE], [QLORA], suggest=False).suggestions == []
    assert rank(RelevanceModel(), [PIPE], [QLORA], suggest=True).suggestions == []


def test_votes_on_one_paper_add_up_and_cancel() -> None:
    model = RelevanceModel([Example(LORA, 1.0), Example(LORA, -1.0)])
    assert not model.trained
    assert RelevanceModel([Example(LORA, 1.0), Example(LORA, 1.0)]).examples[0].weight == 2.0


def test_features_are_unit_rows_and_take_vectors_beside_words() -> None:
    rows = features([LORA, PIPE, paper("7", "")])
    assert np.allclose(np.linalg.norm(rows[:2], axis=1), 1.0)
    assert not rows[2].any()
    vectors = {"1": np.ones(8), "3": -np.ones(8)}
    both = features([LORA, PIPE], vectors)
    assert both.shape[1] == rows.shape[1] + 8
    assert np.allclose(np.linalg.norm(both, axis=1), 1.0)
    assert both[0] @ both[1] < rows[0] @ rows[1] + 1e-6  # the vectors pull them apart


def test_top_topics_are_what_was_liked_and_not_disliked() -> None:
    topics = top_topics([Example(LORA, 1.0), Example(QLORA, 1.0), Example(PIPE, -1.0)])
    assert topics[0] == "adapters" and "pipeline" not in topics


def test_bibtex_escapes_hostile_text() -> None:
    evil = Paper(
        "2411.00001",
        "Break} @misc{x, title={pwn} \\input{/etc/passwd} 100% $x$ & #1_a ^~",
        authors=("Ada Lovelace", "Bob {Tables}", "\x1b[31mEve"),
        published_at=dt.datetime(2024, 11, 1, tzinfo=dt.UTC),
    )
    bib = to_bibtex([evil])
    assert bib.count("@misc{") == 1 and bib.startswith("@misc{lovelace2024_241100001,")
    body = bib.split("\n", 1)[1]
    depth = 0
    for char_index, char in enumerate(body):
        if char == "{" and body[char_index - 1] != "\\":
            depth += 1
        elif char == "}" and body[char_index - 1] != "\\":
            depth -= 1
        assert depth >= -1
    assert depth == -1  # only the entry's own closing brace is left over
    assert "\\input" not in bib.replace("\\textbackslash{}input", "")
    assert "\x1b" not in bib and "\\%" in bib and "\\$" in bib and "\\&" in bib
    assert to_bibtex([]) == ""


def test_signer_tokens_and_user_hashes() -> None:
    sign = FeedbackSigner(b"s" * 32)
    other = FeedbackSigner(b"t" * 32)
    lab = Target("slack", "T1", "C1")
    token = sign.token(lab, "2411.00001")
    assert len(token) == 16 and token != other.token(lab, "2411.00001")
    assert not other.check(lab, "2411.00001", token)
    assert sign.user_hash("slack", "T1", "U1") != other.user_hash("slack", "T1", "U1")
    assert sign.user_hash("slack", "T1", "U1") != sign.user_hash("slack", "T2", "U1")


def test_embeddings_beside_words_find_what_words_miss() -> None:
    liked = [
        paper("10", "Low-rank adapters", "adapters"),
        paper("13", "Adapter merging", "adapters merged"),
        paper("14", "Sparse adapters", "sparse adapter layers"),
    ]
    unseen = paper("11", "Efficient finetuning via small matrices", "small matrices")
    other = paper("12", "Pipeline bubbles", "stages", upvotes=5)
    near = np.array([1.0, 0.0, 0.0, 0.0])
    vectors = {
        "10": near,
        "13": near,
        "14": near,
        "11": np.array([0.9, 0.1, 0.0, 0.0]),
        "12": np.array([0.0, 0.0, 1.0, 0.0]),
    }
    examples = [Example(p, 1.0) for p in liked]
    words_only = RelevanceModel(examples).rank([unseen, other])
    assert words_only[0].paper.id == "12"  # no shared word: the votes prior decides
    both = RelevanceModel(examples, vectors=vectors).rank([unseen, other])
    assert both[0].paper.id == "11" and both[0].why is not None
    assert "which this channel liked" in both[0].why
