"""Match a batch of papers against all subscriptions at once.

:meth:`Matcher.compile` turns every subscription query into one index, so that a
scan costs time in proportion to the text, not to the number of subscriptions:

- Identical terms (same words, same field) are merged across all queries, and
  identical queries too; each distinct word sequence is one *pattern*.
- Ordinary words: each token of a field is stemmed once (stems are cached) and looked
  up in a dict of pattern first words; phrases are then verified token by token.
- Acronym-like words (LoRA, ViT) are case-sensitive and may sit inside a longer word
  (QLoRA), so they are found by one Aho-Corasick automaton over the normalised text.
  Every hit lies inside a token because acronyms consist of word characters only.
- A pattern found in a field fires the terms allowed there (``title:`` only in the
  title, ``author:`` only in the authors, unprefixed terms in title, abstract,
  ai_summary and ai_keywords). Each fired term gets a posting list (the papers of
  the batch it occurs in), and an inverted index leads from terms to the queries
  that use them positively. The query parser guarantees that a query can only match
  when one of its positive terms occurs, so no other query is looked at.
- Results are built term by term, not subscription by subscription (see
  :class:`Matcher`): a plain list of alternatives (the common case) needs no AST
  evaluation, only C-level list copies and integer sorts; queries with AND/NOT are
  evaluated on the papers that contain one of their positive terms.

Spans are reported on the original text of each field. Fields holding several
values (``ai_keywords``, ``authors``) are reported on the values joined with ", "
(see :func:`field_text`); phrases never run from one value into the next. A span
covers whole words: an acronym found inside "QLoRA" highlights "QLoRA", which also
keeps renderers away from markup in the middle of a word (Slack ignores it there).
"""

from __future__ import annotations

import bisect
import gc
import itertools
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ahocorasick

from paperboy.matching.query import And, Node, Not, Or, Query, Term, make_term, parse, words_key
from paperboy.matching.text import WORD_RE, normalize_fast, original_span, stem
from paperboy.models import Paper, Span

__all__ = [
    "DEFAULT_FIELDS",
    "FIELDS",
    "SEPARATOR",
    "MatchResult",
    "Matcher",
    "PaperMatch",
    "field_text",
    "field_values",
    "highlight",
    "merge_spans",
]

DEFAULT_FIELDS = ("title", "abstract", "ai_summary", "ai_keywords")
"""Fields an unprefixed term is looked for in."""
FIELDS = (*DEFAULT_FIELDS, "authors")
_SHORT_FIELDS_FIRST = ("title", "ai_summary", "ai_keywords", "abstract", "authors")
SEPARATOR = ", "
"""Joins the values of ``ai_keywords`` and ``authors`` into the text spans refer to."""

# A query field prefix and the paper fields it allows.
_ALLOWED: dict[str | None, tuple[str, ...]] = {
    None: DEFAULT_FIELDS,
    "title": ("title",),
    "abstract": ("abstract",),
    "author": ("authors",),
}

WordsKey = tuple[tuple[bool, str], ...]
Hits = dict[int, list[tuple[int, int]]]  # pattern id -> ranges [i, j)


@dataclass(frozen=True, slots=True)
class PaperMatch:
    """One paper matched for one subscription key.

    ``matched_terms``: display text of the positive terms that made the query true,
    in query order. ``spans``: per field name (see :data:`FIELDS`), where they occur
    in that field's original text. Treat ``spans`` as read-only: identical matches
    share it.
    """

    paper: Paper
    matched_terms: tuple[str, ...]
    spans: dict[str, tuple[Span, ...]]


def field_values(paper: Paper, field: str) -> tuple[str, ...]:
    """The separate values of a paper field (one for title/abstract/ai_summary)."""
    if field == "ai_keywords":
        return tuple(paper.ai_keywords)
    if field == "authors":
        return tuple(paper.authors)
    value = getattr(paper, field)
    return (value,) if value else ()


def field_text(paper: Paper, field: str) -> str:
    """The text that :attr:`PaperMatch.spans` offsets for ``field`` refer to."""
    return SEPARATOR.join(field_values(paper, field))


