"""JSON contract and Markdown table."""

from __future__ import annotations

import datetime as dt
import html
import json

from paperboy.digest import digest_for_queries
from paperboy.digest.formats import md_escape, to_json, to_markdown
from paperboy.models import Paper
from paperboy.terminal import BIDI_CONTROLS

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


# -- hostile papers -------------------------------------------------------------------

EVIL_GITHUB = "https://github.com/o/r)**URGENT**[arXiv](https://evil.example/steal)"
HOSTILE = Paper(
    id="2411.00003",
    title="LoRA | split [a](https://evil.example) <img src=x> &#8238; www.evil.example \u202egnp",
    abstract="We study LoRA. https://evil.example/x **bold** `code` ~~gone~~ $x$",
    authors=("Mallory | <b>M</b>", "Eve\u2066 [x]: https://evil.example"),
    upvotes=5,
    github_url=EVIL_GITHUB,
    project_url="https://project.example/a b|c",  # whitespace: not a URL at all
    thumbnail_url="javascript:alert(1)",
)


def links_and_rows(markdown: str) -> tuple[list[str], list[list[str]]]:
    """Every link target and the table's rows as a GitHub-flavoured parser reads them."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)
    hrefs: list[str] = []
    rows: list[list[str]] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        if token.type == "inline":
            if rows and token.map is not None:
                rows[-1].append(token.content)
            for child in token.children or []:
                if child.type == "link_open":
                    hrefs.append(str(child.attrs["href"]))
                assert child.type not in {
                    "html_inline",
                    "image",
                    "strong_open",
                    "em_open",
                    "s_open",
                    "code_inline",
                }, child
    return hrefs, rows


def test_markdown_keeps_hostile_text_and_urls_inert() -> None:
    md = to_markdown(digest_for_queries([HOSTILE], ["LoRA"], day=DAY))
    hrefs, rows = links_and_rows(md)
    # Three cells in every row: no "|" from the data split one.
    assert [len(r) for r in rows] == [3, 3]
    # Only the paper's own links, and the GitHub one as one (encoded) link to github.com.
    assert hrefs[:3] == [
        "https://arxiv.org/abs/2411.00003",
        "https://arxiv.org/abs/2411.00003",
        "https://huggingface.co/papers/2411.00003",
    ]
    assert len(hrefs) == 4 and hrefs[3].startswith("https://github.com/o/r%29%2A%2AURGENT")
    assert not any("evil.example" in h.split("/")[2] for h in hrefs)
    assert "project.example" not in md and "javascript" not in md
    # No bidi override survives, not even one spelt as an entity, once rendered.
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert not any(ch in md or ch in html.unescape(rendered) for ch in BIDI_CONTROLS)
    assert "<img" not in rendered and "<b>" not in rendered
    assert "https\\://evil.example" in md and "www\\.evil.example" in md


def test_markdown_drops_links_that_are_not_http() -> None:
    paper = Paper(id="2411.00004", title="LoRA", abstract="LoRA.", github_url="javascript:x()")
    md = to_markdown(digest_for_queries([paper], ["LoRA"], day=DAY))
    hrefs, _ = links_and_rows(md)
    assert all(h.startswith(("https://arxiv.org/", "https://huggingface.co/")) for h in hrefs)
    assert "javascript" not in md and "GitHub" not in md


def test_json_links_are_well_formed_http_urls() -> None:
    data = json.loads(to_json(digest_for_queries([HOSTILE], ["LoRA"], day=DAY)))
    github = data["entries"][0]["links"]["github"]
    assert github.startswith("https://github.com/o/r%29%2A%2AURGENT")
    bad = Paper(id="2411.00005", title="LoRA", abstract="LoRA.", github_url="javascript:x()")
    data = json.loads(to_json(digest_for_queries([bad], ["LoRA"], day=DAY)))
    assert "github" not in data["entries"][0]["links"]
