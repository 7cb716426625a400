"""What the search index stores for a paper: *lexemes*, computed with `paperboy.matching.text`.

Search must agree with subscription matching (see `paperboy.matching.matcher`), and the databases'
own text analysis does not: FTS5's porter tokenizer is Porter 1 (matching uses Snowball),
PostgreSQL's `english` configuration drops stop words and reads "GPT-4" its own way, and
neither knows about case-sensitive acronyms. So the index never sees raw text. It gets
lexemes computed here, and queries are compiled from the very same functions
(`paperboy.search.sql`), which also keeps user input away from any FTS syntax:

- an ordinary word becomes its Snowball stem ("Quantized" -> ``quantiz``). A stem that is
  not plain ``[a-z0-9]`` (other scripts, apostrophes, very long words) becomes
  ``0qs`` + a hash of it, so every lexeme is a plain ASCII word any tokenizer keeps whole;
- an acronym-like word (``is_acronym``: QLoRA, ViT, GPT4o) also gets an *acronym code*,
  ``0qa`` + a hash of its exact surface. A query acronym ("LoRA") must match inside
  longer words (QLoRA, LoRAPrune), which no token index can do by itself: the distinct
  acronym-like surfaces are kept in a small vocabulary table, the query looks up those
  that contain it (case-sensitively) and searches for their codes;
- a separator lexeme between the values of a multi-valued field (keywords, authors), so
  that a phrase never runs from one value into the next, as in matching.

Plain stems never start with ``0q`` (such a stem is hashed too), so lexemes of different
kinds cannot collide except by a 64-bit hash collision.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from paperboy.matching import MAX_STEM_LENGTH, is_acronym, normalize_fast, stem
from paperboy.models import Paper

__all__ = [
    "AUTHOR_PREFIX",
    "SEPARATOR",
    "TITLE_PREFIX",
    "FieldText",
    "IndexDoc",
    "acronym_code",
    "analyze",
    "day_key",
    "docid_range",
    "lexeme",
    "pair_hash",
    "pair_hashes",
    "paper_day",
    "word_lexeme",
]

SEPARATOR = "0qz"
"""Lexeme between the values of one field: never produced for a word."""

TITLE_PREFIX = "0qt"
AUTHOR_PREFIX = "0qu"
"""On SQLite, title and author lexemes are stored with these prefixes, so that their
doclists are separate from the abstract's: a title search reads only title entries (a
column filter would decode every position of the word), and a plain search never
matches an author's name."""

MAX_LEXEME = 60
_PLAIN = re.compile(r"[a-z0-9]+")

#: Bits of a document id below the day: up to 16.7 million papers a day.
DAY_SHIFT = 24


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@lru_cache(maxsize=262144)
def lexeme(word_stem: str) -> str:
    """The index word for a stem: the stem itself when plain ASCII, else a hash code."""
    if len(word_stem) <= MAX_LEXEME and _PLAIN.fullmatch(word_stem) and word_stem[:2] != "0q":
        return word_stem
    return "0qs" + _digest(word_stem)


@lru_cache(maxsize=65536)
def acronym_code(surface: str) -> str:
    """The index word standing for one exact acronym-like surface ("QLoRA")."""
    return "0qa" + _digest(surface)


def word_lexeme(word: str) -> tuple[str, str | None]:
    """(lexeme of the word's stem, acronym code or None) for one word of text.

    Words longer than `MAX_STEM_LENGTH` (hostile text, mostly) are not cached, so the
    caches hold short strings only.
    """
    if len(word) > MAX_STEM_LENGTH:
        code = acronym_code.__wrapped__(word) if is_acronym(word) else None
        return lexeme.__wrapped__(stem(word)), code
    return _word_lexeme(word)


@lru_cache(maxsize=262144)
def _word_lexeme(word: str) -> tuple[str, str | None]:
    return lexeme(stem(word)), acronym_code(word) if is_acronym(word) else None


@dataclass(frozen=True, slots=True)
class FieldText:
    """One field of a paper as lexemes: per value, its words' lexemes, and the acronym
    codes of its acronym-like words as (word index, code) pairs (most values have none)."""

    lexemes: tuple[tuple[str, ...], ...]
    codes: tuple[tuple[tuple[int, str], ...], ...]

    def column(self, prefix: str = "") -> str:
        """FTS5 column text: the lexemes (values split by SEPARATOR), then the codes.

        Codes come after all words, so word positions (phrases) are undisturbed. A
        `prefix` goes before every lexeme and code (see TITLE_PREFIX).
        """
        text = f" {SEPARATOR} ".join(map(" ".join, self.lexemes))
        found = [code for value in self.codes for _, code in value]
        if found:
            text += f" {SEPARATOR} " + " ".join(found)
        if prefix and text:
            text = prefix + text.replace(" ", " " + prefix)
        return text

    def pairs(self) -> str:
        """Each two neighbouring lexemes of a value as one word (`pair_words`)."""
        out: list[str] = []
        for value in self.lexemes:
            out.extend(pair_words(value))
        return " ".join(out)


