"""The Discord renderer: limits, splitting, escaping, links. Pure: no network."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.digest import digest_for_queries, make_entry
from paperboy.models import Digest, DigestEntry, Paper, Reply, Span
from paperboy.sources.file import FileSource
from paperboy_adapters.discord import limits
from paperboy_adapters.discord.escape import ZWSP, escape, fit, width
from paperboy_adapters.discord.render import (
    embed_chars,
    render,
    render_digest,
    render_entry,
    render_reply,
    safe_url,
    to_json,
)
from tests.fakes.discord.validate import is_empty, message_errors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE = FIXTURES / "hf_hostile_public.json"

# Anything that would render live in Discord if it reached a markdown place as is.
LIVE = [
    re.compile(r"@(everyone|here)", re.IGNORECASE),
    re.compile(r"<[@#:/]|<a:|<t:|<id:", re.IGNORECASE),
    re.compile(r"\]\("),  # a masked link
    re.compile(r"(?<!\u200b)://"),  # an auto-linked URL (ours are checked separately)
]


def paper(i: int = 1, **changes: Any) -> Paper:
    values: dict[str, Any] = {
        "id": f"2411.{i:05d}",
        "title": f"Paper {i} about LoRA",
        "abstract": "We study LoRA adapters.",
        "authors": ("Ada Lovelace", "Alan Turing"),
        "upvotes": i,
        "thumbnail_url": f"https://cdn-thumbnails.huggingface.co/{i}.png",
    }
    values.update(changes)
    return Paper(**values)


def digest_of(papers: list[Paper], **changes: Any) -> Digest:
    values: dict[str, Any] = {
        "date": dt.date(2024, 11, 11),
        "queries": ("LoRA",),
        "checked": len(papers),
        "entries": tuple(make_entry(p, ["LoRA"]) for p in papers),
    }
    values.update(changes)
    return Digest(**values)


def untrusted_strings(body: dict[str, Any]) -> list[str]:
    """Every string of a body that carries paper or user text (not our own link field)."""
    out = [body["content"]]
    for embed in body["embeds"]:
        out += [embed.get("title", ""), embed.get("description", "")]
        out.append(embed.get("author", {}).get("name", ""))
        out.append(embed.get("footer", {}).get("text", ""))
        out += [f["value"] for f in embed.get("fields", []) if f["name"] != "Links"]
    return out


def assert_inert(bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        assert body["allowed_mentions"] == {"parse": []}
        for text in untrusted_strings(body):
            # our own "… and N more: <https://…>" link is the only URL in content
            text = re.sub(r": <https?://[^\s>]+>$", "", text)
            for pattern in LIVE:
                assert not pattern.search(text), (pattern.pattern, text[:200])
        for embed in body["embeds"]:
            for item in embed.get("fields", []):
                if item["name"] == "Links":
                    for url in re.findall(r"\]\(([^)]*)\)", item["value"]):
                        assert url == safe_url(url) and url.startswith("https://")


def assert_valid(bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        assert set(body) == {"content", "embeds", "allowed_mentions"}
        assert message_errors(body) == {}, message_errors(body)
        assert not is_empty(body)
        assert width(body["content"]) <= limits.CONTENT
        assert len(body["embeds"]) <= limits.EMBEDS_PER_MESSAGE
        assert sum(embed_chars(e) for e in body["embeds"]) <= limits.EMBED_TOTAL


# ------------------------------------------------------------------ escaping


@pytest.mark.parametrize(
    ("raw", "absent"),
    [
        ("@everyone look", "@everyone"),
        ("@here", "@here"),
        ("hi <@123456789012345678>", "<@"),
        ("role <@&123456789012345678>", "<@&"),
        ("chan <#123456789012345678>", "<#"),
        ("[arxiv.org](https://evil.example)", "]("),
        ("see https://evil.example now", "https://"),
        ("<t:1700000000:R>", "<t:"),
    ],
)
def test_escape_breaks_mentions_and_links(raw: str, absent: str) -> None:
    for markdown in (True, False):
        out = escape(raw, markdown=markdown)
        assert absent not in out
        assert out.replace(ZWSP, "").replace("\\", "") == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("**bold**", r"\*\*bold\*\*"),
        ("__under__ ||spoiler||", r"\_\_under\_\_ \|\|spoiler\|\|"),
        ("```code```", r"\`\`\`code\`\`\`"),
        ("> quote", r"\> quote"),
        ("# heading", r"\# heading"),
        ("-# small", r"\-# small"),
        ("1. item", r"1\. item"),
        ("a # b - c 1. d", "a # b - c 1. d"),  # only at a line start
        ("~~strike~~", r"\~\~strike\~\~"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_escape_markdown(raw: str, expected: str) -> None:
    assert escape(raw) == expected


def test_escape_bolds_highlights_and_keeps_offsets() -> None:
    text = "We use *LoRA* and QLoRA."
    spans = (Span(8, 12), Span(18, 23))
    assert escape(text, spans) == r"We use \***LoRA**\* and **QLoRA**."
    # overlapping and touching spans merge; spans past the end are clipped
    assert escape("LoRA LoRA", (Span(0, 4), Span(2, 9), Span(5, 99))) == "**LoRA LoRA**"
    # plain places take no markup at all
    assert escape("*LoRA*", (Span(1, 5),), markdown=False) == "*LoRA*"


def test_escape_control_characters_keep_span_offsets() -> None:
    text = "a\x00b\nLoRA"
    assert escape(text, (Span(4, 8),)) == "a b **LoRA**"


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
def test_fit_keeps_limit_and_whole_escapes(text: str, limit: int) -> None:
    out = fit(text, limit)
    assert width(out) <= limit
    if width(escape(text)) <= limit:
        assert out == escape(text)
    else:
        assert out.endswith("…")
        body = out[:-1]
        # an escape is never cut in half: no odd run of backslashes at the end
        trailing = len(body) - len(body.rstrip("\\"))
        assert trailing % 2 == 0


# ------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "ftp://example.com/x",
        "https://",
        "https://exa mple.com",
        "https://user:pw@evil.example/",
        "//evil.example/x",
        "",
        None,
        "https://evil.example\n/x",
    ],
)
def test_safe_url_refuses(url: str | None) -> None:
    assert safe_url(url) is None


def test_safe_url_quotes_markdown_breakers() -> None:
    assert safe_url("https://github.com/a/b") == "https://github.com/a/b"
    assert safe_url("HTTP://Example.com:8080/x?y=1#z") == "http://example.com:8080/x?y=1#z"
    quoted = safe_url("https://example.com/a)b[c]<d>")
    assert quoted == "https://example.com/a%29b%5Bc%5D%3Cd%3E"


# ------------------------------------------------------------------ entries and digests


def test_entry_embed_shape() -> None:
    entry = make_entry(
        paper(7, github_url="https://github.com/x/y", project_url="javascript:alert(1)"),
        ["LoRA"],
    )
    embed = render_entry(entry)
    assert embed["title"] == "Paper 7 about LoRA"
    assert embed["url"] == "https://arxiv.org/abs/2411.00007"  # the title links arXiv everywhere
    assert embed["author"] == {"name": "Ada Lovelace, Alan Turing"}
    assert "**LoRA**" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Votes"] == "▲ 7"
    assert fields["Matched"] == "LoRA"
    assert "[Code](https://github.com/x/y)" in fields["Links"]
    assert "javascript" not in fields["Links"] and "Project" not in fields["Links"]
    assert embed["thumbnail"] == {"url": "https://cdn-thumbnails.huggingface.co/7.png"}
    assert embed["footer"] == {"text": "arXiv 2411.00007"}


def test_blank_values_are_left_out() -> None:
    """Discord refuses blank names and values: text that escapes to nothing is dropped."""
    blank = "\u200b\x00 "
    entry = DigestEntry(paper(1, title=blank, authors=(blank,)), (blank,), blank, authors=(blank,))
    embed = render_entry(entry)
    assert embed["title"] == "2411.00001"
    assert "author" not in embed and "description" not in embed
    assert [f["name"] for f in embed["fields"]] == ["Votes", "Links"]
    assert_valid([{"content": "x", "embeds": [embed], "allowed_mentions": {"parse": []}}])


def test_digest_splits_at_ten_embeds_and_drops_nothing() -> None:
    papers = [paper(i) for i in range(1, 24)]
    bodies = render_digest(digest_of(papers))
    assert [len(b["embeds"]) for b in bodies] == [10, 10, 3]
    titles = [e["title"] for b in bodies for e in b["embeds"]]
    assert titles == [e.paper.title for e in digest_of(papers).entries]
    assert bodies[0]["content"].startswith("**Papers for 2024-11-11**: 23 matching of 23 checked")
    assert "(part 1 of 3)" in bodies[0]["content"]
    assert bodies[2]["content"].startswith("**Papers for 2024-11-11** (part 3 of 3)")
    assert_valid(bodies)


def test_digest_splits_at_6000_embed_characters() -> None:
    long_summary = "LoRA " + "word " * 380  # about 1,900 characters each
    entries = tuple(
        DigestEntry(paper(i), ("LoRA",), long_summary.strip(), (Span(0, 4),)) for i in range(6)
    )
    digest = Digest(dt.date(2024, 11, 11), ("LoRA",), 6, entries)
    bodies = render_digest(digest)
    assert len(bodies) > 1
    assert all(len(b["embeds"]) < 10 for b in bodies)
    assert sum(len(b["embeds"]) for b in bodies) == 6
    assert_valid(bodies)


def test_omitted_and_overflow_are_counted_with_the_full_list_link() -> None:
    papers = [paper(i) for i in range(1, 26)]
    digest = digest_of(papers, omitted=12, full_list_url="https://example.org/list?d=1")
    bodies = render_digest(digest)
    assert bodies[-1]["content"].endswith(
        "… and 12 more matching papers: <https://example.org/list?d=1>"
    )
    capped = render_digest(digest, max_messages=1)
    assert len(capped) == 1 and len(capped[0]["embeds"]) == 10
    assert "and 27 more matching papers" in capped[0]["content"]  # 12 + 15 not shown


def test_empty_digest_is_one_message() -> None:
    bodies = render_digest(digest_of([]))
    assert len(bodies) == 1 and bodies[0]["embeds"] == []
    assert "No paper matched these subscriptions." in bodies[0]["content"]
    assert_valid(bodies)


def test_header_escapes_queries_and_label() -> None:
    digest = digest_of([paper(1)], queries=("@everyone", "**x**"), source_label="sample <@1> data")
    content = render_digest(digest)[0]["content"]
    assert "Subscriptions: @\u200beveryone \\| \\*\\*x\\*\\*" in content
    assert_inert(render_digest(digest))


def test_hostile_fixture_renders_valid_and_inert() -> None:
    papers = asyncio.run(FileSource(HOSTILE).fetch_day(None))
    digest = digest_for_queries(papers, ["LoRA"], day=None)
    assert len(digest.entries) == 5
    bodies = render(digest)
    assert_valid(bodies)
    assert_inert(bodies)
    assert sum(len(b["embeds"]) for b in bodies) == 5
    blob = json.dumps(bodies, ensure_ascii=False)
    for live in ("@everyone", "@here", "<@U0123ABCD>", "](https://evil.example)"):
        assert live not in blob
    many = next(e for b in bodies for e in b["embeds"] if "many authors" in e["title"])
    assert many["author"]["name"].endswith("et al.")


def test_to_json_is_the_array_of_bodies() -> None:
    digest = digest_of([paper(1), paper(2)])
    assert json.loads(to_json(digest)) == render_digest(digest)


def test_reply_text_is_escaped_and_split() -> None:
    lines = [f"#{i}  LoRA @everyone **q**" for i in range(200)]
    bodies = render_reply(Reply("\n".join(lines)))
    assert len(bodies) > 1
    assert_valid(bodies)
    assert_inert(bodies)
    joined = "\n".join(b["content"] for b in bodies)
    assert joined.count("LoRA") == 200
    assert render_reply(Reply("")) == [
        {"content": "Done.", "embeds": [], "allowed_mentions": {"parse": []}}
    ]


def test_reply_with_digest_adds_the_digest_messages() -> None:
    bodies = render_reply(Reply("Here you go", digest=digest_of([paper(1)])))
    assert bodies[0]["content"] == "Here you go"
    assert len(bodies[1]["embeds"]) == 1


# ------------------------------------------------------------------ property tests

HOSTILE_BITS = [
    "@everyone",
    "@here",
    "@Everyone",
    "<@123456789012345678>",
    "<@!1>",
    "<@&1>",
    "<#1>",
    "[x](https://evil.example)",
    "https://evil.example/a",
    "**",
    "__",
    "`",
    "```",
    "\\",
    "||",
    "> ",
    ">>> ",
    "# ",
    "-# ",
    "1. ",
    "\n",
    "<t:1:R>",
    "<:e:1>",
    "😀",
    "𝕏" * 3,
    "\u200b",
    "\x00",
    "\u202e",
    "LoRA",
    " ",
    "ü",
    "\r\n",
]
pieces = st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=40))
hostile_text = st.lists(pieces, max_size=40).map("".join)
long_text = st.one_of(hostile_text, st.text(min_size=0, max_size=6000))
urls = st.one_of(
    st.none(),
    hostile_text,
    st.sampled_from(["https://github.com/x/y", "javascript:alert(1)", "https://a.b/(x)[y]"]),
)


@st.composite
def entries(draw: st.DrawFn) -> DigestEntry:
    title = draw(long_text)
    summary = draw(long_text)
    p = Paper(
        id=draw(st.one_of(st.just("2411.00001"), hostile_text)),
        title=title,
        abstract=summary,
        authors=tuple(draw(st.lists(hostile_text, max_size=8))),
        upvotes=draw(st.integers(min_value=-5, max_value=10**12)),
        github_url=draw(urls),
        project_url=draw(urls),
        thumbnail_url=draw(urls),
    )
    spans = draw(
        st.lists(
            st.builds(Span, st.integers(-5, len(summary) + 5), st.integers(-5, len(summary) + 5)),
            max_size=6,
        )
    )
    return DigestEntry(
        paper=p,
        matched_terms=tuple(draw(st.lists(hostile_text, max_size=5))),
        summary=summary,
        summary_highlights=tuple(spans),
        authors=p.authors,
        more_authors=draw(st.integers(0, 300)),
    )


digests = st.builds(
    Digest,
    date=st.one_of(st.none(), st.dates()),
    queries=st.lists(hostile_text, max_size=8).map(tuple),
    checked=st.integers(0, 10**6),
    entries=st.lists(entries(), max_size=23).map(tuple),
    omitted=st.integers(0, 1000),
    source_label=st.one_of(st.none(), hostile_text),
    full_list_url=urls,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(digests)
def test_any_digest_keeps_every_limit_and_pings_nobody(digest: Digest) -> None:
    bodies = render_digest(digest)
    assert_valid(bodies)
    assert_inert(bodies)
    assert sum(len(b["embeds"]) for b in bodies) == len(digest.entries)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(hostile_text, st.text(max_size=3000)), max_size=20).map("\n".join))
def test_any_reply_text_keeps_every_limit_and_pings_nobody(text: str) -> None:
    bodies = render_reply(Reply(text))
    assert_valid(bodies)
    assert_inert(bodies)
