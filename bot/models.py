"""Platform-neutral data the core passes around. No markup, no platform details."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, fields

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_PDF = "https://arxiv.org/pdf/"
HF_PAPERS = "https://huggingface.co/papers/"
WEBHOOK_PLATFORM = "discord-webhook"
_WEBHOOK_ID = re.compile(r"/webhooks/(\d{1,20})(?:/|$)")
#: The largest integer the archive stores: its integer columns (`upvotes`) are SQL
#: INTEGER, 32-bit on PostgreSQL. Sources clamp larger numbers to it.
MAX_INTEGER = 2**31 - 1


@dataclass(frozen=True, slots=True)
class PaperLinks:
    """A paper's links. One rule on every platform: the title links `arxiv` (the abstract
    page), and the links are listed in this order (arXiv, PDF, Hugging Face, GitHub,
    project page), as `as_dict` gives them."""

    arxiv: str
    pdf: str
    hf: str | None = None
    github: str | None = None
    project: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"arxiv": self.arxiv, "pdf": self.pdf}
        for name in ("hf", "github", "project"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


MAX_TITLE = 2_000
MAX_ABSTRACT = 50_000
MAX_AI_SUMMARY = 20_000
MAX_NAMES = 10_000
MAX_NAME = 500
"""Field caps (characters; ``MAX_NAMES`` counts values) applied by :class:`Paper`.

Real papers stay far below them (arXiv allows 1,920 characters of abstract; the longest
author lists have about 5,000 names). A hostile or broken source can send anything, and
every field is normalised, matched against every subscription, indexed and rendered, so
a paper is cut to these sizes once, where it is made: matching, the search index, the
store and the renderers all see the same, bounded text.
"""


def _cut(value: object, cap: int) -> object:
    return value[:cap] if isinstance(value, str) and len(value) > cap else value


def _cut_names(values: object) -> object:
    if not isinstance(values, tuple | list):
        return values
    if len(values) <= MAX_NAMES and all(
        not isinstance(v, str) or len(v) <= MAX_NAME for v in values
    ):
        return values
    return tuple(_cut(v, MAX_NAME) for v in values[:MAX_NAMES])


_TEXT_CAPS = (("title", MAX_TITLE), ("abstract", MAX_ABSTRACT), ("ai_summary", MAX_AI_SUMMARY))


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper of the archive, keyed by its arXiv id without version suffix.

    Text fields longer than the caps above (``MAX_TITLE`` ...) are cut on creation.
    """

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    published_at: dt.datetime | None = None
    daily_date: dt.date | None = None
    upvotes: int = 0
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    github_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    on_hf: bool = True
    source: str = "hf"

    def __post_init__(self) -> None:
        try:  # the common case, quickly: nothing to cut
            if (
                len(self.title) <= MAX_TITLE
                and len(self.abstract) <= MAX_ABSTRACT
                and (self.ai_summary is None or len(self.ai_summary) <= MAX_AI_SUMMARY)
                and len(self.authors) + len(self.ai_keywords) <= MAX_NAMES
                and sum(map(len, self.authors)) <= MAX_NAME
                and sum(map(len, self.ai_keywords)) <= MAX_NAME
            ):
                return
        except TypeError:
            pass
        for name, cap in _TEXT_CAPS:
            value = getattr(self, name)
            cut = _cut(value, cap)
            if cut is not value:
                object.__setattr__(self, name, cut)
        for name in ("authors", "ai_keywords"):
            value = getattr(self, name)
            cut = _cut_names(value)
            if cut is not value:
                object.__setattr__(self, name, cut)

    @property
    def links(self) -> PaperLinks:
        return PaperLinks(
            arxiv=ARXIV_ABS + self.id,
            pdf=ARXIV_PDF + self.id,
            hf=HF_PAPERS + self.id if self.on_hf else None,
            github=self.github_url,
            project=self.project_url,
        )


#: Paper's fields in order: the one list the store's columns, the codec and the
#: search index follow (derived, so a new field needs no second list kept by hand).
PAPER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Paper))


