"""Real titles and abstracts from a saved page of Hugging Face paper search results.

``tests/fixtures/seed_search_results.txt`` is the page's text: a few header lines
("new", "Subscribe", a date, ...), then per paper a title line, a blank line and the
abstract as one paragraph. The parser does not count on the exact header or on
single blank lines: a paper is a short line followed by a long paragraph.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from pathlib import Path

from paperboy.models import Paper

SEED_FILE = Path(__file__).resolve().parent / "fixtures" / "seed_search_results.txt"

# Abstracts are paragraphs of hundreds of characters; titles and page furniture
# are single short lines.
_MIN_ABSTRACT = 200
_MAX_TITLE = 300


def parse_seed_text(text: str) -> list[tuple[str, str]]:
    """(title, abstract) pairs: each long paragraph with the short line before it."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    pairs: list[tuple[str, str]] = []
    for previous, line in itertools.pairwise(lines):
        if len(line) >= _MIN_ABSTRACT and len(previous) < _MAX_TITLE:
            pairs.append((previous, line))
    return pairs


@lru_cache(maxsize=1)
def _load(path: Path) -> tuple[Paper, ...]:
    pairs = parse_seed_text(path.read_text(encoding="utf-8"))
    return tuple(
        Paper(id=f"seed.{n:04d}", title=title, abstract=abstract, source="seed")
        for n, (title, abstract) in enumerate(pairs, start=1)
    )


def load_seed_papers(path: Path = SEED_FILE) -> list[Paper]:
    """The seed papers, with synthetic ids ``seed.0001`` ... in file order."""
    return list(_load(path))