def merge_spans(spans: Iterable[tuple[int, int]]) -> tuple[Span, ...]:
    """Sort ranges and merge those that overlap or touch."""
    ordered = sorted(spans)
    if len(ordered) == 1:
        return (Span(*ordered[0]),)
    out: list[list[int]] = []
    for start, end in ordered:
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple(Span(s, e) for s, e in out)


# --- the pattern index --------------------------------------------------------------


class _Entry:
    """The patterns that start with one word."""

    __slots__ = ("pairs", "single", "tails")

    def __init__(self) -> None:
        self.single = -1  # the one-word pattern, if any
        # Longer patterns: by the stem of their second word when that is an ordinary
        # word (one dict lookup rules most of them out), else in a list to verify.
        self.pairs: dict[str, list[tuple[int, WordsKey]]] = {}
        self.tails: list[tuple[int, WordsKey]] = []


class _Scanner:
    """Finds word sequences (patterns) in text: stem dict + acronym automaton."""

    def __init__(self, patterns: Iterable[tuple[int, WordsKey]]) -> None:
        self.first: dict[str, _Entry] = {}  # first-word stem -> entry
        acronyms: dict[str, _Entry] = {}  # first-word acronym -> entry
        for pid, key in patterns:
            (is_acr, head), tail = key[0], key[1:]
            table = acronyms if is_acr else self.first
            entry = table.get(head)
            if entry is None:
                entry = table[head] = _Entry()
            if not tail:
                entry.single = pid
            elif tail[0][0]:
                entry.tails.append((pid, tail))
            else:
                entry.pairs.setdefault(tail[0][1], []).append((pid, tail[1:]))
        # The first letters of the first stems, and those letters in either case.
        self.initials = frozenset(head[:1] for head in self.first)
        self.cased = self.initials | {c.upper() for c in self.initials}
        self.automaton: Any = None
        if acronyms:
            automaton = ahocorasick.Automaton()
            for word, entry in acronyms.items():
                automaton.add_word(word, (len(word), entry))
            automaton.make_automaton()
            self.automaton = automaton

    def scan(self, text: str) -> Hits | None:
        """Patterns found in normalised text: pattern id -> character ranges.

        Only words that can start a pattern are stemmed: a word's stem begins with the
        word's first letter lower-cased (Snowball keeps it; tests/unit check this), so
        a word whose first letter starts no pattern's first stem is skipped unstemmed.
        """
        surfaces = WORD_RE.findall(text)
        if not surfaces:
            return None
        hits: Hits = {}
        first = self.first
        initials, cased = self.initials, self.cased
        stems: list[str] | None = None  # every word's stem, made once a phrase needs it
        for i, word in enumerate(surfaces):
            c = word[0]
            if c not in cased and (c.isascii() or c.lower()[:1] not in initials):
                continue
            entry = first.get(stem(word))
            if entry is not None:
                if entry.single >= 0:
                    found = hits.get(entry.single)
                    if found is None:
                        hits[entry.single] = [(i, i + 1)]
                    else:
                        found.append((i, i + 1))
                if entry.pairs or entry.tails:
                    if stems is None:
                        stems = list(map(stem, surfaces))
                    _phrases(entry, i, surfaces, stems, hits)
        matches: list[re.Match[str]] | None = None
        if self.automaton is not None:
            starts: list[int] | None = None
            for end, (length, entry) in self.automaton.iter(text):
                if starts is None:
                    matches = list(WORD_RE.finditer(text))
                    starts = [m.start() for m in matches]
                i = bisect.bisect_right(starts, end - length + 1) - 1
                if entry.single >= 0:
                    hits.setdefault(entry.single, []).append((i, i + 1))
                if entry.pairs or entry.tails:
                    if stems is None:
                        stems = list(map(stem, surfaces))
                    _phrases(entry, i, surfaces, stems, hits)
        if not hits:
            return None
        if matches is None:
            matches = list(WORD_RE.finditer(text))
        # Character ranges now, so the tokens need not be kept for the spans.
        return {
            pid: [(matches[i].start(), matches[j - 1].end()) for i, j in ranges]
            for pid, ranges in hits.items()
        }


