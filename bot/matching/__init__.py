"""Matching, pure: what a subscription query means and which papers it matches.

- `text`: normalise, tokenise and stem (the one reading of text matching and search share);
- `query`: the query language, parsed into an AST (`parse`, `Query`, `QueryError`);
- `matcher`: one compiled `Matcher` for many queries, and `highlight` spans.
"""

from paperboy.errors import QueryError
from paperboy.matching.matcher import Matcher, MatchResult, PaperMatch, highlight
from paperboy.matching.query import (
    MAX_LENGTH,
    And,
    Node,
    Not,
    Or,
    Query,
    Term,
    check_characters,
    make_term,
    parse,
)
from paperboy.matching.text import (
    MAX_STEM_LENGTH,
    escape_controls,
    is_acronym,
    normalize,
    normalize_fast,
    stem,
    tokenize,
    words_of,
)

__all__ = [
    "MAX_LENGTH",
    "MAX_STEM_LENGTH",
    "And",
    "MatchResult",
    "Matcher",
    "Node",
    "Not",
    "Or",
    "PaperMatch",
    "Query",
    "QueryError",
    "Term",
    "check_characters",
    "escape_controls",
    "highlight",
    "is_acronym",
    "make_term",
    "normalize",
    "normalize_fast",
    "parse",
    "stem",
    "tokenize",
    "words_of",
]
