"""The subscription query language: parse a query into an AST, or explain the error.

Syntax, loosest binding first::

    query   := or
    or      := and ( ("," | "OR") and )*        a comma is the same as OR
    and     := unary ( "AND"? unary )*          writing two parts side by side is AND
    unary   := ("NOT" | "-") primary | primary
    primary := field? ( words | '"' text '"' | "(" or ")" )
    field   := "title:" | "abstract:" | "author:"

So the precedence is NOT (and a leading ``-``) > AND > OR/comma:
``LoRA, MoE AND survey -benchmark`` reads as ``LoRA OR (MoE AND survey AND NOT benchmark)``.

- An unquoted run of words is one phrase: ``pipeline parallelism`` is the same term
  as ``"pipeline parallelism"``. The run ends at a comma, a parenthesis, a quote, a
  field prefix, a ``-term`` or one of the keywords ``AND``, ``OR``, ``NOT`` (upper
  case only; lower-case "and"/"or"/"not" are ordinary words). Quote a keyword to
  search for it: ``"R AND D"``.
- ``-`` negates only at the start of a word; inside a word it is a hyphen
  (``pipeline-parallel``, ``GPT-4``). As in web search it leaves out just what is
  glued to it: ``-survey paper`` is ``NOT survey AND paper``; ``-"survey paper"``,
  ``-(a, b)`` and ``-title:survey`` work as expected. ``NOT`` is a word of its own
  and takes the whole next term: ``NOT survey paper`` leaves out the phrase.
- A field prefix applies to the next term, phrase or parenthesised group:
  ``title:(LoRA, MoE)``. Prefixes do not nest.
- Straight and curly double quotes (as chat clients like to substitute) both work.
- Empty items of a comma list are skipped (``LoRA,,MoE,`` is ``LoRA, MoE``).
- A query must only be able to match through a term that is not negated, so every
  match is triggered by some positive term: ``-survey`` and ``LoRA, -survey`` (it
  would match almost every paper) are errors; ``LoRA -survey`` and
  ``(LoRA, -survey) AND MoE`` are fine. Negating twice (``NOT -x``) is an error.
- A lower-case word glued to a colon and a term (``titel:LoRA``) is reported as an
  unknown field rather than searched; ``Note: x`` and ``http://x`` are plain text.
- Limits: 300 characters, 30 terms, parentheses nested at most 5 deep. Parsing is
  a single pass over at most 300 characters, with recursion bounded by the depth.
- Control characters (C0, C1, DEL), lone surrogates and the bidirectional embedding,
  override and isolate characters are refused (see :data:`paperboy.matching.text.CONTROL_RE`): a
  stored query never holds them, and a listed one reads as what it searches for.
  Queries stored before that rule are read back with ``parse(text, stored=True)``,
  which skips this one check, so they keep matching as they did.

Errors are :class:`QueryError` with a 1-based column into the text the user typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from paperboy.errors import QueryError
from paperboy.matching.text import first_control, is_acronym, nfkc, normalize_fast, stem, words_of

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_TERMS",
    "And",
    "Node",
    "Not",
    "Or",
    "Query",
    "QueryError",
    "Term",
    "check_characters",
    "evaluate",
    "make_term",
    "parse",
    "words_key",
]

MAX_LENGTH = 300
MAX_TERMS = 30
MAX_DEPTH = 5
FIELDS = ("title", "abstract", "author")
_FIELD_ALIASES = {"title": "title", "abstract": "abstract", "author": "author", "authors": "author"}
_KEYWORDS = frozenset({"AND", "OR", "NOT"})
_QUOTES = frozenset('"“”„‟')
_MINUS = frozenset("-−")
_FIELD_RE = re.compile(r"([A-Za-z]+):")
# A run of anything but space and the special characters; never backtracks.
_WORD_RUN = re.compile(r'[^\s(),"“”„‟]+')


@dataclass(frozen=True, slots=True)
class Term:
    """One thing to look for: a word, an acronym or a phrase, maybe in one field.

    ``text`` is the display form (what the user typed, NFKC-normalised, without
    quotes or field prefix); ``words`` are its words as :func:`paperboy.matching.text.tokenize`
    reads them (surface forms, case kept: acronyms are matched by case).
    """

    text: str
    words: tuple[str, ...]
    field: str | None = None

    @property
    def match_key(self) -> tuple[str | None, tuple[tuple[bool, str], ...]]:
        """What matching depends on; equal keys match exactly the same papers."""
        return self.field, words_key(self.words)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node = Term | And | Or | Not


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query. ``terms``: unique, positive ones first, in order of appearance."""

    source: str
    root: Node
    terms: tuple[Term, ...]
    positive: frozenset[Term]

    @property
    def positive_terms(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t in self.positive)

    @property
    def is_simple(self) -> bool:
        """A plain list of alternatives (``a, b, c``): any matching term is a match."""
        root = self.root
        if isinstance(root, Term):
            return True
        return isinstance(root, Or) and all(isinstance(c, Term) for c in root.children)

    def matches(self, is_present: Callable[[Term], bool]) -> bool:
        return evaluate(self.root, is_present)


