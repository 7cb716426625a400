"""One summary from an OpenAI-compatible model through the official `openai` SDK.

`AsyncOpenAI(base_url=...)` talks to OpenAI, Azure, vLLM, Ollama, llama.cpp's server or a
LiteLLM proxy alike. The SDK retries 408, 409, 429 and 5xx answers and timeouts itself
(`max_retries`, honouring `Retry-After` up to a minute, else exponential backoff); what
is still failing after that is a `ModelError`, and the paper falls back to its extractive
summary (`paperboy.llm.service`).

The answer is asked for as structured output (`response_format` `json_schema`, strict)
and validated with pydantic (`paperboy.summaries.prompt.parts_of`). A server that refuses
`json_schema` (400/422 naming it) is asked again, and from then on, with `json_object` and
the schema in the prompt. An answer that does not validate, or is cut short
(`finish_reason: "length"`), is asked for once more; a refusal is not. Tokens come from
the response's `usage` and are counted for failed attempts too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from paperboy.models import Paper
from paperboy.summaries import AnswerError, messages, parts_of, response_format

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

#: Tokens a summary may take (the longest style is about 1,650 characters of output).
MAX_OUTPUT_TOKENS = 1200
REASON_DOWN = "model down"
REASON_RATE_LIMITED = "rate limited"
REASON_INVALID = "invalid output"
REASON_REFUSED = "refused"
REASON_REJECTED = "request rejected"


class ModelError(Exception):
    """No summary from the model: `reason` says why (for the logs and `status`)."""

    def __init__(self, reason: str, *, tokens: int = 0, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tokens = tokens
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    parts: dict[str, str]
    tokens: int


def _names_the_format(error: Exception) -> bool:
    text = str(getattr(error, "message", "") or error).lower()
    return any(word in text for word in ("response_format", "json_schema", "structured output"))


def _retry_after(error: Any) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ModelClient:
    """Summaries from one model at one OpenAI-compatible endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        client: AsyncOpenAI | None = None,
    ) -> None:
        from openai import AsyncOpenAI

        self.model = model
        # A local server (Ollama, vLLM) needs no key, but the SDK wants one.
        self._client = client or AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=max_retries
        )
        #: False once the server refused `json_schema`: then `json_object` + schema in prompt.
        self.json_schema = True

    async def close(self) -> None:
        await self._client.close()

    async def _create(self, paper: Paper, style: str, language: str) -> Any:
        fmt: Any = response_format(style) if self.json_schema else {"type": "json_object"}
        chat: Any = messages(paper, style, language, schema_in_prompt=not self.json_schema)
        return await self._client.chat.completions.create(
            model=self.model,
            messages=chat,
            response_format=fmt,
            max_tokens=MAX_OUTPUT_TOKENS,
            temperature=0.2,
        )

    async def summarize(self, paper: Paper, style: str, language: str) -> ModelAnswer:
        """The parts of `paper`'s summary in `style` and `language`, or ModelError."""
        import openai

        tokens = 0
        attempts = 0
        while attempts < 2:
            try:
                response = await self._create(paper, style, language)
            except openai.BadRequestError as error:
                if self.json_schema and _names_the_format(error):
                    log.warning(
                        "the model server refused json_schema output; using json_object "
                        "with the schema in the prompt"
                    )
                    self.json_schema = False
                    continue
                raise ModelError(REASON_REJECTED, tokens=tokens) from None
            except openai.UnprocessableEntityError as error:
                if self.json_schema and _names_the_format(error):
                    self.json_schema = False
                    continue
                raise ModelError(REASON_REJECTED, tokens=tokens) from None
            except openai.RateLimitError as error:
                raise ModelError(
                    REASON_RATE_LIMITED, tokens=tokens, retry_after=_retry_after(error)
                ) from None
            except (openai.APIStatusError, openai.APIConnectionError):  # 5xx, timeouts
                raise ModelError(REASON_DOWN, tokens=tokens) from None
            attempts += 1
            usage = getattr(response, "usage", None)
            tokens += int(getattr(usage, "total_tokens", 0) or 0)
            choice = response.choices[0] if response.choices else None
            if choice is None:
                continue
            if getattr(choice.message, "refusal", None):
                raise ModelError(REASON_REFUSED, tokens=tokens)
            if choice.finish_reason == "length":
                continue
            try:
                return ModelAnswer(parts_of(style, choice.message.content), tokens)
            except AnswerError as error:
                log.info("model answer for %s not usable (%s)", paper.id, error)
                continue
        raise ModelError(REASON_INVALID, tokens=tokens)
