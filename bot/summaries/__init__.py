"""Summaries, pure: a paper summarised in a style and a language, without a model.

- `sentences`: abstracts cut into sentences;
- `extractive`: the abstract's contribution, method and result sentences;
- `make`: the summary without a model for each style (`local_summary`);
- `summary`: `Summary`, the styles and the parts' labels;
- `language`: BCP 47 tags checked and named;
- `why`: the sentence where a matched term hides;
- `prompt`: what a model is asked, and the shape its answer must have;
- `text`: cutting at a word, cleaning model output.
"""

from paperboy.summaries.extractive import PARAGRAPH_LIMIT, PART_LIMITS, TLDR_LIMIT, find_roles
from paperboy.summaries.language import (
    DEFAULT_LANGUAGE,
    LanguageError,
    is_english,
    language_name,
    normalize_language,
)
from paperboy.summaries.make import local_summary
from paperboy.summaries.prompt import (
    PROMPT_VERSION,
    AnswerError,
    answer_schema,
    messages,
    parts_of,
    response_format,
)
from paperboy.summaries.sentences import Sentence, split_sentences
from paperboy.summaries.summary import (
    DEFAULT_STYLE,
    SECTION_KEYS,
    SECTION_LABELS,
    StyleError,
    Summary,
    check_style,
    model_summary,
)
from paperboy.summaries.text import clean_part, cut_at_word, one_line
from paperboy.summaries.why import WHY_LIMIT, find_why

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEFAULT_STYLE",
    "PARAGRAPH_LIMIT",
    "PART_LIMITS",
    "PROMPT_VERSION",
    "SECTION_KEYS",
    "SECTION_LABELS",
    "TLDR_LIMIT",
    "WHY_LIMIT",
    "AnswerError",
    "LanguageError",
    "Sentence",
    "StyleError",
    "Summary",
    "answer_schema",
    "check_style",
    "clean_part",
    "cut_at_word",
    "find_roles",
    "find_why",
    "is_english",
    "language_name",
    "local_summary",
    "messages",
    "model_summary",
    "normalize_language",
    "one_line",
    "parts_of",
    "response_format",
    "split_sentences",
]
