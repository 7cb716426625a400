"""Archive search: `/papers search` and `paperboy search`.

A search is a subscription query (`bot.query`: same language, same matching semantics)
plus options, written anywhere in the text outside quotes::

    since:30d | since:2w | since:2024-11-01     papers dated on or after (also 3m, 1y)
    until:7d | until:2024-11-30                 papers dated on or before
    min-upvotes:10                              at least 10 Hugging Face votes
    has:code                                    with a GitHub repository
    limit:20                                    how many results (1-100; default 10)

A paper's date is its Hugging Face daily list, else its publication day.

How a search runs: the query is compiled for the database's full-text index
(`bot.search_sql`; FTS5 on SQLite, tsvector on PostgreSQL), which finds and ranks
candidates (BM25 with the title weighted above the abstract); the subscription matcher
(`bot.matching`) then re-checks every candidate, so results follow exactly the rules a
digest follows (acronyms case-sensitive inside words, stems, phrases). Among results of
equal relevance (scores within 2%), newer and then more upvoted papers come first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field

from bot.digest import AUTHORS_SHOWN, summarize
from bot.matching import Matcher, PaperMatch, highlight
from bot.models import Paper, SearchHit, SearchResults
from bot.query import MAX_LENGTH, Or, Query, QueryError, Term, check_characters, parse
from bot.search_index import Candidate, Filters, SearchIndex
from bot.search_score import bm25, idf, probes
from bot.search_sql import (
    MAX_CODES,
    Codes,
    Compiled,
    acronym_words,
    compile_query,
    title_tier,
)
from bot.search_text import acronym_code, docid_range, paper_day
from bot.store import Store

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SearchOptions",
    "SearchRequest",
    "parse_search",
    "results_json",
    "results_text",
    "search",
]

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
#: A superset query (see bot.search_sql) with at most this many candidates is checked in
#: full, which makes its total exact; beyond, the total is estimated from a sample.
CHECK_ALL = 1000
#: Relevance scores within this ratio count as equal (then: newer, more upvoted first).
TIE_RATIO = 1.02
MAX_TEXT = MAX_LENGTH + 100

OPTION_HELP = (
    "Search options: since:30d or since:YYYY-MM-DD, until:..., min-upvotes:N, has:code, limit:N"
)

_OPTION = re.compile(r"(since|until|min-upvotes|has|limit):", re.IGNORECASE)
_QUOTES = frozenset('"“”„‟')
# ASCII digits only (\d would take "٣" and "²"); at most 5 of them.
_RELATIVE = re.compile(r"([0-9]{1,5})([dwmy])", re.IGNORECASE)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


@dataclass(frozen=True, slots=True)
class SearchOptions:
    since: dt.date | None = None
    until: dt.date | None = None
    min_upvotes: int = 0
    has_code: bool = False
    limit: int | None = None

    def describe(self) -> tuple[str, ...]:
        out: list[str] = []
        if self.since:
            out.append(f"since {self.since.isoformat()}")
        if self.until:
            out.append(f"until {self.until.isoformat()}")
        if self.min_upvotes:
            out.append(f"at least {self.min_upvotes} upvotes")
        if self.has_code:
            out.append("with code")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A parsed search: `query` holds the terms, `terms` their text (a subscription)."""

    text: str
    query: Query
    terms: str
    options: SearchOptions = field(default_factory=SearchOptions)


def _date(value: str, today: dt.date, column: int, name: str) -> dt.date:
    """A relative (30d, 2w, 3m, 1y) or ISO (YYYY-MM-DD, years 0001-9999) date."""
    relative = _RELATIVE.fullmatch(value)
    if relative:
        unit = relative.group(2).lower()
        days = int(relative.group(1)) * _UNIT_DAYS[unit]
        if days >= today.toordinal():  # before 0001-01-01, the first date there is
            most = (today.toordinal() - 1) // _UNIT_DAYS[unit]
            raise QueryError(f"{name}: goes back at most {most}{unit} from today", column)
        return today - dt.timedelta(days=days)
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise QueryError(
        f"{name}: takes a number of days, weeks, months or years (30d, 2w, 3m, 1y) "
        "or a date like 2024-11-01",
        column,
    )


