"""`paperboy deliver`, `paperboy status` and `paperboy run --role` as an operator runs them."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from paperboy.clock import SystemClock
from paperboy.models import Target
from paperboy.store import Store, migrate
from tests import cli_in_process as in_process
from tests.cli_in_process import Result
from tests.integration.delivery_support import add_target, lora_papers

ROOT = Path(__file__).resolve().parents[2]
SETTLE = "PAPERBOY_DIGEST_SETTLE_SECONDS"


def paperboy(*args: str, env: dict[str, str]) -> Result:
    return in_process.paperboy(*args, environ=env, cwd=ROOT)


@pytest.fixture
async def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    await migrate(db_url)
    async with Store(db_url) as store:
        await add_target(store, "lab", platform="console", days="mon,tue,wed,thu,fri,sat,sun")
        await add_target(store, "quiet", platform="console", schedule_enabled=False)
        await add_target(store, "C1", platform="slack", workspace="T1", paused=True)
        await store.papers.upsert(
            lora_papers(3), seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        )
    out = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": db_url,
        "PAPERBOY_DIGEST_SETTLE_SECONDS": "0",
        "PAPERBOY_LOG_LEVEL": "WARNING",
        "PAPERBOY_SOURCE": str(tmp_path / "none.json"),
    }
    for name in ("SLACK_BOT_TOKEN", "PAPERBOY_SLACK_BOT_TOKEN", "DISCORD_TOKEN"):
        out.pop(name, None)
    out.pop("PAPERBOY_DISCORD_TOKEN", None)
    return out


async def test_deliver_twice_sends_once(env: dict[str, str], db_url: str) -> None:
    first = paperboy("deliver", "--date", "2024-11-11", env=env)
    assert first.returncode == 0, first.stderr
    assert "LoRA adapters, part 2" in first.stdout  # the console printed the digest
    assert "due: 1 digest(s); planned now: 1" in first.stdout
    sent = int(re.search(r"sent: (\d+) message", first.stdout)[1])  # type: ignore[index]
    assert sent >= 1 and "still pending: 0; failed: 0" in first.stdout
    second = paperboy("deliver", "--date", "2024-11-11", env=env)
    assert second.returncode == 0, second.stderr
    assert "planned now: 0" in second.stdout and "already planned: 1" in second.stdout
    assert "sent: 0 message(s)" in second.stdout
    assert "LoRA adapters" not in second.stdout
    async with Store(db_url) as store:
        parts = await store.outbox.sent_parts()
    assert len(parts) == sent and {p[0] for p in parts} == {Target("console", "", "lab")}


def test_deliver_bad_date_is_one_line_exit_2(env: dict[str, str]) -> None:
    out = paperboy("deliver", "--date", "2024-13-45", env=env)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "YYYY-MM-DD" in out.stderr


def test_run_unknown_role_is_exit_2(env: dict[str, str]) -> None:
    out = paperboy("run", "--role", "boss", env=env)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


async def test_status_shows_schedules_deliveries_and_pauses(env: dict[str, str]) -> None:
    paperboy("deliver", "--date", "2024-11-11", env=env)
    out = paperboy("status", env=env)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "console:lab" in text and "09:00 UTC, daily" in text
    assert "console:quiet" not in text.split("Deliveries")[0]  # schedule off: no next run
    assert re.search(r"Deliveries: 0 pending, [1-9]\d* sent, 0 failed", text)
    assert "Paused channels" in text and "slack:T1:C1" in text


async def test_worker_role_stops_cleanly_on_sigterm(env: dict[str, str]) -> None:
    env = {**env, "PAPERBOY_LOG_LEVEL": "INFO"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "paperboy.cli", "run", "--role", "worker",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        while not any("running as worker" in line for line in lines):
            raw = await asyncio.wait_for(proc.stderr.readline(), 60)
            assert raw, f"the worker ended early: {lines}"
            lines.append(raw.decode())
        # The paused Slack channel has nothing waiting; nothing else to say.
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert b"Traceback" not in rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# --------------------------------------------------------------------------- issue 10


async def _plan_lab(db_url: str) -> tuple[Store, int]:
    """Plan console:lab's digest of 2024-11-11 as a scheduler would (not sent yet)."""
    from paperboy.delivery import TRIGGER_MANUAL, DueDigest, Planner
    from paperboy_adapters.console.adapter import ConsoleAdapter

    store = Store(db_url)
    tid = await store.outbox.target_id(Target("console", "", "lab"))
    assert tid is not None
    planner = Planner(store, {"console": ConsoleAdapter("lab")}, settle_seconds=0)
    result = await planner.plan([DueDigest(tid, dt.date(2024, 11, 11), TRIGGER_MANUAL)])
    assert result.planned == 1 and result.parts >= 1
    return store, tid