@lru_cache(maxsize=65536)
def words_key(words: tuple[str, ...]) -> tuple[tuple[bool, str], ...]:
    """Per word: (True, exact surface) for an acronym, else (False, stem)."""
    return tuple((True, w) if is_acronym(w) else (False, stem(w)) for w in words)


def evaluate(node: Node, is_present: Callable[[Term], bool]) -> bool:
    """Truth of ``node`` given which terms occur."""
    if isinstance(node, Term):
        return is_present(node)
    if isinstance(node, Not):
        return not evaluate(node.child, is_present)
    if isinstance(node, And):
        return all(evaluate(c, is_present) for c in node.children)
    return any(evaluate(c, is_present) for c in node.children)


@lru_cache(maxsize=65536)
def make_term(text: str, field: str | None = None) -> Term | None:
    """A term for ``text`` (its words read as in paper text); None if it has no word.

    Cached: subscriptions repeat the same few thousand terms over and over.
    """
    normal, _ = normalize_fast(text)
    words = tuple(words_of(normal))
    if not words:
        return None
    return Term(" ".join(text.split()), words, field)


# --- lexer ------------------------------------------------------------------------

WORD, QUOTED, LPAREN, RPAREN, COMMA, MINUS, FIELD, AND, OR, NOT, END = (
    "word", "quoted", "(", ")", ",", "-", "field", "AND", "OR", "NOT", "end",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int  # index into the NFKC-normalised query


def _lex(text: str) -> Iterator[_Tok]:
    """Split the (NFKC) query into tokens; one pass, no backtracking."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            yield _Tok(char, char, i)
            i += 1
        elif char in _QUOTES:
            end = i + 1
            while end < n and text[end] not in _QUOTES:
                end += 1
            if end >= n:
                raise _Error("unclosed quote", i)
            yield _Tok(QUOTED, text[i + 1 : end], i)
            i = end + 1
        elif char in _MINUS:
            if i + 1 >= n or text[i + 1].isspace() or text[i + 1] in "),":
                raise _Error("write '-' right before the term to leave out, like -survey", i)
            yield _Tok(MINUS, char, i)
            i += 1
        else:
            end = _WORD_RUN.match(text, i).end()  # type: ignore[union-attr]
            word = text[i:end]
            field = _FIELD_RE.match(word)
            if field:
                name = _FIELD_ALIASES.get(field.group(1).lower())
                if name is not None:
                    yield _Tok(FIELD, name, i)
                    i += field.end()
                    continue
                after = text[i + field.end() : i + field.end() + 1]
                if field.group(1).islower() and after and (after.isalnum() or after in '"“”„‟('):
                    # Looks like a mistyped field ("titel:LoRA"), not "http://".
                    raise _Error(
                        f"unknown field '{field.group(0)}' (use title:, abstract: or author:)",
                        i,
                    )
            yield _Tok(word if word in _KEYWORDS else WORD, word, i)
            i = end
    yield _Tok(END, "", n)


class _Error(Exception):
    """A QueryError before its position is translated into a user column."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


# --- parser -----------------------------------------------------------------------

_STARTS = frozenset({WORD, QUOTED, LPAREN, MINUS, NOT, FIELD})


def _describe(tok: _Tok) -> str:
    if tok.kind == END:
        return "end of the query"
    if tok.kind == FIELD:
        return f"'{tok.text}:'"
    if tok.kind == QUOTED:
        return "quote"
    return f"'{tok.text}'"


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = list(_lex(text))
        self.i = 0
        self.depth = 0
        self.term_count = 0
        # Where each OR alternative starts, to point at one without a positive term.
        self.starts: dict[int, int] = {}

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect_start(self, after: _Tok) -> None:
        if self.tok.kind not in _STARTS:
            raise _Error(f"expected a term after {_describe(after)}", self.tok.pos)

    def parse(self) -> Node:
        root = self.parse_or(None)
        if self.tok.kind != END:
            raise _Error(f"unexpected {_describe(self.tok)}", self.tok.pos)
        return root

    def parse_or(self, field: str | None) -> Node:
        items: list[Node] = []
        while True:
            while self.tok.kind == COMMA:
                self.take()
            if self.tok.kind not in _STARTS:
                break
            start = self.tok.pos
            item = self.parse_and(field)
            self.starts.setdefault(id(item), start)
            items.append(item)
            if self.tok.kind == OR:
                self.expect_start(self.take())
            elif self.tok.kind != COMMA:
                break
        if not items:
            if self.tok.kind in (RPAREN, END):
                raise _Error(f"unexpected {_describe(self.tok)}", self.tok.pos)
            raise _Error(f"expected a term before {_describe(self.tok)}", self.tok.pos)
        return items[0] if len(items) == 1 else Or(_flatten(Or, items))

    def parse_and(self, field: str | None) -> Node:
        items = [self.parse_unary(field)]
        while True:
            if self.tok.kind == AND:
                self.expect_start(self.take())
            elif self.tok.kind not in _STARTS:
                break
            items.append(self.parse_unary(field))
        return items[0] if len(items) == 1 else And(_flatten(And, items))

    def parse_unary(self, field: str | None) -> Node:
        if self.tok.kind not in (NOT, MINUS):
            return self.parse_primary(field)
        neg = self.take()
        if self.tok.kind in (NOT, MINUS):
            raise _Error("a term can be negated only once", self.tok.pos)
        if self.tok.kind not in _STARTS:
            raise _Error(f"expected a term after {_describe(neg)}", self.tok.pos)
        # "-survey paper" leaves out "survey" only, as in web search; NOT takes a phrase.
        return Not(self.parse_primary(field, one_word=neg.kind == MINUS))

    def parse_primary(self, field: str | None, one_word: bool = False) -> Node:
        tok = self.tok
        if tok.kind == FIELD:
            if field is not None:
                raise _Error(f"'{tok.text}:' cannot be used inside '{field}:'", tok.pos)
            self.take()
            if self.tok.kind not in (WORD, QUOTED, LPAREN, FIELD):
                raise _Error(f"expected a term after '{tok.text}:'", self.tok.pos)
            return self.parse_primary(tok.text, one_word)
        if tok.kind == LPAREN:
            return self.parse_group(field)
        if tok.kind == QUOTED:
            self.take()
            if not tok.text.strip():
                raise _Error("empty quotes", tok.pos)
            return self.term(tok.text, field, tok.pos)
        if tok.kind == WORD:
            words = [self.take().text]
            while self.tok.kind == WORD and not one_word:
                words.append(self.take().text)
            return self.term(" ".join(words), field, tok.pos)
        raise _Error(f"unexpected {_describe(tok)}", tok.pos)

    def parse_group(self, field: str | None) -> Node:
        opening = self.take()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Error(f"parentheses are nested more than {MAX_DEPTH} deep", opening.pos)
        if self.tok.kind == RPAREN:
            raise _Error("empty parentheses", opening.pos)
        node = self.parse_or(field)
        if self.tok.kind != RPAREN:
            if self.tok.kind == END:
                raise _Error("unclosed '('", opening.pos)
            raise _Error(f"unexpected {_describe(self.tok)}", self.tok.pos)
        self.take()
        self.depth -= 1
        return node

    def term(self, text: str, field: str | None, pos: int) -> Term:
        self.term_count += 1
        if self.term_count > MAX_TERMS:
            raise _Error(f"too many terms (at most {MAX_TERMS})", pos)
        term = make_term(text, field)
        if term is None:
            raise _Error(f"'{text.strip()}' has no letters or digits to look for", pos)
        return term


def _flatten(kind: type[And] | type[Or], items: list[Node]) -> tuple[Node, ...]:
    out: list[Node] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.children)
        else:
            out.append(item)
    return tuple(out)


