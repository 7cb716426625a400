"""`/papers help` reads well everywhere: Block Kit sections (Slack), one embed with fields
(Discord), an aligned table (terminal); each within its platform's limits, as the fakes
check them, and every example in it is accepted."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from paperboy.chat import CommandContext
from paperboy.commands import Commands
from paperboy.matching import parse
from paperboy.models import Help, Reply, Target
from paperboy.store import Store
from paperboy_adapters.console.render import render_reply as console_reply
from paperboy_adapters.discord.render import render_reply as discord_reply
from paperboy_adapters.slack.render import render_reply as slack_reply
from tests.fakes.discord.validate import live_mentions, message_errors
from tests.fakes.slack import check_message, live_markup, mrkdwn_texts

CTX = CommandContext(Target("console", "", "help"), user="u")


@pytest.fixture
async def help_reply(store: Store) -> Reply:
    await store.targets.ensure(CTX.target)
    reply = await Commands(store).handle(CTX, "help")
    assert reply.ok and reply.help is not None
    return reply


def test_the_plain_fallback_is_one_line_per_command(help_reply: Reply) -> None:
    guide = help_reply.help
    assert guide is not None
    lines = help_reply.text.splitlines()
    assert len(lines) == len(guide.commands) + 2
    assert all(line.startswith("  /papers ") for line in lines[1:-1])


def test_slack_help_is_block_kit_sections_with_code_and_examples(help_reply: Reply) -> None:
    guide = help_reply.help
    assert guide is not None
    (part,) = slack_reply(help_reply)
    assert check_message(part) is None  # what Slack itself would accept
    blocks = part["blocks"]
    assert blocks[0]["type"] == "header"
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    subscribe = next(s for s in sections if s.startswith("`/papers subscribe"))
    assert subscribe.startswith("`/papers subscribe &lt;query&gt;`\nfollow papers")
    assert '_e.g._ `/papers subscribe LoRA, "pipeline parallelism"`' in subscribe
    assert sum(s.startswith("`/papers ") for s in sections) == len(guide.commands)
    assert [p for text in mrkdwn_texts(blocks) for p in live_markup(text)] == []


def test_discord_help_is_one_embed_with_a_field_per_command(help_reply: Reply) -> None:
    guide = help_reply.help
    assert guide is not None
    (body,) = discord_reply(help_reply)
    assert message_errors(body) == {}  # what Discord itself would accept
    assert live_mentions(body) == []
    (embed,) = body["embeds"]
    names = [f["name"] for f in embed["fields"]]
    assert names[: len(guide.commands)] == [f"`{e.usage}`" for e in guide.commands]
    assert names[-1] == "Queries"
    settings = embed["fields"][names.index("`/papers settings [max N | min-upvotes N | "
                                          "post-empty on|off | suggest on|off]`")]  # fmt: skip
    assert settings["value"].endswith("*e.g.* `/papers settings max 10`")


@pytest.mark.parametrize("width", [80, 120])
def test_terminal_help_is_an_aligned_table_that_fits(help_reply: Reply, width: int) -> None:
    guide = help_reply.help
    assert guide is not None
    out = io.StringIO()
    console = Console(file=out, width=width, no_color=True, highlight=False, emoji=False)
    for part in console_reply(help_reply):
        console.print(part)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    starts = {line.index("/papers list") for line in lines if "/papers list" in line}
    # Every command starts its row in the first column; descriptions share one column.
    rows = [line for line in lines if line.startswith("/papers ")]
    assert len(rows) == len(guide.commands) and starts == {0}
    columns = {line.index(e.summary[:20]) for e in guide.commands for line in lines
               if e.summary[:20] in line}  # fmt: skip
    assert len(columns) == 1


def test_every_query_example_parses(help_reply: Reply) -> None:
    guide = help_reply.help
    assert isinstance(guide, Help)
    for example in guide.query_examples:
        parse(example)
    assert guide.query_examples
