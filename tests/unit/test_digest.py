"""Digest selection, order, summaries, authors and highlights."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.digest.build import (
    SUMMARY_LIMIT,
    Selected,
    build_digest,
    cut_at_word,
    digest_for_queries,
    first_sentences,
    summarize,
)
from paperboy.digest.codec import digest_from_json, digest_to_json
from paperboy.models import MAX_TITLE, Digest, DigestEntry, Paper, Span

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


# -- the outbox's JSON codec ---------------------------------------------------------


def _codec_digest() -> Digest:
    full = Paper(
        id="2411.00001",
        title="QLoRA for everyone",
        abstract="We adapt LoRA.",
        authors=("A. Author", "B. Author"),
        published_at=dt.datetime(2024, 11, 10, 17, 30, tzinfo=dt.UTC),
        daily_date=dt.date(2024, 11, 11),
        upvotes=7,
        ai_summary="요약",
        ai_keywords=("LoRA", "PEFT"),
        github_url="https://github.com/a/b",
        project_url="https://p.example/",
        thumbnail_url="https://cdn/x.png",
        on_hf=False,
        source="arxiv",
    )
    entry = DigestEntry(
        paper=full,
        matched_terms=("LoRA",),
        summary="We adapt LoRA.",
        summary_highlights=(Span(9, 13),),
        title_highlights=(Span(1, 5),),
        authors=("A. Author",),
        more_authors=1,
    )
    return Digest(
        date=dt.date(2024, 11, 11),
        queries=("LoRA",),
        checked=9,
        entries=(entry,),
        omitted=2,
        source_label="sample",
        full_list_url="https://example.org/all",
        title="Search: LoRA",
    )


def test_codec_round_trips_every_field_through_json_text() -> None:
    digest = _codec_digest()
    data = json.loads(json.dumps(digest_to_json(digest)))  # what the outbox column holds
    assert digest_from_json(data) == digest


def test_codec_reads_what_earlier_releases_stored() -> None:
    """Outbox rows planned before an upgrade are still sent after it."""
    stored = {
        "date": "2024-11-11",
        "queries": ["LoRA"],
        "checked": 9,
        "omitted": 2,
        "source_label": "sample",
        "full_list_url": "https://example.org/all",
        "entries": [
            {
                "paper": {
                    "id": "2411.00001",
                    "title": "QLoRA for everyone",
                    "abstract": "We adapt LoRA.",
                    "authors": ["A. Author", "B. Author"],
                    "published_at": "2024-11-10T17:30:00+00:00",
                    "daily_date": "2024-11-11",
                    "upvotes": 7,
                    "ai_summary": "요약",
                    "ai_keywords": ["LoRA", "PEFT"],
                    "github_url": "https://github.com/a/b",
                    "project_url": "https://p.example/",
                    "thumbnail_url": "https://cdn/x.png",
                    "on_hf": False,
                    "source": "arxiv",
                },
                "matched_terms": ["LoRA"],
                "summary": "We adapt LoRA.",
                "summary_highlights": [[9, 13]],
                "title_highlights": [[1, 5]],
                "authors": ["A. Author"],
                "more_authors": 1,
            }
        ],
    }
    assert digest_from_json(stored) == replace(_codec_digest(), title=None)


def test_codec_cuts_a_stored_paper_to_its_caps() -> None:
    data = digest_to_json(_codec_digest())
    data["entries"][0]["paper"]["title"] = "x" * (MAX_TITLE + 10)
    assert len(digest_from_json(data).entries[0].paper.title) == MAX_TITLE


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


def _summary_of_whole_abstract(abstract: str, limit: int = 300) -> str:
    """What `summarize` gives, reading the whole abstract (it reads a prefix)."""
    text = first_sentences(re.sub(r"\s+", " ", abstract.strip()), limit)
    return cut_at_word(text, limit)


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab .!?\n\t\xa0\u2028\x1c", min_size=0, max_size=40),
            st.sampled_from([" " * 500, "\n" * 1300, ". ", "x" * 290, "word " * 70]),
        ),
        max_size=40,
    )
)
def test_a_summary_reads_a_prefix_but_says_what_the_whole_abstract_would(parts: list[str]) -> None:
    abstract = "".join(parts)
    assert summarize(paper("1", "T", abstract)) == _summary_of_whole_abstract(abstract)


def _first_sentences_reading_everything(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    out = ""
    for end in re.finditer(r"(?<=[.!?。！？])(?:\s+|$)", text):
        candidate = text[: end.start()].rstrip()
        if len(candidate) > limit:
            break
        out = candidate
    return out or text


@settings(max_examples=500)
@given(st.text(alphabet="ab .!?。\n", max_size=80), st.integers(min_value=1, max_value=40))
def test_first_sentences_reads_only_what_fits_and_says_what_the_whole_text_would(
    text: str, limit: int
) -> None:
    assert first_sentences(text, limit) == _first_sentences_reading_everything(text, limit)
