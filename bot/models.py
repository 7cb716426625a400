"""Platform-neutral data the core passes around. No markup, no platform details."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_PDF = "https://arxiv.org/pdf/"
HF_PAPERS = "https://huggingface.co/papers/"
#: The largest integer the archive stores: its integer columns (`upvotes`) are SQL
#: INTEGER, 32-bit on PostgreSQL. Sources clamp larger numbers to it.
MAX_INTEGER = 2**31 - 1


@dataclass(frozen=True, slots=True)
class PaperLinks:
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


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper of the archive, keyed by its arXiv id without version suffix."""

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

    @property
    def links(self) -> PaperLinks:
        return PaperLinks(
            arxiv=ARXIV_ABS + self.id,
            pdf=ARXIV_PDF + self.id,
            hf=HF_PAPERS + self.id if self.on_hf else None,
            github=self.github_url,
            project=self.project_url,
        )


@dataclass(frozen=True, slots=True)
class Target:
    """A place digests go to: a channel on one platform (workspace may be empty)."""

    platform: str
    workspace: str
    channel: str

    @property
    def key(self) -> str:
        parts = [self.platform, self.workspace, self.channel] if self.workspace else [
            self.platform,
            self.channel,
        ]
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
        if platform == "discord-webhook":
            return cls(platform, "", rest)
        workspace, sep, channel = rest.partition(":")
        if sep:
            if not channel:
                raise ValueError(f"channel {spec!r} has an empty channel name")
            return cls(platform, workspace, channel)
        return cls(platform, "", rest)

    def __str__(self) -> str:
        return self.key


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
    """One archive search result (see `bot.search`); `score`: relevance, higher is better."""

    paper: Paper
    score: float
    matched_terms: tuple[str, ...] = ()
    summary: str = ""
    summary_highlights: tuple[Span, ...] = ()
    title_highlights: tuple[Span, ...] = ()
    authors: tuple[str, ...] = ()
    more_authors: int = 0
    date: dt.date | None = None

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
