"""Platform-neutral digest formats for the CLI: JSON (a stable contract) and Markdown."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from paperboy.models import Digest, DigestEntry, Span
from paperboy.summaries import SECTION_KEYS
from paperboy.terminal import json_safe, terminal_safe
from paperboy.urls import safe_http_url


def entry_json(entry: DigestEntry) -> dict[str, object]:
    paper = entry.paper
    links = paper.links
    out_links = {"arxiv": links.arxiv, "pdf": links.pdf}
    if links.hf:
        out_links["hf"] = links.hf
    github = safe_http_url(links.github)  # from the source: only a well-formed http(s) URL
    if github:
        out_links["github"] = github
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": list(paper.authors),
        "upvotes": paper.upvotes,
        "matched_terms": list(entry.matched_terms),
        "summary": entry.summary,
        "summary_style": entry.summary_style,
        "summary_language": entry.summary_language,
        "summary_source": entry.summary_source,
        "summary_sections": sections_json(entry),
        "why": why_json(entry),
        "links": out_links,
    }


def sections_json(entry: DigestEntry) -> dict[str, str] | None:
    """For `structured`: every part by key (possibly empty); for the other styles null."""
    if entry.summary_style != "structured":
        return None
    parts = dict.fromkeys(SECTION_KEYS, "")
    parts.update((s.key, s.text) for s in entry.sections if s.key in parts)
    return parts


def why_json(entry: DigestEntry) -> dict[str, object] | None:
    why = entry.match_why
    if why is None:
        return None
    return {"field": why.field, "text": why.text, "terms": list(why.terms)}


def digest_json(digest: Digest) -> dict[str, object]:
    return {
        "date": digest.date.isoformat() if digest.date else None,
        "queries": list(digest.queries),
        "checked": digest.checked,
        "entries": [entry_json(e) for e in digest.entries],
    }


def to_json(digest: Digest) -> str:
    return json_safe(json.dumps(digest_json(digest), ensure_ascii=False, indent=2))


# Markdown punctuation that can start or end something inside a table cell (emphasis,
# links, code, HTML and entities, the cell itself, strike-through, math); a backslash
# makes each literal. Line-start syntax (#, -, +, 1.) cannot occur: a cell never
# starts a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|!~&$])")
# Bare URLs GitHub would turn into links ("https://x", "www.x"): break the pattern.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z]):(?=//)|(?<=\bwww)\.")


def md_escape(text: str) -> str:
    """Untrusted text as literal markdown on one line, fit for a table cell.

    Whitespace runs (newlines too) become one space; control characters and bidi
    overrides become visible stand-ins (paperboy.terminal); markdown punctuation is escaped.
    """
    text = _MD_SPECIAL.sub(r"\\\1", terminal_safe(" ".join(text.split())))
    return _AUTOLINK.sub(lambda m: "\\" + m.group(), text)


def md_link(label: str, url: str | None) -> str | None:
    """`[label](url)` for a well-formed http(s) URL (percent-encoded), else None.
    `label` is already markdown."""
    safe = safe_http_url(url)
    return f"[{label}]({safe})" if safe is not None else None


def _escape_keeping_edges(piece: str) -> str:
    core = md_escape(piece)
    if not core:
        return " " if piece else ""
    return (" " if piece[0].isspace() else "") + core + (" " if piece[-1].isspace() else "")


def md_highlight(text: str, spans: Sequence[Span]) -> str:
    """`text` escaped (as `md_escape`) with the spans in bold."""
    out: list[str] = []
    at = 0
    for span in spans:
        start, end = max(at, span.start), min(len(text), span.end)
        if start >= end or not text[start:end].strip():
            continue
        out.append(_escape_keeping_edges(text[at:start]))
        out.append(f"**{md_escape(text[start:end])}**")
        at = end
    out.append(_escape_keeping_edges(text[at:]))
    return "".join(out).strip()


def _read_more(entry: DigestEntry) -> str:
    links = entry.paper.links
    read = " or ".join(
        link for link in (md_link("arXiv", links.arxiv), md_link("HuggingFace", links.hf)) if link
    )
    extras = [
        f"{words} {link}"
        for words, link in (
            ("code on", md_link("GitHub", links.github)),
            ("project page:", md_link("site", links.project)),
        )
        if link
    ]
    return ", ".join([f"Read more on {read}"] * bool(read) + extras)


def _why_md(entry: DigestEntry) -> str:
    why = entry.match_why
    if why is None:
        return ""
    terms = ", ".join(md_escape(t) for t in why.terms)
    where = why.field.replace("_", " ")
    return f"matched {terms} in the {where}: {md_highlight(why.text, why.highlights)}"


def _card(entry: DigestEntry) -> list[str]:
    """Seed 001's card: title link, thumbnail, votes, authors, labelled bullets."""
    paper = entry.paper
    title = md_escape(paper.title)
    lines = [f"### {md_link(title, paper.links.arxiv) or title}", ""]
    thumbnail = safe_http_url(paper.thumbnail_url)
    if thumbnail:
        lines += [f"![]({thumbnail})", ""]
    lines += [f"Vote: {paper.upvotes}", ""]
    if entry.authors:
        lines += [f"Authors: {md_escape(entry.authors_line)}", ""]
    for section in entry.sections:
        if section.text:
            text = md_highlight(section.text, section.highlights)
            lines.append(f"- ***{section.label}***: {text}")
    if not any(section.text for section in entry.sections) and entry.summary:
        lines.append(f"- {md_highlight(entry.summary, entry.summary_highlights)}")
    why = _why_md(entry)
    if why:
        lines.append(f"- ***Why it is here***: {why}")
    more = _read_more(entry)
    if more:
        lines += ["", more]
    return [*lines, ""]


def to_markdown(digest: Digest) -> str:
    """Seed 000's table for `paragraph` and `tldr` summaries, seed 001's cards for
    `structured` ones."""
    day = digest.date.isoformat() if digest.date else "the latest day"
    lines = [f"## Papers for {day}", ""]
    if digest.source_label:
        lines += [f"_{md_escape(digest.source_label)}_", ""]
    lines += [
        f"{digest.matched} matching of {digest.checked} checked "
        f"for: {', '.join(md_escape(q) for q in digest.queries)}",
        "",
    ]
    cards = bool(digest.entries) and all(e.summary_style == "structured" for e in digest.entries)
    if cards:
        for entry in digest.entries:
            lines += _card(entry)
        if lines[-1] == "":
            lines.pop()
    else:
        lines += ["| Title | Authors | Summary |", "|-------|---------|---------|"]
    for entry in () if cards else digest.entries:
        title = md_escape(entry.paper.title)
        more = _read_more(entry)
        cell = md_link(title, entry.paper.links.arxiv) or title
        if more:
            cell += f" ({more})"
        summary = md_escape(entry.summary)
        why = _why_md(entry)
        if why:
            summary += f" (why: {why})"
        lines.append(f"| {cell} | {md_escape(entry.authors_line)} | {summary} |")
    if digest.omitted:
        lines += ["", f"… and {digest.omitted} more matching papers."]
        url = md_link("the full list", digest.full_list_url)
        if url:
            lines[-1] += f" See {url}."
    return "\n".join(lines) + "\n"


NEUTRAL_FORMATS = {"json": to_json, "markdown": to_markdown}