def _phrases(entry: _Entry, i: int, surfaces: list[str], stems: list[str], hits: Hits) -> None:
    """Record the longer patterns of ``entry`` that continue from token ``i``."""
    n = len(stems)
    if entry.pairs and i + 1 < n:
        for pid, rest in entry.pairs.get(stems[i + 1], ()):
            end = _continues(rest, i + 2, surfaces, stems)
            if end:
                hits.setdefault(pid, []).append((i, end))
    for pid, rest in entry.tails:
        end = _continues(rest, i + 1, surfaces, stems)
        if end:
            hits.setdefault(pid, []).append((i, end))


def _continues(rest: WordsKey, j: int, surfaces: list[str], stems: list[str]) -> int:
    """Token index after ``rest`` if it matches from token ``j``, else 0."""
    if j + len(rest) > len(stems):
        return 0
    for is_acr, word in rest:
        if not (word in surfaces[j] if is_acr else stems[j] == word):
            return 0
        j += 1
    return j


@dataclass(slots=True)
class _Value:
    """One scanned value of a field, kept to turn hits into spans."""

    length: int
    offset: int
    index: list[int] | None
    hits: Hits  # pattern id -> character ranges in the normalised value

    def spans(self, pid: int) -> list[tuple[int, int]]:
        offset = self.offset
        if self.index is None:  # plain text: positions are the original ones
            return [(start + offset, end + offset) for start, end in self.hits.get(pid, ())]
        out = []
        for start, end in self.hits.get(pid, ()):
            start, end = original_span(self.index, start, end, self.length)
            out.append((start + offset, end + offset))
        return out


def _scan_values(scanner: _Scanner, values: Sequence[str]) -> list[_Value]:
    out: list[_Value] = []
    offset = 0
    for value in values:
        normal, index = normalize_fast(value)
        hits = scanner.scan(normal)
        if hits is not None:
            out.append(_Value(len(value), offset, index, hits))
        offset += len(value) + len(SEPARATOR)
    return out


# --- compiled queries -----------------------------------------------------------------

# A query AST over term ids: ("t", tid) | ("n", child) | ("a", children) | ("o", children)
_Compiled = tuple[Any, ...]


def _compile_node(node: Node, tid_of: dict[Any, int]) -> _Compiled:
    if isinstance(node, Term):
        return ("t", tid_of[node.match_key])
    if isinstance(node, Not):
        return ("n", _compile_node(node.child, tid_of))
    kind = "a" if isinstance(node, And) else "o"
    assert isinstance(node, And | Or)
    return (kind, tuple(_compile_node(c, tid_of) for c in node.children))


def _evaluate(node: _Compiled, fired: dict[int, Any]) -> set[int] | None:
    """None if false; else the positive term ids that make it true."""
    kind = node[0]
    if kind == "t":
        return {node[1]} if node[1] in fired else None
    if kind == "n":
        return None if _evaluate(node[1], fired) is not None else set()
    found: set[int] = set()
    if kind == "a":
        for child in node[1]:
            sub = _evaluate(child, fired)
            if sub is None:
                return None
            found |= sub
        return found
    matched = False
    for child in node[1]:
        sub = _evaluate(child, fired)
        if sub is not None:
            matched = True
            found |= sub
    return found if matched else None


@dataclass(slots=True)
class _QueryInfo:
    text_of: dict[int, str]  # positive term id -> display text, in query order
    tree: _Compiled | None  # None: a plain list of alternatives
    keys: list[int]


class _PaperState:
    """What one paper's scan found: per field its values; per term the fields."""

    __slots__ = ("fields", "fired", "made", "paper", "term_spans")

    def __init__(self, paper: Paper) -> None:
        self.paper = paper
        self.fields: dict[str, list[_Value]] = {}
        self.fired: dict[int, list[str]] = {}  # term id -> fields it occurs in
        self.term_spans: dict[int, dict[str, tuple[Span, ...]]] = {}
        self.made: dict[tuple[Any, ...], PaperMatch] = {}  # (texts, term ids) -> match


