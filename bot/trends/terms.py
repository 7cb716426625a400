"""The words and phrases of papers, and those whose counts rose.

A paper's terms are read from its title and its Hugging Face keywords (the abstract is
long and repetitive; titles and keywords name what a paper is about): single words and
two-word phrases, lower-cased after the matching's normalisation (`matching.normalize`,
so "Mixture-of-Experts" reads as "mixture of experts"), without stop words, numbers and
one- or two-letter words. Each term counts once per paper.

A term rises when the papers holding it this week outnumber their weekly average over the
previous weeks; the largest growth first, a phrase before its own words when it explains
them (the same count), at least `MIN_COUNT` papers this week.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from paperboy.matching import normalize, tokenize
from paperboy.models import Paper

MIN_COUNT = 2
STOP_WORDS = frozenset(
    """a about above across after against all also an and any are as at be been being
    between both but by can could do does doing during each few for from further had has
    have having how if in into is it its itself just more most no nor not of on once only
    or other our out over own same should so some such than that the their them then there
    these they this those through to too under until up very via was we were what when
    where which while who whom why will with without would you your towards toward using
    based new via vs versus use uses used large small learning model models approach
    method methods paper study task tasks data results show towards beyond can't don't
    efficient effective improving improved improve enhancing enhanced enhance leveraging
    via through one two three first""".split()
)


def _words(text: str) -> list[str]:
    normal, _ = normalize(text)
    return [token.surface.lower() for token in tokenize(normal)]


def _keep(word: str) -> bool:
    return len(word) > 2 and word not in STOP_WORDS and not word.replace(".", "").isdigit()


def terms_of(paper: Paper) -> set[str]:
    """The distinct terms (words and two-word phrases) of one paper."""
    found: set[str] = set()
    texts: list[str] = [paper.title, *paper.ai_keywords]
    for text in texts:
        words = _words(text)
        for i, word in enumerate(words):
            if _keep(word):
                found.add(word)
            if i + 1 < len(words) and _keep(word) and _keep(words[i + 1]):
                found.add(f"{word} {words[i + 1]}")
    return found


def term_counts(papers: Iterable[Paper]) -> Counter[str]:
    """In how many of `papers` each term occurs."""
    counts: Counter[str] = Counter()
    for paper in papers:
        counts.update(terms_of(paper))
    return counts


@dataclass(frozen=True, slots=True)
class Rise:
    term: str
    count: int
    previous: float  # papers per week with the term over the previous weeks, on average


def rising_terms(
    current: Sequence[Paper], previous_weeks: Sequence[Sequence[Paper]], limit: int = 8
) -> list[Rise]:
    """The terms whose count grew most this week against the previous weeks' average."""
    now = term_counts(current)
    before: Counter[str] = Counter()
    for week in previous_weeks:
        before.update(term_counts(week))
    spread = max(1, len(previous_weeks))
    candidates = [
        Rise(term, count, round(before[term] / spread, 2))
        for term, count in now.items()
        if count >= MIN_COUNT and count > before[term] / spread
    ]
    candidates.sort(key=lambda r: (-(r.count - r.previous), -r.count, -len(r.term), r.term))
    chosen: list[Rise] = []
    for rise in candidates:
        # A word already said by a chosen phrase with the same count adds nothing.
        if any(
            rise.term in other.term.split(" ") and rise.count == other.count for other in chosen
        ):
            continue
        if " " in rise.term:
            # A phrase that explains a chosen word (same count) takes its place.
            chosen = [
                c for c in chosen if not (c.term in rise.term.split(" ") and c.count == rise.count)
            ]
        chosen.append(rise)
        if len(chosen) >= limit:
            break
    return chosen
