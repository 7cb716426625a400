"""`paperboy digest --summary ... --language ...`: the JSON contract's summary fields and the
markdown layouts of seeds 000 (table) and 001 (cards), without a model."""

from __future__ import annotations

import json

import pytest

from tests.cli_in_process import paperboy

SECTION_KEYS = {"whats_new", "technical_details", "performance_highlights"}


@pytest.mark.parametrize("style", ["structured", "paragraph", "tldr"])
def test_json_summary_fields(style: str) -> None:
    out = paperboy("digest", "--source", "sample", "--query", "LoRA", "--query",
                   "pipeline parallelism", "--query", "diffusion", "--format", "json",
                   "--summary", style)
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)["entries"]
    assert len(entries) == 3
    for entry in entries:
        assert entry["summary_style"] == style
        assert entry["summary_language"] == "en"
        assert entry["summary_source"] in {"extractive", "hf", "abstract"}
        assert isinstance(entry["summary"], str) and entry["summary"]
        if style == "structured":
            assert set(entry["summary_sections"]) == SECTION_KEYS
            assert all(isinstance(v, str) for v in entry["summary_sections"].values())
        else:
            assert entry["summary_sections"] is None
        why = entry["why"]
        assert why is None or (set(why) == {"field", "text", "terms"} and why["terms"])
    # StdGEN matched "diffusion" in its abstract only: the entry says where.
    stdgen = next(e for e in entries if e["id"] == "2411.05738")
    if "diffusion" not in (stdgen["title"] + stdgen["summary"]).lower():
        assert stdgen["why"]["field"] in {"abstract", "ai_summary", "ai_keywords"}
        assert "diffusion" in stdgen["why"]["text"].lower()
        assert stdgen["why"]["terms"] == ["diffusion"]


def test_other_languages_without_a_model_are_english_extractive() -> None:
    out = paperboy("digest", "--source", "sample", "--query", "LoRA", "--format", "json",
                   "--language", "ko")
    assert out.returncode == 0, out.stderr
    (entry,) = json.loads(out.stdout)["entries"]
    assert entry["summary_language"] == "en" and entry["summary_source"] == "extractive"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--summary", "long"], "summary style is one of structured, paragraph, tldr"),
        (["--language", "not a tag"], "--language"),
    ],
)
def test_bad_summary_options_exit_2(args: list[str], message: str) -> None:
    out = paperboy("digest", "--source", "sample", "--query", "LoRA", *args)
    assert out.returncode == 2 and message in out.stderr
    assert "Traceback" not in out.stderr


def test_markdown_cards_for_structured_and_table_for_paragraph() -> None:
    out = paperboy("digest", "--source", "sample", "--query", "pipeline parallelism",
                   "--format", "markdown")
    assert out.returncode == 0, out.stderr
    md = out.stdout
    assert ("### [Balancing Pipeline Parallelism with Vocabulary Parallelism]"
            "(https://arxiv.org/abs/2411.05288)") in md
    thumbnail = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2411.05288.png"
    assert f"![]({thumbnail})" in md
    assert "Vote: 10" in md and "Authors: " in md
    for label in ("What's New", "Technical Details", "Performance Highlights"):
        assert f"- ***{label}***: " in md
    out = paperboy("digest", "--source", "sample", "--query", "pipeline parallelism",
                   "--format", "markdown", "--summary", "paragraph")
    assert "| Title | Authors | Summary |" in out.stdout and "***What's New***" not in out.stdout
