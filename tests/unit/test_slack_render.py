"""Slack Block Kit rendering: limits, splitting, escaping, highlights, previews, threads.

Every rendered message is checked with the fake Slack's own validator
(`tests.fakes.slack.check_message`, which has its own copy of the limits), and every
mrkdwn string with `live_markup` (no mention, no link but the paper's) and
`formatting_problems` (no formatting character from untrusted text).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperboy.digest.build import build_digest, digest_for_queries, merge_matches
from paperboy.matching import Matcher, parse
from paperboy.models import DigestEntry, Paper, Reply, Span
from paperboy.plugins import formats
from paperboy.sources.file import FileSource
from paperboy_adapters.slack.limits import BLOCKS_PER_MESSAGE, RESPONSE_URL_MESSAGES
from paperboy_adapters.slack.mrkdwn import LOOKALIKES, emphasised, fit, safe_url, unescape
from paperboy_adapters.slack.render import (
    SHARE_ACTION,
    THREAD_KEY,
    RenderCache,
    render_digest,
    render_reply,
    sendable,
    to_json,
)
from tests.fakes.slack import check_message, live_markup, mrkdwn_texts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY = dt.date(2024, 11, 11)
_LINK = re.compile(r"<(https?://[^|<>]+)\|([^<>]*)>")


def formatting_problems(text: str) -> list[str]:
    """Formatting characters that did not come from the renderer's own markup."""
    problems = []
    if re.search(r"(?m)^&gt;", text):  # (the renderer guards such lines with a ZWSP)
        problems.append("a line starts with a quote taken from untrusted text")
    if any("\n" in m.group(0) for m in _LINK.finditer(text)):
        problems.append("a line break inside a link")
    labels = _LINK.sub(lambda m: m.group(2), text)  # URLs may hold _ and ~
    for char in "_~`":
        if char in labels:
            problems.append(f"untrusted {char!r} reached mrkdwn")
    for line in labels.split("\n"):
        stars = [m.start() for m in re.finditer(r"\*", line)]
        if len(stars) % 2:
            problems.append(f"unpaired * in {line[:80]!r}")
            continue
        for open_, close in zip(stars[::2], stars[1::2], strict=True):
            inner = line[open_ + 1 : close]
            if not inner or inner != inner.strip():
                problems.append(f"malformed bold {inner[:40]!r}")
    return problems


def assert_valid(parts: list[dict[str, Any]], allowed_urls: set[str] | None = None) -> None:
    for part in parts:
        assert "channel" not in part
        assert isinstance(part["text"], str) and part["text"]
        assert isinstance(part["blocks"], list) and part["blocks"]
        sent = sendable(part)
        json.dumps(sent)  # JSON-serialisable, as the outbox stores it
        assert check_message(sent) is None, check_message(sent)
        for text in [*mrkdwn_texts(part["blocks"]), part["text"]]:
            assert live_markup(text, allowed_urls) == [], text
            assert formatting_problems(text) == [], text


def paper_urls(papers: list[Paper]) -> set[str]:
    urls: set[str] = set()
    for p in papers:
        for url in p.links.as_dict().values():
            if (safe := safe_url(url)) is not None:
                urls.add(safe)
    return urls


def all_sections(parts: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for p in parts for b in p["blocks"] if b["type"] == "section"]


def load(name: str) -> list[Paper]:
    return asyncio.run(FileSource(FIXTURES / name).fetch_day(None))


# -- the recorded days -----------------------------------------------------------------


def test_sample_day_renders_one_valid_message_per_digest() -> None:
    papers = load("hf_daily_papers_2024-11-11.json")
    digest = digest_for_queries(
        papers, ["LoRA", "pipeline parallelism"], day=DAY, style="structured"
    )
    parts = render_digest(digest)
    assert_valid(parts, paper_urls(papers))
    blocks = parts[0]["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": digest.header},
    }
    assert "matching of 9 checked" in blocks[0]["text"]["text"]
    first = blocks[2]
    assert first["type"] == "section"
    # The thumbnail large, below the labelled parts (not an 80 px accessory crop).
    assert "accessory" not in first
    parts_text = blocks[3]["text"]["text"]
    assert parts_text.startswith("*What's New:* ")
    assert "\n*Technical Details:* " in parts_text
    assert "\n*Performance Highlights:* " in parts_text
    assert blocks[4]["type"] == "image" and blocks[4]["image_url"].startswith("https://")
    text = first["text"]["text"]
    entry = digest.entries[0]
    assert text.startswith(f"*1. <{entry.paper.links.arxiv}|")
    assert f"▲ {entry.paper.upvotes}" in text
    assert "matched: " in text
    links = blocks[5]["elements"][0]["text"]
    assert f"<{entry.paper.links.pdf}|PDF>" in links and "|arXiv>" in links
    assert parts[0]["text"].startswith(digest.header)
    assert blocks[-1]["type"] != "divider"


