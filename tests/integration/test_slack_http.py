"""HTTP mode end to end: signed requests into the real bolt app, answers at the response_url.

The bolt app is the one `paperboy serve` runs (`paperboy_adapters.slack.http.web_app` around
`SlackAdapter.build_app`), served on 127.0.0.1; its Web API calls (auth.test,
chat.postMessage) go to the fake Slack, and `/papers` reaches the real `Commands`
on a SQLite store with the bundled sample day as source.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

import paperboy.commands.basic
from paperboy.chat import CommandContext
from paperboy.commands import Commands
from paperboy.matching import Matcher
from paperboy.models import Reply, Target
from paperboy.sources.registry import source_from_spec
from paperboy.store import Store, migrate
from paperboy_adapters.slack.adapter import SlackAdapter
from paperboy_adapters.slack.http import runner, serve, web_app
from paperboy_adapters.slack.render import SHARE_ACTION, SUBSCRIBE_ACTION
from paperboy_config import Settings
from tests.fakes.slack import (
    BOT_TOKEN,
    TEAM_ID,
    FakeSlack,
    form_body,
    interaction_body,
    sign,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHAN = "C0GENERAL"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_channel(CHAN)
        yield fake


@pytest.fixture
async def commands(sqlite_url: str) -> AsyncIterator[Commands]:
    await migrate(sqlite_url)
    async with Store(sqlite_url) as store:
        yield Commands(store, source_from_spec("sample", Settings(_env_file=None)))


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    served = runner(app, shutdown_timeout=0.5)  # as `paperboy serve` runs it
    await served.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(served, sock).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await served.cleanup()


@asynccontextmanager
async def bolt_server(slack: FakeSlack, on_command, **kw) -> AsyncIterator[str]:
    adapter = SlackAdapter(BOT_TOKEN, signing_secret=SECRET, api_url=slack.base_url, **kw)
    try:
        async with serving(web_app(adapter.build_app(on_command), SECRET)) as url:
            yield url
    finally:
        await adapter.stop()  # as `serve` does: closes the delivery session


async def post_signed(
    url: str, body: str, *, secret: str = SECRET, timestamp: int | None = None
) -> aiohttp.ClientResponse:
    headers = {**FORM, **sign(secret, body, timestamp)}
    async with aiohttp.ClientSession() as session, asyncio.timeout(3):  # Slack's 3 s
        async with session.post(url + "/slack/events", data=body, headers=headers) as resp:
            await resp.read()
            return resp


async def command(
    slack: FakeSlack,
    url: str,
    text: str,
    channel: str = CHAN,
    until: Callable[[list[dict]], bool] = bool,
) -> list[dict]:
    """Run `/papers text` as Slack would; the answer(s) at the response_url once `until`."""
    response_url = slack.response_url()
    resp = await post_signed(
        url, form_body(slack.slash_command(text, channel_id=channel, response_url=response_url))
    )
    assert resp.status == 200

    def payloads() -> list[dict]:
        return [p.payload for p in slack.responses_to(response_url)]

    await slack.wait_for(lambda: until(payloads()))
    assert all(p.accepted for p in slack.responses_to(response_url))
    return payloads()


def has_share_button(payloads: list[dict]) -> bool:
    return any(b["type"] == "actions" for p in payloads for b in p["blocks"])


def texts(payloads: list[dict]) -> str:
    return "\n".join(
        b["text"]["text"] for p in payloads for b in p["blocks"] if b["type"] == "section"
    )


# -- signatures ------------------------------------------------------------------------


async def test_forged_missing_and_stale_requests_are_rejected(slack: FakeSlack) -> None:
    seen: list[str] = []

    async def handler(ctx: CommandContext, text: str) -> Reply:
        seen.append(text)
        return Reply("ok")

    body = form_body(slack.slash_command("list"))
    async with bolt_server(slack, handler) as url:
        assert (await post_signed(url, body, secret="not-the-secret")).status == 401
        stale = int(time.time()) - 301
        assert (await post_signed(url, body, timestamp=stale)).status == 401
        future = int(time.time()) + 301
        assert (await post_signed(url, body, timestamp=future)).status == 401
        async with aiohttp.ClientSession() as session:
            async with session.post(url + "/slack/events", data=body, headers=FORM) as resp:
                assert resp.status == 401
            bad_ts = {**FORM, **sign(SECRET, body), "X-Slack-Request-Timestamp": "soon"}
            async with session.post(url + "/slack/events", data=body, headers=bad_ts) as resp:
                assert resp.status == 401
            tampered = {**FORM, **sign(SECRET, body)}
            async with session.post(
                url + "/slack/events", data=body + "x", headers=tampered
            ) as resp:
                assert resp.status == 401
            async with session.get(url + "/healthz") as resp:
                assert resp.status == 200 and await resp.text() == "ok"
        ok = await post_signed(url, body, timestamp=int(time.time()) - 200)
        assert ok.status == 200
        await slack.wait_for(lambda: bool(seen))
    assert seen == ["list"]


# -- commands ----------------------------------------------------------------------------


async def test_subscribe_list_and_unescaped_text_through_bolt(
    slack: FakeSlack, commands: Commands
) -> None:
    async with bolt_server(slack, commands.handle) as url:
        [answer] = await command(slack, url, 'subscribe LoRA, "pipeline parallelism"')
        assert answer["response_type"] == "ephemeral"
        assert "Subscribed #" in texts([answer])
        listed = await command(slack, url, "list")
        assert '"pipeline parallelism"' in texts(listed).replace("&quot;", '"')
        bad = await command(slack, url, "subscribe <!channel> & (")
        body = texts(bad)
        assert body.startswith(":warning: ") and "<!channel>" not in body
    subs = await commands.store.subscriptions.list(Target("slack", TEAM_ID, CHAN))
    assert [s.query for s in subs] == ['LoRA, "pipeline parallelism"']


async def test_slow_command_is_acked_first_and_answered_later(slack: FakeSlack) -> None:
    release = asyncio.Event()
    received: list[tuple[CommandContext, str]] = []

    async def slow(ctx: CommandContext, text: str) -> Reply:
        received.append((ctx, text))
        await release.wait()  # longer than Slack would wait for an ack
        return Reply("done: " + text)

    async with bolt_server(slack, slow) as url:
        response_url = slack.response_url()
        fields = slack.slash_command("digest a < b & c", response_url=response_url)
        resp = await post_signed(url, form_body(fields))  # within 3 s, work still pending
        assert resp.status == 200
        await slack.wait_for(lambda: bool(received))
        assert slack.responses_to(response_url) == []
        release.set()
        await slack.wait_for(lambda: bool(slack.responses_to(response_url)))
    ctx, text = received[0]
    assert ctx.target == Target("slack", TEAM_ID, CHAN) and ctx.user == "U0ALICE"
    assert text == "digest a < b & c"  # Slack's &lt; &gt; &amp; undone
    [answer] = slack.responses_to(response_url)
    assert "done: digest a &lt; b &amp; c" in texts([answer.payload])


@pytest.mark.parametrize("line", ["digest 2024-11-11", "search LoRA"])
async def test_slow_work_does_not_hold_up_healthz_or_other_commands(
    slack: FakeSlack, commands: Commands, monkeypatch: pytest.MonkeyPatch, line: str
) -> None:
    """Matching papers is CPU work (a huge abstract made it take seconds): it runs off the
    event loop. While one command's matching is held up, /healthz answers and another
    command is acked and answered; then the first one finishes."""
    entered, release = threading.Event(), threading.Event()
    released: list[bool] = []

    def held_up(real: Callable[..., object]) -> Callable[..., object]:
        def slow(*args: object, **kwargs: object) -> object:
            entered.set()
            released.append(release.wait(timeout=5))  # real seconds: a safety net only
            return real(*args, **kwargs)

        return slow

    async with bolt_server(slack, commands.handle) as url:
        await command(slack, url, "subscribe LoRA")
        await command(slack, url, "digest 2024-11-11")  # brings the day into the archive
        if line.startswith("digest"):
            monkeypatch.setattr(
                paperboy.commands.basic,
                "channel_digest",
                held_up(paperboy.commands.basic.channel_digest),
            )
        else:
            monkeypatch.setattr(Matcher, "match", held_up(Matcher.match))
        slow_url = slack.response_url()
        resp = await post_signed(url, form_body(slack.slash_command(line, response_url=slow_url)))
        assert resp.status == 200
        assert await asyncio.to_thread(entered.wait, 5)
        async with aiohttp.ClientSession() as session, session.get(url + "/healthz") as health:
            assert health.status == 200
        listed = await command(slack, url, "list")  # acked within 3 s, answered
        assert "LoRA" in texts(listed)
        assert released == [] and slack.responses_to(slow_url) == []  # still matching
        release.set()
        await slack.wait_for(lambda: bool(slack.responses_to(slow_url)))
    assert released == [True]
    assert "2411." in json.dumps([r.payload for r in slack.responses_to(slow_url)])


async def test_failing_handler_still_answers(slack: FakeSlack) -> None:
    async def broken(ctx: CommandContext, text: str) -> Reply:
        raise RuntimeError("boom")

    async with bolt_server(slack, broken) as url:
        answer = await command(slack, url, "list")
    assert "failed" in texts(answer) and "boom" not in texts(answer)


async def test_digest_preview_then_share_in_channel(slack: FakeSlack, commands: Commands) -> None:
    async with bolt_server(slack, commands.handle) as url:
        await command(slack, url, "subscribe LoRA")
        await command(slack, url, 'subscribe "pipeline parallelism"')
        preview = await command(slack, url, "digest 2024-11-11", until=has_share_button)
        assert all(p["response_type"] == "ephemeral" for p in preview)
        assert "Papers for 2024-11-11" in preview[0]["blocks"][0]["text"]["text"]
        actions = [b for p in preview for b in p["blocks"] if b["type"] == "actions"]
        [button] = actions[-1]["elements"]
        assert button["action_id"] == SHARE_ACTION
        assert slack.messages(CHAN) == []

        click_url = slack.response_url()
        payload = slack.block_action(SHARE_ACTION, button["value"], response_url=click_url)
        resp = await post_signed(url, interaction_body(payload))
        assert resp.status == 200
        await slack.wait_for(lambda: bool(slack.responses_to(click_url)))
    shared = slack.messages(CHAN)
    assert shared and "Papers for 2024-11-11" in shared[0]["blocks"][0]["text"]["text"]
    assert "Shared by <@U0ALICE>" in json.dumps(shared[0]["blocks"])
    assert "2411.05288" in json.dumps(shared)
    [done] = slack.responses_to(click_url)
    assert done.payload["replace_original"] is True


async def test_search_then_subscribe_button(slack: FakeSlack, commands: Commands) -> None:
    async with bolt_server(slack, commands.handle) as url:
        await command(slack, url, "subscribe pipeline parallelism")
        await command(slack, url, "digest 2024-11-11")  # brings the day into the archive
        found = await command(slack, url, "search LoRA", until=has_share_button)
        actions = [b for p in found for b in p["blocks"] if b["type"] == "actions"]
        [button] = actions[-1]["elements"]
        assert button["action_id"] == SUBSCRIBE_ACTION and button["value"] == "LoRA"
        assert "2411.02462" in json.dumps(found)

        click_url = slack.response_url()
        payload = slack.block_action(SUBSCRIBE_ACTION, button["value"], response_url=click_url)
        resp = await post_signed(url, interaction_body(payload))
        assert resp.status == 200
        await slack.wait_for(lambda: bool(slack.responses_to(click_url)))
        [answer] = slack.responses_to(click_url)
        assert "Subscribed #" in json.dumps(answer.payload["blocks"])
        listed = await command(slack, url, "list")
    assert "LoRA" in texts(listed) and "pipeline parallelism" in texts(listed)


async def test_share_where_the_bot_cannot_post_says_so(slack: FakeSlack) -> None:
    slack.add_channel("C0PRIVATE", member=False, private=True)

    async def handler(ctx: CommandContext, text: str) -> Reply:
        from paperboy.digest import digest_for_queries
        from paperboy.models import Paper

        return Reply(digest=digest_for_queries([Paper("2411.00001", "LoRA")], ["LoRA"], day=None))

    async with bolt_server(slack, handler) as url:
        click_url = slack.response_url()
        payload = slack.block_action(
            SHARE_ACTION, '{"date": null}', channel_id="C0PRIVATE", response_url=click_url
        )
        assert (await post_signed(url, interaction_body(payload))).status == 200
        await slack.wait_for(lambda: bool(slack.responses_to(click_url)))
    [answer] = slack.responses_to(click_url)
    assert "Invite me" in json.dumps(answer.payload)


# -- the `serve` hook -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_serve_hook_answers_signed_commands(
    slack: FakeSlack, commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_APP_TOKEN", "PAPERBOY_SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        slack_api_url=slack.base_url,
    )
    port = free_port()
    task = asyncio.create_task(serve(settings, commands, "127.0.0.1", port))
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(url + "/healthz") as resp:
                        assert resp.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
        forged = await post_signed(url, form_body(slack.slash_command("help")), secret="x")
        assert forged.status == 401
        answer = await command(slack, url, "help")
        assert "/papers subscribe" in texts(answer)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_serve_hook_needs_token_and_secret(
    commands: Commands, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_SIGNING_SECRET", "PAPERBOY_SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN)
    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET") as info:
        await serve(settings, commands, "127.0.0.1", free_port())
    assert "\n" not in str(info.value)