def paperboy_here(
    args: list[str],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """The CLI run in this process (its real entry point): for a test that cannot allow
    for the time a new interpreter takes to start. Returns (exit code, stdout, stderr)."""
    for name, value in env.items():
        if name.startswith("PAPERBOY_"):
            monkeypatch.setenv(name, value)
    for name in ("SLACK_BOT_TOKEN", "PAPERBOY_SLACK_BOT_TOKEN", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PAPERBOY_DISCORD_TOKEN", raising=False)
    out = in_process.paperboy(*args)
    return out.returncode, out.stdout, out.stderr


class HurriedClock(SystemClock):
    """The wall clock, except that sleeping moves it on at once (no test waits 30 s)."""

    ahead = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return super().now() + HurriedClock.ahead

    async def sleep(self, seconds: float) -> None:
        HurriedClock.ahead += dt.timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)


def test_deliver_right_after_an_ingest_waits_for_the_settle_window(
    env: dict[str, str],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Papers ingested a moment ago are inside the settle window (30 s by default):
    deliver waits them out, saying so, instead of planning the digest without them and
    using up the date. (The wait passes at once on a hurried clock.)"""

    async def ingest() -> None:
        async with Store(db_url) as store:
            await store.papers.upsert(lora_papers(2, start=10), seen_at=dt.datetime.now(dt.UTC))

    asyncio.run(ingest())
    monkeypatch.setattr(HurriedClock, "ahead", dt.timedelta(0))
    monkeypatch.setattr("paperboy.delivery.service.SystemClock", HurriedClock)
    env = {**env}
    env.pop(SETTLE)
    code, out, err = paperboy_here(["deliver", "--date", "2024-11-11"], env, monkeypatch, capsys)
    assert code == 0, err
    assert "LoRA adapters, part 10" in out and "LoRA adapters, part 11" in out
    assert re.search(r"waiting \d+s: 2 paper\(s\) were ingested less than 30s ago", out), out
    assert "still pending: 0" in out and "left for" not in out


async def test_deliver_waits_for_a_part_a_crashed_worker_left_mid_send(
    env: dict[str, str], db_url: str
) -> None:
    """A worker died holding the first part: deliver says when its claim runs out, waits
    for it, takes the part over and sends the digest."""
    store, _ = await _plan_lab(db_url)
    async with store:
        (part,) = await store.outbox.claim(
            "crashed", dt.datetime.now(dt.UTC), limit=1, lease=1.5, platforms=["console"]
        )
    assert part.claimed_until is not None
    out = paperboy("deliver", "--date", "2024-11-11", env=env)
    assert out.returncode == 0, out.stderr
    until = part.claimed_until.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert "1 part(s) are claimed by another worker" in out.stdout
    assert f"can be taken over at {until}" in out.stdout
    assert "LoRA adapters, part 2" in out.stdout and "still pending: 0" in out.stdout


async def test_deliver_exits_1_saying_when_what_is_left_can_go_out(
    env: dict[str, str], db_url: str
) -> None:
    """A part whose retry is due in ten minutes cannot go out now: deliver says when it
    can, and exits 1 (not 0 with a bare "still pending")."""
    store, _ = await _plan_lab(db_url)
    now = dt.datetime.now(dt.UTC)
    retry_at = now + dt.timedelta(minutes=10)
    async with store:
        (part,) = await store.outbox.claim("w", now, limit=1, lease=60, platforms=["console"])
        await store.outbox.release(
            part.id,
            "w",
            now=now,
            next_attempt_at=retry_at,
            error="HTTP 502",
            count_attempt=True,
            uncertain=True,
            max_attempts=8,
        )
    out = paperboy("deliver", "--date", "2024-11-11", env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    pending = int(re.search(r"still pending: (\d+)", out.stdout)[1])  # type: ignore[index]
    assert pending >= 1 and f"{pending} part(s) could not go out yet" in out.stdout
    assert (
        f"the next can be sent from {retry_at.strftime('%Y-%m-%d %H:%M:%S UTC')} "
        "(when their retry is due)" in out.stdout
    )
    assert "Traceback" not in out.stderr


def test_a_lease_not_above_the_send_timeout_is_refused(env: dict[str, str]) -> None:
    """A lease shorter than one send would let a second worker send a part again while
    the first is still sending it: refused at start, in one line."""
    bad = {
        **env,
        "PAPERBOY_DELIVERY_LEASE_SECONDS": "8",
        "PAPERBOY_DELIVERY_SEND_TIMEOUT": "12",
    }
    out = paperboy("deliver", "--date", "2024-11-11", env=bad)
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr

    from pydantic import ValidationError

    from paperboy_config import Settings

    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, delivery_lease_seconds=8, delivery_send_timeout=12)
    (error,) = caught.value.errors()
    assert error["loc"] == ("delivery_lease_seconds",)
    assert "above PAPERBOY_DELIVERY_SEND_TIMEOUT (12 s)" in error["msg"]
    assert Settings(_env_file=None, delivery_lease_seconds=13, delivery_send_timeout=12)
