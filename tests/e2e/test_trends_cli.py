"""`paperboy trends` and `paperboy rollup` end to end (the contract of issue 15), on
SQLite and PostgreSQL, against hand-computed counts of a small archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperboy.store import Store
from paperboy.trends import plotted_series
from paperboy.trends.chart import png_size
from tests.cli_in_process import paperboy_async
from tests.trend_archive import LORA_UTC, WEEKS, load


async def paperboy(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    out = await paperboy_async(*args, env=env)
    return out.returncode, out.stdout, out.stderr


@pytest.fixture
async def env(store: Store, db_url: str, tmp_path: Path) -> dict[str, str]:
    await load(store)
    return {"PAPERBOY_DATABASE_URL": db_url, "HOME": str(tmp_path)}


async def test_trends_json_contract(env: dict[str, str], tmp_path: Path) -> None:
    out_png = tmp_path / "lora.png"
    code, out, err = await paperboy(
        "trends", "LoRA", "--weeks", "3", "--until", "2026-01-07",
        "--out", str(out_png), "--format", "json", env=env,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data == {
        "query": "LoRA",
        "weeks": [{"week": w, "count": c} for w, c in zip(WEEKS, LORA_UTC, strict=True)],
        "image": str(out_png),
    }
    png = out_png.read_bytes()
    assert png_size(png) == (1200, 675)
    assert plotted_series(png)["series"] == [{"label": "LoRA", "counts": LORA_UTC}]


async def test_rollup_json_contract(env: dict[str, str], store: Store, tmp_path: Path) -> None:
    from paperboy.models import Target

    target = Target("console", "", "team")
    await store.subscriptions.add(target, "LoRA")
    await store.subscriptions.add(target, "reinforcement learning")
    await store.subscriptions.add(target, "zebrafish")
    code, out, err = await paperboy(
        "rollup", "--channel", "console:team", "--week", "2026-W02",
        "--format", "json", "--out-dir", str(tmp_path), env=env,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert {"week", "top", "subscriptions", "rising", "image"} <= set(data)
    assert data["week"] == "2026-W02"
    # W02 (UTC): LoRA matches 2601.00005 (listed 01-06, backfilled) and 2601.00007.
    assert [e["id"] for e in data["top"]] == ["2601.00007", "2601.00005"]  # by HF votes
    assert data["subscriptions"] == [
        {"query": "LoRA", "count": 2},
        {"query": "reinforcement learning", "count": 0},
        {"query": "zebrafish", "count": 0},
    ]
    for rise in data["rising"]:
        assert set(rise) == {"term", "count", "previous"}
    png = Path(data["image"]).read_bytes()  # noqa: ASYNC240 (a test)
    drawn = plotted_series(png)
    assert drawn["marked"] == "2026-W02" and drawn["weeks"][-3:] == WEEKS
    lora = next(s for s in drawn["series"] if s["label"] == "LoRA")
    assert lora["counts"][-3:] == LORA_UTC


@pytest.mark.parametrize("fmt", ["slack", "discord"])
async def test_rollup_message_bodies_as_sent(
    env: dict[str, str], store: Store, tmp_path: Path, fmt: str
) -> None:
    from paperboy.models import Target

    await store.subscriptions.add(Target("console", "", "team"), "LoRA <!channel>")
    await store.subscriptions.add(Target("console", "", "team"), "LoRA")
    code, out, err = await paperboy(
        "rollup", "--channel", "console:team", "--week", "2026-W02",
        "--format", fmt, "--out-dir", str(tmp_path), env=env,
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    png = (tmp_path / "paperboy-2026-W02.png").read_bytes()
    assert png_size(png) == (1200, 675)
    if fmt == "slack":
        assert body["method"] == "files_upload_v2" and body["file"] == "paperboy-2026-W02.png"
        assert body["blocks"][0]["type"] == "header" and "2026-W02" in out
        assert "<!channel>" not in out and "&lt;!channel&gt;" in out
    else:
        (embed,) = body["payload_json"]["embeds"]
        assert embed["image"]["url"] == "attachment://paperboy-2026-W02.png"
        assert body["files"] == ["paperboy-2026-W02.png"]
        assert body["payload_json"]["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize(
    "args",
    [
        ("trends", "LoRA", "--out", "x.png", "--until", "2026-02-30"),
        ("trends", "LoRA AND", "--out", "x.png", "--format", "json"),
        ("trends", 'LoRA "open', "--out", "x.png"),
        ("trends", "LoRA", "--out", "x.png", "--weeks", "0"),
        ("trends", "LoRA", "--out", "x.png", "--format", "xml"),
        ("trends", "LoRA", "--out", "x.png", "--until", "9999-12-31"),
        ("trends", "LoRA", "--out", "x.png", "--until", "0001-01-01"),
        ("rollup", "--channel", "console:team", "--week", "9999-W52"),
        ("rollup", "--channel", "console:team", "--week", "0001-W01"),
        ("rollup", "--channel", "console:team", "--week", "2026-W54"),
        ("rollup", "--channel", "console:team", "--week", "2026-13"),
        ("rollup", "--channel", "console:team", "--week", "2026-W02", "--format", "xml"),
        ("rollup", "--channel", "nochannel", "--week", "2026-W02"),
    ],
)
async def test_bad_input_exits_2_with_one_line(
    env: dict[str, str], args: tuple[str, ...], tmp_path: Path
) -> None:
    code, out, err = await paperboy(*args, env=env)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paperboy: "), err
    assert not (tmp_path / "x.png").exists()
