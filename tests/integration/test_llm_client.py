"""The model client through the real `openai` SDK against the loopback fake server."""

from __future__ import annotations

import json

import pytest

from paperboy.llm import ModelClient, ModelError
from paperboy.models import Paper
from tests.fakes.openai import FakeOpenAI, Fault

PAPER = Paper(
    id="2411.00001",
    title="LoRA for all",
    abstract="We propose LoRA-X, a low-rank adapter. It improves accuracy by 3.2%.",
    ai_keywords=("LoRA", "adapters"),
)


def client_for(llm: FakeOpenAI, **kw: object) -> ModelClient:
    options: dict = {"api_key": llm.api_key, "timeout": 5.0, "max_retries": 2} | kw
    return ModelClient(llm.base_url, llm.model, **options)


async def test_structured_output_in_the_schema() -> None:
    async with FakeOpenAI(model="m1") as llm:
        client = client_for(llm)
        answer = await client.summarize(PAPER, "structured", "en")
        await client.close()
    assert set(answer.parts) == {"whats_new", "technical_details", "performance_highlights"}
    assert answer.parts["whats_new"].startswith("[en] LoRA for all.")
    assert answer.tokens > 0
    (request,) = llm.requests
    assert request.model == "m1"
    fmt = request.response_format
    assert fmt is not None and fmt["type"] == "json_schema" and fmt["json_schema"]["strict"]
    assert request.messages[0]["role"] == "system" and "English" in request.messages[0]["content"]
    assert json.loads(request.messages[1]["content"])["title"] == "LoRA for all"


@pytest.mark.parametrize(("style", "key"), [("paragraph", "summary"), ("tldr", "tldr")])
async def test_other_styles_have_their_own_schema(style: str, key: str) -> None:
    async with FakeOpenAI() as llm:
        client = client_for(llm)
        answer = await client.summarize(PAPER, style, "de")
        await client.close()
    assert list(answer.parts) == [key] and answer.parts[key].startswith("[de] ")


async def test_a_server_without_json_schema_gets_json_object_and_the_schema_in_the_prompt() -> None:
    async with FakeOpenAI(json_schema=False) as llm:
        client = client_for(llm)
        first = await client.summarize(PAPER, "structured", "en")
        second = await client.summarize(PAPER, "tldr", "en")
        await client.close()
    assert first.parts["whats_new"] and second.parts["tldr"]
    assert [r.response_format["type"] for r in llm.requests] == ["json_object", "json_object"]
    assert "JSON schema" in llm.requests[0].messages[0]["content"]
    # One refusal of json_schema, then never asked again.
    assert [status for status, _ in llm.rejected] == [400]


async def test_429_with_retry_after_is_retried_by_the_sdk() -> None:
    async with FakeOpenAI() as llm:
        llm.inject(Fault.status_code(429, retry_after="0.2"), Fault.status_code(500))
        client = client_for(llm)
        answer = await client.summarize(PAPER, "tldr", "en")
        await client.close()
    assert answer.parts["tldr"]
    assert len(llm.requests) == 3 and llm.answered == 1


async def test_a_model_that_stays_down_is_a_model_error() -> None:
    async with FakeOpenAI() as llm:
        llm.down = True
        client = client_for(llm, max_retries=1)
        with pytest.raises(ModelError) as info:
            await client.summarize(PAPER, "tldr", "en")
        await client.close()
    assert info.value.reason == "model down" and len(llm.requests) == 2


async def test_rate_limit_outlasting_the_retries_carries_retry_after() -> None:
    async with FakeOpenAI() as llm:
        llm.inject(*[Fault.status_code(429, retry_after="0.1")] * 3)
        client = client_for(llm, max_retries=1)
        with pytest.raises(ModelError) as info:
            await client.summarize(PAPER, "tldr", "en")
        await client.close()
    assert info.value.reason == "rate limited" and info.value.retry_after == 0.1


async def test_a_timeout_is_a_model_error() -> None:
    async with FakeOpenAI() as llm:
        llm.inject(Fault.timeout(5))
        client = client_for(llm, timeout=0.3, max_retries=0)
        with pytest.raises(ModelError) as info:
            await client.summarize(PAPER, "tldr", "en")
        await client.close()
    assert info.value.reason == "model down"


@pytest.mark.parametrize("fault", [Fault.invalid_json(), Fault.length(), Fault.wrong_schema()])
async def test_an_unusable_answer_is_asked_for_once_more(fault: Fault) -> None:
    async with FakeOpenAI() as llm:
        llm.inject(fault)
        client = client_for(llm)
        answer = await client.summarize(PAPER, "structured", "en")
        llm.inject(fault, fault)
        with pytest.raises(ModelError) as info:
            await client.summarize(PAPER, "structured", "en")
        await client.close()
    assert answer.parts["whats_new"]
    assert info.value.reason == "invalid output" and info.value.tokens > 0
    assert len(llm.requests) == 4


async def test_a_refusal_is_not_asked_again() -> None:
    async with FakeOpenAI() as llm:
        llm.inject(Fault.refusal())
        client = client_for(llm)
        with pytest.raises(ModelError) as info:
            await client.summarize(PAPER, "tldr", "en")
        await client.close()
    assert info.value.reason == "refused" and len(llm.requests) == 1


async def test_wrong_model_or_key_is_a_rejected_request() -> None:
    async with FakeOpenAI(model="right") as llm:
        client = ModelClient(llm.base_url, "wrong", api_key=llm.api_key, max_retries=0)
        with pytest.raises(ModelError) as info:
            await client.summarize(PAPER, "tldr", "en")
        await client.close()
    assert info.value.reason in {"model down", "request rejected"}
    assert llm.rejected[0][0] == 404
