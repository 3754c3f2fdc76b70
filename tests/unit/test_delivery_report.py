"""`relais outbox`: counts by status and kind, the oldest pending, claims, the last failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.cli.outbox import outbox_command
from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.delivery.dispatcher import LEASE_NAME, UNCONFIRMED_NOTE
from bot.delivery.report import build_report, format_report
from bot.models import Delivery, Lease
from tests.unit.delivery_support import add_members, queue_notices


async def fill(db: Database, clock: ManualClock) -> None:
    members = await add_members(db, 4)
    now = clock.now()
    await queue_notices(db, members, now - timedelta(minutes=10), key="n:1")
    await queue_notices(db, members[:2], now + timedelta(hours=1), key="n:2", kind="reminder")
    async with db.unit_of_work() as session:
        await session.execute(
            update(Delivery).where(Delivery.id == 1).values(status="sent", sent_at=now)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id == 2)
            .values(status="sent", sent_at=now, last_error=UNCONFIRMED_NOTE)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id == 3)
            .values(status="failed", attempts=1, last_error="bad request: Can't parse entities")
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id == 4)
            .values(status="sending", claimed_by="host:42", claimed_at=now)
        )
        session.add(
            Lease(name=LEASE_NAME, holder="host:42", expires_at=now + timedelta(seconds=20))
        )


async def test_report_counts_and_points_at_what_needs_attention(
    db: Database, clock: ManualClock
) -> None:
    await fill(db, clock)
    async with db.unit_of_work() as session:
        report = await build_report(session, clock.now())
    assert report.count("sent") == 2
    assert report.count("pending", "reminder") == 2
    assert report.count("failed", "notice") == 1
    assert report.unconfirmed == 1
    assert report.overdue == 0
    assert report.oldest_pending is not None
    assert report.oldest_pending[1] == "reminder"
    assert [(c.claimed_by, c.count) for c in report.claims] == [("host:42", 1)]
    assert report.last_failures[0].error == "bad request: Can't parse entities"

    text = format_report(report)
    assert "status   total  notice  reminder" in text
    assert "pending      2       .         2" in text
    assert "sending: 1 claimed by host:42" in text
    assert "dispatcher: host:42 (lease until" in text
    assert "#3 notice member" in text
    assert "1 sent but timed out" in text


async def test_an_empty_outbox_says_so(db: Database, clock: ManualClock) -> None:
    async with db.unit_of_work() as session:
        text = format_report(await build_report(session, clock.now()))
    assert "empty: nothing was ever queued" in text
    assert "oldest pending: none" in text
    assert "dispatcher: none running" in text
    assert "last failures: none" in text


async def test_outbox_command_prints_the_report(
    db: Database, settings: Settings, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    await fill(db, clock)
    # The command runs its own event loop, as `relais outbox` does.
    code = await asyncio.to_thread(outbox_command, settings)
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("Outbox at ")
    assert "last failures:" in out
