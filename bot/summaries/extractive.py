"""The summary without a model: the abstract's own sentences, picked by their role.

- *What's new*: the contribution sentence ("we propose / introduce / present ...", "this
  paper ...", "X is a novel ..."); without one, the first sentence.
- *Technical details*: method sentences ("based on", "we use / train / design", "consists
  of", "framework", "module", ...) that are neither of the other two.
- *Performance highlights*: result sentences (numbers, %, "outperforms", "improves",
  "achieves", "state-of-the-art", "x faster", ...), best first by how much they report.

Every sentence shown is one of the abstract's, whole or cut at a word with an ellipsis,
so the summary cannot say anything the paper does not; English cue words only (an
abstract in another language gets its first sentence and the sentences with numbers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from paperboy.summaries.sentences import Sentence, split_sentences
from paperboy.summaries.text import cut_at_word

_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study|article|report|survey|review)|our (?:work|paper)|here)"
    r"\b[^.]{0,80}?"
    r"\b(?:propose|introduce|present|develop|design|describe|offer|build|create|release|"
    r"formulate|unveil|put forward|contribute|devise|establish|investigate|study|explore|"
    r"address|tackle|show|demonstrate)\w*"
    r"|\bis an? (?:novel|new|simple|general|unified|efficient|scalable)\b"
    r"|\b(?:novel|new) (?:method|approach|framework|model|algorithm|dataset|benchmark|"
    r"technique|paradigm|architecture|system|pipeline|strategy)\b",
    re.IGNORECASE,
)
_STRONG_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|survey)|here,? we)\b[^.]{0,40}?\b(?:propose|introduce|present)\w*",
    re.IGNORECASE,
)
_METHOD = re.compile(
    r"\b(?:based on|builds? (?:on|upon)|consists? of|compris\w+|leverag\w+|utiliz\w+|"
    r"employ\w*|adopt\w*|incorporat\w+|combin\w+|integrat\w+|we (?:use|train|fine-tune|"
    r"apply|design|construct|model|formulate|decompose|partition|learn|optimi[sz]e|distill)|"
    r"by (?:using|leveraging|training|introducing|combining|partitioning|modeling|learning)|"
    r"framework|architecture|module|mechanism|algorithm|pipeline|objective|loss|encoder|"
    r"decoder|transformer|attention|training|dataset of|pre-?train\w*|fine-?tun\w+|"
    r"schedul\w+|sampling|optimi[sz]ation|reinforcement|retriev\w+|diffusion|layer)",
    re.IGNORECASE,
)
_RESULT_WORDS = re.compile(
    r"\b(?:outperform\w*|surpass\w*|improv\w+|achiev\w+|exceed\w*|beat\w*|"
    r"state[- ]of[- ]the[- ]art|sota|speed-?ups?|faster|fewer|reduc\w+|boost\w*|gains?|"
    r"higher|lower|better|accuracy|experiments? (?:show|demonstrate|reveal|indicate)|"
    r"results? (?:show|demonstrate|indicate|suggest)|empirical\w*|benchmark\w*)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?\s?(?:%|x\b|×|times\b|points?\b|pp\b)|\d+\.\d+")

#: Characters each part may take; the platforms' limits are far above the sum.
PART_LIMITS = {"whats_new": 450, "technical_details": 600, "performance_highlights": 600}
PARAGRAPH_LIMIT = 1000
TLDR_LIMIT = 300


def _result_score(text: str) -> int:
    numbers = len(_NUMBER.findall(text))
    words = len(_RESULT_WORDS.findall(text))
    return 3 * min(numbers, 4) + min(words, 3) if numbers or words else 0


@dataclass(frozen=True, slots=True)
class Roles:
    """The abstract's sentences by role (each a list in the abstract's order)."""

    sentences: tuple[Sentence, ...]
    contribution: Sentence | None
    method: tuple[Sentence, ...]
    results: tuple[Sentence, ...]
    #: True when a cue picked the contribution (not just the first sentence).
    found: bool
    #: A second contribution sentence right after the first.
    also_new: tuple[Sentence, ...] = ()


@lru_cache(maxsize=512)  # abstracts are capped at 50,000 characters: at most ~25 MB
def find_roles(abstract: str, *, max_method: int = 2, max_results: int = 2) -> Roles:
    """The abstract's sentences by role (cached: the styles of one paper share them)."""
    sentences = tuple(split_sentences(abstract))
    if not sentences:
        return Roles((), None, (), (), False)
    picked = next((s for s in sentences if _STRONG_CONTRIBUTION.search(s.text)), None)
    if picked is None:
        picked = next((s for s in sentences if _CONTRIBUTION.search(s.text)), None)
    found = picked is not None
    contribution = picked if picked is not None else sentences[0]
    scored = [
        (score, s)
        for s in sentences
        if s is not contribution and _NUMBER.search(s.text) and (score := _result_score(s.text))
    ]
    if not scored:  # no numbers: sentences that speak of results in words
        scored = [
            (1, s)
            for s in sentences
            if s is not contribution and s.index > 0 and _RESULT_WORDS.search(s.text)
        ]
    scored.sort(key=lambda pair: (-pair[0], pair[1].index))
    results = tuple(sorted((s for _, s in scored[:max_results]), key=lambda s: s.index))
    taken = {contribution.index} | {s.index for s in results}
    method = [s for s in sentences if s.index not in taken and _METHOD.search(s.text)]
    # Prefer what follows the contribution: the sentences before it are motivation.
    after = [s for s in method if s.index > contribution.index]
    following = [s for s in sentences if s.index > contribution.index and s.index not in taken]
    # A second contribution right after the first ("First, we present ... Second, we
    # introduce ...") belongs to what is new.
    also: tuple[Sentence, ...] = ()
    if following and following[0].index == contribution.index + 1:
        if _STRONG_CONTRIBUTION.search(following[0].text):
            also = (following[0],)
    after = [s for s in after if s not in also]
    method = after[:max_method] or [s for s in following if s not in also][:1]
    return Roles(sentences, contribution, tuple(method), results, found, also)


