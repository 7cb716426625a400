"""What one process counts, for Prometheus (`GET /metrics`, see `paperboy.health`).

The core counts where things happen (ingest, planner, sender, scheduler lock) through
`METRICS`, the process's one set; the outbox gauges (depth, oldest unsent part, failed
parts, paused channels) are read from the database when `/metrics` is scraped, so every
process reports the same numbers for them whatever it did itself.

Names follow Prometheus' conventions: `_total` on counters (prometheus-client adds it),
`_seconds` for durations. docs/operations.md lists them with what to alert on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "METRICS", "Metrics"]

# From "at once" to "the next morning": a part waits for its channel's pace, rate
# limits, retries with backoff (up to 10 min apart) and outages.
LATENCY_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600)


class Metrics:
    """The metrics of one process, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.papers_ingested = Counter(
            "paperboy_papers_ingested",
            "New papers written to the archive (a paper seen again is not counted twice).",
            ["source"],
            registry=r,
        )
        self.ingest_failures = Counter(
            "paperboy_ingest_failures",
            "Ingests of a day that failed (the source still failing after its retries).",
            ["source"],
            registry=r,
        )
        self.digests_planned = Counter(
            "paperboy_digests_planned",
            "Digests written to the outbox (one per channel and day; empty ones included).",
            ["platform"],
            registry=r,
        )
        self.parts_sent = Counter(
            "paperboy_parts_sent",
            "Digest messages delivered (or found already posted after a crash).",
            ["platform"],
            registry=r,
        )
        self.parts_retried = Counter(
            "paperboy_parts_retried",
            "Sends given back for another try (rate limits, 5xx, timeouts).",
            ["platform"],
            registry=r,
        )
        self.parts_failed = Counter(
            "paperboy_parts_failed",
            "Digest messages given up on after their last attempt.",
            ["platform"],
            registry=r,
        )
        self.channels_paused = Counter(
            "paperboy_channels_paused",
            "Channels this process paused (gone, or the bot removed from them).",
            ["platform"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "paperboy_delivery_latency_seconds",
            "From a digest message entering the outbox to its delivery.",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.scheduler_leader = Gauge(
            "paperboy_scheduler_leader",
            "1 while this process holds the scheduler lock (exactly one process should).",
            registry=r,
        )
        # Read from the database at each scrape (`observe_outbox`).
        self.outbox_depth = Gauge(
            "paperboy_outbox_depth",
            "Digest messages not sent yet (queued, pending or being sent).",
            ["platform"],
            registry=r,
        )
        self.outbox_oldest_pending_age = Gauge(
            "paperboy_outbox_oldest_pending_age_seconds",
            "Age of the oldest digest message not sent yet (0 when none waits).",
            registry=r,
        )
        self.outbox_failed = Gauge(
            "paperboy_outbox_failed_parts",
            "Digest messages in the outbox that were given up on.",
            registry=r,
        )
        self.paused_channels = Gauge(
            "paperboy_paused_channels", "Channels whose digests are paused.", registry=r
        )
        self.ready = Gauge("paperboy_ready", "1 when the last readiness check passed.", registry=r)
        # LLM summaries (calls, tokens, failures by model) join here as counters when
        # the summaries land: `paperboy_summary_calls_total{model,outcome}` and
        # `paperboy_summary_tokens_total{model,kind}`.

    def observe_outbox(
        self,
        *,
        depth: Mapping[str, int],
        oldest_unsent: dt.datetime | None,
        failed: int,
        paused: int,
        now: dt.datetime | None = None,
    ) -> None:
        """Set the outbox gauges from what the database says now."""
        self.outbox_depth.clear()
        for platform, count in depth.items():
            self.outbox_depth.labels(platform).set(count)
        now = now or dt.datetime.now(dt.UTC)
        age = (now - oldest_unsent).total_seconds() if oldest_unsent is not None else 0.0
        self.outbox_oldest_pending_age.set(max(0.0, age))
        self.outbox_failed.set(failed)
        self.paused_channels.set(paused)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent): for tests and `paperboy doctor`."""
        found = self.registry.get_sample_value(name, labels)
        return found if found is not None else 0.0


#: The process's metrics.
METRICS = Metrics()