class Matcher:
    """All subscriptions compiled into one index. Build with :meth:`compile`.

    Distinct queries fall into three groups, each matched its own cheapest way:

    - one term (``LoRA``): the result is the list of matches of that term, built
      once per batch from the term's posting list and copied to every key;
    - several alternatives (``LoRA, MoE``): the union of those lists, as one sort
      of integers that order like the papers, with one combined match for a paper
      that has several of the terms;
    - anything with AND or NOT: evaluated on the papers that contain one of its
      positive terms.

    Identical terms and identical queries are shared by all subscriptions, and
    equal matches are shared objects, so a key's list costs a copy. What is left
    grows with the matched (key, paper) pairs, which no matcher can avoid.
    """

    def __init__(self) -> None:
        self._keys: list[Hashable] = []
        self._queries: list[_QueryInfo] = []
        self._term_pattern: list[int] = []  # term id -> pattern id
        # term id -> (query, display text, keys) of one-term queries
        self._singles: list[list[tuple[int, str, list[int]]]] = []
        self._alternatives: list[list[int]] = []  # term id -> lists of alternatives
        self._complex: list[list[int]] = []  # term id -> queries to evaluate
        self._default = _Scanner(())
        self._authors = _Scanner(())
        self._has_author_terms = False
        self._fire: dict[str, dict[int, list[int]]] = {f: {} for f in FIELDS}
        # (key, query) -> when it was given: a key's queries merge in that order
        self._order: dict[tuple[int, int], int] = {}
        self._key_queries: list[list[int]] = []  # key -> its queries, in that order

    @classmethod
    def compile(cls, subscriptions: Iterable[tuple[Hashable, str | Query]]) -> Matcher:
        """Parse (if needed) and index all queries; raises QueryError for a bad one.

        Query strings are read as stored ones (``parse(text, stored=True)``): user
        input is checked with :func:`paperboy.matching.query.parse` before it is stored or used.

        A key may come with several queries (say, all of one channel's): it then
        gets one :class:`PaperMatch` per paper, with the terms of all its queries.
        """
        self = cls()
        by_source: dict[str, int] = {}
        by_root: dict[Node, int] = {}
        key_index: dict[Hashable, int] = {}
        tid_of: dict[Any, int] = {}
        pid_of: dict[WordsKey, int] = {}
        term_field: list[str | None] = []

        def query_index(query: Query) -> int:
            qi = by_root.get(query.root)
            if qi is None:
                qi = by_root[query.root] = len(self._queries)
                self._queries.append(self._add_query(query, tid_of, pid_of, term_field))
            return qi

        for key, query in subscriptions:
            if isinstance(query, str):
                qi = by_source.get(query)
                if qi is None:
                    qi = by_source[query] = query_index(parse(query, stored=True))
            else:
                qi = query_index(query)
            ki = key_index.get(key)
            if ki is None:
                ki = key_index[key] = len(self._keys)
                self._keys.append(key)
            if (ki, qi) not in self._order:
                self._order[ki, qi] = len(self._order)
                self._queries[qi].keys.append(ki)
        self._build_index(pid_of, term_field)
        self._key_queries = [[] for _ in self._keys]
        for (ki, qi), _ in sorted(self._order.items(), key=lambda item: item[1]):
            self._key_queries[ki].append(qi)
        return self

    def _add_query(
        self,
        query: Query,
        tid_of: dict[Any, int],
        pid_of: dict[WordsKey, int],
        term_field: list[str | None],
    ) -> _QueryInfo:
        qi = len(self._queries)
        ids: dict[Term, int] = {}
        for term in query.terms:
            tid = tid_of.get(term)
            if tid is None:
                key = term.match_key
                tid = tid_of.get(key)
            if tid is None:
                tid = tid_of[key] = len(self._term_pattern)
                words = key[1]
                pid = pid_of.get(words)
                if pid is None:
                    pid = pid_of[words] = len(pid_of)
                self._term_pattern.append(pid)
                self._singles.append([])
                self._alternatives.append([])
                self._complex.append([])
                term_field.append(term.field)
            tid_of[term] = tid  # the same Term object comes back often: skip the key
            ids[term] = tid
        text_of: dict[int, str] = {}
        for term in query.terms:
            if term in query.positive:
                text_of.setdefault(ids[term], term.text)
        simple = query.is_simple
        info = _QueryInfo(text_of, None if simple else _compile_node(query.root, tid_of), [])
        if not simple:
            for tid in text_of:
                self._complex[tid].append(qi)
        elif len(text_of) == 1:
            tid, text = next(iter(text_of.items()))
            self._singles[tid].append((qi, text, info.keys))
        else:
            for tid in text_of:
                self._alternatives[tid].append(qi)
        return info

    def _build_index(self, pid_of: dict[WordsKey, int], term_field: list[str | None]) -> None:
        default: set[int] = set()
        authors: set[int] = set()
        for tid, field in enumerate(term_field):
            pid = self._term_pattern[tid]
            (authors if field == "author" else default).add(pid)
            for name in _ALLOWED[field]:
                self._fire[name].setdefault(pid, []).append(tid)
        self._default = _Scanner((pid, k) for k, pid in pid_of.items() if pid in default)
        self._authors = _Scanner((pid, k) for k, pid in pid_of.items() if pid in authors)
        self._has_author_terms = bool(authors)

    @property
    def size(self) -> dict[str, int]:
        """Counts of keys, distinct queries, distinct terms and patterns."""
        return {
            "keys": len(self._keys),
            "queries": len(self._queries),
            "terms": len(self._term_pattern),
            "patterns": len(set(self._term_pattern)),
        }

    # --- matching -------------------------------------------------------------------

    def match(self, papers: Sequence[Paper], *, complete: bool = True) -> MatchResult:
        """Key -> matches, papers in input order; keys without a match are absent.

        `complete=False` (search, which shows a paper's matched terms but not their
        spans): a paper's fields are scanned title, summary, keywords, abstract,
        authors, and no further once every term of the matcher has been found in it;
        which papers match and which terms matched are the same, the spans of a match
        cover only the fields scanned.

        Which papers each query matches is decided here, for every key at once, as
        one bitmask (a Python int, bit i = paper i) per query: a term's mask comes
        from its posting list and a query's from one C-level integer operation per
        term (OR for alternatives; AND/NOT on masks for the rest). That costs time
        in proportion to the text and the number of distinct terms, not to the
        number of matched (key, paper) pairs. The :class:`PaperMatch` lists, which
        do grow with the pairs, are built when a key is read (a digest reads only
        its own target's keys).
        """
        # Scanning allocates many small objects and no reference cycles; the cyclic
        # collector would only walk them again and again.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            batch = _Batch(self, papers, complete)
        finally:
            if gc_was_enabled:
                gc.enable()
        masks = {tid: _mask_of(positions) for tid, positions in batch.postings.items()}
        candidates: set[int] = set()
        for tid in batch.postings:
            candidates.update(qi for qi, _, _ in self._singles[tid])
            candidates.update(self._alternatives[tid])
            candidates.update(self._complex[tid])
        everything = (1 << len(batch.papers)) - 1
        query_masks: dict[int, int] = {}
        for qi in candidates:
            info = self._queries[qi]
            if info.tree is None:
                mask = 0
                for tid in info.text_of:
                    mask |= masks.get(tid, 0)
            else:
                mask = _evaluate_mask(info.tree, masks, everything)
            if mask:
                query_masks[qi] = mask
        key_masks: dict[int, int] = {}
        for qi, mask in query_masks.items():
            for ki in self._queries[qi].keys:
                key_masks[ki] = key_masks.get(ki, 0) | mask
        return MatchResult(self, batch, query_masks, key_masks)

    def _materialise(self, batch: _Batch, ki: int, query_masks: dict[int, int]) -> list[PaperMatch]:
        """The match list of key ``ki``: its matching queries' results, merged."""
        results: list[_Result] = []
        for qi in self._key_queries[ki]:
            if qi not in query_masks:
                continue
            info = self._queries[qi]
            if info.tree is not None:
                results.append(batch.evaluate(info))
            elif len(info.text_of) == 1:
                ((tid, text),) = info.text_of.items()
                results.append((batch.postings[tid], batch.term_matches(tid, text)))
            else:
                results.append(batch.alternatives(info))
        if len(results) == 1:
            return results[0][1].copy()  # lists are shared between keys: copy
        return batch.merge_results(results)

    def _scan(self, paper: Paper, complete: bool = True) -> _PaperState:
        state = _PaperState(paper)
        terms = len(self._term_pattern)
        for name in FIELDS if complete else _SHORT_FIELDS_FIRST:
            if not complete and len(state.fired) == terms:
                break  # every term found: the rest cannot change what matches
            if name == "authors":
                if not self._has_author_terms:
                    continue
                scanner = self._authors
            else:
                scanner = self._default
            values = _scan_values(scanner, field_values(paper, name))
            if not values:
                continue
            state.fields[name] = values
            fire = self._fire[name]
            for value in values:
                for pid in value.hits:
                    for tid in fire.get(pid, ()):
                        fields = state.fired.setdefault(tid, [])
                        if not fields or fields[-1] != name:
                            fields.append(name)
        return state


