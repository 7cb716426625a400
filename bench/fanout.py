"""Benchmark: one morning's fan-out through the outbox to 10,000 channels.

Run: ``.venv/bin/python bench/fanout.py [--targets 10000] [--database-url URL] [--seed 1]``
(``--markdown`` also prints the table for docs/benchmarks.md).

Workload: every channel subscribes to ``LoRA``, one of five topics and a query of its
own (``author:researcherN``, matching nothing, so no two digests are alike); the
archive holds 40 synthetic papers, so a digest has 6 to 17 papers: one message, or two
for the fifth of the channels following the busy topic (10 papers a message, like
Discord's 10 embeds). All digests are due at once (like 09:00 in one time zone): one plan, then
delivery with the default settings (20 sends in flight, 1 s between messages to one
channel, the default retry policy) until the outbox is empty.

The platform is the loopback fake of tests/fakes/platform.py in a separate process:
50 ms per request, at most 1 message per second per channel (faster: 429), and at
random 2 % 429 with Retry-After 1 and 1 % 500. It keeps every message it accepted, so
duplicates (a (channel, key) twice) and losses (an outbox part not on the platform)
are counted from the platform's side. Like Slack it has no idempotency key: a part
whose send failed with a 500 is looked up (find_sent) before it is sent again.

Database: a fresh SQLite file by default (the bot's default); ``--database-url`` takes
a PostgreSQL URL (a fresh schema is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from paperboy.delivery import TRIGGER_SCHEDULE, Deliverer, DueDigest, Planner  # noqa: E402
from paperboy.models import Paper  # noqa: E402
from paperboy.store import Store, make_engine, migrate  # noqa: E402
from paperboy.store.tables import outbox, subscriptions, targets  # noqa: E402
from paperboy_config import Settings  # noqa: E402
from tests.fakes.platform import FakePlatform, FakePlatformAdapter  # noqa: E402
from tests.integration.delivery_support import bulk_targets  # noqa: E402

DAY = dt.date(2024, 11, 11)
TOPICS = ["quantization", "diffusion", "mixture of experts", "retrieval", "robotics"]


def papers(count: int = 40) -> list[Paper]:
    """40 papers: quantization is a busy topic (15 papers), the others have 5 or 6."""
    pattern = [0, 0, 0, 1, 2, 3, 4, 0]
    out = []
    for i in range(count):
        topic = TOPICS[pattern[i % len(pattern)]]
        lora = "LoRA " if i % 20 == 0 else ""
        out.append(
            Paper(
                id=f"2411.{i:05d}",
                title=f"{lora}Advances in {topic}, study {i}",
                abstract=f"We study {topic} at scale. Results on many benchmarks.",
                upvotes=i % 17,
                authors=("A. Author", "B. Author"),
            )
        )
    return out


# --------------------------------------------------------------------------- the fake


async def serve_fake(port_file: str, seed: int) -> None:
    """Child process: run the fake platform until killed; write its port to a file."""
    fake = FakePlatform(
        latency=0.05,
        channel_interval=1.0,
        rate_limit_ratio=0.02,
        error_ratio=0.01,
        retry_after=1.0,
        idempotent=False,
        seed=seed,
    )
    await fake.start()
    await asyncio.to_thread(Path(port_file).write_text, str(fake.port))
    await asyncio.Event().wait()


def fetch_stats(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/stats", timeout=60) as response:
        return json.loads(response.read())


# --------------------------------------------------------------------------- the run


async def prepare_db(url: str | None, tmp: Path) -> tuple[str, str | None]:
    if url is None:
        return f"sqlite+aiosqlite:///{tmp / 'fanout.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    async with admin.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    await admin.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}schema={schema}", schema


async def drop_schema(url: str, schema: str) -> None:
    admin = make_engine(url)
    async with admin.begin() as conn:
        await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await admin.dispose()


async def run(args: argparse.Namespace, fake_url: str, tmp: Path) -> dict[str, object]:
    db_url, schema = await prepare_db(args.database_url, tmp)
    try:
        await migrate(db_url)
        settings = Settings(_env_file=None)
        async with Store(db_url) as store:
            channels = [f"C{i:06d}" for i in range(args.targets)]
            now = dt.datetime.now(dt.UTC)
            ids: list[int] = []
            for start in range(0, len(channels), 2000):
                chunk = channels[start : start + 2000]
                # Each channel: LoRA plus one topic (different chunks, different topics).
                topic = TOPICS[(start // 2000) % len(TOPICS)]
                ids += await bulk_targets(store, chunk, ["LoRA", topic])
            # And one query of its own, as real channels have (no two channels share a
            # subscription list, so no two digests are alike).
            async with store.begin_write() as conn:
                await conn.execute(
                    sa.insert(subscriptions),
                    [
                        {"target_id": tid, "query": f"author:researcher{tid}", "created_at": now}
                        for tid in ids
                    ],
                )
            await store.papers.upsert(papers(), seen_at=now - dt.timedelta(hours=1))
            await store.outbox.analyze()  # what autovacuum does for a long-lived database

            adapter = FakePlatformAdapter(fake_url, per_part=10, find_by_history=True)
            adapters = {adapter.platform: adapter}
            planner = Planner(store, adapters, settle_seconds=settings.digest_settle_seconds)
            deliverer = Deliverer.from_settings(store, adapters, settings)

            started = time.perf_counter()
            plan = await planner.plan([DueDigest(t, DAY, TRIGGER_SCHEDULE) for t in ids])
            planned = time.perf_counter()
            stats = await deliverer.run_until_idle()
            finished = time.perf_counter()
            await adapter.stop()
            counts = await store.outbox.counts()
            async with store.engine.connect() as conn:
                planned_keys = [
                    (row.channel, row.key)
                    for row in await conn.execute(
                        sa.select(targets.c.channel, outbox.c.key).join(
                            targets, targets.c.id == outbox.c.target_id
                        )
                    )
                ]
    finally:
        if schema is not None and args.database_url:
            await drop_schema(args.database_url, schema)

    platform_stats = fetch_stats(fake_url)
    on_platform = {(c, k) for c, keys in platform_stats["keys"].items() for k in keys}
    # Every part the outbox holds must be on the platform under its key.
    missing = len(set(planned_keys) - on_platform)
    unsent = sum(counts.get(s, 0) for s in ("queued", "pending", "sending", "failed"))
    messages = len(on_platform)
    send_seconds = finished - planned
    return {
        "targets": args.targets,
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "parts": plan.parts,
        "plan_s": planned - started,
        "send_s": send_seconds,
        "wall_s": finished - started,
        "messages": messages,
        "rate": messages / send_seconds if send_seconds else 0.0,
        "duplicates": platform_stats["duplicates"],
        "losses": missing + unsent,
        "requests": platform_stats["requests"],
        "answers": platform_stats["answers"],
        "rate_limited": stats.rate_limited,
        "retried": stats.retried,
        "found": stats.found,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def table(result: dict[str, object]) -> Table:
    out = Table(title="Fan-out through the outbox (default settings)")
    out.add_column("measure")
    out.add_column("value", justify="right")
    answers = result["answers"]
    assert isinstance(answers, dict)
    rows = [
        ("channels (targets)", f"{result['targets']:,}"),
        ("database", str(result["database"])),
        ("messages planned (parts)", f"{result['parts']:,}"),
        ("plan (match, render, write)", f"{result['plan_s']:.1f} s"),
        ("send", f"{result['send_s']:.1f} s"),
        ("wall time", f"{result['wall_s']:.1f} s"),
        ("messages/s (send phase)", f"{result['rate']:.0f}"),
        (
            "platform answers",
            ", ".join(f"{k}: {v:,}" for k, v in sorted(answers.items())),
        ),
        (
            "retries after 429 / after 5xx",
            f"{result['rate_limited']:,} / {result['retried'] - result['rate_limited']:,}",
        ),
        ("parts found already posted", f"{result['found']:,}"),
        ("duplicates", f"{result['duplicates']}"),
        ("losses", f"{result['losses']}"),
        ("peak RSS (bench process)", f"{result['peak_rss_mb']:.0f} MB"),
    ]
    for row in rows:
        out.add_row(*row)
    return out


def markdown(result: dict[str, object], t: Table) -> str:
    lines = ["| measure | value |", "|---|---:|"]
    for measure, value in zip(t.columns[0].cells, t.columns[1].cells, strict=True):
        lines.append(f"| {measure} | {value} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--serve-fake", metavar="PORT_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(serve_fake(args.serve_fake, args.seed))
        return

    import subprocess

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port_file = tmp / "port"
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve-fake", str(port_file), "--seed", str(args.seed)]
        )
        try:
            for _ in range(600):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            fake_url = f"http://127.0.0.1:{port_file.read_text()}"
            result = asyncio.run(run(args, fake_url, tmp))
        finally:
            child.terminate()
            child.wait(10)
    console = Console(highlight=False)
    t = table(result)
    console.print(t)
    console.print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f", {platform.system()} {platform.release()}",
        markup=False,
    )
    if args.markdown:
        print(markdown(result, t))


if __name__ == "__main__":
    main()
