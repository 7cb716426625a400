"""Labelled summary parts and the `why` sentence on every platform's renderer."""

from __future__ import annotations

import io

from rich.console import Console

from paperboy.digest import digest_for_queries
from paperboy.models import Paper
from paperboy_adapters.console.render import render as console_render
from paperboy_adapters.discord.render import render_digest as discord_digest
from paperboy_adapters.slack.render import render_digest as slack_digest

PAPER = Paper(
    id="2411.00001",
    title="Fast image synthesis",
    abstract=(
        "We propose FastGen, a one-step image generator. It distils a large diffusion model "
        "into a small one with a consistency loss. FastGen is 10x faster at 2.1 FID."
    ),
    upvotes=7,
    authors=("Ada", "Alan"),
    thumbnail_url="https://cdn-thumbnails.huggingface.co/x.png",
)
LABELS = ("What's New", "Technical Details", "Performance Highlights")


def text_of(renderables: list) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    for item in renderables:
        console.print(item)
    return out.getvalue()


def test_terminal_shows_labelled_parts_and_why() -> None:
    digest = digest_for_queries([PAPER], ["diffusion"], day=None)
    text = text_of(console_render(digest))
    for label in LABELS:
        assert f"{label}: " in text
    compact = text_of(console_render(digest_for_queries([PAPER], ["diffusion"], day=None,
                                                       style="tldr")))
    assert "What's New" not in compact
    # "diffusion" shows in the technical details: no why needed for structured; the tl;dr
    # (the contribution sentence) does not show it, so the sentence is given.
    assert "Why: abstract: It distils a large diffusion model" in compact


def test_slack_and_discord_show_bold_labels_and_the_why_line() -> None:
    structured = digest_for_queries([PAPER], ["diffusion"], day=None)
    blocks = slack_digest(structured)[0]["blocks"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert any(s.startswith("*What's New:* ") for s in sections)
    assert any(b["type"] == "image" for b in blocks)  # the thumbnail, large
    embed = discord_digest(structured)[0]["embeds"][0]
    for label in LABELS:
        assert f"**{label}:** " in embed["description"]
    assert embed["image"]["url"].endswith("x.png")

    tldr = digest_for_queries([PAPER], ["diffusion"], day=None, style="tldr")
    blocks = slack_digest(tldr)[0]["blocks"]
    assert not any(b["type"] == "image" or "accessory" in b for b in blocks)
    text = next(b["text"]["text"] for b in blocks if b["type"] == "section" and "Why" in
                b["text"]["text"])
    assert "_Why:_ diffusion in the abstract: " in text and "*diffusion*" in text
    embed = discord_digest(tldr)[0]["embeds"][0]
    why = next(f for f in embed["fields"] if f["name"].startswith("Why it is here"))
    assert "**diffusion**" in why["value"] and "image" not in embed and "thumbnail" not in embed
