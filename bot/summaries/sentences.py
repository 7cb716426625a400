"""Abstracts cut into sentences, each an exact slice of the text it came from.

A sentence ends at `.`, `!` or `?` followed by white space and something that can start a
sentence (a capital, a digit, an opening quote or bracket, a letter of a script without
case), or at the end of the text; CJK full stops end one even without a space. Common
abbreviations ("e.g.", "et al.", "Fig.", "vs.") and decimals ("3.8%") do not end one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*(?=\s+\S)|[。！？]+")
_ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "al",
        "etc",
        "vs",
        "cf",
        "fig",
        "figs",
        "eq",
        "eqs",
        "sec",
        "tab",
        "approx",
        "resp",
        "w.r.t",
        "no",
        "dr",
        "prof",
        "ref",
        "refs",
        "incl",
        "viz",
    }
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: its text (white space runs made one space) and its place."""

    index: int
    text: str


def _starts_sentence(text: str, at: int) -> bool:
    ch = text[at] if at < len(text) else ""
    if not ch:
        return True
    if ch.isalpha():
        # A capital, or a letter of a script without case (CJK, Hangul, ...).
        return ch.isupper() or ch.lower() == ch.upper()
    return ch.isdigit() or ch in "\"'“‘([«"


def _is_abbreviation(head: str) -> bool:
    found = _WORD_BEFORE.search(head[-24:])  # the last word only: no rescan of the text
    if found is None:
        return False
    word = found.group(1).lower().rstrip(".")
    if word in _ABBREVIATIONS:
        return True
    # A single capital letter: an initial ("J. Smith") or a label ("Step A. then").
    return len(word) == 1 and word.isalpha()


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of `text` in order (empty ones dropped)."""
    text = _SPACES.sub(" ", text).strip()
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if match.group()[0] in ".!?":
            following = end
            while following < len(text) and text[following].isspace():
                following += 1
            if not _starts_sentence(text, following):
                continue
            if match.group()[0] == "." and _is_abbreviation(text[start : match.start()]):
                continue
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [Sentence(i, s) for i, s in enumerate(out)]
