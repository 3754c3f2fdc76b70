"""Attendance: QR check-in window, roll call, name-only people, reports and stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.models import AttendanceMethod, AuditEntry, Member, Role, RsvpAnswer
from bot.services import attendance, sessions
from bot.services.attendance import CheckinStatus
from bot.services.validation import InvalidValue
from tests.factories import make_cohort, make_member, make_rsvp, make_session

START = datetime(2026, 12, 2, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minutes_from_start", "status"),
    [
        (-61, CheckinStatus.TOO_EARLY),
        (-60, CheckinStatus.RECORDED),
        (0, CheckinStatus.RECORDED),
        (120, CheckinStatus.RECORDED),
        (121, CheckinStatus.TOO_LATE),
        (60 * 24, CheckinStatus.TOO_LATE),
    ],
)
async def test_checkin_works_only_within_its_window(
    db: Database, settings: Settings, minutes_from_start: int, status: CheckinStatus
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START)
        alice = await make_member(session, cohort)
        outcome = await attendance.check_in(
            session,
            token=ts.checkin_token,
            member_id=alice.id,
            now=START + timedelta(minutes=minutes_from_start),
            settings=settings,
        )
    assert outcome.status is status
    assert outcome.opens_at == START - timedelta(hours=1)
    assert outcome.closes_at == START + timedelta(hours=2)


async def test_a_second_scan_says_it_is_already_recorded(db: Database, settings: Settings) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START)
        alice = await make_member(session, cohort)
        first = await attendance.check_in(
            session, token=ts.checkin_token, member_id=alice.id, now=START, settings=settings
        )
        second = await attendance.check_in(
            session, token=ts.checkin_token, member_id=alice.id, now=START, settings=settings
        )
        report = await attendance.presence_report(session, ts)
    assert (first.status, second.status) == (CheckinStatus.RECORDED, CheckinStatus.ALREADY)
    assert report.present == [("Alice", AttendanceMethod.QR)]


async def test_checkin_refuses_unknown_tokens_strangers_and_cancelled_sessions(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        cohort, other = await make_cohort(session, "A"), await make_cohort(session, "B")
        ts = await make_session(session, cohort, START)
        trainer = await make_member(session, cohort, "Tom", role=Role.TRAINER)
        outsider = await make_member(session, other, "Olga")

        async def scan(token: str, member_id: int | None) -> attendance.CheckinOutcome:
            return await attendance.check_in(
                session, token=token, member_id=member_id, now=START, settings=settings
            )

        assert (await scan("nope", outsider.id)).status is CheckinStatus.UNKNOWN
        stranger = await scan(ts.checkin_token, None)
        assert (stranger.status, stranger.join_code) == (
            CheckinStatus.NOT_ENROLLED,
            cohort.join_code,
        )
        assert (await scan(ts.checkin_token, outsider.id)).status is CheckinStatus.NOT_ENROLLED
        assert (await scan(ts.checkin_token, trainer.id)).status is CheckinStatus.STAFF
        await sessions.cancel_session(session, ts, actor_id=trainer.id, now=START)
        assert (await scan(ts.checkin_token, outsider.id)).status is CheckinStatus.CANCELLED


async def test_roll_call_toggles_and_audits(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort, other = await make_cohort(session, "A"), await make_cohort(session, "B")
        ts = await make_session(session, cohort, START)
        trainer = await make_member(session, cohort, "Tom", role=Role.TRAINER)
        bob = await make_member(session, cohort, "Bob")
        ann = await make_member(session, cohort, "Ann", business_name="Salon Ann")
        outsider = await make_member(session, other, "Olga")
        await make_rsvp(session, ts, bob, RsvpAnswer.YES)
        entries = await attendance.roll_call(session, ts)
        assert [(e.name, e.answer, e.present) for e in entries] == [
            ("Bob", RsvpAnswer.YES, False),
            ("Ann (Salon Ann)", None, False),
        ]
        toggles = [
            await attendance.toggle(session, ts=ts, member_id=m, by_id=trainer.id, now=START)
            for m in (bob.id, ann.id, ann.id, outsider.id, trainer.id)
        ]
        actions = (await session.scalars(select(AuditEntry.action))).all()
        report = await attendance.presence_report(session, ts)
    assert toggles == [True, True, False, None, None]
    assert actions == ["attendance.tick", "attendance.tick", "attendance.untick"]
    assert report.present == [("Bob", AttendanceMethod.ROLL_CALL)]
    assert report.no_answer == ["Ann (Salon Ann)"]


async def test_someone_added_by_name_counts_and_is_offered_again(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        first = await make_session(session, cohort, START)
        second = await make_session(session, cohort, START + timedelta(days=7))
        person = await attendance.add_by_name(
            session, ts=first, name="  Jeanne   Dupont ", by_id=None, now=START
        )
        again = await attendance.add_by_name(
            session, ts=second, name="jeanne dupont", by_id=None, now=START
        )
        assert again.id == person.id
        assert person.telegram_user_id is None
        assert person.first_name == "Jeanne Dupont"
        report = await attendance.presence_report(session, first)
        assert report.present == [("Jeanne Dupont", AttendanceMethod.MANUAL)]
        assert report.no_answer == []
        third = await make_session(session, cohort, START + timedelta(days=14))
        offered = await attendance.roll_call(session, third)
        assert [(e.name, e.present) for e in offered] == [("Jeanne Dupont", False)]
        with pytest.raises(InvalidValue):
            await attendance.add_by_name(session, ts=first, name="   ", by_id=None, now=START)
        assert len((await session.scalars(select(Member))).all()) == 1


async def test_presence_report_sorts_everyone(db: Database, settings: Settings) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START, capacity=1)
        came, skipped, declined, waiting, _silent = [
            await make_member(session, cohort, n) for n in ("Cam", "Sky", "Dec", "Wai", "Sil")
        ]
        await make_rsvp(session, ts, came, RsvpAnswer.YES)
        await make_rsvp(session, ts, skipped, RsvpAnswer.YES)
        await make_rsvp(session, ts, declined, RsvpAnswer.NO)
        await make_rsvp(session, ts, waiting, RsvpAnswer.WAITLIST)
        await attendance.check_in(
            session, token=ts.checkin_token, member_id=came.id, now=START, settings=settings
        )
        report = await attendance.presence_report(session, ts)
    assert report.present == [("Cam", AttendanceMethod.QR)]
    assert report.yes_absent == ["Sky"]
    assert report.said_no == ["Dec"]
    assert report.waitlist == ["Wai"]
    assert report.no_answer == ["Sil"]