def test_matched_terms_are_bold_in_the_summary() -> None:
    papers = load("hf_daily_papers_2024-11-11.json")
    digest = digest_for_queries(papers, ["pipeline parallelism"], day=DAY, style="paragraph")
    text = all_sections(render_digest(digest))[0]
    summary = text.split("\n>", 1)[1]
    bold = re.findall(r"\*([^*]+)\*", summary)
    entry = digest.entries[0]
    expected = [entry.summary[s.start : s.end] for s in entry.summary_highlights]
    assert bold and bold == expected


def test_hostile_papers_stay_text_and_within_limits() -> None:
    papers = load("hf_hostile_public.json")
    digest = digest_for_queries(papers, ["LoRA"], day=None)
    assert len(digest.entries) == 5
    parts = render_digest(digest)
    assert_valid(parts, paper_urls(papers))
    body = "\n".join(all_sections(parts))
    assert "&lt;!channel&gt;" in body and "&lt;@U0123ABCD&gt;" in body
    assert "&lt;https://evil.example|arxiv.org/abs/2501.00002&gt;" in body
    assert "evil.example" not in "".join(_LINK.findall(body)[0])  # only real links
    for p in papers:  # every paper is there, linked to its own arXiv page
        assert f"<{p.links.arxiv}|" in body
    # The 300-author paper: five names and "et al."; the 5,000-word abstract: cut.
    assert "Author 4 et al." in body and "Author 5" not in body
    assert max(len(t) for t in all_sections(parts)) <= 3000
    # The thread and preview renderings of the same digest are valid too.
    assert_valid(render_digest(digest, thread=True), paper_urls(papers))
    assert_valid(render_reply(Reply(digest=digest)), paper_urls(papers))


def test_format_slack_contract() -> None:
    papers = load("hf_hostile_public.json")
    digest = digest_for_queries(papers, ["LoRA"], day=None)
    out = formats()["slack"](digest)
    assert out == to_json(digest)
    parsed = json.loads(out)
    assert isinstance(parsed, list) and parsed
    assert parsed == render_digest(digest)
    assert all(set(p) >= {"text", "blocks"} and "channel" not in p for p in parsed)
    numbers = re.findall(r"\*(\d+)\. <", "\n".join(all_sections(parsed)))
    assert numbers == [str(i) for i in range(1, 6)]


# -- links and escaping -----------------------------------------------------------------


def test_only_http_links_and_images() -> None:
    paper = Paper(
        id="2411.00001",
        title="LoRA links",
        github_url="javascript:alert(1)",
        project_url="https://example.org/a_b?x=1&y=<2>",
        thumbnail_url="data:image/png;base64,AAAA",
    )
    digest = digest_for_queries([paper], ["LoRA"], day=DAY)
    parts = render_digest(digest)
    assert_valid(parts)
    section = parts[0]["blocks"][2]
    assert "accessory" not in section
    links = parts[0]["blocks"][3]["elements"][0]["text"]
    assert "javascript" not in links and "GitHub" not in links
    assert "<https://example.org/a_b?x=1&amp;y=%3C2%3E|Project page>" in links


def test_untrusted_formatting_cannot_break_bold() -> None:
    summary = "*LoRA* _and_ `QLoRA` ~x~ a*b LoRA*"
    spans = tuple(Span(i, i + len(w)) for i, w in ((1, "LoRA"), (14, "QLoRA"), (29, "LoRA")))
    assert [summary[sp.start : sp.end] for sp in spans] == ["LoRA", "QLoRA", "LoRA"]
    out = emphasised(summary, spans, None)
    assert formatting_problems(out) == []
    assert re.findall(r"\*([^*]+)\*", out) == ["LoRA", "QLoRA", "LoRA"]
    assert LOOKALIKES["*"] in out and LOOKALIKES["`"] in out


def test_cut_keeps_entities_and_bold_whole() -> None:
    text = "&" * 50 + " LoRA " + "<" * 50
    for limit in range(1, 400, 7):
        out = emphasised(text, (Span(51, 55),), limit)
        assert len(out) <= limit
        assert not re.search(r"&(?!amp;|lt;|gt;)", out)
        assert formatting_problems(out) == []
    assert fit("word " * 10, 12).endswith("…")


