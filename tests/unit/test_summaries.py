"""The summary without a model: sentences, roles, styles, the `why` sentence, languages."""

from __future__ import annotations

import re

import pytest

from paperboy.digest import digest_for_queries
from paperboy.models import Paper
from paperboy.summaries import (
    PARAGRAPH_LIMIT,
    PART_LIMITS,
    SECTION_KEYS,
    TLDR_LIMIT,
    LanguageError,
    find_roles,
    find_why,
    language_name,
    local_summary,
    normalize_language,
    split_sentences,
)
from tests.seed_corpus import load_seed_papers

# The real abstracts of seed 004 (tests/fixtures/seed_search_results.txt is its copy).
SEED_PAPERS = load_seed_papers()
_NUMBERS = re.compile(r"\d+(?:\.\d+)?\s?(?:%|x\b|×)|\d+\.\d+")


def _pieces(text: str) -> list[str]:
    """A summary's sentences, an ellipsis-cut one as its kept prefix."""
    return [s.text.removesuffix("…") for s in split_sentences(text)]


def test_real_abstracts_are_cut_into_sentences() -> None:
    assert len(SEED_PAPERS) >= 100
    text = (
        "We use models (e.g. BERT) as in Smith et al. 2020. Accuracy rose 3.8% vs. the "
        "baseline. Fig. 2 shows it! Does it? 이 연구는 새롭습니다。다음 문장."
    )
    assert [s.text for s in split_sentences(text)] == [
        "We use models (e.g. BERT) as in Smith et al. 2020.",
        "Accuracy rose 3.8% vs. the baseline.",
        "Fig. 2 shows it!",
        "Does it?",
        "이 연구는 새롭습니다。",
        "다음 문장.",
    ]


@pytest.mark.parametrize("style", ["structured", "paragraph", "tldr"])
def test_every_sentence_shown_is_the_papers_own(style: str) -> None:
    for paper in SEED_PAPERS:
        abstract = " ".join(paper.abstract.split())
        made = local_summary(paper, style)
        assert made.source == "extractive" and made.language == "en"
        texts = [text for _, text in made.sections] if style == "structured" else [made.text]
        for text in texts:
            for piece in _pieces(text):
                assert piece in abstract, (paper.title, piece)


def test_results_sentences_are_found_where_the_abstract_has_them() -> None:
    with_numbers = [p for p in SEED_PAPERS if _NUMBERS.search(p.abstract)]
    assert len(with_numbers) >= 40
    found = 0
    for paper in with_numbers:
        highlights = dict(local_summary(paper, "structured").sections)["performance_highlights"]
        found += bool(_NUMBERS.search(highlights))
    # Nearly every abstract that reports a number gets it in its highlights.
    assert found >= 0.9 * len(with_numbers)
    crisis = next(p for p in SEED_PAPERS if p.title.startswith('"Actionable Help"'))
    parts = dict(local_summary(crisis, "structured").sections)
    assert parts["whats_new"].startswith("First, we present CrisisHelpOffer")
    assert "47% smaller with 3.8% higher accuracy" in parts["performance_highlights"]


def test_contribution_sentence_is_whats_new() -> None:
    paper = Paper(
        id="1",
        title="T",
        abstract=(
            "Large models are costly. Existing methods waste memory. We propose FooNet, a "
            "sparse adapter for transformers. FooNet partitions the layers across devices "
            "and schedules them with a greedy algorithm. FooNet improves throughput by 51% "
            "over the baseline. We hope it helps."
        ),
    )
    roles = find_roles(paper.abstract)
    assert roles.found and roles.contribution is not None
    assert roles.contribution.text.startswith("We propose FooNet")
    parts = dict(local_summary(paper, "structured").sections)
    assert parts == {
        "whats_new": "We propose FooNet, a sparse adapter for transformers.",
        "technical_details": "FooNet partitions the layers across devices and schedules "
        "them with a greedy algorithm.",
        "performance_highlights": "FooNet improves throughput by 51% over the baseline.",
    }
    paragraph = local_summary(paper, "paragraph").text
    assert paragraph.startswith("We propose FooNet") and "51%" in paragraph
    assert local_summary(paper, "tldr").text == parts["whats_new"]


def test_styles_keep_their_limits_on_every_seed_paper() -> None:
    for paper in SEED_PAPERS:
        structured = local_summary(paper, "structured")
        assert [k for k, _ in structured.sections] == list(SECTION_KEYS)
        for key, text in structured.sections:
            assert len(text) <= PART_LIMITS[key]
        assert len(local_summary(paper, "paragraph").text) <= PARAGRAPH_LIMIT
        assert len(local_summary(paper, "tldr").text) <= TLDR_LIMIT


def test_sources_hf_and_abstract() -> None:
    hf_only = Paper(id="1", title="T", ai_summary="HF says this.")
    assert local_summary(hf_only, "structured").source == "hf"
    assert dict(local_summary(hf_only, "structured").sections)["whats_new"] == "HF says this."
    with_both = Paper(id="2", title="T", abstract="We propose X. It works.", ai_summary="HF.")
    assert local_summary(with_both, "tldr").source == "hf"
    assert local_summary(with_both, "structured").source == "extractive"
    short = Paper(id="3", title="T", abstract="A short note without cues.")
    made = local_summary(short, "paragraph")
    assert (made.source, made.text) == ("abstract", "A short note without cues.")
    nothing = Paper(id="4", title="T")
    assert local_summary(nothing, "structured").empty


def test_why_shows_the_sentence_where_a_hidden_term_matched() -> None:
    paper = Paper(
        id="1",
        title="Fast image synthesis",
        abstract=(
            "We propose a fast image generator. It distils a large diffusion model into a "
            "small one. It is 10x faster."
        ),
    )
    entry = digest_for_queries([paper], ["diffusion"], day=None, style="tldr").entries[0]
    assert entry.match_why is not None
    assert (entry.match_why.field, entry.match_why.terms) == ("abstract", ("diffusion",))
    assert entry.match_why.text == "It distils a large diffusion model into a small one."
    why = entry.match_why
    assert [why.text[s.start : s.end] for s in why.highlights] == ["diffusion"]
    # Visible in the title: no why.
    shown = Paper(id="2", title="Diffusion for all", abstract="We propose diffusion.")
    assert digest_for_queries([shown], ["diffusion"], day=None).entries[0].match_why is None
    # A hostile, very long sentence is cut to a window around the term.
    long = Paper(id="3", title="T", abstract="x " * 2000 + "then LoRA appears " + "y " * 2000)
    why = find_why(long, ["LoRA"], [long.title])
    assert why is not None and len(why.text) <= 300 and "LoRA" in why.text


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [("en", "en"), ("KO", "ko"), ("zh-hans", "zh-Hans"), ("de_DE", "de-DE"), ("pt-br", "pt-BR")],
)
def test_language_tags_are_checked_and_made_canonical(tag: str, canonical: str) -> None:
    assert normalize_language(tag) == canonical


@pytest.mark.parametrize("tag", ["", "english", "x", "en-", "kk-xx-yyy", "a" * 40, None])
def test_bad_language_tags_are_refused(tag: object) -> None:
    with pytest.raises(LanguageError):
        normalize_language(tag)


def test_language_names_for_the_prompt() -> None:
    assert language_name("ko") == "Korean"
    assert language_name("zh-Hans") == "Simplified Chinese"
    assert language_name("de-AT") == "German (de-AT)"
    assert "sw" in language_name("sw")