def _number(value: str, column: int, name: str, low: int, high: int) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise QueryError(f"{name}: takes a whole number like {name}:{max(low, 10)}", column)
    number = int(value)
    if not low <= number <= high:
        raise QueryError(f"{name}: must be between {low} and {high}", column)
    return number


def _split_options(text: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    """The text with option words blanked out (columns kept), and the options found:
    (name, value, column of the option, column of its value), columns 1-based."""
    chars = list(text)
    found: list[tuple[str, str, int, int]] = []
    i, n = 0, len(text)
    in_quote = False
    while i < n:
        char = text[i]
        if char in _QUOTES:
            in_quote = not in_quote
            i += 1
            continue
        at_word_start = i == 0 or text[i - 1].isspace() or text[i - 1] in "(,"
        glued_minus = i > 0 and text[i - 1] in "-−" and (i == 1 or text[i - 2].isspace())
        if in_quote or not (at_word_start or glued_minus):
            i += 1
            continue
        match = _OPTION.match(text, i)
        if match is None:
            i += 1
            continue
        if glued_minus:
            raise QueryError(f"search options like {match.group(0)} cannot be negated", i)
        end = match.end()
        while (
            end < n
            and not text[end].isspace()
            and text[end] not in "),"
            and text[end] not in _QUOTES
        ):
            end += 1
        found.append((match.group(1).lower(), text[match.end() : end], i + 1, match.end() + 1))
        for k in range(i, end):
            chars[k] = " "
        i = end
    return "".join(chars), found


def parse_search(text: str, *, today: dt.date | None = None) -> SearchRequest:
    """Split options from terms and parse the terms; QueryError (with a column) if bad."""
    today = today or dt.datetime.now(dt.UTC).date()
    if len(text) > MAX_TEXT:
        raise QueryError(f"a search is at most {MAX_TEXT} characters long", MAX_TEXT + 1)
    check_characters(text)
    rest, found = _split_options(text)
    values: dict[str, object] = {}
    for name, value, column, value_column in found:
        if name in values:
            raise QueryError(f"{name}: is given twice", column)
        if not value:
            raise QueryError(f"{name}: needs a value, like {_EXAMPLES[name]}", value_column)
        if name in ("since", "until"):
            values[name] = _date(value, today, value_column, name)
        elif name == "min-upvotes":
            values[name] = _number(value, value_column, name, 0, 1_000_000)
        elif name == "limit":
            values[name] = _number(value, value_column, name, 1, MAX_LIMIT)
        elif value.lower() != "code":
            raise QueryError("has: only knows has:code", value_column)
        else:
            values[name] = True
    since, until = values.get("since"), values.get("until")
    if isinstance(since, dt.date) and isinstance(until, dt.date) and since > until:
        raise QueryError("since: is after until:, so nothing can match")
    if not rest.strip(" ,"):
        raise QueryError("give some words to search for, like: LoRA since:30d")
    try:
        query = parse(rest)
    except QueryError as error:
        if error.message.startswith("unknown field"):
            raise QueryError(f"{error.message}; {OPTION_HELP}", error.column) from None
        raise
    options = SearchOptions(
        since=since if isinstance(since, dt.date) else None,
        until=until if isinstance(until, dt.date) else None,
        min_upvotes=int(values.get("min-upvotes", 0)),  # type: ignore[call-overload]
        has_code=bool(values.get("has", False)),
        limit=values.get("limit"),  # type: ignore[arg-type]
    )
    return SearchRequest(text=text, query=query, terms=" ".join(rest.split()), options=options)


_EXAMPLES = {
    "since": "since:30d",
    "until": "until:2024-11-30",
    "min-upvotes": "min-upvotes:10",
    "has": "has:code",
    "limit": "limit:20",
}


# --------------------------------------------------------------------------- searching


def _bucket(score: float) -> int:
    return math.floor(math.log(score) / math.log(TIE_RATIO)) if score > 0 else -(2**62)


def _order_key(candidate: Candidate) -> tuple[int, int, int, str]:
    day = candidate.day
    return (
        -_bucket(candidate.score),
        -(day.toordinal() if day else 0),
        -candidate.upvotes,
        candidate.paper_id,
    )


def _hit(paper: Paper, score: float, match: PaperMatch | None) -> SearchHit:
    terms = match.matched_terms if match else ()
    summary = summarize(paper)
    # Without a cut summary's "…" (NFKC would expand it): same spans, a faster scan.
    return SearchHit(
        paper=paper,
        score=score,
        matched_terms=terms,
        summary=summary,
        summary_highlights=highlight(summary.removesuffix("…"), terms),
        title_highlights=highlight(paper.title, terms),
        authors=paper.authors[:AUTHORS_SHOWN],
        more_authors=max(0, len(paper.authors) - AUTHORS_SHOWN),
        date=paper_day(paper),
    )


async def search(
    store: Store,
    request: SearchRequest | str,
    *,
    limit: int | None = None,
    index: SearchIndex | None = None,
    sync: bool = True,
) -> SearchResults:
    """Search the archive. `limit` applies unless the request says `limit:`.

    Raises QueryError for a bad query string (or one too broad for the index).
    """
    if isinstance(request, str):
        request = parse_search(request)
    index = index or SearchIndex(store)
    if sync:
        await index.sync()
    options = request.options
    wanted = max(1, min(options.limit or limit or DEFAULT_LIMIT, MAX_LIMIT))
    low, high = docid_range(options.since, options.until)
    filters = Filters(low, high, options.min_upvotes, options.has_code)
    surfaces = await index.acronym_surfaces(acronym_words(request.query), limit=MAX_CODES)
    codes = {
        word: None if found is None else tuple(acronym_code(s) for s in found)
        for word, found in surfaces.items()
    }
    compiled = compile_query(request.query, index.dialect, codes)

    def results(hits: list[SearchHit], total: int, exact: bool = True) -> SearchResults:
        return SearchResults(
            query=request.text,
            terms=request.terms,
            total=total,
            hits=tuple(hits),
            total_exact=exact,
            filters=options.describe(),
        )

    if compiled.never or compiled.text is None:
        return results([], 0)
    tier = title_tier(request.query, index.dialect, codes)
    found = await _candidates(index, request, codes, compiled, tier, filters, wanted)
    candidates, total = found.candidates, found.total
    matcher = Matcher.compile([(0, request.query)])
    hits: list[tuple[tuple[int, int, int, str], SearchHit]] = []
    checked = passed = 0
    # Re-check candidates with the matcher, best first: an exact index query needs just
    # the shown ones (for their highlights); a superset one all it has (for the total).
    while True:
        ordered = sorted(candidates[checked:], key=_order_key)
        step = len(ordered) if not compiled.exact else max(wanted - len(hits), 0)
        batch = ordered[:step]
        papers = await store.papers.get_many(c.paper_id for c in batch)
        present = [papers[c.paper_id] for c in batch if c.paper_id in papers]
        # Reading the papers' text again is CPU work: off the event loop.
        checked_now = await asyncio.to_thread(matcher.match, present)
        matches = {m.paper.id: m for m in checked_now.get(0, [])}
        for cand in batch:
            match = matches.get(cand.paper_id)
            if match is not None:
                passed += 1
                if len(hits) < wanted:
                    hits.append((_order_key(cand), _hit(match.paper, cand.score, match)))
        checked += len(batch)
        if compiled.exact:
            candidates = candidates[:checked] + ordered[step:]
            if len(hits) >= wanted or checked >= len(candidates):
                break
            continue
        if checked >= min(total, CHECK_ALL) or len(candidates) >= total:
            break
        more = min(total, CHECK_ALL, max(checked * 4, wanted * 4))
        found = await _candidates(index, request, codes, compiled, tier, filters, more)
        candidates, total = found.candidates, found.total
        if len(candidates) <= checked:
            break
    exact_total = found.exact and (compiled.exact or checked >= total)
    if compiled.exact:
        found_total = total - (checked - passed)  # anything the matcher refused is not counted
    elif exact_total:
        found_total = passed
    else:
        found_total = round(total * passed / checked) if checked else 0
    hits.sort(key=lambda pair: pair[0])
    return results([hit for _, hit in hits], max(found_total, len(hits)), exact_total)


@dataclass(frozen=True, slots=True)
class _Found:
    candidates: list[Candidate]
    total: int
    exact: bool = True  # False: the total is an estimate


async def _candidates(
    index: SearchIndex,
    request: SearchRequest,
    codes: Codes,
    compiled: Compiled,
    tier: str | None,
    filters: Filters,
    wanted: int,
) -> _Found:
    """Ranked candidates (enough for `wanted` results after tie ordering) and the total."""
    assert compiled.text is not None
    # Ties are broken by date: take a margin beyond `wanted` so a newer paper of equal
    # relevance just below the cut is not lost.
    k = wanted + max(10, wanted)
    if not index.postgres:
        return await _sqlite_candidates(index, request, codes, compiled, tier, filters, k)
    query = compiled.text
    total, newest = await index.count_and_newest(query, filters)
    if total == 0:
        return _Found([], 0)
    if not compiled.exact:
        k = max(k, min(total, CHECK_ALL))
    if total <= index.window:  # every match is among the newest: ranked by key
        return _Found(await index.rank(query, filters, k, ids=newest), total)
    if not compiled.exact and total <= CHECK_ALL:
        return _Found(await index.rank(query, filters, k), total)
    # A broad query: rank the newest `window` matches and the newest `window` with a
    # query term in the title (see bot.search_index).
    also = []
    if tier is not None:
        also = await index.newest_ids(query, filters, index.window, title_tier=tier)
    ranked = await index.rank(query, filters, k, ids=sorted({*newest, *also}))
    return _Found(ranked, total)


async def _sqlite_candidates(
    index: SearchIndex,
    request: SearchRequest,
    codes: Codes,
    compiled: Compiled,
    tier: str | None,
    filters: Filters,
    wanted: int,
) -> _Found:
    """SQLite: candidates found newest first (`bot.search_scan`), ranked here
    (`bot.search_score`): FTS5's bm25() would read the whole index for its statistics."""
    assert compiled.text is not None
    scan = index.scan
    window = max(index.window, wanted)
    root = request.query.root
    alternatives = root.children if isinstance(root, Or) else (root,)
    found = await scan.candidates(
        compiled.text,
        tier,
        filters,
        window=window,
        need=wanted,
        title_only=all(isinstance(n, Term) and n.field in (None, "title") for n in alternatives),
    )
    docs = await scan.stored(found.docids)
    terms = probes(request.query, codes)
    weights = None
    if len(terms) > 1:
        frequencies, documents = await scan.estimate_df([t.fts for t in terms])
        weights = [idf(documents, f) for f in frequencies]
    scores = bm25([(d.docid, d.columns) for d in docs], terms, weights)
    candidates = [
        Candidate(d.docid, d.paper_id, scores[d.docid], _day(d.day), d.upvotes) for d in docs
    ]
    return _Found(candidates, max(found.total, len(candidates)), found.exact)


def _day(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


# --------------------------------------------------------------------------- output


def results_json(results: SearchResults) -> dict[str, object]:
    """The `paperboy search --format json` contract (keep it stable)."""
    return {
        "query": results.query,
        "total": results.total,
        "results": [
            {
                "id": hit.paper.id,
                "title": hit.paper.title,
                "score": round(hit.score, 6),
                "date": hit.date.isoformat() if hit.date else None,
                "upvotes": hit.paper.upvotes,
                "links": hit.paper.links.as_dict(),
                "authors": list(hit.paper.authors),
                "matched_terms": list(hit.matched_terms),
            }
            for hit in results.hits
        ],
    }


def to_json(results: SearchResults) -> str:
    return json.dumps(results_json(results), ensure_ascii=False, indent=2)


def results_text(results: SearchResults) -> str:
    """Plain text (no markup): the fallback for adapters that do not render searches."""
    lines = [results.header]
    for n, hit in enumerate(results.hits, start=1):
        paper = hit.paper
        day = hit.date.isoformat() if hit.date else "undated"
        lines.append(f"{n}. {paper.title}")
        meta = [day, f"{paper.upvotes} upvotes"]
        if hit.authors:
            meta.insert(0, hit.authors_line)
        lines.append("   " + " · ".join(meta))
        lines.append("   " + "  ".join(f"{k}: {v}" for k, v in paper.links.as_dict().items()))
    if results.hits:
        lines.append(f"Follow new papers like these: {results.subscribe_command}")
    return "\n".join(lines)