def test_slash_command_text_is_unescaped() -> None:
    assert unescape("a &lt;b&gt; &amp;lt;") == "a <b> &lt;"


# -- splitting ----------------------------------------------------------------------------


def many(n: int, *, abstract: str = "We study LoRA. " * 10) -> list[Paper]:
    return [
        Paper(
            id=f"2411.{i:05d}",
            title=f"LoRA paper {i}",
            abstract=abstract,
            authors=tuple(f"Author {j}" for j in range(7)),
            upvotes=1000 - i,
            thumbnail_url=f"https://example.org/{i}.png",
        )
        for i in range(n)
    ]


def test_long_digest_is_split_into_valid_messages_in_order() -> None:
    papers = many(60)
    digest = digest_for_queries(papers, ["LoRA"], day=DAY)
    parts = render_digest(digest)
    assert len(parts) > 1
    assert_valid(parts, paper_urls(papers))
    assert all(len(p["blocks"]) <= BLOCKS_PER_MESSAGE for p in parts)
    numbers = re.findall(r"\*(\d+)\. <", "\n".join(all_sections(parts)))
    assert numbers == [str(i) for i in range(1, 61)]
    for index, part in enumerate(parts[1:], start=2):
        first = part["blocks"][0]
        assert first["type"] == "context"
        assert f"continued ({index}/{len(parts)})" in first["elements"][0]["text"]
        assert f"continued, {index}/{len(parts)}" in part["text"]


def test_text_heavy_digest_is_split_by_the_cumulative_text_limit() -> None:
    papers = [
        Paper(
            id=f"2411.{i:05d}",
            title="LoRA " + "long title " * 60,
            abstract="We study LoRA at length. " * 40,
            authors=tuple("Someone With A Very Long Name " * 3 for _ in range(6)),
            upvotes=100 - i,
        )
        for i in range(40)
    ]
    parts = render_digest(digest_for_queries(papers, ["LoRA"], day=DAY))
    assert_valid(parts, paper_urls(papers))
    assert all(len(p["blocks"]) < BLOCKS_PER_MESSAGE for p in parts)  # text, not blocks, bound
    numbers = re.findall(r"\*(\d+)\. <", "\n".join(all_sections(parts)))
    assert numbers == [str(i) for i in range(1, 41)]


def test_capped_digest_says_how_many_more() -> None:
    papers = many(30)
    digest = digest_for_queries(papers, ["LoRA"], day=DAY, max_papers=20)
    digest = dataclasses.replace(digest, full_list_url="https://example.org/all?d=1&q=2")
    parts = render_digest(digest)
    assert_valid(parts, {"https://example.org/all?d=1&q=2"} | paper_urls(papers))
    last = parts[-1]["blocks"][-1]["text"]["text"]
    assert "and 10 more matching papers" in last
    assert "<https://example.org/all?d=1&amp;q=2|see the full list>" in last


def test_empty_digest_says_so() -> None:
    digest = digest_for_queries(many(3), ["nothing matches this"], day=DAY)
    parts = render_digest(digest)
    assert_valid(parts)
    assert "No paper matched" in all_sections(parts)[0]


# -- replies and previews -------------------------------------------------------------------


