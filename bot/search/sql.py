"""Compile a parsed query (`paperboy.matching.query`) into an FTS5 MATCH string or a
PostgreSQL tsquery; and the `Filters` an index query applies besides.

Nothing the user typed reaches either syntax: a query is first parsed by
`paperboy.matching.query` (errors there are `QueryError`s with a column), and the
compiled text is built only from lexemes and acronym codes (`paperboy.search.lexemes`),
which are plain ``[a-z0-9]`` words, quoted anyway. The compiled string is then passed as
a bound parameter.

A compiled query is *exact* when the index alone decides the match, and a *superset*
otherwise; `paperboy.search.engine` always re-checks results with the subscription
matcher, so a superset costs only time (and makes the total an estimate when it is large):

- an FTS5 phrase cannot say "a word containing LoRA, then 'adapters'" (acronym codes do
  not sit at word positions), so on SQLite a phrase mixing acronyms and words becomes
  the AND of its parts. PostgreSQL puts codes at their word's position: exact there;
- a negated superset cannot be used (NOT of too much is too little): it is left out of
  the index query and applied by the matcher alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from paperboy.matching import And, Node, Not, Or, Query, QueryError, Term, is_acronym
from paperboy.search.lexemes import AUTHOR_PREFIX, TITLE_PREFIX, pair_hash, query_lexemes

__all__ = [
    "ALL",
    "NEVER",
    "UNKNOWN",
    "Compiled",
    "Filters",
    "Fts5",
    "TsQuery",
    "acronym_words",
    "compile_query",
    "compile_query_term",
    "phrase_pairs",
    "title_filter",
    "title_tier",
]

#: At most this many acronym surfaces stand for one query acronym in an index query.
MAX_CODES = 2000


_NO_END = 1 << 62


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions applied inside the index query (dates as a document id range)."""

    low: int = 0
    high: int = _NO_END
    min_upvotes: int = 0
    has_code: bool = False

    @property
    def needs_docs(self) -> bool:
        return self.min_upvotes > 0 or self.has_code

    @property
    def dated(self) -> bool:
        return self.low > 0 or self.high < _NO_END


@dataclass(frozen=True, slots=True)
class Compiled:
    """An index query: `text` in the backend's syntax; `exact` if no re-check is needed.

    Without `text`, `kind` says what it stands for: "never" (no paper, exact), "all"
    (every paper, exact) or "unknown" (the index cannot narrow this part: every paper is
    a candidate and the matcher decides).
    """

    text: str | None
    exact: bool
    kind: str = "expr"

    @property
    def never(self) -> bool:
        return self.kind == "never"


NEVER = Compiled(None, True, "never")
ALL = Compiled(None, True, "all")
UNKNOWN = Compiled(None, False, "unknown")

Codes = Mapping[str, tuple[str, ...] | None]
"""Query acronym -> codes of the indexed surfaces containing it (None: too many)."""


def acronym_words(query: Query) -> set[str]:
    """The acronym-like words of a query's terms (what the vocabulary is asked about)."""
    return {w for term in query.terms for w in term.words if is_acronym(w)}


class _Dialect:
    """How one backend writes terms and boolean operators."""

    mixed_phrase_exact = False

    def phrase(self, field: str | None, lexemes: list[str]) -> str:
        raise NotImplementedError

    def codes(self, field: str | None, codes: tuple[str, ...]) -> str:
        raise NotImplementedError

    def mixed(self, field: str | None, parts: list[str | tuple[str, ...]]) -> str:
        """An exact phrase of words and acronyms (only if `mixed_phrase_exact`)."""
        raise NotImplementedError

    def and_(self, positive: list[str], negative: list[str]) -> str:
        raise NotImplementedError

    def or_(self, items: list[str]) -> str:
        raise NotImplementedError


class Fts5(_Dialect):
    """SQLite FTS5 over the columns t (title), a (abstract), x (ai_summary, keywords), u.

    Title and author lexemes carry a prefix (`paperboy.search.lexemes.TITLE_PREFIX`): a plain
    phrase matches only the abstract and summary, its prefixed twin only the title. So
    no query needs a column filter, which would make FTS5 decode every position of
    every word it reads; only `abstract:` (a without x) uses one.
    """

    def _alternatives(self, field: str | None, items: list[str]) -> str:
        """One FTS5 expression for the quoted `items` (phrases or codes) in `field`."""
        if field == "title":
            out = [f'"{_prefixed(TITLE_PREFIX, i)}"' for i in items]
        elif field == "author":
            out = [f'"{_prefixed(AUTHOR_PREFIX, i)}"' for i in items]
        elif field == "abstract":
            return "{a} : (" + " OR ".join(f'"{i}"' for i in items) + ")"
        else:
            out = [f'"{_prefixed(TITLE_PREFIX, i)}"' for i in items]
            out += [f'"{i}"' for i in items]
        return out[0] if len(out) == 1 else "(" + " OR ".join(out) + ")"

    def phrase(self, field: str | None, lexemes: list[str]) -> str:
        return self._alternatives(field, [" ".join(lexemes)])

    def codes(self, field: str | None, codes: tuple[str, ...]) -> str:
        return self._alternatives(field, list(codes))

    def and_(self, positive: list[str], negative: list[str]) -> str:
        if len(positive) == 1 and not negative:
            return positive[0]
        text = " AND ".join(f"({p})" for p in positive)
        if negative:
            text = f"({text}) NOT ({' OR '.join(f'({n})' for n in negative)})"
        return text

    def or_(self, items: list[str]) -> str:
        return " OR ".join(f"({i})" for i in items)


