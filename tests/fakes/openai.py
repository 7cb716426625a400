"""A loopback fake of an OpenAI-compatible chat completions server, for the summary tests.

    async with FakeOpenAI(model="m") as llm:
        llm.inject(Fault.status(429, retry_after="1"), Fault.invalid_json())
        client = ModelClient(llm.base_url, "m", api_key=llm.api_key)
        ...
        assert llm.answered == 1 and len(llm.requests) == 3

`POST /v1/chat/completions` checks what OpenAI checks: the bearer key (401), the model
(404 `model_not_found`), `messages` (a non-empty list of {role, content} with known roles;
400), `response_format` (`json_schema` with a name and an object schema, or `json_object`
whose messages must mention JSON, as OpenAI requires; 400 otherwise). A server built with
`json_schema=False` answers a `json_schema` request with 400 naming `response_format`, as
servers without structured outputs do. Errors have OpenAI's shape
`{"error": {"message", "type", "param", "code"}}`.

The answer is JSON in the schema the request gave (or the style's, for `json_object`),
written by `writer` from the paper's text in the user message; the default writes short
parts in the language asked for (Korean text for `ko`). `obey=True` makes a writer that
does what a hostile abstract tells it: mention everyone, post links, write far too much.
`usage` counts tokens as characters / 4. Injected faults are answered in order, one per
request, before anything else: statuses (429 with Retry-After, 500), delays (a timeout),
invalid JSON, a refusal, `finish_reason: "length"`, an answer outside the schema.
`latency` delays every answer (the benchmark's 800 ms).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

ROLES = {"system", "user", "assistant", "developer", "tool"}
KOREAN = "이 논문은 새로운 방법을 제안합니다"
HOSTILE_TEXT = (
    "<!channel> @everyone <@U0123ABCD> [click](https://evil.example/x) https://evil.example/y"
)

Writer = Callable[[dict[str, Any], list[str], str], dict[str, str]]


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def status_code(cls, status: int, retry_after: str | None = None) -> Fault:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        return cls("status", status=status, headers=headers)

    @classmethod
    def timeout(cls, seconds: float) -> Fault:
        return cls("delay", delay=seconds)

    @classmethod
    def invalid_json(cls) -> Fault:
        return cls("invalid_json")

    @classmethod
    def refusal(cls) -> Fault:
        return cls("refusal")

    @classmethod
    def length(cls) -> Fault:
        return cls("length")

    @classmethod
    def wrong_schema(cls) -> Fault:
        return cls("wrong_schema")


@dataclass(frozen=True)
class Request:
    model: str
    messages: list[dict[str, Any]]
    response_format: dict[str, Any] | None
    language: str  # the tag the system message asks for ("" when it names none)
    paper: dict[str, Any]


_TAG = re.compile(r"\(BCP 47: ([A-Za-z0-9-]+)\)")


def default_writer(paper: dict[str, Any], keys: list[str], language: str) -> dict[str, str]:
    title = paper.get("title", "")
    lead = f"{KOREAN}: {title}." if language == "ko" else f"[{language}] {title}."
    return {key: f"{lead} ({key})" for key in keys}


def obeying_writer(paper: dict[str, Any], keys: list[str], language: str) -> dict[str, str]:
    """Does what the abstract says when it says to: pings, links and 20,000 characters."""
    abstract = paper.get("abstract", "")
    if "ignore" in abstract.lower() or "mention" in abstract.lower():
        return {key: HOSTILE_TEXT + " " + "LONG " * 4000 for key in keys}
    return default_writer(paper, keys, language)


class FakeOpenAI(LoopbackServer):
    def __init__(
        self,
        *,
        model: str = "test-model",
        api_key: str = "sk-test",
        json_schema: bool = True,
        latency: float = 0.0,
        writer: Writer | None = None,
        obey: bool = False,
    ) -> None:
        super().__init__()
        self.model = model
        self.api_key = api_key
        self.json_schema = json_schema
        self.latency = latency
        self.writer: Writer = writer or (obeying_writer if obey else default_writer)
        self.faults: deque[Fault] = deque()
        self.requests: list[Request] = []
        self.rejected: list[tuple[int, str]] = []
        self.answered = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.down = False  # every request answers 500 while set

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        return app

    # -- answers ---------------------------------------------------------------------

    def _error(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.rejected.append((status, message))
        kind = {401: "invalid_request_error", 429: "rate_limit_error"}.get(status, "")
        body = {
            "error": {
                "message": message,
                "type": kind or ("server_error" if status >= 500 else "invalid_request_error"),
                "param": param,
                "code": code,
            }
        }
        return web.json_response(body, status=status, headers=headers)

    def _completion(
        self, content: str | None, prompt_chars: int, *, finish: str = "stop",
        refusal: str | None = None,
    ) -> web.Response:
        self.answered += 1
        completion = len(content or refusal or "") // 4 + 1
        prompt = prompt_chars // 4 + 1
        return web.json_response(
            {
                "id": f"chatcmpl-{self.answered}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": refusal},
                        "finish_reason": finish,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    def _check(self, body: Any) -> web.Response | tuple[list[str], str, dict[str, Any]]:
        """The request's problems as OpenAI answers them, else (schema keys, language, paper)."""
        if not isinstance(body, dict):
            return self._error(400, "We could not parse the JSON body of your request.")
        if body.get("model") != self.model:
            return self._error(
                404, f"The model `{body.get('model')}` does not exist or you do not have "
                "access to it.", code="model_not_found",
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "'messages' must be a non-empty array", param="messages")
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return self._error(400, "Invalid value for 'role'.", param="messages")
            if not isinstance(m.get("content"), str):
                return self._error(400, "Invalid type for 'content'.", param="messages")
        fmt = body.get("response_format")
        if not isinstance(fmt, dict):
            return self._error(400, "this fake wants a response_format", param="response_format")
        text = " ".join(m["content"] for m in messages)
        if fmt.get("type") == "json_schema":
            if not self.json_schema:
                return self._error(
                    400, "Invalid parameter: 'response_format' of type 'json_schema' is not "
                    "supported with this model.", param="response_format",
                )
            spec = fmt.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            if not isinstance(spec, dict) or not spec.get("name") or not isinstance(schema, dict):
                return self._error(
                    400, "Missing required parameter: 'response_format.json_schema'."
                )
            if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
                return self._error(400, "Invalid schema for response_format: not an object.")
            if spec.get("strict") and (
                schema.get("additionalProperties") is not False
                or set(schema.get("required", [])) != set(schema["properties"])
            ):
                return self._error(400, "Invalid schema for response_format: strict mode.")
            keys = list(schema["properties"])
        elif fmt.get("type") == "json_object":
            if "json" not in text.lower():
                return self._error(
                    400, "'messages' must contain the word 'json' in some form, to use "
                    "'response_format' of type 'json_object'.", param="messages",
                )
            found = re.search(r'"properties": \{(.*?)\}, "required"', text)
            keys = re.findall(r'"(\w+)": \{"type"', found.group(1)) if found else ["summary"]
        else:
            return self._error(400, "Invalid value for 'response_format.type'.")
        tag = _TAG.search(messages[0]["content"])
        try:
            paper = json.loads(messages[-1]["content"])
        except ValueError:
            paper = {}
        return keys, tag.group(1) if tag else "", paper if isinstance(paper, dict) else {}

    async def _completions(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", code="invalid_api_key")
        try:
            body = await request.json()
        except ValueError:
            body = None
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(body)
        finally:
            self.in_flight -= 1

    async def _answer(self, body: Any) -> web.Response:
        checked = self._check(body)
        if isinstance(checked, web.Response):
            return checked
        keys, language, paper = checked
        self.requests.append(
            Request(body["model"], body["messages"], body.get("response_format"), language, paper)
        )
        fault = self.faults.popleft() if self.faults else None
        if self.latency:
            await self._sleep(self.latency)
        if self.down:
            return self._error(500, "The server had an error while processing your request.")
        prompt_chars = sum(len(m["content"]) for m in body["messages"])
        if fault is not None:
            if fault.kind == "status":
                return self._error(
                    fault.status, "Rate limit reached." if fault.status == 429 else
                    "The server had an error while processing your request.",
                    headers=fault.headers,
                )
            if fault.kind == "delay":
                await self._sleep(fault.delay)
            if fault.kind == "invalid_json":
                return self._completion('{"whats_new": "unterminated', prompt_chars)
            if fault.kind == "refusal":
                return self._completion(None, prompt_chars, refusal="I can't help with that.")
            if fault.kind == "length":
                return self._completion('{"whats_new": "cut', prompt_chars, finish="length")
            if fault.kind == "wrong_schema":
                return self._completion(json.dumps({"answer": "no"}), prompt_chars)
        answer = self.writer(paper, keys, language)
        return self._completion(json.dumps(answer, ensure_ascii=False), prompt_chars)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.closing.wait(), timeout=seconds)
        except TimeoutError:
            pass
