"""Digest selection, order, summaries, authors and highlights."""

from __future__ import annotations

import datetime as dt

from bot.digest import (
    SUMMARY_LIMIT,
    Selected,
    build_digest,
    cut_at_word,
    digest_for_queries,
    summarize,
)
from bot.models import Paper

DAY = dt.date(2024, 11, 11)


def paper(pid: str, title: str, abstract: str = "", **kw) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, **kw)


def test_summary_prefers_ai_summary() -> None:
    p = paper("1", "T", "Long abstract. More.", ai_summary="  The   short one. ")
    assert summarize(p) == "The short one."


def test_summary_takes_whole_first_sentences_within_limit() -> None:
    first = "We study LoRA adapters in depth. "
    abstract = first + "x" * 400 + ". Tail."
    assert summarize(paper("1", "T", abstract)) == first.strip()


def test_summary_cut_at_a_word_when_first_sentence_is_long() -> None:
    abstract = " ".join(["word"] * 200) + "."
    out = summarize(paper("1", "T", abstract))
    assert len(out) <= SUMMARY_LIMIT
    assert out.endswith("…")
    assert out[:-1].split(" ")[-1] == "word"  # no half word


def test_cut_at_word_keeps_short_text_and_cuts_unspaced_text() -> None:
    assert cut_at_word("short", 10) == "short"
    cut = cut_at_word("가" * 500, 300)
    assert len(cut) <= 300 and cut.endswith("…")


def test_entries_ordered_by_upvotes_then_title_and_capped() -> None:
    papers = [
        paper("1", "b LoRA", upvotes=5),
        paper("2", "a LoRA", upvotes=5),
        paper("3", "z LoRA", upvotes=9),
        paper("4", "nothing here", upvotes=99),
        paper("5", "c LoRA", upvotes=1),
    ]
    d = digest_for_queries(papers, ["LoRA"], day=DAY, max_papers=3)
    assert [e.paper.id for e in d.entries] == ["3", "2", "1"]
    assert d.omitted == 1
    assert d.matched == 4 and d.checked == 5
    assert "4 matching of 5 checked" in d.header


def test_min_upvotes_filters() -> None:
    papers = [paper("1", "LoRA a", upvotes=1), paper("2", "LoRA b", upvotes=10)]
    d = digest_for_queries(papers, ["LoRA"], day=DAY, min_upvotes=5)
    assert [e.paper.id for e in d.entries] == ["2"]
    assert d.omitted == 0


def test_union_of_queries_with_terms_in_order() -> None:
    p = paper("1", "Pipeline parallelism meets LoRA", "Mixture-of-Experts layers.")
    d = digest_for_queries([p], ["LoRA", "pipeline parallelism", "mixture of experts"], day=DAY)
    assert d.entries[0].matched_terms == ("LoRA", "pipeline parallelism", "mixture of experts")


def test_authors_first_five_then_et_al() -> None:
    names = tuple(f"Author {i}" for i in range(8))
    d = digest_for_queries([paper("1", "LoRA", authors=names)], ["LoRA"], day=DAY)
    entry = d.entries[0]
    assert entry.authors == names[:5]
    assert entry.more_authors == 3
    assert entry.authors_line.endswith("Author 4 et al.")


def test_summary_highlights_point_at_matched_terms() -> None:
    p = paper("1", "QLoRA for all", "We fine-tune with QLoRA and LoRA. Then more.")
    entry = digest_for_queries([p], ["LoRA"], day=DAY).entries[0]
    marked = [entry.summary[s.start : s.end] for s in entry.summary_highlights]
    assert marked and all("LoRA" in m for m in marked)
    assert [p.title[s.start : s.end] for s in entry.title_highlights] == ["LoRA"] or all(
        "LoRA" in p.title[s.start : s.end] for s in entry.title_highlights
    )


def test_no_match_gives_empty_digest() -> None:
    d = digest_for_queries([paper("1", "exploration of things")], ["LoRA"], day=DAY)
    assert d.entries == () and d.checked == 1


def test_shared_entry_cache_gives_the_same_digests() -> None:
    """The planner makes each (paper, terms) entry once for all channels of a plan."""
    a = paper("1", "LoRA a", "We study LoRA.", upvotes=3)
    b = paper("2", "Pipeline parallelism b", "LoRA and pipeline parallelism.", upvotes=7)
    selections = [
        [Selected(a, ("LoRA",)), Selected(b, ("LoRA",))],
        [Selected(b, ("LoRA", "pipeline parallelism"))],  # other terms: another entry
        [Selected(b, ("LoRA",))],
    ]
    cache: dict = {}
    for selected in selections:
        fresh = build_digest(selected, day=DAY, queries=["LoRA"], checked=2)
        shared = build_digest(selected, day=DAY, queries=["LoRA"], checked=2, entry_cache=cache)
        assert shared == fresh
    assert len(cache) == 3
