"""A channel's weekly rollup as platform-neutral data, and its JSON (the outbox's form).

The rollup is one message by construction (at most `ROLLUP_TOP` papers, `MAX_SUBS`
subscriptions and `MAX_RISING` terms, each line cut by the renderers to the platform's
limits), so it is one outbox part: one key, one post, one image.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from paperboy.models import ARXIV_ABS, HF_PAPERS
from paperboy.trends.chart import ChartData, ChartSeries

#: The outbox payload of a rollup part: {ROLLUP_PAYLOAD: rollup_to_json(..., embed=True)},
#: rendered by the adapter when it is sent.
ROLLUP_PAYLOAD = "$rollup"
ROLLUP_TOP = 5
MAX_SUBS = 10
MAX_RISING = 8


@dataclass(frozen=True, slots=True)
class RollupEntry:
    """One of the week's top papers. `feedback`: the channel's own score (votes and
    saves; 0 until the channel gives feedback), ranked before `upvotes` (Hugging Face)."""

    id: str
    title: str
    upvotes: int = 0
    feedback: float = 0.0
    matched: tuple[str, ...] = ()
    on_hf: bool = True

    @property
    def url(self) -> str:
        return (HF_PAPERS if self.on_hf else ARXIV_ABS) + self.id

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "upvotes": self.upvotes,
            "feedback": self.feedback,
            "subscriptions": list(self.matched),
            "url": self.url,
        }


@dataclass(frozen=True, slots=True)
class SubscriptionCount:
    query: str
    count: int


@dataclass(frozen=True, slots=True)
class RisingTerm:
    term: str
    count: int
    previous: float


@dataclass(frozen=True, slots=True)
class Rollup:
    """The rollup of one channel for one ISO week (`week`, like 2026-W48)."""

    week: str
    channel: str
    matched: int
    top: tuple[RollupEntry, ...]
    subscriptions: tuple[SubscriptionCount, ...]
    rising: tuple[RisingTerm, ...]
    chart: ChartData
    png: bytes | None = field(default=None, repr=False)

    @property
    def image_name(self) -> str:
        return f"paperboy-{self.week}.png"

    @property
    def title(self) -> str:
        return f"Week {self.week}: {self.matched} matching paper{'s' if self.matched != 1 else ''}"

    def most_and_least(self) -> tuple[list[SubscriptionCount], list[SubscriptionCount]]:
        """The subscriptions that matched most (up to 3) and least (up to 3, not repeated)."""
        ranked = list(self.subscriptions)
        most = ranked[:3]
        least = [s for s in ranked[3:][-3:]]
        return most, least


def rollup_to_json(
    rollup: Rollup, *, image: str | None = None, embed: bool = False
) -> dict[str, Any]:
    """The rollup as JSON data. `image`: what the "image" key says (a file name or path);
    `embed`: include the PNG itself (base64) and the chart's data, as the outbox keeps it."""
    out: dict[str, Any] = {
        "week": rollup.week,
        "channel": rollup.channel,
        "matched": rollup.matched,
        "top": [entry.as_json() for entry in rollup.top],
        "subscriptions": [{"query": s.query, "count": s.count} for s in rollup.subscriptions],
        "rising": [
            {"term": r.term, "count": r.count, "previous": r.previous} for r in rollup.rising
        ],
        "image": image if image is not None else rollup.image_name,
        "chart": rollup.chart.as_json(),
    }
    if embed and rollup.png is not None:
        out["png"] = base64.b64encode(rollup.png).decode("ascii")
    return out


def rollup_from_json(data: dict[str, Any]) -> Rollup:
    chart = data.get("chart") or {}
    png = data.get("png")
    return Rollup(
        week=str(data["week"]),
        channel=str(data.get("channel", "")),
        matched=int(data.get("matched", 0)),
        top=tuple(
            RollupEntry(
                id=str(e["id"]),
                title=str(e["title"]),
                upvotes=int(e.get("upvotes", 0)),
                feedback=float(e.get("feedback", 0.0)),
                matched=tuple(e.get("subscriptions", ())),
                on_hf=str(e.get("url", "")).startswith(HF_PAPERS),
            )
            for e in data.get("top", ())
        ),
        subscriptions=tuple(
            SubscriptionCount(str(s["query"]), int(s["count"]))
            for s in data.get("subscriptions", ())
        ),
        rising=tuple(
            RisingTerm(str(r["term"]), int(r["count"]), float(r["previous"]))
            for r in data.get("rising", ())
        ),
        chart=ChartData(
            title=str(chart.get("title", "")),
            weeks=tuple(chart.get("weeks", ())),
            series=tuple(
                ChartSeries(str(s["label"]), tuple(int(c) for c in s["counts"]))
                for s in chart.get("series", ())
            ),
            marked=chart.get("marked"),
        ),
        png=base64.b64decode(png) if isinstance(png, str) else None,
    )


def rollup_text(rollup: Rollup) -> str:
    """The rollup as plain text lines (for adapters without images, and logs)."""
    lines = [rollup.title]
    for number, entry in enumerate(rollup.top, 1):
        lines.append(f"{number}. {entry.title} (▲ {entry.upvotes}) {entry.url}")
    most, least = rollup.most_and_least()
    if most:
        lines.append("Matched most: " + ", ".join(f"{s.query} ({s.count})" for s in most))
    if least:
        lines.append("Matched least: " + ", ".join(f"{s.query} ({s.count})" for s in least))
    if rollup.rising:
        lines.append("Rising: " + ", ".join(f"{r.term} ({r.count})" for r in rollup.rising))
    return "\n".join(lines)
