"""The summary made without a model, for any style: extractive, or HF's, or the
abstract's first sentences (see `summary_source` in the digest JSON contract)."""

from __future__ import annotations

from paperboy.models import Paper
from paperboy.summaries.extractive import (
    PARAGRAPH_LIMIT,
    PART_LIMITS,
    TLDR_LIMIT,
    extractive_paragraph,
    extractive_sections,
    extractive_tldr,
    find_roles,
    join_within,
)
from paperboy.summaries.language import DEFAULT_LANGUAGE
from paperboy.summaries.sentences import split_sentences
from paperboy.summaries.summary import Summary
from paperboy.summaries.text import cut_at_word, one_line


def local_summary(paper: Paper, style: str) -> Summary:
    """The summary of `paper` in `style` without a model (always English: the paper's).

    - structured and paragraph: the abstract's own sentences by role (`extractive`);
      an abstract with no contribution cue gives its first sentences (`abstract`); no
      abstract, HF's ai_summary (`hf`);
    - tldr: HF's ai_summary when there is one (`hf`: a one-line summary is what it is),
      else the contribution sentence.
    """
    abstract = paper.abstract
    ai_summary = one_line(paper.ai_summary or "")
    if style == "tldr" and ai_summary:
        return Summary(style, DEFAULT_LANGUAGE, "hf", cut_at_word(ai_summary, TLDR_LIMIT))
    roles = find_roles(abstract)
    if roles.contribution is None:  # no abstract
        if ai_summary:
            return _from_text(style, "hf", ai_summary)
        return _from_text(style, "abstract", "")
    if not roles.found and len(roles.sentences) < 3:
        return _from_text(style, "abstract", abstract)
    if style == "structured":
        return Summary.structured(DEFAULT_LANGUAGE, "extractive", extractive_sections(roles))
    if style == "paragraph":
        return Summary(style, DEFAULT_LANGUAGE, "extractive", extractive_paragraph(roles))
    return Summary(style, DEFAULT_LANGUAGE, "extractive", extractive_tldr(roles))


def _from_text(style: str, source: str, text: str) -> Summary:
    """Summary of a text with no roles to find: its first sentences."""
    sentences = split_sentences(text)
    if style == "structured":
        parts = {"whats_new": join_within(sentences, PART_LIMITS["whats_new"])}
        return Summary.structured(DEFAULT_LANGUAGE, source, parts)
    limit = PARAGRAPH_LIMIT if style == "paragraph" else TLDR_LIMIT
    return Summary(style, DEFAULT_LANGUAGE, source, join_within(sentences, limit))
