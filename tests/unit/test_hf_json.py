"""Defensive parsing of daily_papers JSON."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import MAX_INTEGER, Paper
from bot.sources import SourceError
from bot.sources.hf_json import (
    http_url,
    load_json,
    normalize_arxiv_id,
    parse_daily_papers,
    parse_item,
    parse_upvotes,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def item(**paper: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "2411.05288", "title": "A title", "summary": "An abstract."}
    base.update(paper)
    return {"paper": base}


def one(data: Any) -> Paper:
    papers = parse_daily_papers([data])
    assert len(papers) == 1
    return papers[0]


# -- ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2411.05288", "2411.05288"),
        ("  2411.05288\n", "2411.05288"),
        ("2411.05288v2", "2411.05288"),
        ("2411.05288v12", "2411.05288"),
        ("arXiv:2411.05288v1", "2411.05288"),
        ("ARXIV:2411.05288", "2411.05288"),
        ("https://arxiv.org/abs/2411.05288v3", "2411.05288"),
        ("arxiv.org/abs/2411.05288", "2411.05288"),
        ("http://arxiv.org/pdf/2411.05288v1.pdf", "2411.05288"),
        ("1501.0001", "1501.0001"),
        ("hep-th/9901001v1", "hep-th/9901001"),
        ("math.GT/0309136", "math.GT/0309136"),
        ("cond-mat/0102536v2", "cond-mat/0102536"),
        ("arXiv:hep-th/9901001", "hep-th/9901001"),
    ],
)
def test_normalize_arxiv_id(raw: str, expected: str) -> None:
    assert normalize_arxiv_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        2411.05288,
        241105288,
        "",
        "   ",
        "v2",
        "2411",
        "2411.123",
        "2411.123456",
        "2411.05288v",
        "not an id",
        "2411.05288 extra",
        "../2411.05288",
        "2411.05288/x",
        "hep-th/990100",
        "<2411.05288>",
    ],
)
def test_unusable_ids(raw: object) -> None:
    assert normalize_arxiv_id(raw) is None


def test_items_without_usable_id_are_skipped() -> None:
    data = [
        item(id=None),
        item(id="garbage"),
        {"paper": None},
        {"title": "no paper at all"},
        "a string",
        None,
        42,
        [],
        item(id="2411.00001"),
    ]
    assert [paper.id for paper in parse_daily_papers(data)] == ["2411.00001"]


# -- nulls and wrong types ---------------------------------------------------------


def test_nulls_everywhere() -> None:
    paper = one(
        {
            "paper": {
                "id": "2411.05288",
                "title": None,
                "summary": None,
                "authors": None,
                "publishedAt": None,
                "submittedOnDailyAt": None,
                "upvotes": None,
                "ai_summary": None,
                "ai_keywords": None,
                "githubRepo": None,
                "projectPage": None,
                "withdrawnAt": None,
            },
            "publishedAt": None,
            "title": None,
            "summary": None,
            "thumbnail": None,
        }
    )
    assert paper == Paper(id="2411.05288", title="")


def test_item_title_and_summary_are_fallbacks() -> None:
    data = {"paper": {"id": "2411.05288", "title": " "}, "title": "Item\ntitle", "summary": "S"}
    paper = one(data)
    assert (paper.title, paper.abstract) == ("Item title", "S")


def test_whitespace_collapsed() -> None:
    paper = one(
        item(
            title="  Balancing Pipeline\n  Parallelism\twith\r\nVocabulary  ",
            summary="One\n\ntwo   three\u00a0four",
        )
    )
    assert paper.title == "Balancing Pipeline Parallelism with Vocabulary"
    assert paper.abstract == "One two three four"


def test_control_characters_and_lone_surrogates_removed() -> None:
    paper = one(item(title="Nul\x00byte\x1bescape", summary="half \ud800 pair"))
    assert paper.title == "Nul byte escape"
    assert paper.abstract == "half \ufffd pair"


def test_bidirectional_overrides_removed() -> None:
    """The same cleaning as a server's error text: nothing reorders what a reader sees."""
    paper = one(item(title="Safe \u202egnp.exe\u202c title", summary="a \u2066b\u2069 c"))
    assert paper.title == "Safe gnp.exe title"
    assert paper.abstract == "a b c"
    assert http_url("https://example.org/\u202eevil") is None