def _mask_of(positions: Iterable[int]) -> int:
    mask = 0
    for i in positions:
        mask |= 1 << i
    return mask


def _evaluate_mask(node: _Compiled, masks: dict[int, int], everything: int) -> int:
    """The papers (as a bitmask) for which a compiled query tree is true."""
    kind = node[0]
    if kind == "t":
        return masks.get(node[1], 0)
    if kind == "n":
        return everything & ~_evaluate_mask(node[1], masks, everything)
    if kind == "a":
        mask = everything
        for child in node[1]:
            mask &= _evaluate_mask(child, masks, everything)
            if not mask:
                break
        return mask
    mask = 0
    for child in node[1]:
        mask |= _evaluate_mask(child, masks, everything)
    return mask


class MatchResult(Mapping[Hashable, list[PaperMatch]]):
    """What :meth:`Matcher.match` decided: a read-only mapping key -> matches.

    Every key's set of matched papers is known (``positions``, ``pairs``); its list
    of :class:`PaperMatch` is built on first access and kept.
    """

    def __init__(
        self,
        matcher: Matcher,
        batch: _Batch,
        query_masks: dict[int, int],
        key_masks: dict[int, int],
    ) -> None:
        self._matcher = matcher
        self._batch = batch
        self._query_masks = query_masks
        self._key_masks = key_masks
        self._index = {matcher._keys[ki]: ki for ki in sorted(key_masks)}
        self._lists: dict[int, list[PaperMatch]] = {}

    def __getitem__(self, key: Hashable) -> list[PaperMatch]:
        ki = self._index[key]
        found = self._lists.get(ki)
        if found is None:
            found = self._lists[ki] = self._matcher._materialise(self._batch, ki, self._query_masks)
        return found

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def positions(self, key: Hashable) -> list[int]:
        """Indexes (in the matched batch) of the papers ``key`` matched."""
        mask = self._key_masks[self._index[key]]
        out = []
        while mask:
            low = mask & -mask
            out.append(low.bit_length() - 1)
            mask ^= low
        return out

    @property
    def pairs(self) -> int:
        """How many (key, paper) pairs matched."""
        return sum(mask.bit_count() for mask in self._key_masks.values())