@dataclass(frozen=True, slots=True)
class Target:
    """A place digests go to: a channel on one platform (workspace may be empty)."""

    platform: str
    workspace: str
    channel: str

    @property
    def key(self) -> str:
        parts = (
            [self.platform, self.workspace, self.channel]
            if self.workspace
            else [
                self.platform,
                self.channel,
            ]
        )
        return ":".join(parts)

    @classmethod
    def parse(cls, spec: str) -> Target:
        """Read `platform:channel` or `platform:workspace:channel`.

        `discord-webhook:https://...` keeps the whole URL as the channel.
        """
        platform, sep, rest = spec.partition(":")
        if not sep or not platform or not rest:
            raise ValueError(
                f"channel {spec!r} is not PLATFORM:CHANNEL (for example console:general)"
            )
        if platform == WEBHOOK_PLATFORM:
            return cls(platform, "", rest)
        workspace, sep, channel = rest.partition(":")
        if sep:
            if not channel:
                raise ValueError(f"channel {spec!r} has an empty channel name")
            return cls(platform, workspace, channel)
        return cls(platform, "", rest)

    @property
    def display(self) -> str:
        """The target as shown in logs, errors and `paperboy status`: the key, except that
        a webhook URL keeps only its id (its token is the credential):
        `discord-webhook:123456/***`."""
        if self.platform != WEBHOOK_PLATFORM:
            return self.key
        found = _WEBHOOK_ID.search(self.channel)
        return f"{self.platform}:{found.group(1) + '/' if found else ''}***"

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        channel = self.display.partition(":")[2] if self.platform == WEBHOOK_PLATFORM else None
        return (
            f"Target(platform={self.platform!r}, workspace={self.workspace!r}, "
            f"channel={channel if channel is not None else self.channel!r})"
        )


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    target: Target
    query: str
    created_at: dt.datetime | None = None


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """A channel's schedule and digest options (defaults are a new channel's)."""

    schedule_time: str = "09:00"
    timezone: str = "UTC"
    days: tuple[str, ...] = WEEKDAYS[:5]
    schedule_enabled: bool = True
    paused: bool = False
    paused_reason: str | None = None
    max_papers: int = 20
    min_upvotes: int = 0
    post_empty: bool = False


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range [start, end) in some text."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class DigestEntry:
    paper: Paper
    matched_terms: tuple[str, ...]
    summary: str
    summary_highlights: tuple[Span, ...] = ()
    title_highlights: tuple[Span, ...] = ()
    authors: tuple[str, ...] = ()
    more_authors: int = 0
    #: Why the channel's relevance model placed the paper where it is (None: no reason
    #: beyond the matched terms), e.g. 'close to "X", which this channel liked'.
    why: str | None = None

    @property
    def authors_line(self) -> str:
        line = ", ".join(self.authors)
        return f"{line} et al." if self.more_authors else line


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest for one target: what to post, before any platform renders it."""

    date: dt.date | None
    queries: tuple[str, ...]
    checked: int
    entries: tuple[DigestEntry, ...]
    omitted: int = 0
    source_label: str | None = None
    full_list_url: str | None = None
    title: str | None = None  # replaces the usual header (search results use it)
    #: "Also worth a look": papers no subscription matched that the channel's model rates
    #: highly (each with its `why`); only with `/papers settings suggest on`.
    suggestions: tuple[DigestEntry, ...] = ()
    #: (paper id, token) pairs: the signed feedback buttons of this digest's papers, for
    #: the channel it is made for (`paperboy.feedback.tokens`). Empty: no buttons.
    feedback: tuple[tuple[str, str], ...] = ()

    @property
    def matched(self) -> int:
        return len(self.entries) + self.omitted

    @property
    def header(self) -> str:
        if self.title:
            return self.title
        day = self.date.isoformat() if self.date else "latest"
        return f"Papers for {day}: {self.matched} matching of {self.checked} checked"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One archive search result (see `paperboy.search`); `score`: relevance, higher is better.

    `similarity`: the cosine between the paper's and the query's embeddings, when a
    semantic or hybrid search computed it (`paperboy.search.hybrid`); a hit without
    `matched_terms` was found by meaning only."""

    paper: Paper
    score: float
    matched_terms: tuple[str, ...] = ()
    summary: str = ""
    summary_highlights: tuple[Span, ...] = ()
    title_highlights: tuple[Span, ...] = ()
    authors: tuple[str, ...] = ()
    more_authors: int = 0
    date: dt.date | None = None
    similarity: float | None = None

    @property
    def authors_line(self) -> str:
        line = ", ".join(self.authors)
        return f"{line} et al." if self.more_authors else line


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The answer to a search, before any platform renders it.

    `query` is what the user typed; `terms` the query without search options, i.e. what
    `/papers subscribe` would take to follow such papers from now on. `total` counts all
    matches (an estimate when `total_exact` is false, a lower bound when `total_capped`);
    `hits` are the best of them.
    """

    query: str
    terms: str
    total: int
    hits: tuple[SearchHit, ...] = ()
    total_exact: bool = True
    total_capped: bool = False  # counting stopped at `total`: there are more
    filters: tuple[str, ...] = ()
    #: Signed feedback buttons of the hits, as in `Digest.feedback`.
    feedback: tuple[tuple[str, str], ...] = ()

    @property
    def subscribe_command(self) -> str:
        return f"/papers subscribe {self.terms}"

    def as_digest(self) -> Digest:
        """The hits laid out as a digest, so every renderer can show them."""
        entries = tuple(
            DigestEntry(
                paper=hit.paper,
                matched_terms=hit.matched_terms,
                summary=hit.summary,
                summary_highlights=hit.summary_highlights,
                title_highlights=hit.title_highlights,
                authors=hit.authors,
                more_authors=hit.more_authors,
            )
            for hit in self.hits
        )
        return Digest(
            date=None,
            queries=(),
            checked=self.total,
            entries=entries,
            omitted=max(0, self.total - len(self.hits)),
            title=self.header,
            feedback=self.feedback,
        )

    @property
    def header(self) -> str:
        about = "more than " if self.total_capped else "" if self.total_exact else "about "
        noun = "paper" if self.total == 1 else "papers"
        line = f"Search {self.terms}: {about}{self.total:,} {noun}"
        if self.filters:
            line += " (" + ", ".join(self.filters) + ")"
        if self.hits and len(self.hits) < self.total:
            line += f", top {len(self.hits)}"
        return line


@dataclass(frozen=True, slots=True)
class ReplyFile:
    """A file a reply uploads to the channel (the reading list as BibTeX)."""

    name: str
    content: str
    title: str = ""
    mime: str = "text/plain"


@dataclass(frozen=True, slots=True)
class HelpEntry:
    """One command in `/papers help`: its short form, what it does and an example."""

    usage: str
    summary: str
    example: str | None = None


@dataclass(frozen=True, slots=True)
class Help:
    """`/papers help` as data: each adapter lays it out natively (Block Kit sections, an
    embed with fields, a terminal table); `text()` is the plain fallback."""

    intro: str
    commands: tuple[HelpEntry, ...]
    queries: str
    query_examples: tuple[str, ...] = ()

    def text(self) -> str:
        """One line per command (no padding that wraps on a narrow screen), then queries."""
        lines = [self.intro]
        for entry in self.commands:
            line = f"  {entry.usage} - {entry.summary}"
            if entry.example:
                line += f" (e.g. {entry.example})"
            lines.append(line)
        lines.append(self.queries)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command answers: plain text lines, a digest, or both.

    `search` carries search results; `text` then holds a plain-text rendering of them
    for adapters that do not render searches themselves (those that do show `search`
    instead of `text`).
    """

    text: str = ""
    digest: Digest | None = None
    ok: bool = True
    ephemeral: bool = True
    extra: dict[str, object] = field(default_factory=dict)
    search: SearchResults | None = None
    #: `/papers help`: `text` then holds its plain rendering (Help.text()).
    help: Help | None = None
    #: Files to upload to the channel with the answer (adapters that cannot, show `text`).
    files: tuple[ReplyFile, ...] = ()
