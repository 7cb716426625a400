"""One link rule on every platform: the title links the arXiv abstract page, and the links
come in one order (arXiv, PDF, Hugging Face, GitHub, project page)."""

from __future__ import annotations

import datetime as dt
import re

from paperboy.digest import digest_for_queries
from paperboy.models import Paper
from paperboy_adapters.console.render import links_line
from paperboy_adapters.discord.render import render_digest as discord_digest
from paperboy_adapters.slack.render import render_digest as slack_digest

ORDER = ["arxiv.org/abs", "arxiv.org/pdf", "huggingface.co/papers", "github.com", "example.org"]


def paper() -> Paper:
    return Paper(
        id="2411.00042",
        title="LoRA for everyone",
        abstract="We study LoRA.",
        authors=("Ada Lovelace",),
        upvotes=3,
        github_url="https://github.com/x/y",
        project_url="https://example.org/lora",
    )


def order_of(text: str) -> list[str]:
    found = [(text.find(host), host) for host in ORDER if host in text]
    return [host for _, host in sorted(found)]


def test_slack_discord_and_terminal_link_the_title_and_order_the_links_alike() -> None:
    digest = digest_for_queries([paper()], ["LoRA"], day=dt.date(2024, 11, 11))
    blocks = [b for part in slack_digest(digest) for b in part["blocks"]]
    entry = next(b for b in blocks if "LoRA for everyone" in str(b.get("text", "")))
    title_link = re.search(r"<(https://[^|>]+)\|LoRA for everyone>", entry["text"]["text"])
    assert title_link and title_link.group(1) == "https://arxiv.org/abs/2411.00042"
    slack_links = next(b for b in blocks if b["type"] == "context" and "arxiv.org/pdf" in str(b))
    embed = discord_digest(digest)[0]["embeds"][0]
    assert embed["url"] == "https://arxiv.org/abs/2411.00042"
    discord_links = next(f["value"] for f in embed["fields"] if f["name"] == "Links")
    terminal_links = links_line(paper()).plain
    for text in (str(slack_links), discord_links, terminal_links):
        assert order_of(text) == ORDER, text