_SERIAL_BITS = 40  # see _Batch._numbered

# One result: positions of the papers in the batch (None: not tracked), and matches.
_Result = tuple[list[int] | None, list[PaperMatch]]


class _Batch:
    """One :meth:`Matcher.match` call: the scanned papers and per-term posting lists."""

    def __init__(self, matcher: Matcher, papers: Sequence[Paper], complete: bool = True) -> None:
        self.matcher = matcher
        self.papers = papers = list(papers)
        self.states: list[_PaperState] = []
        self.postings: dict[int, list[int]] = {}  # term id -> positions of papers
        for i, paper in enumerate(papers):
            state = matcher._scan(paper, complete)
            self.states.append(state)
            for tid in state.fired:
                found = self.postings.get(tid)
                if found is None:
                    self.postings[tid] = [i]
                else:
                    found.append(i)
        self._term_matches: dict[tuple[int, str], tuple[list[int], list[PaperMatch]]] = {}
        # Every term match gets a number that sorts like its paper's position (the
        # position in the high bits), so unions of lists are C-level int sorts.
        self._by_number: dict[int, PaperMatch] = {}
        self._number_of: dict[int, int] = {}  # id(match) -> its number
        self._number_at: dict[tuple[int, str], dict[int, int]] = {}  # -> position -> number

    def paper_term_match(self, state: _PaperState, tid: int, text: str) -> PaperMatch:
        """The match of one term, shown as ``text``, in one paper."""
        key = ((text,), (tid,))
        pm = state.made.get(key)
        if pm is None:
            pm = state.made[key] = PaperMatch(state.paper, (text,), self.term_spans(state, tid))
        return pm

    def term_matches(self, tid: int, text: str) -> list[PaperMatch]:
        """A match per paper the term occurs in, showing it as ``text``. Shared: copy."""
        return self._numbered(tid, text)[1]

    def _numbered(self, tid: int, text: str) -> tuple[list[int], list[PaperMatch]]:
        key = (tid, text)
        found = self._term_matches.get(key)
        if found is None:
            states = self.states
            numbers: list[int] = []
            matches: list[PaperMatch] = []
            positions = self.postings[tid]
            for i in positions:
                pm = self.paper_term_match(states[i], tid, text)
                numbers.append(self._number(pm, i))
                matches.append(pm)
            found = self._term_matches[key] = (numbers, matches)
            self._number_at[key] = dict(zip(positions, numbers, strict=True))
        return found

    def _number(self, pm: PaperMatch, position: int) -> int:
        """A number for ``pm`` that sorts by paper position (see ``_by_number``)."""
        number = self._number_of.get(id(pm))
        if number is None:
            number = self._number_of[id(pm)] = (position << _SERIAL_BITS) | len(self._number_of)
            self._by_number[number] = pm
        return number

    def alternatives(self, info: _QueryInfo) -> _Result:
        """A list of alternatives: the union of its terms' lists of matches.

        The union is an integer sort of the matches' numbers; papers with several
        of the terms swap their single-term matches for one combined match.
        """
        postings = self.postings
        fired = [(t, text) for t, text in info.text_of.items() if t in postings]
        if len(fired) == 1:
            tid, text = fired[0]
            return postings[tid], self.term_matches(tid, text)
        lists = [self._numbered(tid, text)[0] for tid, text in fired]
        numbers = itertools.chain.from_iterable(lists)
        seen: set[int] = set()
        several: set[int] = set()
        for tid, _ in fired:
            several.update(seen.intersection(postings[tid]))
            seen.update(postings[tid])
        if several:
            drop: set[int] = set()
            extra: list[int] = []
            for i in several:
                state = self.states[i]
                tids = []
                for tid, text in fired:
                    if tid in state.fired:
                        tids.append(tid)
                        drop.add(self._number_at[tid, text][i])
                extra.append(self._number(self.combined(state, info, tids), i))
            numbers = itertools.chain(itertools.filterfalse(drop.__contains__, numbers), extra)
        # Positions are only needed to merge several queries of one key: None here,
        # merge_results() recovers them.
        return None, list(map(self._by_number.__getitem__, sorted(numbers)))

    def evaluate(self, info: _QueryInfo) -> _Result:
        """A query with AND/NOT: evaluate it on each paper with one of its terms."""
        assert info.tree is not None
        postings = self.postings
        papers = sorted(
            set(itertools.chain.from_iterable(postings.get(tid, ()) for tid in info.text_of))
        )
        order: list[int] = []
        found: list[PaperMatch] = []
        for i in papers:
            state = self.states[i]
            contributing = _evaluate(info.tree, state.fired)
            if contributing is not None:
                order.append(i)
                tids = [tid for tid in info.text_of if tid in contributing]
                found.append(self.combined(state, info, tids))
        return order, found

    def combined(self, state: _PaperState, info: _QueryInfo, tids: list[int]) -> PaperMatch:
        """The match of some terms (ids in query order) of one query in one paper."""
        texts = tuple(dict.fromkeys(info.text_of[tid] for tid in tids))
        key = (texts, tuple(tids))
        pm = state.made.get(key)
        if pm is None:
            if len(tids) == 1:
                merged = self.term_spans(state, tids[0])
            else:
                merged = _union_spans([self.term_spans(state, tid) for tid in tids])
            pm = state.made[key] = PaperMatch(state.paper, texts, merged)
        return pm

    def term_spans(self, state: _PaperState, tid: int) -> dict[str, tuple[Span, ...]]:
        spans = state.term_spans.get(tid)
        if spans is None:
            pid = self.matcher._term_pattern[tid]
            spans = {}
            for name in state.fired[tid]:
                ranges: list[tuple[int, int]] = []
                for value in state.fields[name]:
                    ranges.extend(value.spans(pid))
                spans[name] = merge_spans(ranges)
            state.term_spans[tid] = spans
        return spans

    def positions(self, found: list[PaperMatch]) -> list[int]:
        """Positions in the batch of matches listed in batch order.

        Walks the batch once; a Paper given twice gets both of its positions.
        """
        out: list[int] = []
        papers = self.papers
        j = 0
        for pm in found:
            while papers[j] is not pm.paper:
                j += 1
            out.append(j)
            j += 1
        return out

    def merge_results(self, results: list[_Result]) -> list[PaperMatch]:
        """One key, several queries: one match per paper, with all their terms."""
        by_paper: dict[int, PaperMatch] = {}
        for order, found in results:
            for i, pm in zip(order or self.positions(found), found, strict=True):
                seen = by_paper.get(i)
                by_paper[i] = pm if seen is None or seen is pm else _merge(seen, pm)
        return [by_paper[i] for i in sorted(by_paper)]