def join_within(sentences: Sequence[Sentence], limit: int) -> str:
    """As many of `sentences` as fit in `limit` (in order); the first cut at a word when
    it alone is too long."""
    out = ""
    for sentence in sentences:
        candidate = f"{out} {sentence.text}".strip()
        if len(candidate) <= limit:
            out = candidate
        elif not out:
            return cut_at_word(sentence.text, limit)
        else:
            break
    return out


def extractive_sections(roles: Roles) -> dict[str, str]:
    """The three parts of a structured summary, each the abstract's own sentences."""
    if roles.contribution is None:
        return dict.fromkeys(PART_LIMITS, "")
    return {
        "whats_new": join_within([roles.contribution, *roles.also_new], PART_LIMITS["whats_new"]),
        "technical_details": join_within(roles.method, PART_LIMITS["technical_details"]),
        "performance_highlights": join_within(roles.results, PART_LIMITS["performance_highlights"]),
    }


def extractive_paragraph(roles: Roles, limit: int = PARAGRAPH_LIMIT) -> str:
    """Seed 000's paragraph from the abstract: aim, method, results, in the paper's order."""
    if roles.contribution is None:
        return ""
    picked = {s.index: s for s in roles.also_new}
    picked.update((s.index, s) for s in roles.method)
    picked.update((s.index, s) for s in roles.results)
    picked.pop(roles.contribution.index, None)
    # The contribution first; the rest in the paper's order.
    ordered = [picked[i] for i in sorted(picked)]
    return join_within([roles.contribution, *ordered], limit)


def extractive_tldr(roles: Roles, limit: int = TLDR_LIMIT) -> str:
    if roles.contribution is None:
        return ""
    return join_within([roles.contribution], limit)
