"""The planner tick and the outbox inserts: idempotent, isolated per planner, windowed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.delivery.engine import DeliveryEngine
from bot.delivery.outbox import enqueue, skip_pending
from bot.delivery.planner import lookahead, run_planners
from bot.delivery.registry import DeliveryRegistry, Planned, PlanWindow
from bot.i18n import I18n
from bot.models import Delivery
from tests.unit.delivery_support import FakeBot, add_members, make_runtime


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return I18n()


async def count(db: Database) -> int:
    async with db.unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)


async def test_enqueue_ignores_dedup_keys_already_queued(db: Database, clock: ManualClock) -> None:
    alice, bob = await add_members(db, 2)
    due = clock.now()
    items = [
        Planned(alice.id, "notice", "reminder:session:42:1440", due),
        Planned(bob.id, "notice", "reminder:session:42:1440", due),
        # The same key twice in one batch: one row.
        Planned(alice.id, "notice", "tip:7", due),
        Planned(alice.id, "notice", "tip:7", due + timedelta(hours=1)),
    ]
    async with db.unit_of_work() as session:
        assert await enqueue(session, items) == 3
    async with db.unit_of_work() as session:
        assert await enqueue(session, items) == 0
        assert await enqueue(session, []) == 0
    assert await count(db) == 3
    async with db.unit_of_work() as session:
        tip = await session.scalar(select(Delivery).where(Delivery.dedup_key == "tip:7"))
        assert tip is not None
        assert tip.due_at == due  # the first one planned wins


async def test_enqueue_is_idempotent_even_after_the_delivery_was_sent(
    db: Database, clock: ManualClock
) -> None:
    (alice,) = await add_members(db, 1)
    item = Planned(alice.id, "notice", "checkin:1:2026-w48", clock.now())
    async with db.unit_of_work() as session:
        await enqueue(session, [item])
    async with db.unit_of_work() as session:
        row = await session.scalar(select(Delivery))
        assert row is not None
        row.status = "sent"
    async with db.unit_of_work() as session:
        assert await enqueue(session, [item]) == 0
        assert await skip_pending(session, reason="x", member_id=alice.id) == 0


async def test_each_planner_runs_in_its_own_unit_of_work(
    db: Database, settings: Settings, clock: ManualClock, i18n: I18n
) -> None:
    members = await add_members(db, 3)
    windows: list[PlanWindow] = []

    async def tips(session: AsyncSession, window: PlanWindow) -> Sequence[Planned]:
        windows.append(window)
        return [Planned(m.id, "notice", "tip:1", window.now) for m in members]

    async def broken(session: AsyncSession, window: PlanWindow) -> Sequence[Planned]:
        await enqueue(session, [Planned(members[0].id, "notice", "broken:1", window.now)])
        raise RuntimeError("planner bug")

    registry = DeliveryRegistry()
    registry.add_planner("broken", broken)
    registry.add_planner("tips", tips)
    runtime = make_runtime(settings, db, clock, i18n)

    report = await run_planners(runtime, registry)

    assert report.inserted == 3
    assert report.by_planner == {"tips": 3}
    assert report.errors == {"broken": "RuntimeError: planner bug"}
    assert await count(db) == 3  # the broken planner's insert was rolled back
    assert windows[0].now == clock.now()
    assert windows[0].horizon == clock.now() + lookahead(settings)
    # Idempotent: the next tick inserts nothing new.
    assert (await run_planners(runtime, registry)).inserted == 0


def test_planners_look_two_ticks_ahead_and_at_least_a_minute(settings: Settings) -> None:
    assert lookahead(settings) == timedelta(seconds=60)
    slow = settings.model_copy(update={"scheduler_tick_seconds": 120.0})
    assert lookahead(slow) == timedelta(seconds=240)


async def test_plan_once_wakes_the_dispatcher_only_when_something_was_queued(
    db: Database, settings: Settings, clock: ManualClock, i18n: I18n
) -> None:
    (alice,) = await add_members(db, 1)

    async def one(session: AsyncSession, window: PlanWindow) -> Sequence[Planned]:
        return [Planned(alice.id, "notice", "once", window.now)]

    registry = DeliveryRegistry()
    registry.add_planner("one", one)
    engine = DeliveryEngine(make_runtime(settings, db, clock, i18n), FakeBot(), registry)  # type: ignore[arg-type]
    assert await engine.plan_once() == 1
    assert engine._wake.is_set()
    engine._wake.clear()
    assert await engine.plan_once() == 0
    assert not engine._wake.is_set()