def _merge(a: PaperMatch, b: PaperMatch) -> PaperMatch:
    texts = tuple(dict.fromkeys(a.matched_terms + b.matched_terms))
    return PaperMatch(a.paper, texts, _union_spans([a.spans, b.spans]))


def _span_key(span: Span) -> tuple[int, int]:
    return span.start, span.end


def _union_spans(
    parts: Sequence[dict[str, tuple[Span, ...]]],
) -> dict[str, tuple[Span, ...]]:
    """Per field, the merged spans of several matches (reusing Span objects)."""
    out: dict[str, tuple[Span, ...]] = {}
    for name in FIELDS:
        found = [spans for part in parts if (spans := part.get(name))]
        if not found:
            continue
        if len(found) == 1:
            out[name] = found[0]
            continue
        ordered = sorted(itertools.chain.from_iterable(found), key=_span_key)
        if all(x.end < y.start for x, y in itertools.pairwise(ordered)):
            out[name] = tuple(ordered)
        else:
            out[name] = merge_spans(_span_key(s) for s in ordered)
    return out


# --- highlighting arbitrary text --------------------------------------------------------


@lru_cache(maxsize=256)
def _highlighter(keys: tuple[WordsKey, ...]) -> _Scanner:
    return _Scanner(enumerate(keys))


def highlight(text: str, terms: Iterable[str | Term]) -> tuple[Span, ...]:
    """Where any of ``terms`` occurs in ``text`` (original offsets, merged, sorted).

    Field prefixes of :class:`Term` objects are ignored: the text is just text. A
    string is read as one term (a word, an acronym or a phrase), as in a query.
    """
    keys: list[WordsKey] = []
    for term in terms:
        if isinstance(term, str):
            made = make_term(term)
            if made is None:
                continue
            term = made
        keys.append(words_key(term.words))
    if not keys or not text:
        return ()
    scanner = _highlighter(tuple(dict.fromkeys(keys)))
    ranges: list[tuple[int, int]] = []
    for value in _scan_values(scanner, (text,)):
        for pid in value.hits:
            ranges.extend(value.spans(pid))
    return merge_spans(ranges)