def test_reply_text_is_escaped_and_split() -> None:
    reply = Reply("Subscribed #1: <!channel> *x* & friends\n> quoted", ok=True)
    parts = render_reply(reply)
    assert_valid(parts)
    text = parts[0]["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt;" in text and "&amp; friends" in text
    assert "\n\u200b&gt; quoted" in text  # a reply line never starts a quote
    long = Reply("\n".join(f"#{i}  " + "q" * 200 for i in range(200)), ok=False)
    parts = render_reply(long)
    assert_valid(parts)
    assert parts[0]["blocks"][0]["text"]["text"].startswith(":warning: ")
    assert sum(len(p["blocks"]) for p in parts) > 1
    assert len(parts) <= RESPONSE_URL_MESSAGES


def test_preview_fits_a_response_url_and_offers_sharing() -> None:
    papers = many(120, abstract="We study LoRA. " * 30)
    digest = digest_for_queries(papers, ["LoRA"], day=DAY)
    parts = render_reply(Reply(text="Here is today's digest.", digest=digest))
    assert_valid(parts, paper_urls(papers))
    assert len(parts) == RESPONSE_URL_MESSAGES
    last = parts[-1]["blocks"]
    assert last[-1]["type"] == "actions"
    button = last[-1]["elements"][0]
    assert button["action_id"] == SHARE_ACTION
    assert json.loads(button["value"]) == {"date": "2024-11-11"}
    shown = len(re.findall(r"\*(\d+)\. <", "\n".join(all_sections(parts))))
    note = last[-2]["text"]["text"]
    assert f"and {120 - shown} more matching papers not shown" in note


def test_empty_preview_has_no_share_button() -> None:
    digest = digest_for_queries(many(2), ["nothing"], day=DAY)
    parts = render_reply(Reply(digest=digest))
    assert_valid(parts)
    assert all(b["type"] != "actions" for p in parts for b in p["blocks"])


# -- threads --------------------------------------------------------------------------------


def test_thread_rendering_parent_then_replies() -> None:
    papers = many(40)
    digest = digest_for_queries(papers, ["LoRA"], day=DAY)
    parts = render_digest(digest, thread=True)
    assert_valid(parts, paper_urls(papers))
    assert parts[0][THREAD_KEY]["role"] == "parent"
    assert {p[THREAD_KEY]["role"] for p in parts[1:]} == {"reply"}
    assert len({p[THREAD_KEY]["id"] for p in parts}) == 1
    assert THREAD_KEY not in sendable(parts[0])
    assert "*40 papers* in the thread" in all_sections([parts[0]])[0]
    numbers = re.findall(r"\*(\d+)\. <", "\n".join(all_sections(parts[1:])))
    assert numbers == [str(i) for i in range(1, 41)]


# -- arbitrary paper text -----------------------------------------------------------------

HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<@U0123>",
    "<#C0123|general>",
    "<https://evil.example|arxiv.org>",
    "<mailto:a@b.c>",
    "&lt;!channel&gt;",
    "&amp;",
    "*",
    "_",
    "~",
    "`",
    "```",
    ">",
    "\n> ",
    "LoRA",
    "QLoRA",
    " ",
    "\u202e",
    "\u200b",
    "😀",
    "\x00",
    "|",
]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12)), max_size=40).map(
    "".join
)
long_text = st.one_of(hostile_text, st.builds(lambda t, n: t * n, hostile_text, st.integers(1, 60)))
urls = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(
        [
            "javascript:alert(1)",
            "https://ok.example/a_b?x=1&y=2",
            "http://x.example/|y>",
            "https://a b.example",
            "ftp://x.example/f",
            "https://evil.example/<!channel>",
            "https://user:pw@evil.example/",
            "https://example.org/" + "a" * 3100,
        ]
    ),
    hostile_text.map(lambda t: "https://example.org/" + t),
)


