"""Digest and Reply -> Rich renderables. Pure: no I/O.

Untrusted text goes into `rich.text.Text` objects, never through Rich markup, so a
title like "[bold]x[/]" prints as written.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from bot.models import Digest, DigestEntry, Paper, Reply, SearchHit, SearchResults, Span

HIGHLIGHT = "bold yellow"


def highlighted(text: str, spans: Sequence[Span], style: str = HIGHLIGHT) -> Text:
    out = Text(text)
    for span in spans:
        out.stylize(style, span.start, span.end)
    return out


def links_line(paper: Paper) -> Text:
    """arxiv: URL  pdf: URL ... as terminal hyperlinks."""
    links = Text()
    for name, url in paper.links.as_dict().items():
        if links:
            links.append("  ")
        links.append(f"{name}: ", style="dim")
        links.append(url, style=f"link {url}")
    return links


def render_entry(index: int, entry: DigestEntry) -> RenderableType:
    paper = entry.paper
    title = Text(f"{index}. ", style="bold")
    title.append_text(highlighted(paper.title, entry.title_highlights, "bold underline"))
    title.stylize("bold")
    meta = Text(entry.authors_line or "(no authors listed)", style="dim")
    meta.append(f"  ▲ {paper.upvotes}", style="green")
    if entry.matched_terms:
        meta.append("  matched: ", style="dim")
        meta.append(", ".join(entry.matched_terms), style="cyan")
    summary = highlighted(entry.summary, entry.summary_highlights)
    return Group(title, meta, summary, links_line(paper), Text(""))


def render_digest(digest: Digest) -> list[RenderableType]:
    parts: list[RenderableType] = [Rule(Text(digest.header, style="bold magenta"))]
    if digest.source_label:
        parts.append(Text(f"[{digest.source_label}]", style="bold red"))
    if digest.queries:
        parts.append(Text("Subscriptions: " + " | ".join(digest.queries), style="dim"))
    if not digest.entries:
        parts.append(Text("No paper matched these subscriptions."))
    parts += [render_entry(i, e) for i, e in enumerate(digest.entries, start=1)]
    if digest.omitted:
        more = Text(f"… and {digest.omitted} more matching papers", style="italic")
        if digest.full_list_url:
            more.append(f" ({digest.full_list_url})")
        parts.append(more)
    return parts


def render_hit(index: int, hit: SearchHit) -> RenderableType:
    paper = hit.paper
    title = Text(f"{index}. ", style="bold")
    title.append_text(highlighted(paper.title, hit.title_highlights, "bold underline"))
    title.stylize("bold")
    meta = Text(hit.authors_line or "(no authors listed)", style="dim")
    meta.append(f"  {hit.date.isoformat() if hit.date else 'undated'}", style="dim")
    meta.append(f"  ▲ {paper.upvotes}", style="green")
    meta.append(f"  score {hit.score:.3g}", style="dim")
    summary = highlighted(hit.summary, hit.summary_highlights)
    return Group(title, meta, summary, links_line(paper), Text(""))


def render_search(results: SearchResults) -> list[RenderableType]:
    parts: list[RenderableType] = [Rule(Text(results.header, style="bold magenta"))]
    if not results.hits:
        parts.append(Text("No paper in the archive matches this search."))
    parts += [render_hit(i, h) for i, h in enumerate(results.hits, start=1)]
    if results.hits:
        hint = Text("Follow new papers like these: ", style="dim")
        hint.append(results.subscribe_command, style="cyan")
        parts.append(hint)
    return parts


def render_reply(reply: Reply) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if reply.search is not None:
        parts += render_search(reply.search)  # `text` is only a fallback rendering of it
    elif reply.text:
        parts.append(Text(reply.text, style="" if reply.ok else "red"))
    if reply.digest is not None:
        parts += render_digest(reply.digest)
    return parts


def render(item: Digest | Reply) -> list[RenderableType]:
    return render_digest(item) if isinstance(item, Digest) else render_reply(item)
