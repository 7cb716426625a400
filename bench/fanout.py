"""Benchmark: one morning's fan-out through the outbox to 10,000 channels.

Run: ``.venv/bin/python bench/fanout.py [--targets 10000] [--database-url URL] [--seed 1]
[--platform slack|fake]`` (``--markdown`` also prints the table for docs/benchmarks.md).

Workload: every channel subscribes to ``LoRA``, one of five topics and a query of its
own (``author:researcherN``, matching nothing, so no two digests are alike); the
archive holds 40 synthetic papers, so a digest has 6 to 17 papers. All digests are due
at once (like 09:00 in one time zone): one plan, with a delivery worker running next to
it as in `paperboy run` (default settings: 40 sends in flight, 1 s between messages to
one channel, the default retry policy) until the outbox is empty.

The platform runs in a separate process. ``--platform slack`` (the default): the real
`SlackAdapter` (Block Kit renderer, slack_sdk client) against the loopback fake Slack of
tests/fakes/slack.py, which validates every message against Block Kit's limits; a
digest is one message or two. ``--platform fake``: the generic fake of
tests/fakes/platform.py with its small adapter (10 papers a message). Either way: 50 ms
per request, at most 1 message per second per channel (faster: 429), and at random 2 %
429 with Retry-After 1 and 1 % 500. Every accepted message is kept, so duplicates (a
(channel, key) twice) and losses (an outbox part not on the platform) are counted from
the platform's side. Neither has an idempotency key: a part whose send failed with a
500 is looked up (find_sent: Slack's conversations.history with message metadata)
before it is sent again.

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
import random
import resource
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from aiohttp import web  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from paperboy.delivery import TRIGGER_SCHEDULE, Deliverer, DueDigest, Planner  # noqa: E402
from paperboy.gc_tuning import tune_for_service  # noqa: E402
from paperboy.models import Paper  # noqa: E402
from paperboy.store import Store, make_engine, migrate  # noqa: E402
from paperboy.store.tables import outbox, subscriptions, targets  # noqa: E402
from paperboy_adapters.slack.adapter import SlackAdapter  # noqa: E402
from paperboy_config import Settings  # noqa: E402
from tests.fakes.platform import FakePlatform, FakePlatformAdapter  # noqa: E402
from tests.fakes.slack import BOT_TOKEN, Channel, FakeSlack, Fault, _fault_response  # noqa: E402
from tests.integration.delivery_support import bulk_targets  # noqa: E402

DAY = dt.date(2024, 11, 11)
TOPICS = ["quantization", "diffusion", "mixture of experts", "retrieval", "robotics"]


SENTENCES = (
    "Large models are costly to adapt, and most of that cost is memory rather than compute.",
    "We revisit the trade-off between accuracy and efficiency on twelve public benchmarks.",
    "Our method keeps the pretrained weights frozen and learns a small set of new parameters.",
    "Experiments on language, vision and speech tasks show consistent gains over strong baselines.",
    "We release code, checkpoints and evaluation scripts to make the results easy to reproduce.",
    "An ablation study isolates the contribution of each component and of the training schedule.",
    "The approach scales to models with tens of billions of parameters on a single node.",
    "Finally, we discuss limitations and directions for future work on robustness and fairness.",
)


def papers(count: int = 40) -> list[Paper]:
    """40 papers: quantization is a busy topic (15 papers), the others have 5 or 6.

    Their text is as long as real ones' (a 100-character title, a 1 KB abstract, an HF
    summary for half of them, 3 to 9 authors, a thumbnail, a GitHub link for a quarter):
    what a renderer costs depends on it.
    """
    pattern = [0, 0, 0, 1, 2, 3, 4, 0]
    out = []
    for i in range(count):
        topic = TOPICS[pattern[i % len(pattern)]]
        lora = "LoRA " if i % 20 == 0 else ""
        body = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(len(SENTENCES)))
        out.append(
            Paper(
                id=f"2411.{i:05d}",
                title=f"{lora}Advances in {topic}, study {i}: what scaling laws say about "
                "efficient adaptation",
                abstract=f"We study {topic} at scale. {body} Results on many benchmarks.",
                upvotes=i % 17,
                authors=tuple(f"Author{j} Surname{i}" for j in range(3 + i % 7)),
                ai_summary=(
                    f"This paper studies {topic} and shows that a small number of new "
                    "parameters is enough to match full fine-tuning on most benchmarks."
                )
                if i % 2
                else None,
                thumbnail_url=f"https://cdn.example.org/thumbnails/2411.{i:05d}.png",
                github_url=f"https://github.com/example/study-{i}" if i % 4 == 0 else None,
            )
        )
    return out


# --------------------------------------------------------------------------- the fake


#: What both fakes do (see the module docstring).
LATENCY = 0.05
CHANNEL_INTERVAL = 1.0
RATE_LIMIT_RATIO = 0.02
ERROR_RATIO = 0.01
RETRY_AFTER = 1.0


class BenchSlack(FakeSlack):
    """The fake Slack with the benchmark's latency, rate limits and random errors.

    Every channel exists (the bot is a member); `chat.postMessage` takes `LATENCY`
    seconds, answers 429 to a second message within `CHANNEL_INTERVAL` seconds in one
    channel, and at random 429 or 500 (without posting). `GET /stats` reports what the
    platform holds, for the benchmark running in another process.
    """

    handler_cancellation = False
    shutdown_timeout = 60.0

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.calls: deque = deque(maxlen=100)  # type: ignore[assignment]
        self.answers: Counter[int] = Counter()
        self.requests = 0
        self.too_fast = 0
        self.first_post: float | None = None
        self.last_post: float | None = None
        self.post_times: list[float] = []
        self._last: dict[str, float] = {}

    def build_app(self) -> web.Application:
        app = super().build_app()
        app.router.add_get("/stats", self._stats)
        return app

    async def _args(self, request: web.Request) -> dict[str, Any]:
        # Read once (the body cannot be read again), for this class and FakeSlack._api.
        if "bench_args" not in request:
            request["bench_args"] = await super()._args(request)
        return dict(request["bench_args"])

    def _channel(self, args: Mapping[str, Any]) -> Channel | dict[str, Any]:
        channel_id = str(args.get("channel") or "")
        if channel_id and channel_id not in self.channels:
            self.add_channel(channel_id)
        return super()._channel(args)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        response = await self._answer(request)
        self.answers[response.status] += 1
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["method"] != "chat.postMessage":
            return await super()._api(request)
        self.requests += 1
        args = await self._args(request)
        await asyncio.sleep(LATENCY)
        roll = self.rng.random()
        if roll < RATE_LIMIT_RATIO:
            return _fault_response(Fault.rate_limited(RETRY_AFTER))
        if roll < RATE_LIMIT_RATIO + ERROR_RATIO:
            return _fault_response(Fault.server_error())
        channel = str(args.get("channel") or "")
        now = time.monotonic()
        last = self._last.get(channel)
        if last is not None and now - last < CHANNEL_INTERVAL:
            self.too_fast += 1
            return _fault_response(Fault.rate_limited(f"{CHANNEL_INTERVAL - (now - last):.3f}"))
        response = await super()._api(request)
        if response.status == 200:
            self._last[channel] = now
            wall = time.time()
            self.first_post = self.first_post or wall
            self.last_post = wall
            self.post_times.append(wall)
        return response

    async def _stats(self, request: web.Request) -> web.Response:
        keys: dict[str, list[str]] = {}
        duplicates = 0
        for channel in self.channels.values():
            found = [
                str(((m.get("metadata") or {}).get("event_payload") or {}).get("key"))
                for m in channel.messages
            ]
            duplicates += len(found) - len(set(found))
            keys[channel.id] = found
        return web.json_response(
            {
                "requests": self.requests,
                "answers": {str(k): v for k, v in self.answers.items()},
                "duplicates": duplicates,
                "too_fast": self.too_fast,
                "first_post": self.first_post,
                "last_post": self.last_post,
                "post_times": self.post_times,
                "cpu_s": time.process_time(),
                "keys": keys,
            }
        )


class TimedFakePlatform(FakePlatform):
    """The generic fake, also telling when it accepted its first and last message."""

    first_post: float | None = None
    last_post: float | None = None

    async def _post(self, request: web.Request) -> web.Response:
        response = await super()._post(request)
        if response.status == 200:
            wall = time.time()
            self.first_post = self.first_post or wall
            self.last_post = wall
        return response

    async def _stats(self, request: web.Request) -> web.Response:
        response = await super()._stats(request)
        data = json.loads(response.body)  # type: ignore[arg-type]
        data.update(first_post=self.first_post, last_post=self.last_post, cpu_s=time.process_time())
        return web.json_response(data)


async def serve_fake(port_file: str, seed: int, platform_name: str) -> None:
    """Child process: run the fake platform until killed; write its port to a file."""
    fake: BenchSlack | FakePlatform
    if platform_name == "slack":
        fake = BenchSlack(seed)
    else:
        fake = TimedFakePlatform(
            latency=LATENCY,
            channel_interval=CHANNEL_INTERVAL,
            rate_limit_ratio=RATE_LIMIT_RATIO,
            error_ratio=ERROR_RATIO,
            retry_after=RETRY_AFTER,
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


def make_adapter(platform_name: str, fake_url: str) -> SlackAdapter | FakePlatformAdapter:
    if platform_name == "slack":
        return SlackAdapter(BOT_TOKEN, api_url=f"{fake_url}/api/")
    return FakePlatformAdapter(fake_url, per_part=10, find_by_history=True)


async def until_sent(store: Store, *, within: float = 900.0, poll: float = 0.2) -> None:
    """Until the outbox holds no unsent part (or `within` seconds have passed)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        counts = await store.outbox.counts()
        if not sum(counts.get(s, 0) for s in ("queued", "pending", "sending")):
            return
        await asyncio.sleep(poll)