def _prefixed(prefix: str, lexemes: str) -> str:
    return " ".join(prefix + lex for lex in lexemes.split())


class TsQuery(_Dialect):
    """PostgreSQL tsquery over one tsvector: title A, abstract B, summary/keywords C,
    authors D with their lexemes prefixed (so unprefixed terms never match authors)."""

    mixed_phrase_exact = True
    AUTHOR_PREFIX = AUTHOR_PREFIX
    WEIGHTS: Mapping[str | None, str] = {None: "", "title": ":A", "abstract": ":B", "author": ""}

    def _lex(self, field: str | None, lex: str) -> str:
        if field == "author":
            lex = self.AUTHOR_PREFIX + lex
        return f"'{lex}'{self.WEIGHTS[field]}"

    def _alternatives(self, field: str | None, codes: tuple[str, ...]) -> str:
        return "(" + " | ".join(self._lex(field, c) for c in codes) + ")"

    def phrase(self, field: str | None, lexemes: list[str]) -> str:
        return " <-> ".join(self._lex(field, lex) for lex in lexemes)

    def codes(self, field: str | None, codes: tuple[str, ...]) -> str:
        return self._alternatives(field, codes)

    def mixed(self, field: str | None, parts: list[str | tuple[str, ...]]) -> str:
        return " <-> ".join(
            self._lex(field, p) if isinstance(p, str) else self._alternatives(field, p)
            for p in parts
        )

    def and_(self, positive: list[str], negative: list[str]) -> str:
        if len(positive) == 1 and not negative:
            return positive[0]
        items = [f"({p})" for p in positive] + [f"!({n})" for n in negative]
        return " & ".join(items)

    def or_(self, items: list[str]) -> str:
        return " | ".join(f"({i})" for i in items)


@dataclass(frozen=True, slots=True)
class _Neg:
    """An exact negated part: only usable inside an AND."""

    text: str


def _term(term: Term, dialect: _Dialect, codes: Codes, field: str | None) -> Compiled:
    lexemes = query_lexemes(term.words)
    if all(lex is not None for lex in lexemes):
        return Compiled(dialect.phrase(field, [lex for lex in lexemes if lex]), True)
    parts: list[str | tuple[str, ...] | None] = []
    for word, lex in zip(term.words, lexemes, strict=True):
        if lex is not None:
            parts.append(lex)
            continue
        found = codes.get(word, ())
        if found is None or len(found) > MAX_CODES:
            parts.append(None)  # too common to spell out: the matcher decides
        elif not found:
            return NEVER  # no indexed word contains this acronym
        else:
            parts.append(found)
    if len(parts) == 1:
        only = parts[0]
        return UNKNOWN if only is None else Compiled(dialect.codes(field, only), True)  # type: ignore[arg-type]
    if None not in parts and dialect.mixed_phrase_exact:
        return Compiled(dialect.mixed(field, parts), True)  # type: ignore[arg-type]
    # Only the conjunction of the pieces: runs of words as phrases, each acronym's codes.
    pieces: list[str] = []
    run: list[str] = []
    for part in [*parts, None]:
        if isinstance(part, str):
            run.append(part)
            continue
        if run:
            pieces.append(dialect.phrase(field, run))
            run = []
        if part:
            pieces.append(dialect.codes(field, part))
    if not pieces:
        return UNKNOWN
    return Compiled(pieces[0] if len(pieces) == 1 else dialect.and_(pieces, []), False)


