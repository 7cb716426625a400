"""Archive search on SQLite (a tantivy index folder) and PostgreSQL (tsvector), with the
subscription query language and matching rules.

- `request`: the search text parsed into a query and options (`parse_search`);
- `engine`: a search run over the index, re-checked by the matcher; its text and JSON;
- `index`: the search index kept in step with the archive (`SearchIndex`);
- `tantivy_index`: SQLite's index, a tantivy folder beside the database file;
- `tantivy_query`: a query compiled into tantivy queries, with the filters;
- `reader`: SQLite's reads, on a sqlite3 connection in a thread of its own;
- `lexemes`: what the index stores for a paper, computed with `paperboy.matching.text`;
- `sql`: the query compiler (and its tsquery syntax), and the index query's `Filters`;
- `hybrid`: keyword results fused with semantic similarity (`hybrid_search`, the default
  of `/papers search` and `paperboy search`), and the semantic-only mode;
- `similar`: the archive's papers nearest one paper (`/papers similar`, `paperboy similar`).
"""

from paperboy.search.engine import results_json, results_text, search, to_json
from paperboy.search.hybrid import MODES, Mode, hybrid_json, hybrid_search
from paperboy.search.index import WINDOW, Candidate, SearchIndex
from paperboy.search.request import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    OPTION_HELP,
    SearchOptions,
    SearchRequest,
    parse_search,
)
from paperboy.search.similar import (
    Similar,
    find_paper,
    similar,
    similar_digest,
    similar_json,
    similar_text,
)
from paperboy.search.sql import Filters

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MODES",
    "OPTION_HELP",
    "WINDOW",
    "Candidate",
    "Filters",
    "Mode",
    "SearchIndex",
    "SearchOptions",
    "SearchRequest",
    "Similar",
    "find_paper",
    "hybrid_json",
    "hybrid_search",
    "parse_search",
    "results_json",
    "results_text",
    "search",
    "similar",
    "similar_digest",
    "similar_json",
    "similar_text",
    "to_json",
]