def _anchored(node: Node) -> bool:
    """True if the node can only be true when one of its positive terms occurs."""
    if isinstance(node, Term):
        return True
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_anchored(c) for c in node.children)
    return all(_anchored(c) for c in node.children)


def _collect(node: Node, negated: bool, pos: list[Term], neg: list[Term]) -> None:
    if isinstance(node, Term):
        (neg if negated else pos).append(node)
    elif isinstance(node, Not):
        _collect(node.child, not negated, pos, neg)
    else:
        for child in node.children:
            _collect(child, negated, pos, neg)


def _unanchored_alternative(node: Node) -> Node | None:
    """The first OR alternative (looking through ANDs) that has no positive term."""
    if isinstance(node, Or):
        for child in node.children:
            if not _anchored(child):
                return child
            found = _unanchored_alternative(child)
            if found is not None:
                return found
    if isinstance(node, And):
        for child in node.children:
            found = _unanchored_alternative(child)
            if found is not None:
                return found
    return None


# Queries without any operator: just terms and commas (most subscriptions).
_PLAIN = re.compile(r"[^():\-−]*\Z")
_QUOTED_ITEM = re.compile(r'\s*["“”„‟]([^"“”„‟]*)["“”„‟]\s*\Z')
_ANY_QUOTE = re.compile(r'["“”„‟]')