def test_authors_dicts_strings_and_hidden() -> None:
    authors = [
        {"_id": "1", "name": "Penghui Qi", "hidden": False},
        {"_id": "2", "name": "Hidden Person", "hidden": True},
        "Plain String",
        {"_id": "3"},
        {"name": None},
        {"name": "  "},
        None,
        7,
        ["nested"],
        {"name": "Line\nBreak"},
    ]
    assert one(item(authors=authors)).authors == (
        "Penghui Qi",
        "Hidden Person",
        "Plain String",
        "Line Break",
    )


def test_authors_not_a_list() -> None:
    assert one(item(authors="Someone")).authors == ()
    assert one(item(authors={"name": "x"})).authors == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (10, 10),
        (0, 0),
        (-3, 0),
        (None, 0),
        ("12", 12),
        ("many", 0),
        (True, 0),
        (4.0, 4),
        (float("nan"), 0),
        (float("inf"), 0),
        ([1], 0),
        ({"n": 1}, 0),
    ],
)
def test_upvotes(raw: object, expected: int) -> None:
    assert parse_upvotes(raw) == expected
    assert one(item(upvotes=raw)).upvotes == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (2**31 - 1, 2**31 - 1),
        (2**31, MAX_INTEGER),
        (2**63, MAX_INTEGER),
        (10**400, MAX_INTEGER),
        (1e308, MAX_INTEGER),
        ("9" * 30, MAX_INTEGER),
        ("9" * 5000, MAX_INTEGER),
        (-(2**63), 0),
    ],
)
def test_upvotes_beyond_the_archive_are_clamped(raw: object, expected: int) -> None:
    assert MAX_INTEGER == 2**31 - 1  # the archive's INTEGER column (int4 on PostgreSQL)
    assert parse_upvotes(raw) == expected


def test_load_json_reads_integers_python_refuses() -> None:
    huge = "9" * 5000
    with pytest.raises(ValueError, match="4300"):
        json.loads(f"[{huge}]")
    data = load_json(f'[{{"paper": {{"id": "2411.05288", "upvotes": {huge}, "n": -{huge}}}}}, 7]')
    assert isinstance(data, list) and data[1] == 7
    assert data[0]["paper"]["upvotes"] == 10**40 and data[0]["paper"]["n"] == -(10**40)
    assert parse_daily_papers(data)[0].upvotes == MAX_INTEGER
    assert load_json(b"[12, -3, 1.5]") == [12, -3, 1.5]


def test_ids_longer_than_the_key_column_are_unusable() -> None:
    long_old_style = "hep-th" + "-x" * 40 + "/9901001"
    assert normalize_arxiv_id(long_old_style) is None
    assert normalize_arxiv_id("2411.05288" + " " * 10_000) is None
    assert parse_daily_papers([item(id=long_old_style), item()])[0].id == "2411.05288"


def test_ai_fields() -> None:
    paper = one(
        item(
            ai_summary=" A\nsummary ",
            ai_keywords=["LoRA", " pipeline\nparallel ", None, 3, "", "LoRA"],
        )
    )
    assert paper.ai_summary == "A summary"
    assert paper.ai_keywords == ("LoRA", "pipeline parallel")
    assert one(item(ai_summary="  ", ai_keywords="LoRA")).ai_summary is None
    assert one(item(ai_keywords="LoRA")).ai_keywords == ()


# -- dates -------------------------------------------------------------------------


def test_dates() -> None:
    paper = one(
        {
            "paper": {
                "id": "2411.05288",
                "publishedAt": "2024-11-08T00:00:00.000Z",
                "submittedOnDailyAt": "2024-11-11T05:30:00.000Z",
            },
            "publishedAt": "2024-11-12T00:00:00.000Z",
        }
    )
    assert paper.published_at == dt.datetime(2024, 11, 8, tzinfo=dt.UTC)
    assert paper.daily_date == dt.date(2024, 11, 11)


