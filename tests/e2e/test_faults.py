"""Faults injected through the sandbox and the database: the bot recovers by itself, loses no
delivery and sends none twice.

* Telegram down for a minute in the middle of a broadcast-sized batch (200 recipients);
* bursts of 500/502/503 answers;
* slow answers (every Bot API call takes 0.3 s);
* a 429 storm on every method, replies to users included;
* the database locked by another writer for a moment (SQLite: another connection holds the
  write lock; PostgreSQL: another transaction holds an exclusive lock on the deliveries), and
  briefly unavailable (PostgreSQL: every connection of the bot killed).

The outbox runs as in production where the fault is about time passing in the real world
(the engine's loop on the JobQueue), and by hand where the fault is about the injected clock
(a "minute" of outage is a moved clock, never a real wait). Telegram's pacing is scaled up
(the sandbox's flood limits off, the dispatcher at 500 messages/s) so that the figures are
about faults, not about waiting for the 30 messages/s limit: tests/e2e/test_delivery.py keeps
the real limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.db import Database
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.engine import DeliveryEngine
from bot.models import Delivery, Role
from bot.sandbox.simulator import SimUser
from tests.conftest import TEST_DATABASE_URL
from tests.e2e.delivery_support import (
    Recipient,
    delivered,
    install_test_kind,
    outbox_counts,
    queue_test_notices,
    seed_recipients,
)
from tests.e2e.harness import Harness

BATCH = 200


def fast_engine(relais: Harness) -> DeliveryEngine:
    """The relais engine with the test kind, scaled-up pacing and a short outage breaker."""
    engine: DeliveryEngine = relais.engine
    install_test_kind(engine.registry)
    engine.dispatcher.limits = replace(
        engine.dispatcher.limits,
        per_second=500.0,
        chat_interval=0.01,
        outage_pause=0.05,
        outage_pause_max=0.2,
    )
    return engine


async def attempts(relais: Harness) -> dict[int, int]:
    """How many deliveries needed 1, 2, 3 ... attempts."""
    async with relais.session() as session:
        rows = await session.execute(
            select(Delivery.attempts, func.count()).group_by(Delivery.attempts)
        )
        return {int(n): int(count) for n, count in rows.all()}


def assert_exactly_once(relais: Harness, recipients: list[Recipient]) -> None:
    got = delivered(relais.sandbox, recipients)
    assert got.missing == [], f"{len(got.missing)} of {len(recipients)} never got it"
    assert got.duplicated == [], f"{len(got.duplicated)} of {len(recipients)} got it twice"


async def until(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        await asyncio.sleep(0.01)


async def a_merchant(relais: Harness, name: str = "Alice") -> SimUser:
    cohort = await relais.make_cohort(f"Cohorte de {name}")
    user = relais.user(name)
    await relais.make_member(user, cohort, role=Role.MERCHANT)
    return user


async def a_user_is_answered(relais: Harness, user: SimUser | None = None) -> float:
    """Someone writes /aide: the seconds until the answer (the bot still talks to people)."""
    user = user or await a_merchant(relais)
    started = time.monotonic()
    await user.send("/aide")
    await user.expect("Voici", timeout=15)
    return time.monotonic() - started


# --- Telegram -----------------------------------------------------------------------------------


class SimulatedMonotonic:
    """The dispatcher's monotonic time, moved with the injected clock (outage pauses are
    measured in it: a minute of outage must not cost a minute of test)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def test_telegram_down_for_a_minute_mid_broadcast(relais: Harness) -> None:
    engine = fast_engine(relais)
    # The outage breaker as in production but in simulated seconds: the first failure
    # pauses every send 6 s, then 12 s, then 20 s at most; a pause longer than the drain's
    # patience (5 s) ends the drain and gives the claimed rows back.
    monotonic = SimulatedMonotonic()
    limits = replace(engine.dispatcher.limits, outage_pause=6.0, outage_pause_max=20.0)
    assert relais.app is not None
    runtime = relais.app.bot_data.runtime
    assert runtime is not None
    engine.dispatcher = Dispatcher(
        runtime, relais.app.bot, engine.registry, limits, time_source=monotonic
    )
    recipients = await seed_recipients(relais.db, relais.sandbox, BATCH)
    await queue_test_notices(relais.db, recipients, relais.clock.now())

    async def advance(seconds: float) -> None:
        monotonic.offset += seconds
        await relais.advance(seconds=seconds)

    drain = asyncio.create_task(engine.dispatch_once())
    await until(lambda: len(relais.sandbox.all_sent()) >= BATCH // 4, 20, "a quarter sent")
    relais.sandbox.go_down()  # every call (sends and long polls) answers 502 Bad Gateway
    report = await drain
    before_outage = len(relais.sandbox.all_sent())
    assert 0 < before_outage < BATCH
    assert report.failed == 0

    for _ in range(6):  # the minute of outage, a tick every 10 s
        await advance(10)
    probes = relais.sandbox.stats.server_errors
    assert len(relais.sandbox.all_sent()) == before_outage
    relais.sandbox.come_back()
    elapsed = 0
    while (await outbox_counts(relais.db)).get("pending", 0) and elapsed < 600:
        await advance(10)
        elapsed += 10

    assert_exactly_once(relais, recipients)
    assert await outbox_counts(relais.db) == {"sent": BATCH}
    spread = await attempts(relais)
    # The figures: sent before the outage; the outage cost a few probes, not one failed
    # attempt per message; everything went out within minutes of Telegram's return.
    print(
        f"outage: {before_outage}/{BATCH} sent before, {probes} failed calls during the minute, "
        f"attempts {spread}, all sent {elapsed} s after Telegram came back"
    )
    # `probes` also counts the updater's long polls, whose back-off runs in real time: the
    # bound leaves room for them; one failed attempt per pending message would be 150.
    assert probes <= 40, f"{probes} calls failed during the minute of outage"
    assert sum(n for tries, n in spread.items() if tries > 1) <= probes, spread
    assert elapsed <= 180, f"the rest went out {elapsed} s after Telegram came back"
    # Polling came back too: people are answered again.
    assert await a_user_is_answered(relais) < 12


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_bursts_of_5xx_are_retried_and_nothing_is_lost(relais: Harness, status: int) -> None:
    engine = fast_engine(relais)
    recipients = await seed_recipients(relais.db, relais.sandbox, 100)
    await queue_test_notices(relais.db, recipients, relais.clock.now())
    relais.sandbox.inject_errors(status, count=20, method="sendMessage")

    report = await engine.dispatch_once()
    assert report.retried == 20, report
    assert report.sent == 80
    await relais.advance(seconds=30)  # the retries are due

    assert_exactly_once(relais, recipients)
    print(f"{status} burst: 20 of 100 sends refused, all 100 delivered once, 20 retried")
    assert await attempts(relais) == {1: 80, 2: 20}
    assert relais.sandbox.stats.server_errors == 20


async def test_slow_telegram_keeps_sending_and_answering(relais: Harness) -> None:
    engine = fast_engine(relais)
    recipients = await seed_recipients(relais.db, relais.sandbox, 100)
    await queue_test_notices(relais.db, recipients, relais.clock.now())
    relais.sandbox.set_latency(0.3)

    started = time.monotonic()
    report = await engine.dispatch_once()
    elapsed = time.monotonic() - started
    assert report.sent == 100
    assert_exactly_once(relais, recipients)
    # 100 sends of 0.3 s each, overlapped (16 in the air): far less than 30 s one by one.
    assert elapsed < 10, f"100 slow sends took {elapsed:.1f} s"
    # A person is still answered (three slow calls: the gate, the reply, the poll).
    answered = await a_user_is_answered(relais)
    print(f"latency 0.3 s: 100 sends in {elapsed:.1f} s, a reply in {answered:.1f} s")
    assert answered < 5
    relais.sandbox.set_latency(0)


async def test_a_429_storm_is_waited_out_on_every_method(relais: Harness) -> None:
    engine = fast_engine(relais)
    recipients = await seed_recipients(relais.db, relais.sandbox, 60)
    await queue_test_notices(relais.db, recipients, relais.clock.now())
    # The next 12 calls of any method get 429 "retry after 1": outbox sends and replies alike.
    relais.sandbox.inject_429(retry_after=1, count=12, method=None)

    drain = asyncio.create_task(engine.dispatch_once())
    waited = await a_user_is_answered(relais)  # a reply in the middle of the storm
    report = await drain
    if report.paused_for:  # the storm outlasted the drain's patience: the engine goes on later
        await asyncio.sleep(report.paused_for)
        await relais.tick()

    assert_exactly_once(relais, recipients)
    print(f"429 storm: 12 refusals, 60 delivered once, the reply waited {waited:.1f} s")
    assert relais.sandbox.stats.flood_429 == 12
    assert await attempts(relais) == {1: 60}  # a 429 is not a failed attempt
    assert waited < 10, f"the reply waited {waited:.1f} s"


# --- the database -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database_locked(relais: Harness, seconds: float) -> AsyncIterator[None]:
    """Another writer holds the lock for `seconds` (SQLite: the database's write lock;
    PostgreSQL: an exclusive lock on the deliveries and members tables)."""
    if TEST_DATABASE_URL:
        other = Database(relais.settings.database_url)

        async def hold() -> None:
            async with other.engine.begin() as conn:
                await conn.execute(text("LOCK TABLE deliveries, members IN EXCLUSIVE MODE"))
                await asyncio.sleep(seconds)

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.1)
        try:
            yield
        finally:
            await holder
            await other.dispose()
        return
    path = make_url(relais.settings.database_url).database
    assert path is not None
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # The write lock: every other writer waits. Taken in a thread: the engine (on this event
    # loop) may hold the lock for a moment and must be able to finish meanwhile.
    await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")

    async def release() -> None:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(conn.execute, "COMMIT")

    releaser = asyncio.create_task(release())
    try:
        yield
    finally:
        await releaser
        conn.close()


