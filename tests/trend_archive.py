"""A small archive around a year boundary, with hand-computed weekly counts (trend tests).

ISO weeks: 2025-12-22 is 2025-W52; 2025-12-29 (a Monday) starts 2026-W01, because
2026-01-01 is a Thursday; 2026-01-05 starts 2026-W02.
"""

from __future__ import annotations

import datetime as dt

from paperboy.models import Paper
from paperboy.store import Store


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


#: (paper, first seen). "LoRA" matches A, B, D, E, H (acronym rule: QLoRA and DyLoRA match,
#: "exploration" and a lower-case "lora" do not).
ARCHIVE: list[tuple[Paper, dt.datetime]] = [
    (
        Paper(
            "2512.00001", "LoRA adapters for vision", upvotes=5, daily_date=dt.date(2025, 12, 23)
        ),
        at("2025-12-23T10:00"),
    ),
    # Sunday 23:30 UTC: 2025-W52 in UTC, Monday 00:30 (2026-W01) in Berlin.
    (
        Paper("2512.00002", "QLoRA, quantized", upvotes=9, daily_date=dt.date(2025, 12, 28)),
        at("2025-12-28T23:30"),
    ),
    (
        Paper(
            "2512.00003",
            "Exploration in reinforcement learning",
            upvotes=50,
            daily_date=dt.date(2025, 12, 30),
        ),
        at("2025-12-30T08:00"),
    ),
    (
        Paper("2601.00004", "DyLoRA: dynamic ranks", upvotes=3, daily_date=dt.date(2026, 1, 1)),
        at("2026-01-01T09:00"),
    ),
    # Fetched by a backfill two months after its listing day: counted on that day.
    (
        Paper("2601.00005", "Sparse LoRA merging", upvotes=12, daily_date=dt.date(2026, 1, 6)),
        at("2026-03-01T12:00"),
    ),
    (
        Paper(
            "2601.00006",
            "Low-rank adaptation: lora revisited",
            upvotes=1,
            daily_date=dt.date(2026, 1, 7),
        ),
        at("2026-01-07T09:00"),
    ),
    (
        Paper("2601.00007", "LoRA for speech", upvotes=20, daily_date=dt.date(2026, 1, 8)),
        at("2026-01-08T09:00"),
    ),
    # Outside the three weeks.
    (
        Paper("2512.00008", "LoRA early", upvotes=2, daily_date=dt.date(2025, 12, 19)),
        at("2025-12-19T09:00"),
    ),
]

WEEKS = ["2025-W52", "2026-W01", "2026-W02"]
#: LoRA per week: UTC and Europe/Berlin disagree on paper B only.
LORA_UTC = [2, 1, 2]
LORA_BERLIN = [1, 2, 2]
#: The three most upvoted LoRA papers of each peak week (UTC: W52 and W02 tie at 2; the
#: later week wins).
PEAK_UTC = "2026-W02"
PEAK_TOP_UTC = ["2601.00007", "2601.00005"]


async def load(store: Store) -> None:
    for paper, seen in ARCHIVE:
        await store.papers.upsert([paper], seen_at=seen)