_EMPTY = FieldText((), ())

#: Word pairs are looked up by their lexemes' buckets: 256 per lexeme, two of the first
#: 16 digits each.
PAIR_DIGITS = "0123456789abcdefghijklmnopqrstuv"
_PAIR_CODE: dict[str, str] = {}


def _pair_code(lex: str) -> str:
    code = _PAIR_CODE.get(lex)
    if code is None:
        if len(_PAIR_CODE) > _CACHE_LIMIT:
            _PAIR_CODE.clear()
        n = zlib.crc32(lex.encode()) & 255
        code = _PAIR_CODE[lex] = PAIR_DIGITS[n >> 4] + PAIR_DIGITS[n & 15]
    return code


def pair_words(lexemes: Sequence[str]) -> list[str]:
    """The index words of each two neighbouring `lexemes` (tantivy's phrase filter: a
    phrase's pairs are looked up before its positions are read).

    A pair word is the two lexemes' buckets (256 each), not the lexemes: the pairs of
    an archive's words number in the millions and tantivy's word lists with them (a
    five times slower ingest, measured), while 65,536 bucket pairs still leave a
    phrase of two common words a few percent of the papers holding both. A pair word is
    a filter only: the phrase's positions decide.
    """
    codes = list(map(_PAIR_CODE.get, lexemes))  # in C; the few unknown ones after
    if None in codes:
        codes = [code or _pair_code(lex) for code, lex in zip(codes, lexemes, strict=True)]
    return list(map(str.__add__, codes, codes[1:]))  # type: ignore[arg-type]


_PAIR_HASH: dict[str, int] = {}
#: Mixes the first lexeme's hash before the second's is XORed in: for one first lexeme,
#: every second gives another number. (Odd, so the product keeps all 32 bits.)
_PAIR_MIX = 0x9E3779B1


def _lexeme_hash(lex: str) -> int:
    value = _PAIR_HASH.get(lex)
    if value is None:
        if len(_PAIR_HASH) > _CACHE_LIMIT:
            _PAIR_HASH.clear()
        value = _PAIR_HASH[lex] = zlib.crc32(lex.encode())
    return value


def pair_hash(first: str, second: str) -> int:
    """PostgreSQL: two neighbouring lexemes as one signed 32-bit number (from the CRC-32s
    of both).

    A paper's pairs are an integer array with a GIN index of its own
    (`search_vectors.pairs`), which a phrase asks for before positions are compared: a
    phrase of two common words then reads the few papers that hold the pair, not every
    paper that holds both words. Two pairs sharing a number only add candidates: the
    phrase's positions decide.
    """
    mixed = (_lexeme_hash(first) * _PAIR_MIX ^ _lexeme_hash(second)) & 0xFFFFFFFF
    return mixed - 0x80000000


def pair_hashes(fields: Iterable[FieldText]) -> list[int]:
    """PostgreSQL: `pair_hash` of each two neighbouring lexemes of every value of `fields`
    (none across values, as no phrase runs across them), sorted, each once."""
    out: set[int] = set()
    for field in fields:
        for value in field.lexemes:
            found = list(map(_PAIR_HASH.get, value))  # in C; the few unknown ones after
            hashes = (
                [h if h is not None else _lexeme_hash(lex)
                 for h, lex in zip(found, value, strict=True)]
                if None in found
                else cast("list[int]", found)
            )  # fmt: skip
            out.update(
                ((a * _PAIR_MIX ^ b) & 0xFFFFFFFF) - 0x80000000
                for a, b in itertools.pairwise(hashes)
            )
    return sorted(out)


# Normalised text has no "_" (normalize() turns underscores into spaces), and there
# `\w` is exactly paperboy.matching.text.WORD_RE's `[^\W_]`: the same words, found faster.
_WORDS = re.compile(r"\w+(?:'\w+)*")
# ASCII text (most of it): runs of letters, digits and apostrophes via bytes.translate and
# split(); only runs with an apostrophe go through the regex.
_ASCII_RUNS = bytes(c if chr(c).isalnum() or c == 39 else 32 for c in range(256))


