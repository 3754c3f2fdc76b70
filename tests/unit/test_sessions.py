"""Planning sessions: the one-line form, numbering, moves and cancellations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.models import AuditEntry, Delivery, DeliveryStatus, RsvpAnswer
from bot.services import sessions
from bot.services.sessions import ParseError, ParseProblem, SessionDraft
from tests.factories import make_cohort, make_member, make_rsvp, make_session

ZONE = "Europe/Brussels"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "starts_at", "place", "theme", "capacity"),
    [
        (
            "02/12/2026 19:00 | Salle du Conseil | Vidéo et live",
            datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
            "Salle du Conseil",
            "Vidéo et live",
            None,
        ),
        (
            "2026-12-02 19:00 | Salle du Conseil | Vidéo et live",
            datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
            "Salle du Conseil",
            "Vidéo et live",
            None,
        ),
        (
            "2/12/2026 19h30|  Maison   du village |Photos | 25",
            datetime(2026, 12, 2, 18, 30, tzinfo=UTC),
            "Maison du village",
            "Photos",
            25,
        ),
        (
            "15.06.2027 19 h 00 | Salle | Live",
            datetime(2027, 6, 15, 17, 0, tzinfo=UTC),  # summer time: UTC+2
            "Salle",
            "Live",
            None,
        ),
        (
            "02/12/2026 19h | Salle | Live | 0",
            datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
            "Salle",
            "Live",
            None,
        ),
    ],
)
def test_one_line_form_is_read_in_the_cohort_zone(
    line: str, starts_at: datetime, place: str, theme: str, capacity: int | None
) -> None:
    draft = sessions.parse_line(line, ZONE, NOW)
    assert draft == SessionDraft(starts_at, place, theme, None, capacity)


@pytest.mark.parametrize(
    ("line", "problem", "value"),
    [
        ("", ParseProblem.EMPTY, ""),
        ("02/12/2026 19:00", ParseProblem.MISSING_PLACE, ""),
        ("02/12/2026 19:00 | Salle", ParseProblem.MISSING_THEME, ""),
        ("02/12/2026 19:00 |  | Live", ParseProblem.MISSING_PLACE, ""),
        ("02/12/2026 | Salle | Live", ParseProblem.MISSING_TIME, ""),
        ("demain 19:00 | Salle | Live", ParseProblem.BAD_DATE, "demain"),
        ("02/12/26 19:00 | Salle | Live", ParseProblem.BAD_DATE, "02/12/26"),
        ("31/02/2027 19:00 | Salle | Live", ParseProblem.IMPOSSIBLE_DATE, "31/02/2027"),
        ("2027-13-01 19:00 | Salle | Live", ParseProblem.IMPOSSIBLE_DATE, "2027-13-01"),
        ("02/12/2026 25:00 | Salle | Live", ParseProblem.BAD_TIME, "25:00"),
        ("02/12/2026 soir | Salle | Live", ParseProblem.BAD_TIME, "soir"),
        ("20/11/2026 19:00 | Salle | Live", ParseProblem.PAST, "20/11/2026 19:00"),
        ("25/11/2026 10:00 | Salle | Live", ParseProblem.PAST, "25/11/2026 10:00"),
        ("02/12/2029 19:00 | Salle | Live", ParseProblem.TOO_FAR, "02/12/2029 19:00"),
        ("28/03/2027 02:30 | Salle | Live", ParseProblem.NONEXISTENT_TIME, "02:30"),
        ("02/12/2026 19:00 | Salle | Live | beaucoup", ParseProblem.BAD_CAPACITY, "beaucoup"),
        ("02/12/2026 19:00 | a | b | 3 | c", ParseProblem.TOO_MANY_PARTS, "5"),
        ("02/12/2026 19:00 | " + "x" * 201 + " | Live", ParseProblem.TOO_LONG, "place"),
    ],
)
def test_one_line_form_says_precisely_what_to_fix(
    line: str, problem: ParseProblem, value: str
) -> None:
    result = sessions.parse_line(line, ZONE, NOW)
    assert isinstance(result, ParseError)
    assert (result.problem, result.value) == (problem, value)


def test_dates_and_times_parse_alone() -> None:
    assert sessions.parse_date("2/1/2027") == date(2027, 1, 2)
    assert sessions.parse_time("8h05") == time(8, 5)
    assert sessions.parse_time("19") == time(19, 0)
    assert sessions.parse_capacity("") is None
    assert sessions.parse_capacity("12") == 12


@pytest.mark.parametrize(
    ("day", "local", "expected"),
    [
        # The evenings after each daylight-saving change of Europe/Brussels.
        (date(2026, 3, 29), time(19, 0), datetime(2026, 3, 29, 17, 0, tzinfo=UTC)),
        (date(2026, 3, 28), time(19, 0), datetime(2026, 3, 28, 18, 0, tzinfo=UTC)),
        (date(2026, 10, 25), time(19, 0), datetime(2026, 10, 25, 18, 0, tzinfo=UTC)),
        (date(2026, 10, 24), time(19, 0), datetime(2026, 10, 24, 17, 0, tzinfo=UTC)),
    ],
)
def test_local_start_follows_daylight_saving(day: date, local: time, expected: datetime) -> None:
    assert sessions.local_start(day, local, ZONE) == expected


async def test_sessions_are_numbered_within_their_cohort(db: Database, clock: ManualClock) -> None:
    draft = SessionDraft(datetime(2026, 12, 2, 18, tzinfo=UTC), "Salle", "Live")
    async with db.unit_of_work() as session:
        first, other = await make_cohort(session, "A"), await make_cohort(session, "B")
        numbers = [
            (
                await sessions.plan_session(
                    session, cohort_id=c.id, draft=draft, created_by_id=None, now=clock.now()
                )
            ).number
            for c in (first, first, other, first)
        ]
        audited = (await session.scalars(select(AuditEntry.action))).all()
    assert numbers == [1, 2, 1, 3]
    assert audited.count("session.plan") == 4


async def test_moving_a_session_bumps_its_revision_and_tells_the_yes_sayers(
    db: Database, clock: ManualClock
) -> None:
    now = clock.now()
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, datetime(2026, 12, 2, 18, tzinfo=UTC))
        yes, no, waiting, silent = [
            await make_member(session, cohort, name) for name in ("Yan", "Noa", "Wim", "Sam")
        ]
        await make_rsvp(session, ts, yes, RsvpAnswer.YES)
        await make_rsvp(session, ts, no, RsvpAnswer.NO)
        await make_rsvp(session, ts, waiting, RsvpAnswer.WAITLIST)
        session.add(
            Delivery(
                member_id=silent.id,
                kind="reminder",
                dedup_key=f"reminder:session:{ts.id}:1:1440",
                due_at=datetime(2026, 12, 1, 18, tzinfo=UTC),
            )
        )
        change = await sessions.move_session(
            session, ts, starts_at=datetime(2026, 12, 9, 18, tzinfo=UTC), actor_id=None, now=now
        )
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    assert ts.revision == 2
    assert ts.ends_at == datetime(2026, 12, 9, 20, tzinfo=UTC)
    assert sorted(change.recipients) == sorted([yes.id, waiting.id])
    reminder, *notices = rows
    assert (reminder.status, reminder.last_error) == (DeliveryStatus.SKIPPED, "session moved")
    assert {n.dedup_key for n in notices} == {f"notice:session:{ts.id}:moved:2"}
    assert all(n.kind == sessions.NOTICE_KIND and n.payload["change"] == "moved" for n in notices)


async def test_cancelling_skips_pending_reminders_with_a_reason(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, datetime(2026, 12, 2, 18, tzinfo=UTC))
        alice = await make_member(session, cohort)
        await make_rsvp(session, ts, alice, RsvpAnswer.YES)
        for offset in (1440, 120):
            session.add(
                Delivery(
                    member_id=alice.id,
                    kind="reminder",
                    dedup_key=f"reminder:session:{ts.id}:1:{offset}",
                    due_at=datetime(2026, 12, 1, 18, tzinfo=UTC),
                )
            )
        change = await sessions.cancel_session(session, ts, actor_id=alice.id, now=clock.now())
        again = await sessions.cancel_session(session, ts, actor_id=alice.id, now=clock.now())
        rows = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
    assert change.told == 1
    assert again.told == 0
    assert [(r.status, r.last_error) for r in rows[:2]] == [
        (DeliveryStatus.SKIPPED, "session cancelled")
    ] * 2
    assert rows[2].dedup_key == f"notice:session:{ts.id}:cancelled"
    assert rows[2].status == DeliveryStatus.PENDING


async def test_current_or_next_prefers_the_session_whose_checkin_is_open(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        tonight = await make_session(session, cohort, datetime(2026, 12, 2, 18, tzinfo=UTC))
        later = await make_session(session, cohort, datetime(2026, 12, 9, 18, tzinfo=UTC))
        before = await sessions.current_or_next(
            session, cohort.id, datetime(2026, 12, 1, tzinfo=UTC), settings
        )
        during = await sessions.current_or_next(
            session, cohort.id, datetime(2026, 12, 2, 19, tzinfo=UTC), settings
        )
        after = await sessions.current_or_next(
            session, cohort.id, datetime(2026, 12, 2, 21, 1, tzinfo=UTC), settings
        )
    assert before is tonight
    assert during is tonight
    assert after is later


async def test_a_session_of_another_cohort_is_not_found(db: Database) -> None:
    async with db.unit_of_work() as session:
        mine, theirs = await make_cohort(session, "A"), await make_cohort(session, "B")
        ts = await make_session(session, theirs, datetime(2026, 12, 2, 18, tzinfo=UTC))
        assert await sessions.get_in_cohort(session, ts.id, mine.id) is None
        assert await sessions.get_in_cohort(session, ts.id, None) is None
        assert await sessions.get_in_cohort(session, ts.id, theirs.id) is ts


async def test_recent_places_and_usual_time_help_the_next_planning(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        for place, day in (("Salle A", 2), ("Salle B", 9), ("Salle A", 16)):
            ts = await make_session(
                session, cohort, datetime(2026, 12, day, 18, 30, tzinfo=UTC), place=place
            )
            ts.created_at = datetime(2026, 11, day, tzinfo=UTC)
        await session.flush()
        assert await sessions.recent_places(session, cohort.id) == ["Salle A", "Salle B"]
        assert await sessions.usual_time(session, cohort.id, ZONE) == time(19, 30)
