"""Text normalisation, tokenising and stemming shared by matching and search.

Everything that compares a query with a paper goes through the same three steps, so
the query side and the paper side always agree:

1. :func:`normalize`: Unicode NFKC (fullwidth letters, ligatures such as "ﬁ" and
   the like become their plain forms), then every dash, slash and underscore becomes
   a space ("pipeline-parallel" reads as "pipeline parallel") and curly apostrophes
   become "'". It also returns, per normalised character, the index of the original
   character it came from, so that spans found in the normalised text map back onto
   the text a user sees.
2. :func:`tokenize`: a word is a run of Unicode letters and digits; an apostrophe
   between two such characters stays inside the word ("LoRA's", "model's"), so that
   possessives neither split a phrase nor leave a stray "s" token behind.
3. :func:`stem`: lower case plus the Snowball English stemmer. A word longer than
   :data:`MAX_STEM_LENGTH` is only lower-cased: the stemmer's time grows with the square
   of a word's length (a run of "y" is the worst case; 400,000 of them took 22 s), and
   no real word is that long. Matching, indexing and queries all stem through this one
   function, so they agree on such words too (a long word matches only itself).

:func:`first_control` and :func:`escape_controls` cover the characters a query may not
hold (:data:`CONTROL_RE`): C0 and C1 controls, DEL, lone surrogates and the Unicode
bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which
would make a query read differently from what it searches for.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import snowballstemmer

__all__ = [
    "BREAK_CHARS",
    "CONTROL_RE",
    "MAX_STEM_LENGTH",
    "WORD_RE",
    "Token",
    "escape_controls",
    "first_control",
    "is_acronym",
    "nfkc",
    "normalize",
    "normalize_fast",
    "original_span",
    "stem",
    "tokenize",
    "words_of",
]

# Unicode dashes (general category Pd, plus the minus sign and the hyphen bullet),
# slashes and underscores. Those that NFKC already folds (fullwidth forms, small
# forms) are listed anyway so the table does not depend on the NFKC step.
_DASHES = (
    "\u002d\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212"
    "\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63"
    "\uff0d\U00010ead"
)
_SLASHES = "/\\\u2044\u2215\u29f8\u29f9\uff0f\uff3c"
_UNDERSCORES = "_\u2017\ufe4d\ufe4e\ufe4f\uff3f"
BREAK_CHARS = frozenset(_DASHES + _SLASHES + _UNDERSCORES)
"""Characters read as word breaks (replaced by a space by :func:`normalize`)."""

_APOSTROPHES = "\u2018\u2019\u02bc\uff07"
_TRANSLATE = {ord(c): " " for c in BREAK_CHARS} | {ord(c): "'" for c in _APOSTROPHES}

# [^\W_] is "a character str.isalnum() accepts"; words may hold inner apostrophes.
WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


class _ThreadStemmer(threading.local):
    """One Snowball stemmer per thread: a stemmer keeps its word in its own state, and
    matching runs in worker threads (the planner, commands) as well as on the loop."""

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("english")

    def stemWord(self, word: str) -> str:  # the stemmer's own name
        return self._stemmer.stemWord(word)


_STEMMER = _ThreadStemmer()

MAX_STEM_LENGTH = 64
"""Words longer than this (in characters) are not stemmed, only lower-cased."""

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
"""Characters refused in queries: C0/C1 controls, DEL, bidi controls, lone surrogates.

