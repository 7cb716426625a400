"""Index lexemes (`paperboy.search.lexemes`): the same reading of text as matching."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.models import Paper
from paperboy.search.lexemes import (
    SEPARATOR,
    acronym_code,
    analyze,
    day_key,
    docid_range,
    lexeme,
    paper_day,
    query_lexemes,
    word_lexeme,
)

PLAIN = re.compile(r"[a-z0-9]+")


def test_plain_stems_are_their_own_lexeme() -> None:
    assert lexeme("quantiz") == "quantiz"
    assert word_lexeme("Quantized") == ("quantiz", None)
    assert word_lexeme("quantizing")[0] == word_lexeme("quantization")[0]
    assert word_lexeme("quantitative")[0] != word_lexeme("quantization")[0]


def test_other_stems_are_hashed_to_plain_words() -> None:
    for stem in ("don't", "양자화", "é", "0qa123", "x" * 200):
        code = lexeme(stem)
        assert code.startswith("0qs") and PLAIN.fullmatch(code)
    assert lexeme("양자화") != lexeme("양자")


def test_acronyms_get_a_case_sensitive_code() -> None:
    lex, code = word_lexeme("QLoRA")
    assert lex == "qlora" and code == acronym_code("QLoRA")
    assert acronym_code("QLoRA") != acronym_code("Qlora")
    assert word_lexeme("Qlora")[1] is None  # not acronym-like
    assert query_lexemes(["LoRA", "adapters"]) == [None, "adapt"]


@given(st.text(max_size=80))
def test_every_lexeme_is_a_plain_ascii_word(text: str) -> None:
    doc = analyze(Paper(id="1", title=text, abstract=text, authors=(text,), ai_keywords=(text,)))
    for field in doc.fields:
        for token in field.column().split():
            assert PLAIN.fullmatch(token), token


def test_columns_separate_values_and_put_codes_last() -> None:
    doc = analyze(
        Paper(
            id="1",
            title="QLoRA for ViT",
            ai_summary="Fast tuning.",
            ai_keywords=("speculative", "decoding"),
            authors=("Ada Lovelace", "Alan Turing"),
        )
    )
    assert doc.title.column() == f"qlora for vit {SEPARATOR} {acronym_code('QLoRA')} " + (
        acronym_code("ViT")
    )
    assert doc.extra.column() == f"fast tune {SEPARATOR} specul {SEPARATOR} decod"
    assert doc.authors.column() == f"ada lovelac {SEPARATOR} alan ture"
    assert doc.acronyms == {"QLoRA", "ViT"}
    assert doc.abstract.column() == ""


def test_days_order_document_ids() -> None:
    a, b = dt.date(2024, 11, 10), dt.date(2024, 11, 11)
    assert day_key(None) < day_key(a) < day_key(b)
    low, high = docid_range(a, b)
    assert low == day_key(a) and day_key(b) < high < day_key(b + dt.timedelta(days=1))
    assert docid_range(None, None)[0] == 0
    assert docid_range(None, b)[0] > day_key(None)  # undated papers have no place in a range
    published = dt.datetime(2024, 11, 9, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert paper_day(Paper(id="1", title="t", published_at=published)) == b - dt.timedelta(1)
    assert paper_day(Paper(id="1", title="t", published_at=published, daily_date=a)) == a


@settings(max_examples=500)
@given(st.text(max_size=120) | st.text(st.characters(max_codepoint=127), max_size=120))
def test_fast_word_split_is_the_matchers(text: str) -> None:
    from paperboy.matching import normalize_fast, words_of
    from paperboy.search.lexemes import _words

    normal = normalize_fast(text)[0]
    assert _words(normal) == words_of(normal)
