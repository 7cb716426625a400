"""Platform-neutral digest formats for the CLI: JSON (a stable contract) and Markdown."""

from __future__ import annotations

import json
import re

from paperboy.models import Digest, DigestEntry
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
        "links": out_links,
    }


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


def to_markdown(digest: Digest) -> str:
    day = digest.date.isoformat() if digest.date else "the latest day"
    lines = [f"## Papers for {day}", ""]
    if digest.source_label:
        lines += [f"_{md_escape(digest.source_label)}_", ""]
    lines += [
        f"{digest.matched} matching of {digest.checked} checked "
        f"for: {', '.join(md_escape(q) for q in digest.queries)}",
        "",
        "| Title | Authors | Summary |",
        "|-------|---------|---------|",
    ]
    for entry in digest.entries:
        links = entry.paper.links
        title = md_escape(entry.paper.title)
        read = " or ".join(
            link
            for link in (md_link("arXiv", links.arxiv), md_link("HuggingFace", links.hf))
            if link
        )
        extras = [
            f"{words} {link}"
            for words, link in (
                ("code on", md_link("GitHub", links.github)),
                ("project page:", md_link("site", links.project)),
            )
            if link
        ]
        more = ", ".join([f"Read more on {read}"] * bool(read) + extras)
        cell = md_link(title, links.arxiv) or title
        if more:
            cell += f" ({more})"
        lines.append(f"| {cell} | {md_escape(entry.authors_line)} | {md_escape(entry.summary)} |")
    if digest.omitted:
        lines += ["", f"… and {digest.omitted} more matching papers."]
        url = md_link("the full list", digest.full_list_url)
        if url:
            lines[-1] += f" See {url}."
    return "\n".join(lines) + "\n"


NEUTRAL_FORMATS = {"json": to_json, "markdown": to_markdown}
