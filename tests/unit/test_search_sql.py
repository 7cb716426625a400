"""Query compilation (`paperboy.search.sql`): only lexemes reach FTS5 or tsquery syntax."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperboy.matching import QueryError, parse
from paperboy.models import Paper
from paperboy.search.lexemes import acronym_code, analyze, pair_hash, pair_hashes
from paperboy.search.sql import (
    MAX_CODES,
    Fts5,
    TsQuery,
    acronym_words,
    compile_query,
    phrase_pairs,
    title_filter,
    title_tier,
)

CODES = {
    "LoRA": (acronym_code("LoRA"), acronym_code("QLoRA")),
    "ViT": (acronym_code("ViT"),),
    "MoE": (),
}


def fts(query: str, codes=CODES):
    return compile_query(parse(query), Fts5(), codes)


def ts(query: str, codes=CODES):
    return compile_query(parse(query), TsQuery(), codes)


def test_words_and_phrases() -> None:
    # Title lexemes are prefixed "0qt", author lexemes "0qu": a plain phrase matches the
    # abstract and summary, its prefixed twin the title; no column filter is needed.
    assert fts("quantization") == type(fts("x"))('("0qtquantiz" OR "quantiz")', True)
    assert fts("pipeline parallelism").text == '("0qtpipelin 0qtparallel" OR "pipelin parallel")'
    assert ts("pipeline parallelism").text == "'pipelin' <-> 'parallel'"
    lora = CODES["LoRA"]
    assert fts("title:LoRA").text == f'("0qt{lora[0]}" OR "0qt{lora[1]}")'
    assert fts("abstract:survey").text == '{a} : ("survey")'
    assert fts("author:Hopper").text == '"0quhopper"'
    assert ts("abstract:survey").text == "'survey':B"
    assert ts("author:Hopper").text == "'0quhopper'"


def test_acronyms_and_mixed_phrases() -> None:
    lora = fts("LoRA")
    assert lora.exact and CODES["LoRA"][1] in (lora.text or "")
    mixed = fts("LoRA adapters")
    assert not mixed.exact  # FTS5 cannot place a code at a word position
    assert mixed.text == f'({fts("LoRA").text}) AND (("0qtadapt" OR "adapt"))'
    pg = ts("LoRA adapters")
    assert pg.exact and pg.text == f"('{CODES['LoRA'][0]}' | '{CODES['LoRA'][1]}') <-> 'adapt'"


def test_unknown_acronym_matches_nothing() -> None:
    assert fts("MoE").never
    survey = '("0qtsurvey" OR "survey")'
    assert fts("MoE, survey").text == survey
    assert fts("survey AND MoE").never
    assert fts("survey -MoE").text == survey and fts("survey -MoE").exact


def test_negation_of_a_superset_is_left_to_the_matcher() -> None:
    exact = fts("survey -LoRA")
    assert exact.exact and " NOT " in (exact.text or "")
    loose = fts('survey -"LoRA adapters"')
    assert not loose.exact and loose.text == '("0qtsurvey" OR "survey")'
    assert ts('survey -"LoRA adapters"').exact  # exact on PostgreSQL


def test_booleans() -> None:
    assert fts("a, b").text == '(("0qta" OR "a")) OR (("0qtb" OR "b"))'
    assert ts("a AND (b, c) -d").text == "('a') & (('b') | ('c')) & !('d')"


def test_too_common_acronyms() -> None:
    codes = {"LoRA": None}
    with pytest.raises(QueryError):
        fts("LoRA", codes)
    assert not fts("LoRA adapters", codes).exact
    assert fts("survey LoRA", codes).text == '("0qtsurvey" OR "survey")'
    with pytest.raises(QueryError):  # either alternative could be anything
        fts("LoRA, survey", {"LoRA": ("x",) * (MAX_CODES + 1)})


def test_title_tier() -> None:
    assert title_tier(parse("quantization -survey"), Fts5(), CODES) == '"0qtquantiz"'
    assert title_tier(parse("author:Hopper"), Fts5(), CODES) is None
    assert acronym_words(parse("LoRA, ViT adapters, lora")) == {"LoRA", "ViT"}


def test_title_filter_asks_the_title_vector_for_what_every_match_has_in_its_title() -> None:
    def tf(text: str) -> str | None:
        return title_filter(parse(text), TsQuery(), CODES)

    # Unweighted: the title vector holds nothing else. The query keeps its weights.
    assert tf("title:propose") == "'propos'"
    assert ts("title:propose").text == "'propos':A"
    assert tf('title:"inference optimization" AND method') == "'infer' <-> 'optim'"
    lora = CODES["LoRA"]
    vit = CODES["ViT"][0]
    assert tf("title:(LoRA, ViT) survey") == f"(('{lora[0]}' | '{lora[1]}')) | (('{vit}'))"
    assert tf("title:LoRA title:survey") == f"(('{lora[0]}' | '{lora[1]}')) & ('survey')"
    assert tf("title:(MoE, survey)") == "'survey'"  # an alternative matching nothing drops out
    # Only what every match needs in its title: not an alternative, a negation or
    # another field.
    assert tf("title:survey, method") is None
    assert tf("method -title:survey") is None
    assert tf("(title:survey, method) AND LoRA") is None
    assert tf("survey") is None
    assert tf("abstract:survey") is None
    assert title_filter(parse("title:survey"), Fts5(), CODES) is None


def test_phrase_pairs_are_the_word_pairs_every_match_holds() -> None:
    def pairs(text: str) -> set[int]:
        return set(phrase_pairs(parse(text)))

    pipeline = pair_hash("pipelin", "parallel")
    assert pairs('"pipeline parallelism"') == {pipeline}
    assert pairs("mixture of experts") == {pair_hash("mixtur", "of"), pair_hash("of", "expert")}
    assert pairs('title:"pipeline parallelism" AND abstract:"model based"') == {
        pipeline,
        pair_hash("model", "base"),
    }
    # An acronym matches inside other words: no pair with it. Authors have no pairs.
    assert pairs("efficient LoRA fine tuning") == {pair_hash("fine", "tune")}
    assert pairs("LoRA adapters") == set()
    assert pairs('author:"Grace Hopper"') == set()
    # Only what every match needs: not an alternative, a negation, a single word.
    assert pairs('"pipeline parallelism", survey') == set()
    assert pairs('survey -"pipeline parallelism"') == set()
    assert pairs("survey") == set()


def test_a_paper_holds_the_pairs_of_its_values_and_none_across_them() -> None:
    paper = Paper(
        id="1",
        title="Pipeline parallelism",
        abstract="We study model based planning.",
        authors=("Grace Hopper",),
        ai_keywords=("deep planning", "pipeline"),
    )
    doc = analyze(paper)
    held = set(pair_hashes((doc.title, doc.abstract, doc.extra)))
    assert phrase_pairs(parse('"pipeline parallelism"'))[0] in held
    assert set(phrase_pairs(parse('"model based planning"'))) <= held
    assert pair_hash("deep", "plan") in held
    assert pair_hash("parallel", "we") not in held  # title, then abstract
    assert pair_hash("plan", "pipelin") not in held  # one keyword, then the next
    assert pair_hash("grace", "hopper") not in held  # authors have none
    assert all(-(2**31) <= h < 2**31 for h in held)  # PostgreSQL's INTEGER


SAFE_FTS = re.compile(r'^[{}a-z0-9 :"()]+$|^[{}a-zA-Z0-9 :"()]+$')


@given(st.text(max_size=60))
def test_compiled_text_has_no_user_syntax(text: str) -> None:
    try:
        query = parse(text)
    except QueryError:
        return
    codes = {w: (acronym_code(w),) for w in acronym_words(query)}
    for dialect, allowed in ((Fts5(), set('{}:"() ')), (TsQuery(), set("'():&|!<-> ABCD"))):
        try:
            compiled = compile_query(query, dialect, codes)
        except QueryError:
            continue
        for char in compiled.text or "":
            assert char.isascii() and (char.isalnum() or char in allowed), (text, compiled)
        for word in re.findall(r"[A-Za-z0-9]+", compiled.text or ""):
            assert word in {"AND", "OR", "NOT", "t", "a", "x", "u", "A", "B", "C", "D"} or (
                word.islower() or word.isdigit() or word[0].isdigit()
            ), word