def test_daily_date_falls_back_to_item_published_at() -> None:
    data = {
        "paper": {"id": "2411.05288", "submittedOnDailyAt": "soon"},
        "publishedAt": "2024-11-12T10:00:00Z",
    }
    assert one(data).daily_date == dt.date(2024, 11, 12)


def test_daily_date_in_utc() -> None:
    data = item(submittedOnDailyAt="2024-11-11T23:30:00-02:00")
    assert one(data).daily_date == dt.date(2024, 11, 12)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "yesterday",
        "2024-13-45",
        "2024-11-11T25:00:00Z",
        20241111,
        None,
        ["2024-11-11"],
        "0001-01-01T00:00:00+05:00",
    ],
)
def test_bad_dates_are_none(bad: object) -> None:
    paper = one(item(publishedAt=bad, submittedOnDailyAt=bad))
    assert paper.published_at is None
    assert paper.daily_date is None


def test_naive_timestamp_read_as_utc() -> None:
    paper = one(item(publishedAt="2024-11-08T12:00:00"))
    assert paper.published_at == dt.datetime(2024, 11, 8, 12, tzinfo=dt.UTC)


# -- links -------------------------------------------------------------------------


def test_links() -> None:
    paper = one(
        {
            "paper": {
                "id": "arXiv:2411.05288v2",
                "githubRepo": "https://github.com/sail-sg/VocabularyParallelism",
                "projectPage": "http://example.org/project",
            },
            "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2411.05288.png",
        }
    )
    links = paper.links
    assert links.arxiv == "https://arxiv.org/abs/2411.05288"
    assert links.pdf == "https://arxiv.org/pdf/2411.05288"
    assert links.hf == "https://huggingface.co/papers/2411.05288"
    assert links.github == "https://github.com/sail-sg/VocabularyParallelism"
    assert links.project == "http://example.org/project"
    assert paper.thumbnail_url and paper.thumbnail_url.endswith("2411.05288.png")


def test_old_style_links() -> None:
    paper = one(item(id="hep-th/9901001v1"))
    assert paper.links.arxiv == "https://arxiv.org/abs/hep-th/9901001"
    assert paper.links.pdf == "https://arxiv.org/pdf/hep-th/9901001"


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(1)",
        "ftp://example.org/x",
        "github.com/a/b",
        "https://",
        "http:///path",
        "https://exa mple.org",
        "https://example.org/\x00",
        "data:text/html,hi",
        "//example.org",
        "",
        None,
        5,
        ["https://example.org"],
        "https://[::1",
    ],
)
def test_only_http_urls_are_kept(bad: object) -> None:
    assert http_url(bad) is None
    paper = one(
        {"paper": {"id": "2411.05288", "githubRepo": bad, "projectPage": bad}, "thumbnail": bad}
    )
    assert (paper.github_url, paper.project_url, paper.thumbnail_url) == (None, None, None)
    assert paper.links.as_dict().keys() == {"arxiv", "pdf", "hf"}


def test_url_whitespace_is_stripped() -> None:
    assert http_url("  https://github.com/a/b \n") == "https://github.com/a/b"
    assert http_url("HTTPS://github.com/a/b") == "HTTPS://github.com/a/b"


# -- duplicates and withdrawn ------------------------------------------------------


def test_duplicates_keep_more_upvotes() -> None:
    data = [
        item(id="2411.00001", title="first, few votes", upvotes=2),
        item(id="2411.00002", title="other"),
        item(id="2411.00001v2", title="second, more votes", upvotes=9),
        item(id="2411.00001", title="third, fewer", upvotes=5),
        item(id="2411.00002", title="same votes, later"),
    ]
    papers = parse_daily_papers(data)
    assert [(p.id, p.title) for p in papers] == [
        ("2411.00001", "second, more votes"),
        ("2411.00002", "other"),
    ]


@pytest.mark.parametrize("withdrawn", ["2024-11-12T00:00:00.000Z", True, "yes"])
def test_withdrawn_skipped(withdrawn: object) -> None:
    assert parse_daily_papers([item(withdrawnAt=withdrawn)]) == []


