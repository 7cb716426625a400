"""A channel's reading list as BibTeX (`/papers saved export`, `paperboy saved`).

Each paper is an `@misc` entry in arXiv's own style (eprint, archivePrefix, url). Text
from sources is escaped for BibTeX: braces balanced away, TeX specials backslashed, and
control characters dropped, so a hostile title cannot end an entry or run TeX.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from paperboy.models import Paper

_SPECIAL = re.compile(r"([\\{}%$&#_^~])")
_REPLACE = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "^": r"\^{}",
    "~": r"\~{}",
}
_KEY_CHARS = re.compile(r"[^A-Za-z0-9]+")


def escape(text: str) -> str:
    """`text` as literal BibTeX field content on one line."""
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\t\n")
    text = " ".join(text.split())
    return _SPECIAL.sub(lambda m: _REPLACE.get(m.group(1), "\\" + m.group(1)), text)


def cite_key(paper: Paper) -> str:
    """`<first author's surname><year>_<id>`, ASCII letters and digits only."""
    surname = ""
    if paper.authors:
        parts = paper.authors[0].split()
        surname = parts[-1] if parts else ""
    surname = unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode()
    surname = _KEY_CHARS.sub("", surname).lower()[:20] or "paper"
    year = _year(paper) or ""
    return f"{surname}{year}_{_KEY_CHARS.sub('', paper.id)}"


def _year(paper: Paper) -> str | None:
    if paper.published_at is not None:
        return str(paper.published_at.year)
    if paper.daily_date is not None:
        return str(paper.daily_date.year)
    return None


def entry(paper: Paper) -> str:
    fields = [
        ("title", "{" + escape(paper.title) + "}"),
        ("author", " and ".join(escape(name) for name in paper.authors if name.strip())),
        ("year", _year(paper)),
        ("eprint", escape(paper.id)),
        ("archivePrefix", "arXiv"),
        ("url", paper.links.arxiv),
    ]
    lines = [f"@misc{{{cite_key(paper)},"]
    lines += [f"  {name} = {{{value}}}," for name, value in fields if value]
    lines.append("}")
    return "\n".join(lines)


def to_bibtex(papers: Sequence[Paper]) -> str:
    """The papers as one BibTeX file (empty string for none)."""
    return "\n\n".join(entry(p) for p in papers) + ("\n" if papers else "")