def _compile(
    node: Node, dialect: _Dialect, codes: Codes, field_of: Callable[[Term], str | None]
) -> Compiled | _Neg:
    if isinstance(node, Term):
        return _term(node, dialect, codes, field_of(node))
    if isinstance(node, Not):
        child = _compile(node.child, dialect, codes, field_of)
        if isinstance(child, _Neg):  # NOT NOT x is x
            return Compiled(child.text, True)
        if child.kind == "never":
            return ALL
        if child.kind == "all":
            return NEVER
        if child.text is None or not child.exact:
            return UNKNOWN  # NOT of a superset is too little: left to the matcher
        return _Neg(child.text)
    children = [_compile(c, dialect, codes, field_of) for c in node.children]
    if isinstance(node, And):
        positive: list[str] = []
        negative: list[str] = []
        exact = True
        for child in children:
            if isinstance(child, _Neg):
                negative.append(child.text)
            elif child.kind == "never":
                return NEVER
            elif child.text is None:
                exact = exact and child.kind == "all"
            else:
                positive.append(child.text)
                exact = exact and child.exact
        if not positive:
            return UNKNOWN if negative or not exact else ALL
        return Compiled(dialect.and_(positive, negative), exact)
    assert isinstance(node, Or)
    items: list[str] = []
    exact = True
    for child in children:
        if isinstance(child, _Neg):
            return UNKNOWN  # cannot happen for a parsed query (alternatives are anchored)
        if child.kind == "never":
            continue
        if child.text is None:
            return child  # ALL or UNKNOWN swallows the alternatives
        items.append(child.text)
        exact = exact and child.exact
    if not items:
        return NEVER
    return Compiled(items[0] if len(items) == 1 else dialect.or_(items), exact)


def compile_query(query: Query, dialect: _Dialect, codes: Codes) -> Compiled:
    """The index query for `query` (raises QueryError if the index cannot narrow it)."""
    result = _compile(query.root, dialect, codes, lambda term: term.field)
    if isinstance(result, _Neg) or result.kind in ("all", "unknown"):
        raise QueryError("this query matches too much to search for: add a more specific term")
    return result


def compile_query_term(term: Term, dialect: _Dialect, codes: Codes) -> Compiled:
    """One term alone, in its own field (what `paperboy.search.score` counts it with)."""
    return _term(term, dialect, codes, term.field)


def title_tier(query: Query, dialect: _Dialect, codes: Codes) -> str | None:
    """Papers with one of the query's positive terms in the title (None if it has none).

    The ranking window of a broad query always includes these: BM25 weighs the title
    far above the abstract, so they are the likeliest top results at any age.
    """
    items: list[str] = []
    # PostgreSQL keeps titles in a vector of their own: no weight to restrict to.
    field = None if isinstance(dialect, TsQuery) else "title"
    for term in query.positive_terms:
        if term.field not in (None, "title"):
            continue
        compiled = _term(term, dialect, codes, field)
        if compiled.text is not None:
            items.append(compiled.text)
    if not items:
        return None
    return items[0] if len(items) == 1 else dialect.or_(items)


def title_filter(query: Query, dialect: _Dialect, codes: Codes) -> str | None:
    """PostgreSQL: what `query` requires of the title alone, for the title vector (None
    if nothing): its `title:` terms that every match must have.

    The full query checks them as weights on the paper's vector, which its GIN index
    cannot do: it would name every paper with the word and each would be read. The
    title vector holds the title's lexemes only, so the same term without a weight is
    answered by its own index. Implied by the query, it changes no result.
    """
    if not isinstance(dialect, TsQuery):
        return None
    root = query.root
    items: list[str] = []
    for child in root.children if isinstance(root, And) else (root,):
        alternatives = child.children if isinstance(child, Or) else (child,)
        if not all(isinstance(a, Term) and a.field == "title" for a in alternatives):
            continue
        texts: list[str] = []
        for alternative in alternatives:
            compiled = _term(cast("Term", alternative), dialect, codes, None)
            if compiled.never:
                continue
            if compiled.text is None:  # an alternative the index cannot narrow
                break
            texts.append(compiled.text)  # a superset is still implied by the query
        else:
            if texts:
                items.append(texts[0] if len(texts) == 1 else dialect.or_(texts))
    if not items:
        return None
    return items[0] if len(items) == 1 else dialect.and_(items, [])


def phrase_pairs(query: Query) -> tuple[int, ...]:
    """PostgreSQL: the word pairs (`paperboy.search.lexemes.pair_hash`) every match of
    `query` holds: those of its phrases that every match must have (terms of the
    top-level AND, in the title, abstract or summary), sorted, each once.

    A pair with an acronym in it is left out (an acronym matches inside other words,
    which have pairs of their own), and so are authors' (they have none).
    """
    root = query.root
    out: set[int] = set()
    for child in root.children if isinstance(root, And) else (root,):
        if not isinstance(child, Term) or child.field == "author" or len(child.words) < 2:
            continue
        lexemes = query_lexemes(child.words)
        for first, second in itertools.pairwise(lexemes):
            if first is not None and second is not None:
                out.add(pair_hash(first, second))
    return tuple(sorted(out))