async def test_a_locked_database_delays_but_loses_nothing(relais: Harness) -> None:
    engine = fast_engine(relais)
    recipients = await seed_recipients(relais.db, relais.sandbox, 100)
    await queue_test_notices(relais.db, recipients, relais.clock.now())
    assert relais.app is not None
    engine.start(relais.app)  # the real loop on the JobQueue
    await until(lambda: len(relais.sandbox.all_sent()) >= 20, 20, "the engine started sending")

    alice = await a_merchant(relais)
    started = time.monotonic()
    async with database_locked(relais, 1.5):
        waited = await a_user_is_answered(relais, alice)  # waits for the lock, then answered
    await until(lambda: len(relais.sandbox.all_sent()) >= 101, 30, "the batch resumed")
    await engine.stop()

    assert_exactly_once(relais, recipients)
    assert await outbox_counts(relais.db) == {"sent": 100}
    print(f"database locked 1.5 s: 100 delivered once, a reply after {waited:.1f} s")
    assert 1.0 < waited < 10, f"answered after {waited:.1f} s (lock held 1.5 s)"
    assert time.monotonic() - started < 30


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL: connections killed mid-batch")
async def test_database_connections_killed_mid_batch_are_recovered(relais: Harness) -> None:
    engine = fast_engine(relais)
    recipients = await seed_recipients(relais.db, relais.sandbox, BATCH)
    await queue_test_notices(relais.db, recipients, relais.clock.now())
    assert relais.app is not None
    engine.start(relais.app)
    await until(lambda: len(relais.sandbox.all_sent()) >= 40, 20, "the engine started sending")

    killer = Database(relais.settings.database_url)
    try:
        async with killer.engine.begin() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await killer.dispose()
    assert killed

    # The engine's loop retries a failed drain after 5 s; pre-ping replaces dead connections.
    await until(lambda: len(relais.sandbox.all_sent()) >= BATCH, 40, "the batch resumed")
    await relais.tick()  # anything left `sending` by the broken drain is requeued and sent
    await engine.stop()

    assert_exactly_once(relais, recipients)
    counts = await outbox_counts(relais.db)
    print(f"{killed} connections killed mid-batch: {BATCH} delivered once, outbox {counts}")
    assert counts == {"sent": BATCH}, counts
    assert await a_user_is_answered(relais) < 10