@pytest.mark.parametrize("empty", [None, "", False])
def test_withdrawn_empty_is_not_withdrawn(empty: object) -> None:
    assert len(parse_daily_papers([item(withdrawnAt=empty)])) == 1


# -- top level ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"error": "Invalid date"}, "object"),
        (None, "null"),
        ("[]", "string"),
        (3, "number"),
        (True, "boolean"),
    ],
)
def test_top_level_must_be_a_list(data: object, kind: str) -> None:
    with pytest.raises(SourceError) as err:
        parse_daily_papers(data, origin="response for 2024-11-11")
    expected = f"response for 2024-11-11 is not a daily_papers list (got a JSON {kind})"
    assert str(err.value) == expected


def test_empty_list() -> None:
    assert parse_daily_papers([]) == []


def test_source_label() -> None:
    assert parse_item(item(), source="file") == Paper(
        id="2411.05288", title="A title", abstract="An abstract.", source="file"
    )


# -- real fixtures -----------------------------------------------------------------


def test_real_fixture() -> None:
    data = json.loads((FIXTURES / "hf_daily_papers_2024-11-11.json").read_text("utf-8"))
    papers = parse_daily_papers(data)
    assert len(papers) == 9
    assert {p.daily_date for p in papers} == {dt.date(2024, 11, 11)}
    assert sum(1 for p in papers if any("\uac00" <= ch <= "\ud7a3" for ch in p.abstract)) == 3
    llm2clip = next(p for p in papers if p.id == "2411.04997")
    assert llm2clip.upvotes == 11
    assert llm2clip.title.startswith("LLM2CLIP")


def test_hostile_fixture() -> None:
    data = json.loads((FIXTURES / "hf_hostile_public.json").read_text("utf-8"))
    papers = parse_daily_papers(data)
    assert len(papers) == 5
    long_abstract = max(papers, key=lambda p: len(p.abstract))
    assert len(long_abstract.abstract.split()) >= 5000
    assert all("\n" not in p.title and "\n" not in p.abstract for p in papers)


# -- property: arbitrary JSON never breaks the parser -------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "2411.05288",
            "2411.05288v3",
            "hep-th/9901001v1",
            "arXiv:2411.00001",
            "https://github.com/a/b",
            "javascript:x",
            "2024-11-11T00:00:00.000Z",
            "2024-13-45",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
        ]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
PAPER_KEYS = [
    "id",
    "title",
    "summary",
    "authors",
    "publishedAt",
    "submittedOnDailyAt",
    "upvotes",
    "ai_summary",
    "ai_keywords",
    "githubRepo",
    "projectPage",
    "withdrawnAt",
]
ITEM_KEYS = ["publishedAt", "title", "summary", "thumbnail"]
shaped_items = st.fixed_dictionaries(
    {"paper": st.one_of(json_values, st.dictionaries(st.sampled_from(PAPER_KEYS), json_values))},
    optional={key: json_values for key in ITEM_KEYS},
)


def check_paper(paper: Paper) -> None:
    assert normalize_arxiv_id(paper.id) == paper.id
    assert isinstance(paper.upvotes, int) and paper.upvotes >= 0
    for text in (paper.title, paper.abstract, *paper.authors, *paper.ai_keywords):
        assert isinstance(text, str)
        assert text == " ".join(text.split())
        text.encode("utf-8")
    assert all(paper.authors) and all(paper.ai_keywords)
    for url in (paper.github_url, paper.project_url, paper.thumbnail_url):
        assert url is None or url.lower().startswith(("http://", "https://"))
    assert paper.published_at is None or paper.published_at.tzinfo is not None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(json_values, shaped_items), max_size=6))
def test_any_list_parses(data: list[Any]) -> None:
    papers = parse_daily_papers(data)
    assert len({p.id for p in papers}) == len(papers)
    for paper in papers:
        check_paper(paper)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_any_value_parses_or_raises_source_error(data: Any) -> None:
    try:
        papers = parse_daily_papers(data)
    except SourceError as err:
        assert not isinstance(data, list)
        assert "\n" not in str(err)
    else:
        assert isinstance(data, list)
        for paper in papers:
            check_paper(paper)
