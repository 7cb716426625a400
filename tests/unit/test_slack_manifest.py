"""The Slack app manifest asks for what the adapter uses (PyYAML is not a dependency)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fakes.slack import DEFAULT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "config" / "slack-manifest.yml"
DOCS = ROOT / "docs" / "slack.md"


def test_manifest_scopes_command_and_socket_mode() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    assert "\t" not in text
    bot_scopes = re.search(r"(?ms)^    bot:\n((?:      - .+\n)+)", text)
    assert bot_scopes is not None
    scopes = re.findall(r"- (\S+)", bot_scopes.group(1))
    assert scopes == [
        "commands",
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:history",
        "groups:history",
        "files:write",
    ]
    # What the fake Slack grants by default is what the manifest asks for.
    assert set(scopes) == DEFAULT_SCOPES
    # ... and docs/slack.md says why each is needed.
    docs = DOCS.read_text(encoding="utf-8")
    assert [s for s in scopes if f"`{s}`" not in docs] == []
    assert re.search(r"(?m)^    - command: /papers$", text)
    assert re.search(r"(?m)^      should_escape: false$", text)
    assert re.search(r"(?m)^  socket_mode_enabled: true$", text)
    # The share button needs interactivity.
    assert re.search(r"(?m)^  interactivity:\n    is_enabled: true$", text)


def test_the_doctor_needs_exactly_the_manifest_scopes() -> None:
    from paperboy_adapters.slack.doctor import BOT_SCOPES

    text = MANIFEST.read_text(encoding="utf-8")
    bot_scopes = re.search(r"(?ms)^    bot:\n((?:      - .+\n)+)", text)
    assert bot_scopes is not None
    assert list(BOT_SCOPES) == re.findall(r"- (\S+)", bot_scopes.group(1))
