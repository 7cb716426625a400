"""The `paperboy digest ... --format discord` contract (kept stable for automated checks):
a JSON array of Discord create-message bodies, exactly as they would be sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paperboy.plugins import formats, load_plugins
from tests.cli_in_process import paperboy
from tests.fakes.discord.validate import is_empty, live_mentions, message_errors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE = FIXTURES / "hf_hostile_public.json"


def paperboy_digest(*args: str) -> list[dict[str, Any]]:
    out = paperboy("digest", *args, "--format", "discord", env={"PAPERBOY_HF_RETRIES": "0"})
    assert out.returncode == 0, out.stderr
    bodies = json.loads(out.stdout)
    assert isinstance(bodies, list) and bodies
    for body in bodies:
        assert set(body) == {"content", "embeds", "allowed_mentions"}
        assert body["allowed_mentions"] == {"parse": []}
        assert message_errors(body) == {} and not is_empty(body)
        assert live_mentions(body) == []
    return bodies


def test_discord_format_is_registered_by_the_entry_point() -> None:
    assert "discord" in load_plugins()
    assert "discord" in formats()


def test_all_entries_unless_max() -> None:
    bodies = paperboy_digest("--source", "sample", "--query", "model, LoRA, diffusion")
    embeds = [e for b in bodies for e in b["embeds"]]
    assert len(embeds) >= 3
    assert bodies[0]["content"].startswith("**Papers for 2024-11-11**")
    capped = paperboy_digest(
        "--source", "sample", "--query", "model, LoRA, diffusion", "--max", "2"
    )
    assert [len(b["embeds"]) for b in capped] == [2]
    assert f"and {len(embeds) - 2} more matching" in capped[-1]["content"]


def test_hostile_fixture_through_the_cli() -> None:
    bodies = paperboy_digest("--source", str(HOSTILE), "--query", "LoRA")
    assert sum(len(b["embeds"]) for b in bodies) == 5
    text = json.dumps(bodies, ensure_ascii=False)
    assert "@everyone" not in text and "<@U0123ABCD>" not in text
