"""BM25 over stored lexeme text (`paperboy.search.score`), as SQLite search ranks candidates."""

from __future__ import annotations

import math

from paperboy.matching import parse
from paperboy.search.lexemes import acronym_code
from paperboy.search.score import bm25, idf, probes

CODES = {"LoRA": (acronym_code("LoRA"), acronym_code("QLoRA"))}
LORA, QLORA = CODES["LoRA"]


def row(docid: int, title: str = "", abstract: str = "", extra: str = "", authors: str = ""):
    prefix = lambda p, s: " ".join(p + w for w in s.split())  # noqa: E731
    return docid, (prefix("0qt", title), abstract, extra, prefix("0qu", authors))


def scores(query: str, rows, weights=None) -> dict[int, float]:
    return bm25(rows, probes(parse(query), CODES), weights)


def test_title_weighs_ten_times_the_abstract() -> None:
    filler = " ".join(["other"] * 20)
    got = scores(
        "quantization", [row(1, "quantiz method", filler), row(2, "a method", "quantiz " + filler)]
    )
    assert got[1] > got[2] > 0


def test_more_occurrences_score_higher_and_saturate() -> None:
    base = " ".join(["other"] * 30)
    rows = [row(n, "x", " ".join(["quantiz"] * n) + " " + base) for n in (1, 2, 8, 9)]
    got = scores("quantization", rows)
    assert got[1] < got[2] < got[8] < got[9]
    assert got[9] - got[8] < got[2] - got[1]  # k1 saturation


def test_repeated_words_back_to_back_are_all_counted() -> None:
    got = scores(
        "quantization",
        [row(1, "", "quantiz quantiz quantiz"), row(2, "", "quantiz a quantiz b quantiz")],
    )
    assert math.isclose(got[1], got[2], rel_tol=0.2) and got[1] > 0


def test_phrases_count_only_side_by_side() -> None:
    got = scores(
        '"pipeline parallelism"',
        [row(1, "", "pipelin parallel"), row(2, "", "pipelin and parallel")],
    )
    assert got[1] > 0 and got[2] == 0


def test_acronyms_count_any_surface_code_and_fields_keep_to_their_column() -> None:
    got = scores("LoRA", [row(1, "", f"adapt {QLORA}"), row(2, "", "lora"), row(3, f"x {LORA}")])
    assert got[1] > 0 and got[2] == 0 and got[3] > got[1]
    assert scores("title:LoRA", [row(1, "", f"adapt {QLORA}")])[1] == 0
    assert scores("author:hopper", [row(1, "hopper", "hopper", "", "grace hopper")])[1] > 0
    assert scores("hopper", [row(1, "", "", "", "grace hopper")])[1] == 0


def test_mixed_phrase_counts_its_rarest_part() -> None:
    got = scores("LoRA adapters", [row(1, "", f"adapt adapt {LORA}"), row(2, "", "adapt adapt")])
    assert got[1] > 0 and got[2] == 0


def test_rarer_terms_weigh_more_with_idf() -> None:
    rows = [row(1, "", "common rare"), row(2, "", "common common"), row(3, "", "rare rare")]
    terms = probes(parse("common, rare"), CODES)
    assert [t.fts for t in terms] == ['("0qtcommon" OR "common")', '("0qtrare" OR "rare")']
    got = bm25(rows, terms, [idf(1000, 600), idf(1000, 5)])
    assert got[3] > got[1] > got[2]
    assert idf(1000, 600) == 1e-6  # in more than half the papers: next to nothing


def test_no_rows_or_no_terms() -> None:
    assert bm25([], probes(parse("x"), CODES)) == {}
    assert bm25([row(1, "x")], []) == {1: 0.0}


def _occurrences(text: str, phrase: str) -> int:
    """Side-by-side occurrences of `phrase` in lexeme text, taken left to right without
    overlap (what BM25 counts), lexeme by lexeme."""
    words, wanted = text.split(), phrase.split()
    found = i = 0
    while i + len(wanted) <= len(words):
        if words[i : i + len(wanted)] == wanted:
            found += 1
            i += len(wanted)
        else:
            i += 1
    return found


def test_counts_match_whole_lexemes_wherever_they_stand() -> None:
    """First, last, back to back, inside longer lexemes, and phrases that overlap
    themselves: a column scores as one of the same length holding exactly the whole,
    non-overlapping occurrences, spaced apart."""
    texts = [
        "b", "b a", "a b", "b b", "b a b", "b a b a b", "bb b ab b", "a b a b a b",
        "b a a b", "x b a b a b y", "a a a", "ba b ab", "b a b b a b", "b b b b",
    ]  # fmt: skip
    for phrase in ("b", "b a", "a b", "b a b", "a a", "b b"):
        query = '"' + phrase + '"'
        for text in texts:
            want = _occurrences(text, phrase)
            spaced = " ".join([phrase + " z"] * want).split()
            assert len(spaced) <= 2 * len(text.split()) + 2
            length = max(len(text.split()), len(spaced))
            same = " ".join(spaced + ["z"] * (length - len(spaced)))
            padded = " ".join(text.split() + ["z"] * (length - len(text.split())))
            got = scores(query, [row(1, "", padded), row(2, "", same)])
            assert math.isclose(got[1], got[2], rel_tol=1e-12), (phrase, text, want, got)