@st.composite
def papers_strategy(draw: st.DrawFn) -> list[Paper]:
    count = draw(st.integers(1, 12))
    out = []
    for i in range(count):
        out.append(
            Paper(
                id=draw(st.one_of(st.just(f"2411.{i:05d}"), hostile_text.filter(bool))) + f"v{i}",
                title="LoRA " + draw(long_text),
                abstract=draw(long_text),
                authors=tuple(draw(st.lists(long_text, max_size=8))),
                upvotes=draw(st.integers(0, 10**6)),
                ai_summary=draw(st.one_of(st.none(), long_text)),
                github_url=draw(urls),
                project_url=draw(urls),
                thumbnail_url=draw(urls),
                on_hf=draw(st.booleans()),
            )
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(papers_strategy(), st.lists(hostile_text, max_size=3), st.booleans())
def test_any_paper_text_renders_valid_inert_messages(papers, extra_queries, thread) -> None:
    queries = ["LoRA"] + [q for q in extra_queries if q.strip()]
    digest = digest_for_queries(papers, ["LoRA"], day=DAY)
    digest = dataclasses.replace(digest, queries=tuple(queries))
    assert len(digest.entries) == len(papers)
    allowed = paper_urls(papers)
    parts = render_digest(digest, thread=thread)
    assert_valid(parts, allowed)
    numbers = re.findall(r"\*(\d+)\. ", "\n".join(all_sections(parts)))
    assert numbers == [str(i) for i in range(1, len(papers) + 1)]
    assert_valid(render_reply(Reply(text="\n".join(queries), digest=digest)), allowed)


@settings(max_examples=100, deadline=None)
@given(
    long_text,
    st.lists(st.tuples(st.integers(-5, 400), st.integers(0, 60)), max_size=8),
    st.integers(1, 3000),
)
def test_any_highlights_stay_well_formed(text, raw_spans, limit) -> None:
    spans = tuple(Span(a, a + n) for a, n in raw_spans)
    entry = DigestEntry(
        paper=Paper(id="2411.00001", title="LoRA"),
        matched_terms=("LoRA",),
        summary=text,
        summary_highlights=spans,
    )
    out = emphasised(entry.summary, spans, limit)
    assert len(out) <= limit
    assert live_markup(out) == []
    assert formatting_problems("· " + out) == []  # callers never start a line with it


# -- the render cache (papers rendered once for many channels' digests) -----------------


def channel_digests(papers: list[Paper], queries_per_channel: list[list[str]]) -> list:
    """One digest per channel, made the way the planner makes them: one matcher over all
    queries, one shared entry cache (so a paper is one entry object in every digest)."""
    keyed = [((c, i), q) for c, qs in enumerate(queries_per_channel) for i, q in enumerate(qs)]
    matches = Matcher.compile([(k, parse(q)) for k, q in keyed]).match(papers)
    entries: dict = {}
    out = []
    for c, qs in enumerate(queries_per_channel):
        selected = merge_matches(matches, [(c, i) for i in range(len(qs))])
        out.append(
            build_digest(selected, day=DAY, queries=qs, checked=len(papers), entry_cache=entries)
        )
    return out


def test_cached_rendering_is_identical_to_rendering_afresh() -> None:
    papers = load("hf_daily_papers_2024-11-11.json") + load("hf_hostile_public.json")
    channels = [
        ["LoRA"],
        ["LoRA", "pipeline parallelism"],
        ["pipeline parallelism", "LoRA"],  # the same papers, other terms first
        ["LoRA", "author:nobody"],
        ["LoRA"],  # the first channel again: every paper a hit
    ]
    digests = channel_digests(papers, channels)
    assert all(d.entries for d in digests)
    cache = RenderCache()
    for thread in (False, True):
        for digest in digests:
            fresh = render_digest(digest, thread=thread)
            cached = render_digest(digest, thread=thread, cache=cache)
            assert json.dumps(cached) == json.dumps(fresh)
            assert_valid(cached, paper_urls(papers))
    assert cache.hits > cache.misses  # the digests share papers: most were reused


def test_cache_tells_apart_what_changes_a_paper_s_blocks() -> None:
    """A hit only for the very same entry at the very same number: other matched terms,
    another position or changed paper data render afresh."""
    papers = load("hf_daily_papers_2024-11-11.json")
    cache = RenderCache()
    base = digest_for_queries(papers, ["LoRA"], day=DAY)
    render_digest(base, cache=cache)
    variants = [
        digest_for_queries(papers, ["LoRA", "pipeline parallelism"], day=DAY),
        dataclasses.replace(base, entries=base.entries[::-1]),  # other numbers
        dataclasses.replace(
            base,
            entries=tuple(
                dataclasses.replace(e, paper=dataclasses.replace(e.paper, upvotes=999))
                for e in base.entries
            ),
        ),
    ]
    for variant in variants:
        assert json.dumps(render_digest(variant, cache=cache)) == json.dumps(render_digest(variant))


def test_cache_is_bounded() -> None:
    cache = RenderCache(maxsize=3)
    render_digest(digest_for_queries(many(10), ["LoRA"], day=DAY), cache=cache)
    assert len(cache) == 3


def test_cache_finds_the_same_entries_again_and_equal_ones_too() -> None:
    """The planner hands the renderer the very same entry objects for every channel (found
    by identity, without hashing the paper); an equal entry made anew is a hit as well, and
    after evictions every rendering is still what rendering afresh gives."""
    digest = digest_for_queries(many(10), ["LoRA"], day=DAY)
    cache = RenderCache(maxsize=4)
    fresh = json.dumps(render_digest(digest))
    for _ in range(3):
        assert json.dumps(render_digest(digest, cache=cache)) == fresh
    copy = dataclasses.replace(
        digest, entries=tuple(dataclasses.replace(e) for e in digest.entries)
    )
    assert all(a is not b for a, b in zip(copy.entries, digest.entries, strict=True))
    hits = cache.hits
    assert json.dumps(render_digest(copy, cache=cache)) == fresh
    small = RenderCache(maxsize=10)
    render_digest(digest, cache=small)
    before = small.hits
    render_digest(copy, cache=small)
    assert small.hits - before == len(digest.entries)  # equal entries: every one a hit
    assert cache.hits >= hits
