"""Digests, pure: build a Digest for one target, and its platform-neutral forms.

- `build`: select, order and summarise matched papers into a `Digest`;
- `formats`: the CLI's JSON (a stable contract) and Markdown renderings;
- `codec`: a Digest as plain JSON data and back (what the outbox stores).
"""

from paperboy.digest.build import (
    AUTHORS_SHOWN,
    SUMMARY_LIMIT,
    EntryCache,
    Selected,
    SummaryMap,
    build_digest,
    digest_for_queries,
    make_entry,
    merge_matches,
    pick_summary,
    shown_papers,
    summarize,
)
from paperboy.digest.codec import digest_from_json, digest_to_json
from paperboy.digest.formats import NEUTRAL_FORMATS

__all__ = [
    "AUTHORS_SHOWN",
    "NEUTRAL_FORMATS",
    "SUMMARY_LIMIT",
    "EntryCache",
    "Selected",
    "SummaryMap",
    "build_digest",
    "digest_for_queries",
    "digest_from_json",
    "digest_to_json",
    "make_entry",
    "merge_matches",
    "pick_summary",
    "shown_papers",
    "summarize",
]
