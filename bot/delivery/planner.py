"""The planner tick: every registered planner turns domain state into pending deliveries.

Each planner runs in its own unit of work, so a failing one neither blocks the others nor
leaves half its rows behind. Inserting goes through `outbox.enqueue`: an existing
(member_id, dedup_key) is left alone, which makes a tick idempotent and safe to run from
several processes at once (PostgreSQL) or again after a crash.

Planners see a `PlanWindow` reaching a little past now (`lookahead`): a delivery is in the
table before it falls due, so the dispatcher can sleep until exactly then instead of
waiting for the next tick.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.config import Settings
from bot.delivery.outbox import enqueue
from bot.delivery.registry import DeliveryRegistry, PlanWindow
from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Planners look at least this far ahead, whatever the tick period.
MIN_LOOKAHEAD = timedelta(seconds=60)


@dataclass
class PlanReport:
    """What one tick inserted, per planner, and which planners failed."""

    inserted: int = 0
    by_planner: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0


def lookahead(settings: Settings) -> timedelta:
    """Two ticks (one may be late or missed), and never less than a minute."""
    return max(timedelta(seconds=2 * settings.scheduler_tick_seconds), MIN_LOOKAHEAD)


def plan_window(settings: Settings, now: datetime) -> PlanWindow:
    return PlanWindow(now=now, horizon=now + lookahead(settings), settings=settings)


async def run_planners(runtime: Runtime, registry: DeliveryRegistry) -> PlanReport:
    """Run every planner once, each in one unit of work; returns what was inserted."""
    started = time.perf_counter()
    report = PlanReport()
    window = plan_window(runtime.settings, runtime.clock.now())
    for name, planner in registry.planners.items():
        try:
            async with runtime.db.unit_of_work() as session:
                planned = await planner(session, window)
                inserted = await enqueue(session, planned)
        except Exception as exc:
            report.errors[name] = f"{type(exc).__name__}: {exc}"
            log.exception("planner %s failed", name, extra={"planner": name})
            continue
        report.by_planner[name] = inserted
        report.inserted += inserted
        if inserted:
            log.info(
                "planner %s queued %d deliveries (%d planned)",
                name,
                inserted,
                len(planned),
                extra={"planner": name},
            )
    report.elapsed = time.perf_counter() - started
    return report
