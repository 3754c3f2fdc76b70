"""RSVP: yes/no until the start, the waiting list and its promotions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.db import Database
from bot.models import Delivery, RsvpAnswer
from bot.services import rsvp, sessions
from bot.services.rsvp import RsvpStatus
from tests.factories import make_cohort, make_member, make_session

START = datetime(2026, 12, 2, 18, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


async def test_an_answer_can_change_until_the_start(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START)
        alice = await make_member(session, cohort)
        steps = [
            (True, NOW, RsvpStatus.YES, True),
            (True, NOW, RsvpStatus.YES, False),
            (False, NOW, RsvpStatus.NO, True),
            (False, NOW, RsvpStatus.NO, False),
            (True, START - timedelta(seconds=1), RsvpStatus.YES, True),
            (False, START, RsvpStatus.CLOSED, True),
        ]
        for yes, now, status, changed in steps:
            outcome = await rsvp.answer(
                session, session_id=ts.id, member_id=alice.id, yes=yes, now=now
            )
            assert (outcome.status, outcome.changed) == (status, changed)
        assert await rsvp.answer_of(session, ts.id, alice.id) is RsvpAnswer.YES


async def test_answers_are_refused_for_strangers_and_cancelled_sessions(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort, other = await make_cohort(session, "A"), await make_cohort(session, "B")
        ts = await make_session(session, cohort, START)
        outsider = await make_member(session, other, "Olga")
        alice = await make_member(session, cohort)
        refused = await rsvp.answer(
            session, session_id=ts.id, member_id=outsider.id, yes=True, now=NOW
        )
        missing = await rsvp.answer(
            session, session_id=999_999, member_id=alice.id, yes=True, now=NOW
        )
        await sessions.cancel_session(session, ts, actor_id=None, now=NOW)
        cancelled = await rsvp.answer(
            session, session_id=ts.id, member_id=alice.id, yes=True, now=NOW
        )
    assert refused.status is RsvpStatus.NOT_FOUND
    assert missing.status is RsvpStatus.NOT_FOUND
    assert cancelled.status is RsvpStatus.CANCELLED


async def test_waitlisted_member_is_promoted_when_someone_cancels(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START, capacity=2)
        people = [await make_member(session, cohort, n) for n in ("Ann", "Bob", "Cyd", "Dan")]
        outcomes = []
        for minute, person in enumerate(people):
            outcomes.append(
                await rsvp.answer(
                    session,
                    session_id=ts.id,
                    member_id=person.id,
                    yes=True,
                    now=NOW + timedelta(minutes=minute),
                )
            )
        assert [(o.status, o.position) for o in outcomes] == [
            (RsvpStatus.YES, None),
            (RsvpStatus.YES, None),
            (RsvpStatus.WAITLIST, 1),
            (RsvpStatus.WAITLIST, 2),
        ]
        later = NOW + timedelta(hours=1)
        freed = await rsvp.answer(
            session, session_id=ts.id, member_id=people[0].id, yes=False, now=later
        )
        assert freed.promoted == [people[2].id]
        assert await rsvp.answer_of(session, ts.id, people[2].id) is RsvpAnswer.YES
        assert await rsvp.position(session, ts.id, people[3].id) == 1
        notice = await session.scalar(select(Delivery).where(Delivery.member_id == people[2].id))
        assert notice is not None
        assert notice.kind == sessions.NOTICE_KIND
        assert notice.payload == {"session_id": ts.id, "change": "promoted"}
        assert notice.urgent


async def test_leaving_the_waiting_list_promotes_nobody(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START, capacity=1)
        ann, bob, cyd = [await make_member(session, cohort, n) for n in ("Ann", "Bob", "Cyd")]
        for minute, person in enumerate((ann, bob, cyd)):
            await rsvp.answer(
                session,
                session_id=ts.id,
                member_id=person.id,
                yes=True,
                now=NOW + timedelta(minutes=minute),
            )
        left = await rsvp.answer(session, session_id=ts.id, member_id=bob.id, yes=False, now=NOW)
        assert left.promoted == []
        assert await rsvp.position(session, ts.id, cyd.id) == 1
        # Bob changes his mind again: he goes back to the end of the list.
        back = await rsvp.answer(
            session, session_id=ts.id, member_id=bob.id, yes=True, now=NOW + timedelta(hours=1)
        )
        assert (back.status, back.position) == (RsvpStatus.WAITLIST, 2)


@pytest.mark.parametrize(
    ("capacity", "expected"),
    [(None, RsvpStatus.YES), (3, RsvpStatus.YES), (2, RsvpStatus.WAITLIST)],
)
async def test_capacity_decides_between_a_seat_and_the_list(
    db: Database, capacity: int | None, expected: RsvpStatus
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START, capacity=capacity)
        people = [await make_member(session, cohort, n) for n in ("Ann", "Bob", "Cyd")]
        for person in people[:2]:
            await rsvp.answer(session, session_id=ts.id, member_id=person.id, yes=True, now=NOW)
        third = await rsvp.answer(
            session, session_id=ts.id, member_id=people[2].id, yes=True, now=NOW
        )
        states = await rsvp.states(session, [ts.id], people[2].id)
    assert third.status is expected
    assert states[ts.id].answer == RsvpAnswer(expected.value)
