"""The engine's continuous loop: it sleeps until the next due row or a wake-up, and stops."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.config import Settings
from bot.db import Database
from bot.delivery.dispatcher import RECOVERED_NOTE
from bot.delivery.engine import ABANDON_SECONDS, DeliveryEngine
from bot.i18n import I18n
from bot.models import Delivery
from bot.runtime import Runtime
from tests.factories import content_library
from tests.unit.delivery_support import FAST, FakeBot, add_members, notice_registry, queue_notices


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return I18n()


@pytest.fixture
def runtime(settings: Settings, db: Database, i18n: I18n) -> Runtime:
    # Real time: the loop sleeps until rows fall due. Quiet hours off (the test may run at night).
    settings = settings.model_copy(update={"quiet_hours": ""})
    return Runtime(
        settings=settings,
        db=db,
        clock=SystemClock(),
        i18n=i18n,
        content=content_library(),
        instance="loop:1",
    )


async def wait_for(predicate, seconds: float = 5.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_the_loop_sends_when_due_and_when_woken_then_stops(
    runtime: Runtime, db: Database
) -> None:
    bot = FakeBot(clock=time.monotonic)
    engine = DeliveryEngine(runtime, bot, notice_registry(), FAST)  # type: ignore[arg-type]
    running = True
    loop = asyncio.create_task(engine.run(lambda: running))
    try:
        members = await add_members(db, 3)
        # Due in 0.3 s: the loop is asleep (nothing was due) and must wake up by itself.
        await queue_notices(db, members[:1], runtime.clock.now() + timedelta(seconds=0.3))
        engine.wake()  # as the planner does after inserting: the loop recomputes its sleep
        waited = await wait_for(lambda: len(bot.sent) == 1)
        assert 0.15 < waited < 1.5
        # Due now, and a handler wakes the dispatcher after committing: sent at once.
        await queue_notices(db, members[1:], runtime.clock.now(), key="notice:now")
        runtime_wake = engine.wake
        runtime_wake()
        assert await wait_for(lambda: len(bot.sent) == 3) < 0.5
    finally:
        running = False
        await asyncio.wait_for(loop, 2.0)
    async with db.unit_of_work() as session:
        assert {row.status for row in await session.scalars(select(Delivery))} == {"sent"}


async def test_stop_waits_for_the_loop_and_releases_the_lease(
    runtime: Runtime, db: Database
) -> None:
    engine = DeliveryEngine(runtime, FakeBot(), notice_registry(), FAST)  # type: ignore[arg-type]
    engine._loop_done = asyncio.Event()

    async def job() -> None:
        assert engine._loop_done is not None
        try:
            await engine.run(lambda: not engine._stopping)
        finally:
            engine._loop_done.set()

    task = asyncio.create_task(job())
    await wait_for(lambda: engine.dispatcher.holding)
    started = time.monotonic()
    await engine.stop()
    assert time.monotonic() - started < 1.0
    assert task.done()
    assert not engine.dispatcher.holding


class SilentBot(FakeBot):
    """Telegram that takes the requests and never answers."""

    async def send_message(self, chat_id: int, text: str, **options: Any) -> Any:
        await asyncio.Event().wait()


async def test_stop_abandons_sends_telegram_never_answers_and_hands_back_every_claim(
    runtime: Runtime, db: Database
) -> None:
    engine = DeliveryEngine(runtime, SilentBot(), notice_registry(), FAST)  # type: ignore[arg-type]
    engine._loop_done = asyncio.Event()

    async def job() -> None:
        assert engine._loop_done is not None
        engine._loop_task = asyncio.current_task()
        try:
            await engine.run(lambda: not engine._stopping)
        except asyncio.CancelledError:
            pass
        finally:
            engine._loop_done.set()

    members = await add_members(db, 5)
    await queue_notices(db, members, runtime.clock.now())
    task = asyncio.create_task(job())

    async def statuses() -> list[str]:
        async with db.unit_of_work() as session:
            return list(await session.scalars(select(Delivery.status)))

    deadline = time.monotonic() + 5
    while "sending" not in await statuses():
        assert time.monotonic() < deadline, "nothing was sent"
        await asyncio.sleep(0.02)
    started = time.monotonic()
    await engine.stop(grace=0.2)
    assert time.monotonic() - started < 0.2 + ABANDON_SECONDS + 0.5
    assert task.done()
    async with db.unit_of_work() as session:
        rows = list(await session.scalars(select(Delivery)))
    # Nothing stays claimed; what was in the air is requeued, its attempt counted.
    assert {row.status for row in rows} == {"pending"}
    assert all(row.claimed_by is None for row in rows)
    in_the_air = [row for row in rows if row.last_error == RECOVERED_NOTE]
    assert in_the_air
    assert all(row.attempts == 1 for row in in_the_air)
    assert not engine.dispatcher.holding
