"""The Slack app manifest asks for what the adapter uses (PyYAML is not a dependency)."""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[2] / "config" / "slack-manifest.yml"


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
        "channels:history",
        "groups:history",
    ]
    assert re.search(r"(?m)^    - command: /papers$", text)
    assert re.search(r"(?m)^      should_escape: false$", text)
    assert re.search(r"(?m)^  socket_mode_enabled: true$", text)
    # The share button needs interactivity.
    assert re.search(r"(?m)^  interactivity:\n    is_enabled: true$", text)
