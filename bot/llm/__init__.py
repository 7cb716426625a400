"""The model path: summaries written by an OpenAI-compatible model, made once per
(paper, style, language, model, prompt version) for every channel.

- `client`: one summary through the official `openai` SDK (structured output, validated);
- `service`: `Summarizer`, the background work, the cache, the budget and the deadline.
"""

from paperboy.llm.client import ModelAnswer, ModelClient, ModelError
from paperboy.llm.service import (
    REASON_BUDGET,
    REASON_DEADLINE,
    Summarizer,
    SummaryStats,
    Wanted,
    summarizer_from_settings,
)

__all__ = [
    "REASON_BUDGET",
    "REASON_DEADLINE",
    "ModelAnswer",
    "ModelClient",
    "ModelError",
    "Summarizer",
    "SummaryStats",
    "Wanted",
    "summarizer_from_settings",
]
