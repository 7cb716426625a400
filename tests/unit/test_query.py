"""The subscription query language: structure, precedence, errors and limits."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.matching.query import (
    MAX_LENGTH,
    And,
    Not,
    Or,
    Query,
    QueryError,
    Term,
    _parse_full,
    _parse_plain,
    evaluate,
    make_term,
    parse,
)
from paperboy.matching.text import nfkc


def t(text: str, *words: str, field: str | None = None) -> Term:
    return Term(text, words or (text,), field)


def error(query: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(query)
    return info.value


# --- structure ----------------------------------------------------------------------


def test_comma_list_is_or() -> None:
    q = parse('LoRA, "pipeline parallelism"')
    assert q.root == Or((t("LoRA"), t("pipeline parallelism", "pipeline", "parallelism")))
    assert [x.text for x in q.terms] == ["LoRA", "pipeline parallelism"]
    assert q.source == 'LoRA, "pipeline parallelism"'
    assert q.is_simple


def test_unquoted_run_of_words_is_a_phrase() -> None:
    assert parse("pipeline parallelism").root == parse('"pipeline parallelism"').root
    assert parse("pipeline parallelism").root == t(
        "pipeline parallelism", "pipeline", "parallelism"
    )


def test_hyphen_inside_a_word_is_a_word_break_not_negation() -> None:
    q = parse("pipeline-parallel, GPT-4")
    assert q.root == Or((t("pipeline-parallel", "pipeline", "parallel"), t("GPT-4", "GPT", "4")))


def test_precedence_not_and_or() -> None:
    q = parse("LoRA, MoE AND survey -benchmark")
    assert q.root == Or((t("LoRA"), And((t("MoE"), t("survey"), Not(t("benchmark"))))))
    assert not q.is_simple
    q = parse("a OR b AND c")
    assert q.root == Or((t("a"), And((t("b"), t("c")))))
    q = parse("(a OR b) AND NOT c")
    assert q.root == And((Or((t("a"), t("b"))), Not(t("c"))))


def test_side_by_side_parts_are_and() -> None:
    assert parse('LoRA "low rank"').root == And((t("LoRA"), t("low rank", "low", "rank")))
    assert parse("LoRA -survey").root == And((t("LoRA"), Not(t("survey"))))
    assert parse("LoRA NOT survey").root == parse("LoRA AND NOT survey").root


def test_lowercase_keywords_are_words() -> None:
    q = parse("early exit or not")
    assert q.root == t("early exit or not", "early", "exit", "or", "not")
    assert parse("mixture of experts and more").terms[0].words[-2:] == ("and", "more")


def test_quoted_keywords_are_words() -> None:
    assert parse('"R AND D"').root == t("R AND D", "R", "AND", "D")


def test_field_prefixes() -> None:
    q = parse('title:LoRA, abstract:"low rank" author:(Dao, Hinton)')
    assert q.root == Or(
        (
            t("LoRA", field="title"),
            And(
                (
                    t("low rank", "low", "rank", field="abstract"),
                    Or((t("Dao", field="author"), t("Hinton", field="author"))),
                )
            ),
        )
    )
    assert parse("title:pipeline parallelism").root == t(
        "pipeline parallelism", "pipeline", "parallelism", field="title"
    )
    assert parse("Title: LoRA").root == t("LoRA", field="title")
    assert parse("authors:Dao").root == t("Dao", field="author")
    assert parse("-title:survey LoRA").root == And((Not(t("survey", field="title")), t("LoRA")))


def test_colon_in_ordinary_text() -> None:
    assert parse("see https://example.org").root.words == ("see", "https", "example", "org")
    assert error('titel:"a b"').message.startswith("unknown field 'titel:'")
    assert parse("arXiv:2401 data").root == t("arXiv:2401 data", "arXiv", "2401", "data")
    assert parse("Note: x").root.words == ("Note", "x")


def test_terms_unique_positive_first() -> None:
    q = parse("(-survey a) OR (b -survey) OR a OR c")
    assert [x.text for x in q.terms] == ["a", "b", "c", "survey"]
    assert q.positive_terms == (t("a"), t("b"), t("c"))
    assert q.positive == frozenset(q.positive_terms)


def test_same_term_positive_and_negative_counts_as_positive() -> None:
    q = parse("a -b, b")
    assert [x.text for x in q.terms] == ["a", "b"]


def test_empty_comma_items_are_skipped() -> None:
    assert parse("LoRA,,MoE,").root == parse("LoRA, MoE").root
    assert parse(", LoRA").root == t("LoRA")


def test_smart_quotes_and_fullwidth() -> None:
    assert parse("“pipeline parallelism”").root == parse('"pipeline parallelism"').root
    assert parse("ＬｏＲＡ，ＭｏＥ").root == Or((t("LoRA"), t("MoE")))


def test_make_term_round_trips_display_text() -> None:
    for query in ["pipeline-parallel", "LoRA's", "Mixture-of-Experts", "ＧＰＴ－４"]:
        term = parse(query).terms[0]
        assert make_term(term.text) == term


def test_evaluate() -> None:
    q = parse("(a, b) -c")
    present = {"a"}
    assert q.matches(lambda term: term.text in present)
    present = {"a", "c"}
    assert not evaluate(q.root, lambda term: term.text in present)


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "column", "needle"),
    [
        ('LoRA "abc', 6, "unclosed quote"),
        ("(LoRA, MoE", 1, "unclosed '('"),
        ("LoRA (MoE, (ViT)", 6, "unclosed '('"),
        ("LoRA, MoE) ViT", 10, "unexpected ')'"),
        (")", 1, "unexpected ')'"),
        ("()", 1, "empty parentheses"),
        ('""', 1, "empty quotes"),
        ("AND LoRA", 1, "'AND'"),
        ("LoRA AND AND MoE", 10, "after 'AND'"),
        ("LoRA OR", 8, "after 'OR'"),
        ("LoRA AND", 9, "after 'AND'"),
        ("LoRA, OR MoE", 7, "'OR'"),
        ("NOT NOT LoRA", 5, "negated only once"),
        ("LoRA --survey", 7, "negated only once"),
        ("LoRA - survey", 6, "-survey"),
        ("LoRA -", 6, "-survey"),
        ("title:", 7, "after 'title:'"),
        ("title:-survey", 7, "after 'title:'"),
        ("title:(abstract:LoRA)", 8, "inside 'title:'"),
        ("titel:LoRA", 1, "unknown field 'titel:'"),
        ("LoRA, !!!", 7, "no letters or digits"),
        ("LoRA, -survey", 7, "not negated"),
        ("LoRA OR (MoE -x, NOT y)", 18, "not negated"),
    ],
)
def test_error_column(query: str, column: int, needle: str) -> None:
    err = error(query)
    assert err.column == column, str(err)
    assert needle in err.message
    assert str(err) == f"{err.message} at column {column}"
    assert isinstance(err, ValueError)


def test_error_column_counts_original_characters() -> None:
    # The fullwidth and ligature characters NFKC-expand; columns stay the user's.
    assert error("ﬁne ＬｏＲＡ )").column == 10
    assert error("“ﬁne ＬｏＲＡ").column == 1


def test_empty_query() -> None:
    for query in ["", "   ", ",", " , ,"]:
        assert str(error(query)) == "empty query"


def test_pure_negation() -> None:
    for query in ["-survey", "NOT survey", "NOT (a, b)", "-a -b", "(-a) AND (NOT b)"]:
        assert error(query).message == "a query needs at least one term that is not negated"


def test_negation_anchored_by_and_is_fine() -> None:
    parse("(a, -b) AND c")
    parse("LoRA -survey -benchmark")


def test_length_limit() -> None:
    parse("x" * MAX_LENGTH)
    err = error("x" * (MAX_LENGTH + 1))
    assert str(err) == "query is longer than 300 characters at column 301"
    assert err.column == 301
    assert "longer than" in str(error("(" * 10_000))


def test_term_limit() -> None:
    parse(", ".join(f"w{i}" for i in range(30)))
    err = error(", ".join(f"w{i}" for i in range(31)))
    assert "too many terms" in err.message
    assert err.column == len(", ".join(f"w{i}" for i in range(30))) + 3


def test_depth_limit() -> None:
    parse("(" * 5 + "LoRA" + ")" * 5)
    err = error("(" * 6 + "LoRA" + ")" * 6)
    assert "nested more than 5" in err.message
    assert err.column == 6
    assert "nested" in error("a, (b (c (d (e (f (g))))))").message


def test_adversarial_inputs_at_the_length_limit() -> None:
    for query in [
        "(" * 300,
        ")" * 300,
        '"' * 300,
        "-" * 300,
        "NOT " * 75,
        "a AND " * 50,
        "title:" * 50,
        "a," * 150,
        "(a " * 100,
        '"a" ' * 75,
    ]:
        with pytest.raises(QueryError):
            parse(query[:MAX_LENGTH])
    assert parse("a " * 150).root.words == ("a",) * 150


# --- properties ---------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "LoRA", "lora", "MoE", "pipeline", "parallelism", "of", "x", "2", "ＬｏＲＡ", "ﬁ",
        "AND", "OR", "NOT", "and", "-", "--", "−", ",", ",,", "(", ")", "((", "))", '"',
        "“", "”", "title:", "abstract:", "author:", "titel:", "Title:", ":", " ", "  ",
        "\t", "\n", "!", "é", "\u0301", "_", "/", "'", "\x00", "多", "🙂",
    ]
)  # fmt: skip


def _check(query: str) -> None:
    try:
        q = parse(query)
    except QueryError as err:
        assert isinstance(err.column, int) and err.column >= 1
        assert err.message and str(err).startswith(err.message)
        return
    assert isinstance(q, Query)
    assert q.terms and q.positive
    assert len(q.terms) <= 30
    # Anchoring: with no positive term present the query cannot be true, whatever
    # the negated terms do.
    assert not evaluate(q.root, lambda term: False)
    assert not evaluate(q.root, lambda term: term not in q.positive)
    # Display text reads back as the same term (highlight() relies on it).
    assert all(make_term(x.text, x.field) == x for x in q.terms)


@given(st.text(max_size=400))
@settings(max_examples=500, deadline=2000)
def test_arbitrary_text_raises_only_query_error(query: str) -> None:
    _check(query)


@given(st.lists(_PIECES, max_size=120).map("".join))
@settings(max_examples=1500, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
def test_query_like_text_raises_only_query_error(query: str) -> None:
    _check(query)


@given(st.lists(_PIECES, min_size=1, max_size=40).map("".join), st.integers(1, 2000))
@settings(max_examples=100, deadline=2000)
def test_long_input_is_rejected_by_length(piece: str, repeat: int) -> None:
    query = (piece * repeat)[:10_000]
    if len(query) > MAX_LENGTH:
        assert "longer than" in str(error(query))
    else:
        _check(query)


def test_minus_leaves_out_one_word_not_takes_a_phrase() -> None:
    assert parse("LoRA -survey paper").root == And((t("LoRA"), Not(t("survey")), t("paper")))
    assert parse('LoRA -"survey paper"').root == And(
        (t("LoRA"), Not(t("survey paper", "survey", "paper")))
    )
    assert parse("LoRA NOT survey paper").root == And(
        (t("LoRA"), Not(t("survey paper", "survey", "paper")))
    )
    assert parse("-title:survey pipeline parallelism").root == And(
        (Not(t("survey", field="title")), t("pipeline parallelism", "pipeline", "parallelism"))
    )


def _full(query: str) -> Query | QueryError:
    try:
        return _parse_full(query, *nfkc(query))
    except QueryError as err:
        return err


@given(
    st.lists(
        st.sampled_from(["LoRA", "pipeline", "of", "AND", "Or", "x", ",", " ", '"', "“", "ﬁ", "é"]),
        max_size=30,
    ).map("".join)
)
@settings(max_examples=1000, deadline=2000)
def test_plain_fast_path_agrees_with_the_parser(query: str) -> None:
    plain = _parse_plain(query, nfkc(query)[0])
    if plain is not None:
        assert plain == _full(query)


@pytest.mark.parametrize(
    "query",
    ["LoRA", "LoRA, MoE", 'LoRA, "pipeline parallelism"', "a ,, b,", "“x y”, z", "ＬｏＲＡ"],
)
def test_plain_fast_path_is_taken_and_agrees(query: str) -> None:
    plain = _parse_plain(query, nfkc(query)[0])
    assert plain is not None
    assert plain == _full(query)


# --- characters a query may not hold (issue #10, item 11) ---------------------------


@pytest.mark.parametrize(
    ("query", "column", "kind"),
    [
        ("LoRA\x00", 5, "a control character (U+0000)"),
        ("Lo\x1b[31mRA", 3, "a control character (U+001B)"),
        ('"pipeline\x07 parallelism"', 10, "a control character (U+0007)"),
        ("LoRA, MoE\t", 10, "a control character (U+0009)"),
        ("LoRA\nMoE", 5, "a control character (U+000A)"),
        ("title:(LoRA\x7f)", 12, "a control character (U+007F)"),
        ("x\x85y", 2, "a control character (U+0085)"),
        ("x\x9b31m", 2, "a control character (U+009B)"),
        ("ＬｏＲＡ \x01", 6, "a control character (U+0001)"),
        ("LoRA \u202etxet", 6, "a bidirectional control character (U+202E)"),
        ("\u202aLoRA", 1, "a bidirectional control character (U+202A)"),
        ("LoRA \u2066x\u2069", 6, "a bidirectional control character (U+2066)"),
        ("LoRA \ud800", 6, "an unpaired surrogate (U+D800)"),
    ],
)
def test_control_characters_are_refused_with_their_column(
    query: str, column: int, kind: str
) -> None:
    err = error(query)
    assert err.column == column
    assert err.message == f"{kind} cannot be part of a query"
    assert query[column - 1] not in str(err)


@pytest.mark.parametrize("query", ["LoRA \u200e", "\u200fLoRA", "Lo\u200dRA", "LoRA\u00a0MoE"])
def test_marks_joiners_and_spaces_are_not_controls(query: str) -> None:
    assert parse(query).terms


def test_stored_queries_keep_parsing_as_before() -> None:
    """A row stored before the check still matches what it matched (Lo and RA)."""
    legacy = parse("Lo\x1bRA", stored=True)
    assert legacy.root == t("Lo\x1bRA", "Lo", "RA")
    assert parse("a\u202eb", stored=True).root == t("a\u202eb", "a", "b")


def is_control(char: str) -> bool:
    code = ord(char)
    return (
        code < 0x20 or 0x7F <= code <= 0x9F or 0x202A <= code <= 0x202E
        or 0x2066 <= code <= 0x2069 or 0xD800 <= code <= 0xDFFF
    )  # fmt: skip


@given(st.text(max_size=60), st.sampled_from(["\x00", "\x1b", "\x7f", "\x9f", "\u202d", "\u2069"]))
@settings(max_examples=300, deadline=2000)
def test_no_query_with_a_control_character_parses(text: str, control: str) -> None:
    query = text[:30] + control + text[30:]
    first = next(i for i, c in enumerate(query) if is_control(c))
    assert error(query).column == first + 1
