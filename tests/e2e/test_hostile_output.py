"""Hostile data through the CLI as a user runs it (its real entry point, in this process:
tests/cli_in_process.py): papers, error bodies of
a misbehaving Hugging Face, queries and channel names never put control characters,
Rich markup or bidi overrides into what the terminal shows."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from paperboy.models import Paper
from paperboy.search import SearchIndex
from paperboy.store import Store, migrate
from tests.cli_in_process import paperboy_async
from tests.fakes.hf import FakeHF, Fault

ROOT = Path(__file__).resolve().parents[2]

OSC8 = "\x1b]8;;https://evil.example/\x07click here\x1b]8;;\x07"
ESCAPES = f"\x1b[31mred\x1b[0m {OSC8} \x9b7m\x1b[2J"
BIDI = "\u202eexe.txt\u202c \u2066isolated\u2069"
MARKUP = "[reverse]inverted[/reverse] [link=https://evil.example]link[/link] :thumbs_up:"
# What may never be printed raw: C0 but newline and tab, DEL, C1, bidi controls.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SECRET_NAMES = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN")


async def paperboy(
    *args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None
) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    for name in SECRET_NAMES:
        base.pop(name, None)
    out = await paperboy_async(
        *args,
        environ={**base, "PAPERBOY_HF_RETRIES": "0", "COLUMNS": "200", **env},
        stdin=stdin,
        cwd=cwd or ROOT,
    )
    return out.returncode, out.stdout, out.stderr


def assert_inert(*texts: str) -> None:
    for text in texts:
        found = sorted({f"U+{ord(c):04X}" for c in UNSAFE.findall(text)})
        assert not found, f"raw control characters {found} in:\n{text}"
        assert "Traceback" not in text


def hf_item(pid: str, title: str, abstract: str, **paper: Any) -> dict[str, Any]:
    return {
        "paper": {
            "id": pid,
            "title": title,
            "summary": abstract,
            "authors": [{"name": f"Mallory {MARKUP} {BIDI}"}, {"name": "Eve\u202e"}],
            "publishedAt": "2024-11-11T00:00:00.000Z",
            "submittedOnDailyAt": "2024-11-11T00:00:00.000Z",
            "upvotes": 7,
            **paper,
        },
        "publishedAt": "2024-11-11T00:00:00.000Z",
        "title": title,
        "summary": abstract,
    }


@pytest.fixture
def hostile_day(tmp_path: Path) -> Path:
    items = [
        hf_item(
            "2411.09001",
            f"LoRA {MARKUP} {BIDI} | pipe",
            f"We study LoRA {MARKUP} and {BIDI}.",
            githubRepo="https://github.com/o/r)**URGENT**[arXiv](https://evil.example/x)|",
            projectPage="javascript:alert(1)",
        ),
        hf_item("2411.09002", f"LoRA plain {ESCAPES}", f"LoRA again {ESCAPES}"),
    ]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


async def test_digest_formats_show_hostile_papers_inert(hostile_day: Path) -> None:
    outputs = {}
    for fmt in ("text", "markdown", "json"):
        code, out, err = await paperboy(
            "digest", "--source", str(hostile_day), "--query", "LoRA", "--format", fmt, env={}
        )
        assert code == 0, err
        assert_inert(out, err)
        outputs[fmt] = out
    # Rich markup in the data is printed as written, not interpreted.
    assert "[reverse]inverted[/reverse]" in outputs["text"]
    assert "[link=https://evil.example]" in outputs["text"]
    # Markdown: the hostile GitHub URL is one encoded link; no link to evil.example.
    assert "](https://evil.example" not in outputs["markdown"]
    assert "[GitHub](https://github.com/o/r%29%2A%2AURGENT" in outputs["markdown"]
    assert "javascript" not in outputs["markdown"]
    # JSON keeps the data exactly: the bidi controls are there, as escapes.
    data = json.loads(outputs["json"])
    # The source drops bidi controls as it does other control characters; the words stay.
    titles = " ".join(entry["title"] for entry in data["entries"])
    assert "exe.txt" in titles and "isolated" in titles
    bidi_controls = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
    assert not any(chr(c) in outputs["json"] for c in bidi_controls)


HOSTILE_BODIES = [
    Fault(400, {"error": f"bad date {ESCAPES} {BIDI}"}),
    Fault(403, f"<html>{ESCAPES}</html>".encode("latin-1", "replace")),
    Fault(404, "\x9b31m C1 only \x1b[5m".encode()),
]


@pytest.mark.parametrize("fault", HOSTILE_BODIES, ids=["json", "latin1", "c1"])
async def test_hostile_error_body_reaches_no_terminal_raw(fault: Fault, tmp_path: Path) -> None:
    async with FakeHF() as hf:
        hf.fail_always(fault)
        env = {"PAPERBOY_HF_API_URL": hf.base_url, "PAPERBOY_LOG_LEVEL": "DEBUG"}
        code, out, err = await paperboy("digest", "--query", "LoRA", env=env)
    assert code == 2
    assert_inert(out, err)
    assert len(err.strip().splitlines()) == 1 and "Hugging Face" in err


async def test_run_startup_and_console_replies_are_inert(tmp_path: Path) -> None:
    """`paperboy run`: the startup line quotes HF's hostile error; the console channel
    answers hostile commands; papers archived with raw escapes are listed."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}"
    await migrate(db)
    async with Store(db) as store:
        raw = [
            Paper(
                id="2411.09100",
                title=f"LoRA archived {ESCAPES} {BIDI} {MARKUP}",
                abstract=f"LoRA abstract {ESCAPES}",
                authors=(f"Raw {ESCAPES}",),
                daily_date=dt.date(2024, 11, 10),
                github_url=f"https://github.com/o/r{OSC8}",
            )
        ]
        await store.papers.upsert(raw)
        await SearchIndex(store).sync()
    commands = "\n".join(
        [
            f"/papers subscribe LoRA {BIDI}",
            f"/papers subscribe {ESCAPES}",
            f"/papers search LoRA {ESCAPES}",
            "/papers search archived",
            "/papers list",
            f"/papers {MARKUP}",
            "/papers digest 2024-11-10",
        ]
    )
    async with FakeHF() as hf:
        hf.fail_always(Fault(400, {"error": f"HF says {ESCAPES}"}))
        env = {"PAPERBOY_HF_API_URL": hf.base_url, "PAPERBOY_DATABASE_URL": db}
        code, out, err = await paperboy("run", env=env, stdin=commands + "\n", cwd=tmp_path)
    assert code == 0, err
    assert_inert(out, err)
    # The error body is quoted, never obeyed: the source already drops its control characters.
    assert "Hugging Face is unreachable" in err and "HF says" in err
    assert "LoRA archived" in out  # the search and the digest did show the hostile paper
    assert "[reverse]inverted[/reverse]" in out and ":thumbs_up:" in out
    code, out, err = await paperboy("search", "archived", env=env, cwd=tmp_path)
    assert code == 0, err
    assert_inert(out, err)
    assert "LoRA archived ␛[31mred" in out and "[reverse]inverted[/reverse] " in out
    assert ":thumbs_up:" in out  # Rich's emoji codes are markup too: not read from data


