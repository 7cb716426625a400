"""Delivery: from the schedule to messages sent, at most and at least once.

- `cron`: a channel's schedule as times (APScheduler CronTriggers in its time zone);
- `scheduler`: each channel's digest at its own time, and the ingest job;
- `leader`: exactly one process schedules (the scheduler lock);
- `planner`: due digests built and written to the outbox, rendered, under unique keys;
- `sender`: the outbox drained through the chat adapters (`Deliverer`), with retries;
- `rollup`: weekly rollups and trend charts, built and planned into the outbox;
- `service`: the process roles (`background`) and operator actions the CLI runs.
"""

from paperboy.delivery.cron import (
    DAY_PRESETS,
    describe,
    fire_on,
    is_active,
    local_date,
    next_fire,
    previous_fire,
)
from paperboy.delivery.leader import SchedulerLock, SchedulerService
from paperboy.delivery.planner import (
    TRIGGER_CATCH_UP,
    TRIGGER_MANUAL,
    TRIGGER_SCHEDULE,
    DueDigest,
    Planner,
    PlanResult,
)
from paperboy.delivery.rollup import (
    ROLLUP_PAYLOAD,
    RollupPlanner,
    Trend,
    build_rollup,
    next_rollup,
    rollup_week,
    trend,
)
from paperboy.delivery.scheduler import JOB_PREFIX, DigestScheduler
from paperboy.delivery.sender import (
    Deliverer,
    DeliveryStats,
    RetryPolicy,
    adapters_by_platform,
)
from paperboy.delivery.service import (
    ROLES,
    Background,
    DeliverOutcome,
    StatusReport,
    background,
    deliver_day,
    status_report,
)

__all__ = [
    "DAY_PRESETS",
    "JOB_PREFIX",
    "ROLES",
    "ROLLUP_PAYLOAD",
    "TRIGGER_CATCH_UP",
    "TRIGGER_MANUAL",
    "TRIGGER_SCHEDULE",
    "Background",
    "DeliverOutcome",
    "Deliverer",
    "DeliveryStats",
    "DigestScheduler",
    "DueDigest",
    "PlanResult",
    "Planner",
    "RetryPolicy",
    "RollupPlanner",
    "SchedulerLock",
    "SchedulerService",
    "StatusReport",
    "Trend",
    "adapters_by_platform",
    "background",
    "build_rollup",
    "deliver_day",
    "describe",
    "fire_on",
    "is_active",
    "local_date",
    "next_fire",
    "next_rollup",
    "previous_fire",
    "rollup_week",
    "status_report",
    "trend",
]