def _parse_plain(query: str, text: str) -> Query | None:
    """The common case without the full parser; None means "use the parser".

    Gives exactly what the parser would; anything unusual (an operator, a keyword,
    an error to report) is left to the parser.
    """
    if not _PLAIN.match(text):
        return None
    terms: list[Term] = []
    for part in text.split(","):
        if _ANY_QUOTE.search(part):
            quoted = _QUOTED_ITEM.match(part)
            if quoted is None:
                return None
            words = quoted.group(1).split()
            if not words:
                return None
        else:
            words = part.split()
            if not words:
                continue
            if not _KEYWORDS.isdisjoint(words):
                return None
        term = make_term(" ".join(words))
        if term is None:
            return None
        terms.append(term)
    if not terms or len(terms) > MAX_TERMS:
        return None
    unique = tuple(dict.fromkeys(terms))
    root = terms[0] if len(terms) == 1 else Or(tuple(terms))
    return Query(query, root, unique, frozenset(unique))


def check_characters(text: str) -> None:
    """Raise :class:`QueryError` at the first character a query may not hold."""
    pos = first_control(text)
    if pos is None:
        return
    code = ord(text[pos])
    if 0xD800 <= code <= 0xDFFF:
        kind = "an unpaired surrogate"
    elif code >= 0x2000:
        kind = "a bidirectional control character"
    else:
        kind = "a control character"
    raise QueryError(f"{kind} (U+{code:04X}) cannot be part of a query", pos + 1)


def parse(query: str, *, stored: bool = False) -> Query:
    """Parse a subscription query; raise :class:`QueryError` if it cannot be used.

    ``stored=True`` reads a query back from the store: it skips the check for control
    characters, which older versions let in, so such a query still matches as it did.
    """
    if len(query) > MAX_LENGTH:
        raise QueryError(f"query is longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    if not stored:
        check_characters(query)
    text, index = nfkc(query)
    plain = _parse_plain(query, text)
    return plain if plain is not None else _parse_full(query, text, index)


def _parse_full(query: str, text: str, index: list[int] | None) -> Query:
    """The parser proper, on the NFKC text; ``index`` maps back to the user's columns."""

    def column(pos: int) -> int:
        if index is None:
            return pos + 1
        return index[pos] + 1 if pos < len(index) else len(query) + 1

    try:
        parser = _Parser(text)
        first = 0
        while parser.tokens[first].kind == COMMA:
            first += 1
        if parser.tokens[first].kind == END:
            raise QueryError("empty query")
        root = parser.parse()
        positive: list[Term] = []
        negative: list[Term] = []
        _collect(root, False, positive, negative)
        if not positive:
            raise QueryError("a query needs at least one term that is not negated")
        if not _anchored(root):
            bad = _unanchored_alternative(root)
            raise _Error(
                "each alternative separated by OR or a comma needs a term that is not negated",
                parser.starts.get(id(bad), 0),
            )
    except _Error as err:
        raise QueryError(err.message, column(err.pos)) from None
    unique_pos = tuple(dict.fromkeys(positive))
    pos_set = frozenset(unique_pos)
    unique_neg = tuple(t for t in dict.fromkeys(negative) if t not in pos_set)
    return Query(query, root, unique_pos + unique_neg, pos_set)
