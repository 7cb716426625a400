"""The feedback contracts of the CLI, as a user runs them (tests/cli_in_process.py), on
SQLite and PostgreSQL: `paperboy chat`, `paperboy feedback`, `paperboy saved` and
`paperboy digest --channel C --from --to --format json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_in_process import Result, paperboy_async

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAY_JSON = FIXTURES / "hf_daily_papers_2024-11-11.json"
LAB = "console:lab"


@pytest.fixture
async def cli(db_url: str, tmp_path: Path):
    async def run(*args: str) -> Result:
        env = {"PAPERBOY_DATABASE_URL": db_url, "PAPERBOY_HF_RETRIES": "0"}
        return await paperboy_async(*args, env=env, cwd=tmp_path)

    out = await run("ingest", "--source", str(DAY_JSON))
    assert out.returncode == 0, out.stderr
    return run


def one_line_error(out: Result) -> str:
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    return lines[0]


async def preview(cli, channel: str = LAB) -> dict:
    out = await cli(
        "digest",
        "--channel",
        channel,
        "--from",
        "2024-11-11",
        "--to",
        "2024-11-11",
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


async def test_chat_runs_a_command_as_the_channel(cli) -> None:
    out = await cli("chat", "--channel", LAB, "--", "subscribe", "LoRA")
    assert out.returncode == 0, out.stderr
    assert "Subscribed #" in out.stdout
    listed = await cli("chat", "--channel", LAB, "--", "list")
    assert "LoRA" in listed.stdout
    other = await cli("chat", "--channel", "console:elsewhere", "--", "list")
    assert "no subscriptions" in other.stdout
    suggest = await cli("chat", "--channel", LAB, "--", "settings", "suggest", "on")
    assert suggest.returncode == 0 and "also worth a look" in suggest.stdout
    assert "): on" in suggest.stdout
    bad = await cli("chat", "--channel", LAB, "--", "settings", "suggest", "maybe")
    assert "suggest is on or off" in one_line_error(bad)


async def test_feedback_votes_and_refuses_unknown_papers(cli) -> None:
    out = await cli("feedback", "--channel", LAB, "--paper", "2411.05288", "--vote", "up")
    assert out.returncode == 0, out.stderr
    assert "noted" in out.stdout.lower()
    again = await cli("feedback", "--channel", LAB, "--paper", "2411.05288", "--vote", "up")
    assert "already noted" in again.stdout.lower()
    unknown = await cli("feedback", "--channel", LAB, "--paper", "2499.99999", "--vote", "up")
    assert "2499.99999" in one_line_error(unknown)
    bad_vote = await cli("feedback", "--channel", LAB, "--paper", "2411.05288", "--vote", "meh")
    assert "meh" in one_line_error(bad_vote)
    summary = await cli("chat", "--channel", LAB, "--", "feedback")
    assert "1 👍" in summary.stdout and "1 person" in summary.stdout
    await cli("feedback", "--channel", LAB, "--paper", "2411.05288", "--vote", "clear")
    cleared = await cli("chat", "--channel", LAB, "--", "feedback")
    assert "0 👍" in cleared.stdout


async def test_saved_lists_json_and_bibtex_without_user_ids(cli) -> None:
    for user in ("alice", "bob"):
        out = await cli(
            "feedback",
            "--channel",
            LAB,
            "--paper",
            "2411.05288",
            "--vote",
            "save",
            "--user",
            user,
        )
        assert out.returncode == 0, out.stderr
    await cli(
        "feedback", "--channel", LAB, "--paper", "2411.02462", "--vote", "save", "--user", "alice"
    )
    out = await cli("saved", "--channel", LAB, "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [p["id"] for p in data["papers"]] == ["2411.02462", "2411.05288"]
    assert [p["saved_by"] for p in data["papers"]] == [1, 2]
    assert sorted(s["saved"] for s in data["savers"]) == [1, 2]
    assert "alice" not in out.stdout and "bob" not in out.stdout
    bib = await cli("saved", "--channel", LAB, "--format", "bibtex")
    assert bib.returncode == 0, bib.stderr
    assert bib.stdout.count("@misc{") == 2
    assert "eprint = {2411.05288}" in bib.stdout and "archivePrefix = {arXiv}" in bib.stdout
    empty = await cli("saved", "--channel", "console:nobody", "--format", "json")
    assert json.loads(empty.stdout)["papers"] == []
    wrong = await cli("saved", "--channel", LAB, "--format", "csv")
    assert "csv" in one_line_error(wrong)


async def test_digest_preview_orders_by_what_the_channel_liked(cli) -> None:
    await cli("chat", "--channel", LAB, "--", "subscribe", "model, LoRA, parallelism")
    before = await preview(cli)
    ids = [e["id"] for e in before["entries"]]
    assert before["date"] == "2024-11-11" and before["checked"] == 9
    assert before["queries"] == ["model, LoRA, parallelism"]
    scores = [e["score"] for e in before["entries"]]
    assert scores == sorted(scores, reverse=True)
    for entry in before["entries"]:
        assert {
            "id",
            "title",
            "authors",
            "upvotes",
            "matched_terms",
            "summary",
            "links",
            "score",
            "why",
        } <= set(entry)
    assert "suggestions" not in before or before["suggestions"] == []
    # The least upvoted match, liked: it rises to the top; the most upvoted, disliked, sinks.
    low, high = ids[-1], ids[0]
    await cli("feedback", "--channel", LAB, "--paper", low, "--vote", "up")
    await cli("feedback", "--channel", LAB, "--paper", high, "--vote", "down")
    after = await preview(cli)
    order = [e["id"] for e in after["entries"]]
    assert sorted(order) == sorted(ids)  # ordered, never dropped
    assert order[0] == low and order[-1] == high
    # Nothing was recorded as sent: the same preview again, and a delivery still has it all.
    assert await preview(cli) == after


async def test_digest_preview_suggestions_and_bad_input(cli) -> None:
    await cli("chat", "--channel", LAB, "--", "subscribe", "pipeline parallelism")
    await cli("chat", "--channel", LAB, "--", "settings", "suggest", "on")
    data = await preview(cli)
    assert data["suggestions"] == []  # nothing learned yet: nothing to suggest
    await cli("feedback", "--channel", LAB, "--paper", "2411.04425", "--vote", "up")
    await cli("feedback", "--channel", LAB, "--paper", "2411.02462", "--vote", "up")
    data = await preview(cli)
    matched = {e["id"] for e in data["entries"]}
    assert matched == {"2411.05288"}
    assert 1 <= len(data["suggestions"]) <= 3
    for entry in data["suggestions"]:
        assert entry["id"] not in matched and entry["matched_terms"] == []
        assert "which this channel liked" in entry["reason"] and entry["score"] is not None
        assert entry["why"] == {"field": "feedback", "text": entry["reason"], "terms": []}
    missing = await cli("digest", "--channel", LAB, "--format", "json")
    assert "--from" in one_line_error(missing)
    backwards = await cli(
        "digest", "--channel", LAB, "--from", "2024-11-12", "--to", "2024-11-11", "--format", "json"
    )
    assert "before" in one_line_error(backwards)
    bad_day = await cli("digest", "--channel", LAB, "--from", "2024-13-01", "--format", "json")
    assert "2024-13-01" in one_line_error(bad_day)