def _words(normal: str) -> list[str]:
    """Exactly `paperboy.matching.text.words_of(normal)` for normalised text, faster."""
    if not normal.isascii():
        return _WORDS.findall(normal)
    runs = normal.encode("ascii").translate(_ASCII_RUNS).decode("ascii").split()
    if "'" not in normal:
        return runs
    out: list[str] = []
    for run in runs:
        if "'" in run:
            out.extend(_WORDS.findall(run))
        else:
            out.append(run)
    return out


# word -> lexeme and word -> acronym code: plain dicts, cheaper than lru_cache per word.
_LEX: dict[str, str] = {}
_CODE: dict[str, str] = {}  # the acronym-like words among them: word -> acronym code
_CACHE_LIMIT = 500_000
#: ... and at most about this many characters of words (long words are rare but large).
_CACHE_CHARS = 20_000_000
_cached_chars = 0


def _lookup(words: list[str]) -> tuple[str, ...]:
    """The lexemes of `words` (each word's lexeme and code computed once per process)."""
    global _cached_chars
    try:
        return tuple(map(_LEX.__getitem__, words))
    except KeyError:
        if len(_LEX) > _CACHE_LIMIT or _cached_chars > _CACHE_CHARS:
            _LEX.clear()
            _CODE.clear()
            _cached_chars = 0
        for word in words:
            if word not in _LEX:
                _LEX[word], code = word_lexeme(word)
                _cached_chars += len(word)
                if code is not None:
                    _CODE[word] = code
        return tuple(map(_LEX.__getitem__, words))


def _field(values: Iterable[str]) -> tuple[FieldText, set[str]]:
    lexemes: list[tuple[str, ...]] = []
    codes: list[tuple[tuple[int, str], ...]] = []
    surfaces: set[str] = set()
    for value in values:
        if not value:
            continue
        words = _words(normalize_fast(value)[0])
        if not words:
            continue
        lexemes.append(_lookup(words))
        acronyms = _CODE.keys() & words  # in C: most values have no acronym at all
        if acronyms:
            codes.append(tuple((i, _CODE[w]) for i, w in enumerate(words) if w in acronyms))
            surfaces |= acronyms
        else:
            codes.append(())
    if not lexemes:
        return _EMPTY, surfaces
    return FieldText(tuple(lexemes), tuple(codes)), surfaces


def paper_day(paper: Paper) -> dt.date | None:
    """The date a search sorts and filters a paper by: its daily list, else published."""
    if paper.daily_date is not None:
        return paper.daily_date
    if paper.published_at is not None:
        return paper.published_at.astimezone(dt.UTC).date()
    return None


def day_key(day: dt.date | None) -> int:
    """The first document id of a day (papers without a date sort before all others)."""
    return (day.toordinal() if day is not None else 0) << DAY_SHIFT


def docid_range(since: dt.date | None, until: dt.date | None) -> tuple[int, int]:
    """Inclusive document id bounds of the papers dated `since`..`until`.

    Undated papers (day key 0) are in range only when neither bound is given.
    """
    if since is not None:
        low = day_key(since)
    else:
        low = 0 if until is None else day_key(dt.date.min)
    high = (day_key(until) + (1 << DAY_SHIFT) - 1) if until is not None else (1 << 62)
    return low, high


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """A paper as the index stores it (both backends build their rows from this)."""

    paper_id: str
    day: dt.date | None
    upvotes: int
    has_code: bool
    title: FieldText
    abstract: FieldText
    extra: FieldText  # HF ai_summary, then each ai_keyword
    authors: FieldText
    acronyms: frozenset[str]  # acronym-like surfaces, for the vocabulary

    @property
    def fields(self) -> tuple[FieldText, ...]:
        return (self.title, self.abstract, self.extra, self.authors)


def analyze(paper: Paper) -> IndexDoc:
    """Lexemes of every searchable field of `paper` (the fields matching reads)."""
    title, s1 = _field((paper.title,))
    abstract, s2 = _field((paper.abstract,))
    extra, s3 = _field((paper.ai_summary or "", *paper.ai_keywords))
    authors, s4 = _field(paper.authors)
    return IndexDoc(
        paper_id=paper.id,
        day=paper_day(paper),
        upvotes=paper.upvotes,
        has_code=paper.github_url is not None,
        title=title,
        abstract=abstract,
        extra=extra,
        authors=authors,
        acronyms=frozenset(s1 | s2 | s3 | s4),
    )


def query_lexemes(words: Sequence[str]) -> list[str | None]:
    """Per query word: its lexeme, or None for an acronym (looked up by surface)."""
    return [None if is_acronym(w) else lexeme(stem(w)) for w in words]
