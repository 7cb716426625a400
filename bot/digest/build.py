"""Build the platform-neutral Digest for one target.

Selection and order are the core's business; how it looks is each adapter's.
Entries are ordered by upvotes (most first), then title. A capped digest keeps
the count of what it left out (`omitted`) so renderers can say "and N more".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from paperboy.matching import Matcher, PaperMatch, highlight
from paperboy.models import Digest, DigestEntry, Paper, SummarySection
from paperboy.summaries import (
    DEFAULT_LANGUAGE,
    DEFAULT_STYLE,
    SECTION_LABELS,
    Summary,
    cut_at_word,
    find_why,
    local_summary,
)

__all__ = ["cut_at_word"]  # re-exported: the one word cutter lives in paperboy.summaries

SUMMARY_LIMIT = 300
AUTHORS_SHOWN = 5

# A sentence ends at . ! ? (or their CJK forms) followed by space or the end.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])(?:\s+|$)")


def summarize(paper: Paper, limit: int = SUMMARY_LIMIT) -> str:
    """HF's ai_summary when present, else the abstract's first sentences, cut at a word."""
    text = _collapsed(paper.ai_summary or "")
    if not text:
        abstract = paper.abstract.strip()
        # The first few hundred characters decide (search shows a summary per result):
        # collapsed, a prefix longer than `limit` gives what the whole abstract would.
        text = _collapsed(abstract[: 4 * limit])
        if len(text) <= limit + 1 and len(abstract) > 4 * limit:
            text = _collapsed(abstract)
        text = first_sentences(text, limit)
    return cut_at_word(text, limit)


def _collapsed(text: str) -> str:
    """White space runs as one space, none at the ends: `str.split` knows the same white
    space as the regex `\\s` (every `str.isspace` character) and is three times faster."""
    return " ".join(text.split())


def first_sentences(text: str, limit: int) -> str:
    """As many whole sentences as fit in `limit`; the first one even if longer (cut later)."""
    if len(text) <= limit:
        return text
    out = ""
    # A sentence ends right after its mark, so one ending past `limit` is too long: only
    # the first `limit` + 2 characters are read (an end's white space is among them).
    for end in _SENTENCE_END.finditer(text, 0, limit + 2):
        if end.start() > limit:
            break
        out = text[: end.start()].rstrip()
    return out or text


@dataclass(frozen=True, slots=True)
class Selected:
    """One paper with every term (over all of the target's queries) that matched it."""

    paper: Paper
    terms: tuple[str, ...]


def merge_matches(
    per_subscription: Mapping[Hashable, Sequence[PaperMatch]], order: Iterable[Hashable]
) -> list[Selected]:
    """Union of the matches of the given subscriptions, terms in subscription order."""
    terms: dict[str, list[str]] = {}
    papers: dict[str, Paper] = {}
    for key in order:
        for match in per_subscription.get(key, ()):
            papers.setdefault(match.paper.id, match.paper)
            seen = terms.setdefault(match.paper.id, [])
            seen.extend(t for t in match.matched_terms if t not in seen)
    return [Selected(papers[pid], tuple(found)) for pid, found in terms.items()]


#: Summaries already made, by (paper id, style, language): a model's, from the cache.
SummaryMap = Mapping[tuple[str, str, str], Summary]


def pick_summary(
    paper: Paper, style: str, language: str, summaries: SummaryMap | None = None
) -> Summary:
    """The model's summary of `paper` in (style, language) when there is one, else the
    one made without a model (English: see `local_summary`)."""
    if summaries:
        found = summaries.get((paper.id, style, language))
        if found is not None and not found.empty:
            return found
    return local_summary(paper, style)


def make_entry(
    paper: Paper,
    terms: Sequence[str],
    *,
    style: str = DEFAULT_STYLE,
    language: str = DEFAULT_LANGUAGE,
    summaries: SummaryMap | None = None,
) -> DigestEntry:
    made = pick_summary(paper, style, language, summaries)
    sections = tuple(
        SummarySection(key, SECTION_LABELS[key], text, highlight(text, terms))
        for key, text in made.sections
    )
    shown = [paper.title, made.text]
    return DigestEntry(
        paper=paper,
        matched_terms=tuple(terms),
        summary=made.text,
        summary_highlights=highlight(made.text, terms),
        title_highlights=highlight(paper.title, terms),
        authors=paper.authors[:AUTHORS_SHOWN],
        more_authors=max(0, len(paper.authors) - AUTHORS_SHOWN),
        summary_style=made.style,
        summary_language=made.language,
        summary_source=made.source,
        sections=sections,
        match_why=find_why(paper, terms, shown),
    )


#: Entries already made, by (paper, matched terms, style, language): see `build_digest`.
EntryCache = dict[tuple[Paper, tuple[str, ...], str, str], DigestEntry]


def _order(paper: Paper) -> tuple[int, str, str]:
    return (-paper.upvotes, paper.title.casefold(), paper.id)


def shown_papers(
    papers: Iterable[Paper], max_papers: int | None = None, min_upvotes: int = 0
) -> list[Paper]:
    """The papers a digest of `papers` lists, in its order (`build_digest`'s selection)."""
    chosen = sorted((p for p in papers if p.upvotes >= min_upvotes), key=_order)
    return chosen if max_papers is None else chosen[: max(0, max_papers)]


def build_digest(
    selected: Iterable[Selected],
    *,
    day: dt.date | None,
    queries: Sequence[str],
    checked: int,
    max_papers: int | None = None,
    min_upvotes: int = 0,
    source_label: str | None = None,
    entry_cache: EntryCache | None = None,
    style: str = DEFAULT_STYLE,
    language: str = DEFAULT_LANGUAGE,
    summaries: SummaryMap | None = None,
    scores: Mapping[str, float] | None = None,
    reasons: Mapping[str, str] | None = None,
    suggestions: Sequence[tuple[Paper, str]] = (),
    sign: Callable[[list[str]], tuple[tuple[str, str], ...]] | None = None,
) -> Digest:
    """The digest of `selected`. `entry_cache` (a dict the caller keeps for a while, such
    as one plan of many channels) makes each paper's entry once per set of matched terms:
    the same entry object then goes into every digest that lists the paper that way.
    `style` and `language` are the channel's; `summaries` the model's (others: extractive).

    `scores` (paper id -> a channel's predicted interest, see `paperboy.feedback`) orders
    the entries, highest first; without it, most upvoted first. It only orders: every
    selected paper stays. `reasons` gives entries their `why`; `suggestions` are papers no
    subscription matched, each with why it is suggested; `sign` makes the signed feedback
    buttons of the papers shown (`Digest.feedback`)."""
    chosen = [s for s in selected if s.paper.upvotes >= min_upvotes]
    if scores:
        chosen.sort(
            key=lambda s: (
                -scores.get(s.paper.id, 0.0),
                -s.paper.upvotes,
                s.paper.title.casefold(),
                s.paper.id,
            )
        )
    else:
        chosen.sort(key=lambda s: _order(s.paper))
    shown = chosen if max_papers is None else chosen[: max(0, max_papers)]
    if entry_cache is None:
        entries = tuple(
            make_entry(s.paper, s.terms, style=style, language=language, summaries=summaries)
            for s in shown
        )
    else:
        made = []
        for s in shown:
            key = (s.paper, tuple(s.terms), style, language)
            entry = entry_cache.get(key)
            if entry is None:
                entry = entry_cache[key] = make_entry(
                    s.paper, s.terms, style=style, language=language, summaries=summaries
                )
            made.append(entry)
        entries = tuple(made)
    if reasons:
        entries = tuple(
            replace(e, why=reasons[e.paper.id]) if e.paper.id in reasons else e for e in entries
        )
    extra = tuple(
        replace(
            make_entry(p, (), style=style, language=language, summaries=summaries), why=why
        )
        for p, why in suggestions
    )
    shown_ids = [e.paper.id for e in (*entries, *extra)]
    return Digest(
        date=day,
        queries=tuple(queries),
        checked=checked,
        entries=entries,
        omitted=len(chosen) - len(shown),
        source_label=source_label,
        suggestions=extra,
        feedback=sign(shown_ids) if sign is not None and shown_ids else (),
    )


def digest_for_queries(
    papers: Sequence[Paper],
    queries: Sequence[str],
    *,
    day: dt.date | None,
    max_papers: int | None = None,
    min_upvotes: int = 0,
    source_label: str | None = None,
    style: str = DEFAULT_STYLE,
    language: str = DEFAULT_LANGUAGE,
    summaries: SummaryMap | None = None,
) -> Digest:
    """One digest of `papers` for the union of `queries` (raises QueryError for a bad one)."""
    matcher = Matcher.compile(enumerate(queries))
    selected = merge_matches(matcher.match(papers), range(len(queries)))
    return build_digest(
        selected,
        day=day,
        queries=queries,
        checked=len(papers),
        max_papers=max_papers,
        min_upvotes=min_upvotes,
        source_label=source_label,
        style=style,
        language=language,
        summaries=summaries,
    )
