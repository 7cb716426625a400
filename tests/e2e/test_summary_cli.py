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


async def test_with_a_model_the_cli_asks_it_once_per_paper_in_the_language() -> None:
    from tests.cli_in_process import paperboy_async
    from tests.fakes.openai import FakeOpenAI

    async with FakeOpenAI(model="m") as llm:
        env = {
            "PAPERBOY_LLM_BASE_URL": llm.base_url,
            "PAPERBOY_LLM_API_KEY": llm.api_key,
            "PAPERBOY_LLM_MODEL": "m",
        }
        # Three queries matching overlapping papers: each paper is still asked for once.
        out = await paperboy_async(
            "digest", "--source", "sample", "-q", "LoRA", "-q", "pipeline parallelism",
            "-q", "parallelism", "-q", "diffusion", "--format", "json", "--language", "ko",
            env=env,
        )
    assert out.returncode == 0, out.stderr
    entries = json.loads(out.stdout)["entries"]
    assert len(entries) == 3 and len(llm.requests) == 3
    assert sorted(r.paper["title"] for r in llm.requests) == sorted(e["title"] for e in entries)
    assert {r.language for r in llm.requests} == {"ko"}
    for entry in entries:
        assert (entry["summary_source"], entry["summary_language"]) == ("llm", "ko")
        assert "이 논문은" in entry["summary_sections"]["whats_new"]
    assert llm.api_key not in out.stdout + out.stderr


async def test_with_a_model_down_the_cli_still_prints_extractive_summaries() -> None:
    from tests.cli_in_process import paperboy_async
    from tests.fakes.openai import FakeOpenAI

    async with FakeOpenAI(model="m") as llm:
        llm.down = True
        env = {"PAPERBOY_LLM_BASE_URL": llm.base_url, "PAPERBOY_LLM_MODEL": "m",
               "PAPERBOY_LLM_API_KEY": llm.api_key}
        out = await paperboy_async(
            "digest", "--source", "sample", "-q", "LoRA", "--format", "json", env=env
        )
    assert out.returncode == 0, out.stderr
    (entry,) = json.loads(out.stdout)["entries"]
    assert entry["summary_source"] == "extractive"
    assert "keep their extractive summary (model down)" in out.stderr


def test_status_shows_the_days_summaries(tmp_path) -> None:
    env = {"PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"}
    out = paperboy("status", env=env)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "Summaries today (UTC): 0 made by the model, 0 cache hits, 0 tokens used" in text
    assert "model: none (extractive summaries)" in text
