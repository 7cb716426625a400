"""JSON contract and Markdown table."""

from __future__ import annotations

import datetime as dt
import json

from bot.digest import digest_for_queries
from bot.formats import md_escape, to_json, to_markdown
from bot.models import Paper

DAY = dt.date(2024, 11, 11)


def sample() -> list[Paper]:
    return [
        Paper(
            id="2411.00001",
            title="LoRA | pipes [x](http://evil)",
            abstract="We study LoRA.",
            authors=("A", "B"),
            upvotes=3,
            github_url="https://github.com/o/r",
        ),
        Paper(id="2411.00002", title="Other", abstract="Nothing.", upvotes=1),
    ]


def test_json_shape() -> None:
    data = json.loads(to_json(digest_for_queries(sample(), ["LoRA"], day=DAY)))
    assert set(data) == {"date", "queries", "checked", "entries"}
    assert data["date"] == "2024-11-11" and data["queries"] == ["LoRA"] and data["checked"] == 2
    (entry,) = data["entries"]
    assert set(entry) == {"id", "title", "authors", "upvotes", "matched_terms", "summary", "links"}
    assert entry["links"] == {
        "arxiv": "https://arxiv.org/abs/2411.00001",
        "pdf": "https://arxiv.org/pdf/2411.00001",
        "hf": "https://huggingface.co/papers/2411.00001",
        "github": "https://github.com/o/r",
    }
    assert entry["matched_terms"] == ["LoRA"]


def test_json_date_null_without_day() -> None:
    data = json.loads(to_json(digest_for_queries(sample(), ["LoRA"], day=None)))
    assert data["date"] is None


def test_markdown_table_escapes_cells() -> None:
    md = to_markdown(digest_for_queries(sample(), ["LoRA"], day=DAY))
    lines = md.splitlines()
    assert lines[0] == "## Papers for 2024-11-11"
    assert "| Title | Authors | Summary |" in lines
    row = next(line for line in lines if line.startswith("| [LoRA"))
    # Exactly four unescaped pipes: the title's pipe is escaped.
    unescaped = row.replace("\\|", "")
    assert unescaped.count("|") == 4
    assert "(https://arxiv.org/abs/2411.00001)" in row
    assert "[x](http://evil)" not in row


def test_md_escape_collapses_newlines() -> None:
    assert md_escape("a\n|b") == "a \\|b"