async def run(args: argparse.Namespace, fake_url: str, tmp: Path) -> dict[str, object]:
    db_url, schema = await prepare_db(args.database_url, tmp)
    try:
        await migrate(db_url)
        settings = Settings(_env_file=None)
        async with Store(db_url) as store:
            adapter = make_adapter(args.platform, fake_url)
            channels = [f"C{i:06d}" for i in range(args.targets)]
            now = dt.datetime.now(dt.UTC)
            ids: list[int] = []
            for start in range(0, len(channels), 2000):
                chunk = channels[start : start + 2000]
                # Each channel: LoRA plus one topic (different chunks, different topics).
                topic = TOPICS[(start // 2000) % len(TOPICS)]
                ids += await bulk_targets(store, chunk, ["LoRA", topic], platform=adapter.platform)
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

            adapters = {adapter.platform: adapter}
            tune_for_service()  # as `paperboy run` does when its roles start
            deliverer = Deliverer.from_settings(store, adapters, settings)
            planner = Planner(
                store,
                adapters,
                settle_seconds=settings.digest_settle_seconds,
                on_batch=deliverer.wake,
            )
            # As in `paperboy run`: a delivery worker runs while the digests are planned.
            stop = asyncio.Event()
            started_wall = time.time()
            started = time.perf_counter()
            worker = asyncio.create_task(deliverer.run(stop))
            plan = await planner.plan([DueDigest(t, DAY, TRIGGER_SCHEDULE) for t in ids])
            deliverer.wake()
            planned = time.perf_counter()
            await until_sent(store)
            stop.set()
            stats = await worker
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
    first, last = platform_stats["first_post"], platform_stats["last_post"]
    return {
        "targets": args.targets,
        "platform": "Slack (real adapter, fake Slack)" if args.platform == "slack" else "fake",
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "parts": plan.parts,
        "plan_s": planned - started,
        "first_s": (first - started_wall) if first else float("nan"),
        "last_s": (last - started_wall) if last else float("nan"),
        # When 50 % / 99 % of the messages were on the platform (the tail is retries).
        "p50_s": _share_at(platform_stats.get("post_times") or [], 0.50, started_wall),
        "p99_s": _share_at(platform_stats.get("post_times") or [], 0.99, started_wall),
        "wall_s": finished - started,
        "messages": messages,
        "rate": messages / (last - first) if first and last and last > first else 0.0,
        "duplicates": platform_stats["duplicates"],
        "losses": missing + unsent,
        "requests": platform_stats["requests"],
        "answers": platform_stats["answers"],
        "rate_limited": stats.rate_limited,
        "retried": stats.retried,
        "found": stats.found,
        "cpu_s": time.process_time(),
        "platform_cpu_s": platform_stats["cpu_s"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _share_at(times: list[float], share: float, start: float) -> float:
    """Seconds from `start` until `share` of the messages (post times) were posted."""
    if not times:
        return float("nan")
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] - start


def table(result: dict[str, object]) -> Table:
    out = Table(title="Fan-out through the outbox (default settings)")
    out.add_column("measure")
    out.add_column("value", justify="right")
    answers = result["answers"]
    assert isinstance(answers, dict)
    rows = [
        ("channels (targets)", f"{result['targets']:,}"),
        ("platform", str(result["platform"])),
        ("database", str(result["database"])),
        ("messages planned (parts)", f"{result['parts']:,}"),
        ("plan (match, render, write)", f"{result['plan_s']:.1f} s"),
        ("first message", f"{result['first_s']:.1f} s"),
        ("half / 99 % of the messages", f"{result['p50_s']:.1f} s / {result['p99_s']:.1f} s"),
        ("last message", f"{result['last_s']:.1f} s"),
        ("messages/s (first to last)", f"{result['rate']:.0f}"),
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
        (
            "CPU time: bench process / fake platform",
            f"{result['cpu_s']:.1f} s / {result['platform_cpu_s']:.1f} s",
        ),
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
    parser.add_argument("--platform", choices=("slack", "fake"), default="slack")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--serve-fake", metavar="PORT_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(serve_fake(args.serve_fake, args.seed, args.platform))
        return

    import subprocess

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port_file = tmp / "port"
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-fake",
                str(port_file),
                "--seed",
                str(args.seed),
                "--platform",
                args.platform,
            ]
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
