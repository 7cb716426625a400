"""Why a paper is listed: the sentence where a matched term occurs, when the title and
the summary shown do not show it ("matched: diffusion" with no diffusion in sight)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paperboy.matching import highlight
from paperboy.models import Paper, Span, Why
from paperboy.summaries.sentences import split_sentences
from paperboy.summaries.text import cut_at_word

WHY_LIMIT = 300


def _window(text: str, spans: Sequence[Span], limit: int) -> str:
    """`text` cut to `limit` around its first highlight (ellipses where cut)."""
    if len(text) <= limit or not spans:
        return cut_at_word(text, limit)
    first = spans[0]
    start = max(0, first.start - limit // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first.start else start
    piece = text[start:]
    cut = cut_at_word(piece, limit - (1 if start else 0))
    return ("…" + cut) if start else cut


def find_why(paper: Paper, terms: Sequence[str], shown: Iterable[str]) -> Why | None:
    """The first sentence (abstract, then ai_summary, then ai_keywords) holding the most
    of the matched `terms` that none of the `shown` texts (title, summary) shows."""
    shown = [text for text in shown if text]
    hidden = [t for t in dict.fromkeys(terms) if not any(highlight(s, [t]) for s in shown)]
    if not hidden:
        return None
    fields = (
        ("abstract", [s.text for s in split_sentences(paper.abstract)]),
        ("ai_summary", [s.text for s in split_sentences(paper.ai_summary or "")]),
        ("ai_keywords", [", ".join(paper.ai_keywords)] if paper.ai_keywords else []),
    )
    best: tuple[int, str, str, list[str]] | None = None
    for name, sentences in fields:
        for sentence in sentences:
            found = [t for t in hidden if highlight(sentence, [t])]
            if found and (best is None or len(found) > best[0]):
                best = (len(found), name, sentence, found)
                if len(found) == len(hidden):
                    break
        if best is not None:
            break
    if best is None:
        return None
    _, name, sentence, found = best
    text = _window(sentence, highlight(sentence, found), WHY_LIMIT)
    return Why(field=name, text=text, terms=tuple(found), highlights=highlight(text, found))
