"""Digest and Reply -> Rich renderables. Pure: no I/O.

Untrusted text goes into `rich.text.Text` objects, never through Rich markup, so a
title like "[bold]x[/]" prints as written; and through `safe` first, so an escape
sequence in it shows as "␛[31m" instead of recolouring the terminal. Links become
terminal hyperlinks only when they are well-formed http(s) URLs.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.style import Style
from rich.text import Text

from paperboy.models import Digest, DigestEntry, Paper, Reply, SearchHit, SearchResults, Span
from paperboy.terminal import terminal_safe
from paperboy.urls import safe_http_url
from paperboy_adapters.console.help import render_help

HIGHLIGHT = "bold yellow"


def safe(text: str, style: str = "") -> Text:
    """Untrusted text as a Text: one character for one, controls made visible."""
    return Text(terminal_safe(text), style=style)


def highlighted(text: str, spans: Sequence[Span], style: str = HIGHLIGHT) -> Text:
    out = safe(text)  # same length: the spans still fit
    for span in spans:
        out.stylize(style, span.start, span.end)
    return out


def links_line(paper: Paper) -> Text:
    """arxiv: URL  pdf: URL ... as terminal hyperlinks."""
    links = Text()
    for name, url in paper.links.as_dict().items():
        checked = safe_http_url(url)
        if checked is None:
            continue
        if links:
            links.append("  ")
        links.append(f"{name}: ", style="dim")
        links.append(checked, style=Style(link=checked))
    return links


def render_entry(index: int, entry: DigestEntry) -> RenderableType:
    paper = entry.paper
    title = Text(f"{index}. ", style="bold")
    title.append_text(highlighted(paper.title, entry.title_highlights, "bold underline"))
    title.stylize("bold")
    meta = safe(entry.authors_line or "(no authors listed)", style="dim")
    meta.append(f"  ▲ {paper.upvotes}", style="green")
    if entry.matched_terms:
        meta.append("  matched: ", style="dim")
        meta.append(terminal_safe(", ".join(entry.matched_terms)), style="cyan")
    summary = highlighted(entry.summary, entry.summary_highlights)
    lines: list[RenderableType] = [title, meta, summary, links_line(paper)]
    if entry.why:
        lines.append(safe(f"why: {entry.why}", style="dim italic"))
    return Group(*lines, Text(""))


def render_suggestions(digest: Digest) -> list[RenderableType]:
    """"Also worth a look": papers no subscription matched, each with why."""
    if not digest.suggestions:
        return []
    heading = Text("Also worth a look", style="bold")
    heading.append(" (matched no subscription; from this channel's feedback)", style="dim")
    start = len(digest.entries) + 1
    return [heading] + [render_entry(i, e) for i, e in enumerate(digest.suggestions, start)]


def render_files(reply: Reply) -> list[RenderableType]:
    """A reply's files, shown in full (the terminal has nowhere to upload them)."""
    parts: list[RenderableType] = []
    for file in reply.files:
        parts.append(Rule(safe(file.name, style="bold")))
        parts.append(Text(terminal_safe(file.content, keep="\n")))
    return parts


def render_digest(digest: Digest) -> list[RenderableType]:
    parts: list[RenderableType] = [Rule(safe(digest.header, style="bold magenta"))]
    if digest.source_label:
        parts.append(safe(f"[{digest.source_label}]", style="bold red"))
    if digest.queries:
        parts.append(safe("Subscriptions: " + " | ".join(digest.queries), style="dim"))
    if not digest.entries:
        parts.append(Text("No paper matched these subscriptions."))
    parts += [render_entry(i, e) for i, e in enumerate(digest.entries, start=1)]
    if digest.omitted:
        more = Text(f"… and {digest.omitted} more matching papers", style="italic")
        url = safe_http_url(digest.full_list_url)
        if url:
            more.append(" (")
            more.append(url, style=Style(link=url))
            more.append(")")
        parts.append(more)
    parts += render_suggestions(digest)
    return parts


def render_hit(index: int, hit: SearchHit) -> RenderableType:
    paper = hit.paper
    title = Text(f"{index}. ", style="bold")
    title.append_text(highlighted(paper.title, hit.title_highlights, "bold underline"))
    title.stylize("bold")
    meta = safe(hit.authors_line or "(no authors listed)", style="dim")
    meta.append(f"  {hit.date.isoformat() if hit.date else 'undated'}", style="dim")
    meta.append(f"  ▲ {paper.upvotes}", style="green")
    meta.append(f"  score {hit.score:.3g}", style="dim")
    summary = highlighted(hit.summary, hit.summary_highlights)
    return Group(title, meta, summary, links_line(paper), Text(""))


def render_search(results: SearchResults) -> list[RenderableType]:
    parts: list[RenderableType] = [Rule(safe(results.header, style="bold magenta"))]
    if not results.hits:
        parts.append(Text("No paper in the archive matches this search."))
    parts += [render_hit(i, h) for i, h in enumerate(results.hits, start=1)]
    if results.hits:
        hint = Text("Follow new papers like these: ", style="dim")
        hint.append(terminal_safe(results.subscribe_command), style="cyan")
        parts.append(hint)
    return parts


def render_reply(reply: Reply) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if reply.search is not None:
        parts += render_search(reply.search)  # `text` is only a fallback rendering of it
    elif reply.help is not None:
        parts.append(render_help(reply.help))  # `text` is only a fallback rendering of it
    elif reply.text:
        text = terminal_safe(reply.text, keep="\n")  # a reply may have several lines
        parts.append(Text(text, style="" if reply.ok else "red"))
    if reply.digest is not None:
        parts += render_digest(reply.digest)
    parts += render_files(reply)
    return parts


def render(item: Digest | Reply) -> list[RenderableType]:
    return render_digest(item) if isinstance(item, Digest) else render_reply(item)
