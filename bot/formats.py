"""Platform-neutral digest formats for the CLI: JSON (a stable contract) and Markdown."""

from __future__ import annotations

import json
import re

from bot.models import Digest, DigestEntry


def entry_json(entry: DigestEntry) -> dict[str, object]:
    paper = entry.paper
    links = paper.links
    out_links = {"arxiv": links.arxiv, "pdf": links.pdf}
    if links.hf:
        out_links["hf"] = links.hf
    if links.github:
        out_links["github"] = links.github
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
    return json.dumps(digest_json(digest), ensure_ascii=False, indent=2)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")


def md_escape(text: str) -> str:
    """Escape Markdown so untrusted text stays text inside a table cell."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


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
        more = f"[arXiv]({links.arxiv})"
        if links.hf:
            more += f" or [HuggingFace]({links.hf})"
        if links.github:
            more += f", code on [GitHub]({links.github})"
        title = f"[{md_escape(entry.paper.title)}]({links.arxiv}) (Read more on {more})"
        lines.append(
            f"| {title} | {md_escape(entry.authors_line)} | {md_escape(entry.summary)} |"
        )
    if digest.omitted:
        lines += ["", f"… and {digest.omitted} more matching papers."]
    return "\n".join(lines) + "\n"


NEUTRAL_FORMATS = {"json": to_json, "markdown": to_markdown}