async def test_status_and_list_never_read_markup_or_escapes_from_channels(
    tmp_path: Path,
) -> None:
    env = {"PAPERBOY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'pb.db'}"}
    channels = [
        "console:[reverse]rev[/reverse]",
        "console:[link=https://evil.example]ln[/link]",
        "console:\x1b[31mred\x9b1m",
        "console:\u202eright",
    ]
    outputs: list[str] = []
    for channel in channels:
        code, out, err = await paperboy("subscribe", "LoRA", "--channel", channel, env=env)
        assert code == 0, err
        outputs += [out, err]
        code, out, err = await paperboy(
            "subscribe", f"LoRA {BIDI}", "--channel", channel, env=env
        )  # accepted or refused: either way shown inert
        outputs += [out, err]
        code, out, err = await paperboy("list", "--channel", channel, env=env)
        assert code == 0, err
        outputs += [out, err]
    code, out, err = await paperboy("status", env=env)
    assert code == 0, err
    outputs += [out, err]
    assert_inert(*outputs)
    assert "console:[reverse]rev[/reverse]" in out
    assert "console:[link=https://evil.example]ln[/link]" in out
    assert "console:␛[31mred" in out
    # Even on a colour terminal, no markup from the data becomes a style or a link.
    code, out, err = await paperboy("status", env={**env, "FORCE_COLOR": "1", "TERM": "xterm"})
    assert code == 0, err
    assert "\x1b]8;" not in out and "\x1b[7m" not in out
    assert "[reverse]rev[/reverse]" in out and "[link=https://evil.example]ln[/link]" in out
