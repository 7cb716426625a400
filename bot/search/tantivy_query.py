"""A parsed query as a tantivy query (`paperboy.search.sql`'s compiler, tantivy's dialect).

The compiler (`paperboy.search.sql.compile_query`) decides what a query means for an index
of lexemes; this dialect writes its parts as tantivy query objects instead of FTS5 text:
a phrase is a phrase query on each column it may be in, an acronym the union of its
surfaces' codes, AND / OR / NOT boolean queries. Titles weigh 10x the abstract and the
summary 0.5x in BM25 (the column weights FTS5 ranking had). As on FTS5, a phrase mixing
acronyms and words is the AND of its parts, a superset the matcher re-checks. Nothing
the user typed reaches tantivy's own query parser: every term is a lexeme or a code.
"""

from __future__ import annotations

from collections.abc import Callable

import tantivy

from paperboy.search.lexemes import AUTHOR_PREFIX, TITLE_PREFIX, pair_words
from paperboy.search.sql import Filters, Fts5
from paperboy.search.tantivy_index import PAIRS, SCHEMA, day_bounds

__all__ = ["TantivyDialect", "filtered"]

Q = tantivy.Query
MUST, SHOULD, MUST_NOT = tantivy.Occur.Must, tantivy.Occur.Should, tantivy.Occur.MustNot
#: BM25 weight per column: t title, a abstract, x HF summary and keywords, u authors.
BOOST = {"t": 10.0, "a": 1.0, "x": 0.5, "u": 1.0}
#: The columns (and their lexemes' prefix) a term in each field is looked for in.
COLUMNS: dict[str | None, tuple[tuple[str, str], ...]] = {
    None: (("t", TITLE_PREFIX), ("a", ""), ("x", "")),
    "title": (("t", TITLE_PREFIX),),
    "abstract": (("a", ""),),
    "author": (("u", AUTHOR_PREFIX),),
}


def _either(items: list[tantivy.Query]) -> tantivy.Query:
    return items[0] if len(items) == 1 else Q.boolean_query([(SHOULD, i) for i in items])


class TantivyDialect(Fts5):
    """The compiler's dialect for the tantivy index: its "text" is a `tantivy.Query`.

    A phrase is its positions query AND each of its word pairs (`tp`, `ap`, `xp`; no
    score of their own): tantivy leads an intersection with its rarest part, so a
    phrase of two common words ("model based": each in half the archive, together in
    2 %) checks positions in the few papers holding the pair, not in every paper
    holding both words. `pairs=False` leaves them out (the benchmark's plain engine).
    """

    def __init__(self, *, pairs: bool = True) -> None:
        self.pairs = pairs

    def _in(self, field: str | None, make: Callable[[str, str], tantivy.Query]) -> tantivy.Query:
        return _either(
            [Q.boost_query(make(col, prefix), BOOST[col]) for col, prefix in COLUMNS[field]]
        )

    def phrase(self, field: str | None, lexemes: list[str]) -> tantivy.Query:  # type: ignore[override]
        def make(column: str, prefix: str) -> tantivy.Query:
            words: list[str | tuple[int, str]] = [prefix + lex for lex in lexemes]
            if len(words) == 1:
                return Q.term_query(SCHEMA, column, prefix + lexemes[0])
            phrase = Q.phrase_query(SCHEMA, column, words)
            pairs = PAIRS.get(column) if self.pairs else None
            if pairs is None:
                return phrase
            each = set(pair_words(lexemes))
            filters = [
                (MUST, Q.const_score_query(Q.term_query(SCHEMA, pairs, p), 0.0))
                for p in sorted(each)
            ]
            return Q.boolean_query([(MUST, phrase), *filters])

        return self._in(field, make)

    def codes(self, field: str | None, codes: tuple[str, ...]) -> tantivy.Query:  # type: ignore[override]
        return self._in(
            field,
            lambda column, prefix: _either(
                [Q.term_query(SCHEMA, column, prefix + code) for code in codes]
            ),
        )

    def and_(  # type: ignore[override]
        self, positive: list[tantivy.Query], negative: list[tantivy.Query]
    ) -> tantivy.Query:
        if len(positive) == 1 and not negative:
            return positive[0]
        return Q.boolean_query([(MUST, p) for p in positive] + [(MUST_NOT, n) for n in negative])

    def or_(self, items: list[tantivy.Query]) -> tantivy.Query:  # type: ignore[override]
        return Q.boolean_query([(SHOULD, i) for i in items])


def filtered(query: tantivy.Query, filters: Filters) -> tantivy.Query:
    """`query` within the filters' days, votes and code flag (they do not score)."""
    parts = [(MUST, query)]
    if filters.dated:
        low, high = day_bounds(filters.low, filters.high)
        days = Q.range_query(SCHEMA, "day", tantivy.FieldType.Integer, low, high)
        parts.append((MUST, Q.const_score_query(days, 0.0)))
    if filters.min_upvotes > 0:
        votes = Q.range_query(
            SCHEMA, "upvotes", tantivy.FieldType.Integer, filters.min_upvotes, None
        )
        parts.append((MUST, Q.const_score_query(votes, 0.0)))
    if filters.has_code:
        parts.append((MUST, Q.const_score_query(Q.term_query(SCHEMA, "has_code", 1), 0.0)))
    return query if len(parts) == 1 else Q.boolean_query(parts)
