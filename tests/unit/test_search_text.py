"""Index lexemes (`paperboy.search.lexemes`): the same reading of text as matching."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.models import Paper
from paperboy.search.index import tsvector_literal
from paperboy.search.lexemes import (
    AUTHOR_PREFIX,
    PAIR_DIGITS,
    SEPARATOR,
    FieldText,
    IndexDoc,
    acronym_code,
    analyze,
    day_key,
    docid_range,
    lexeme,
    pair_hash,
    pair_hashes,
    pair_words,
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


LEXEMES = st.lists(st.text(alphabet="abcdefgxyz0123", min_size=1, max_size=6), max_size=12)


@settings(max_examples=300)
@given(st.lists(LEXEMES, max_size=4), st.lists(LEXEMES, max_size=3))
def test_a_paper_s_pair_hashes_are_those_of_its_neighbouring_lexemes(
    title: list[list[str]], abstract: list[list[str]]
) -> None:
    fields = [
        FieldText(tuple(map(tuple, values)), ((),) * len(values)) for values in (title, abstract)
    ]
    want = {
        pair_hash(a, b)
        for values in (title, abstract)
        for value in values
        for a, b in itertools.pairwise(value)
    }
    assert pair_hashes(fields) == sorted(want)  # computed in bulk, from a cache
    assert all(-(2**31) <= h < 2**31 for h in want)  # PostgreSQL's INTEGER


@given(LEXEMES)
def test_pair_words_are_the_buckets_of_each_two_neighbours(lexemes: list[str]) -> None:
    words = pair_words(lexemes)
    assert len(words) == max(len(lexemes) - 1, 0)
    assert all(len(w) == 4 and set(w) <= set(PAIR_DIGITS[:16]) for w in words)
    assert words == pair_words(list(lexemes))  # the same from the cache
    for i, word in enumerate(words):  # a pair's word is its first's then its second's bucket
        assert word[:2] == pair_words([lexemes[i], lexemes[i]])[0][:2]
        assert word[2:] == pair_words([lexemes[i + 1], lexemes[i + 1]])[0][2:]


def test_pair_hashes_tell_word_order_and_neighbours_apart() -> None:
    assert pair_hash("model", "base") != pair_hash("base", "model")
    hashes = {pair_hash("model", b) for b in ("base", "free", "size", "card", "zoo")}
    assert len(hashes) == 5


def _tsvector_one_word_at_a_time(doc: IndexDoc, title_only: bool = False) -> dict[str, list[str]]:
    """The tsvector's lexemes and position marks, one word at a time (the reference)."""
    positions: dict[str, list[str]] = {}
    pos = 1
    fields = [(doc.title, "A", ""), (doc.abstract, "B", ""), (doc.extra, "C", ""),
              (doc.authors, "D", AUTHOR_PREFIX)]  # fmt: skip
    if title_only:
        fields = [(doc.title, "", "")]
    for field, weight, prefix in fields:
        for lexes, codes in zip(field.lexemes, field.codes, strict=True):
            code_at = dict(codes)
            for i, lex in enumerate(lexes):
                mark = f"{min(pos, 16383)}{weight}"
                for item in (lex, code_at.get(i)):
                    if item is None:
                        continue
                    found = positions.setdefault(prefix + item, [])
                    if len(found) < 255 and (not found or found[-1] != mark):
                        found.append(mark)
                pos += 1
            pos += 1
    return positions


def _parsed(literal: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in literal.split(" ") if literal else []:
        lex, marks = entry.rsplit(":", 1)
        out[lex.strip("'")] = marks.split(",")
    return out


WORDS = st.sampled_from(["model", "base", "LoRA", "QLoRA", "tune", "x", "GPU"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(WORDS, min_size=1, max_size=8), min_size=1, max_size=3),
    st.lists(WORDS, max_size=30),
    st.integers(min_value=0, max_value=2),
)
def test_a_tsvector_says_what_reading_it_word_by_word_would(
    values: list[list[str]], names: list[str], long: int
) -> None:
    paper = Paper(
        id="1",
        title=" ".join(values[0]),
        abstract=" ".join(" ".join(v) for v in values),
        authors=tuple(names[:5]),
        ai_keywords=tuple(" ".join(v) for v in values[1:]),
    )
    doc = analyze(paper)
    # `long` adds an abstract value past the last position PostgreSQL keeps (16,383) and
    # past the 255 positions it keeps of a lexeme (longer than a paper's field caps).
    tail = (*(w for i in range(4500 * long) for w in ("filler", f"w{i}")), "end", "end", "end")
    abstract = FieldText((*doc.abstract.lexemes, tail), (*doc.abstract.codes, ()))
    doc = dataclasses.replace(doc, abstract=abstract)
    for title_only in (False, True):
        assert _parsed(tsvector_literal(doc, title_only=title_only)) == (
            _tsvector_one_word_at_a_time(doc, title_only)
        )