Left-to-right and right-to-left *marks* (U+200E, U+200F), joiners and other format
characters are allowed: they cannot reorder the text around them, and right-to-left
writers' keyboards insert them.
"""


class Token(NamedTuple):
    """A word of normalised text: ``text[start:end] == surface``.

    A named tuple rather than a dataclass: there is one per word of every abstract.
    """

    start: int
    end: int
    surface: str


def _nfkc_segments(text: str) -> tuple[str, list[int]]:
    """NFKC-normalise ``text`` piecewise, remembering where each piece came from.

    A piece is a character plus whatever NFKC would combine with it (combining
    marks, Hangul jamo, ...). Each piece is normalised on its own, so every output
    character can be attributed to the original index where its piece starts.
    """
    out: list[str] = []
    index: list[int] = []
    piece_start = 0
    piece: list[str] = []  # a list: a run of thousands of combining marks stays linear

    def flush() -> None:
        normal = unicodedata.normalize("NFKC", "".join(piece))
        out.append(normal)
        index.extend([piece_start] * len(normal))

    for i, char in enumerate(text):
        if piece and (
            char < "\x80" or (not unicodedata.combining(char) and not _joins("".join(piece), char))
        ):
            flush()
            piece, piece_start = [], i
        piece.append(char)
    if piece:
        flush()
    return "".join(out), index


def _joins(piece: str, char: str) -> bool:
    """Whether NFKC composes the starter ``char`` with the ``piece`` before it."""
    together = unicodedata.normalize("NFKC", piece + char)
    apart = unicodedata.normalize("NFKC", piece) + unicodedata.normalize("NFKC", char)
    return together != apart


def nfkc(text: str) -> tuple[str, list[int] | None]:
    """NFKC only (no word-break folding); index map or ``None`` when unchanged.

    The query parser uses this: it must still see '-' (negation) and '(' etc.
    """
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text, None
    return _nfkc_segments(text)


def normalize_fast(text: str) -> tuple[str, list[int] | None]:
    """Like :func:`normalize`, but the map is ``None`` when it is the identity.

    Most paper text is plain ASCII; this avoids building a list per field.
    """
    normal, index = nfkc(text)
    return normal.translate(_TRANSLATE), index


def normalize(text: str) -> tuple[str, list[int]]:
    """NFKC + dashes/slashes/underscores as spaces + curly apostrophes as "'".

    Returns the normalised text and, per normalised character, the index of the
    original character it came from (see :func:`original_span` to map a range).
    """
    normal, index = normalize_fast(text)
    return normal, list(range(len(normal))) if index is None else index


def original_span(
    index: list[int] | None, start: int, end: int, original_length: int
) -> tuple[int, int]:
    """Map the normalised range ``[start, end)`` back onto the original text.

    A range that ends inside the expansion of one original character (half of an
    "ﬁ" ligature) is widened to cover that whole character.
    """
    if index is None:
        return start, end
    if start >= end:
        pos = index[start] if start < len(index) else original_length
        return pos, pos
    last = index[end - 1]
    for k in range(end, len(index)):
        if index[k] != last:
            return index[start], index[k]
    return index[start], original_length


def tokenize(text: str) -> list[Token]:
    """Words of already normalised text, with their offsets in that text."""
    return [Token(m.start(), m.end(), m.group()) for m in WORD_RE.finditer(text)]


def words_of(text: str) -> list[str]:
    """Just the words of already normalised text (faster than :func:`tokenize`)."""
    return WORD_RE.findall(text)


def stem(word: str) -> str:
    """Lower case + Snowball English ("Quantized" -> "quantiz").

    A word longer than :data:`MAX_STEM_LENGTH` is only lower-cased (and not cached).
    """
    if len(word) > MAX_STEM_LENGTH:
        return word.lower()
    return _stem(word)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word.lower())


def first_control(text: str) -> int | None:
    """Index of the first character of ``text`` that :data:`CONTROL_RE` refuses."""
    found = CONTROL_RE.search(text)
    return None if found is None else found.start()


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with each character of :data:`CONTROL_RE` written as ``\\x1b``/``\\u202e``."""
    return CONTROL_RE.sub(_escape, text)


def is_acronym(word: str) -> bool:
    """A capital letter after the first character: LoRA, ViT, MoE, GPTQ, 3D.

    Such words are matched case-sensitively and also inside longer words.
    """
    rest = word[1:]
    return rest != rest.lower() and any(c.isupper() for c in rest)
