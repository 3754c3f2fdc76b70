"""RSVP: a member says whether they come to a session, until it starts.

With a capacity, a yes past the last seat goes on the waiting list (in the order people
answered) and learns its position. When someone who had a seat says no, the first on the
list takes the seat and is told through the outbox (a `session_notice` with change
"promoted"); `answer()` also returns who was promoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import enqueue
from bot.delivery.registry import Planned
from bot.models import Enrolment, Rsvp, RsvpAnswer, TrainingSession
from bot.services.sessions import NOTICE_KIND


class RsvpStatus(StrEnum):
    YES = "yes"
    NO = "no"
    WAITLIST = "waitlist"
    CLOSED = "closed"  # the session has started: answers are frozen
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"  # no such session in the member's cohorts


@dataclass(frozen=True)
class RsvpOutcome:
    status: RsvpStatus
    session: TrainingSession | None = None
    # Position on the waiting list (1 = next to get a seat).
    position: int | None = None
    # False when the member gave the same answer again.
    changed: bool = True
    promoted: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class RsvpState:
    """A member's answer for a session as shown to them."""

    answer: RsvpAnswer | None
    position: int | None = None


async def _locked_session(
    tx: AsyncSession, session_id: int, member_id: int
) -> TrainingSession | None:
    """The session if the member is enrolled in its cohort, locked (PostgreSQL; SQLite already
    serialises writers) so that two answers at the same instant cannot both take the last
    seat. One query: a tap costs as few round trips as it can."""
    enrolled = exists().where(
        Enrolment.member_id == member_id,
        Enrolment.cohort_id == TrainingSession.cohort_id,
        Enrolment.left_at.is_(None),
    )
    return await tx.scalar(
        select(TrainingSession)
        .where(TrainingSession.id == session_id, enrolled)
        .with_for_update(of=TrainingSession)
    )


async def seats_taken(tx: AsyncSession, session_id: int) -> int:
    total = await tx.scalar(
        select(func.count(Rsvp.id)).where(
            Rsvp.session_id == session_id, Rsvp.answer == RsvpAnswer.YES.value
        )
    )
    return int(total or 0)


async def waitlist(tx: AsyncSession, session_id: int) -> list[Rsvp]:
    """The waiting list, first in line first."""
    rows = await tx.scalars(
        select(Rsvp)
        .where(Rsvp.session_id == session_id, Rsvp.answer == RsvpAnswer.WAITLIST.value)
        .order_by(Rsvp.answered_at, Rsvp.id)
    )
    return list(rows.all())


async def position(tx: AsyncSession, session_id: int, member_id: int) -> int | None:
    for index, row in enumerate(await waitlist(tx, session_id), start=1):
        if row.member_id == member_id:
            return index
    return None


async def promote_waiting(tx: AsyncSession, ts: TrainingSession, now: datetime) -> list[int]:
    """Give free seats to the first on the list and tell them; returns who was promoted."""
    queue = await waitlist(tx, ts.id)
    if not queue:
        return []
    free = len(queue) if ts.capacity is None else ts.capacity - await seats_taken(tx, ts.id)
    promoted: list[int] = []
    for row in queue[: max(free, 0)]:
        row.answer = RsvpAnswer.YES.value
        row.updated_at = now
        if row.member_id is not None:
            promoted.append(row.member_id)
    await enqueue(
        tx,
        [
            Planned(
                member_id=member_id,
                kind=NOTICE_KIND,
                dedup_key=f"notice:session:{ts.id}:promoted:{int(now.timestamp())}",
                due_at=now,
                payload={"session_id": ts.id, "change": "promoted"},
                # A seat freed shortly before the start is worth a message at any hour.
                urgent=True,
            )
            for member_id in promoted
        ],
    )
    return promoted


async def answer(
    tx: AsyncSession,
    *,
    session_id: int,
    member_id: int,
    yes: bool,
    now: datetime,
) -> RsvpOutcome:
    """Record yes or no for an enrolled member; changeable until the session starts."""
    ts = await _locked_session(tx, session_id, member_id)
    if ts is None:  # no such session, or not in the member's cohorts
        return RsvpOutcome(RsvpStatus.NOT_FOUND)
    if ts.cancelled_at is not None:
        return RsvpOutcome(RsvpStatus.CANCELLED, ts)
    if now >= ts.starts_at:
        return RsvpOutcome(RsvpStatus.CLOSED, ts)

    row = await tx.scalar(select(Rsvp).where(Rsvp.session_id == ts.id, Rsvp.member_id == member_id))
    previous = RsvpAnswer(row.answer) if row is not None else None

    if yes:
        if previous in (RsvpAnswer.YES, RsvpAnswer.WAITLIST):
            status = RsvpStatus(previous.value) if previous else RsvpStatus.YES
            place = await position(tx, ts.id, member_id)
            return RsvpOutcome(status, ts, position=place, changed=False)
        full = ts.capacity is not None and await seats_taken(tx, ts.id) >= ts.capacity
        new = RsvpAnswer.WAITLIST if full else RsvpAnswer.YES
    else:
        if previous is RsvpAnswer.NO:
            return RsvpOutcome(RsvpStatus.NO, ts, changed=False)
        new = RsvpAnswer.NO

    joined_at = now
    if new is RsvpAnswer.WAITLIST:
        # answered_at orders the list: joining it (again) puts one strictly at its end,
        # even when two answers carry the same instant.
        queue = await waitlist(tx, ts.id)
        if queue and queue[-1].answered_at >= now:
            joined_at = queue[-1].answered_at + timedelta(microseconds=1)
    if row is None:
        row = Rsvp(session_id=ts.id, member_id=member_id, answered_at=joined_at, updated_at=now)
        tx.add(row)
    elif new is not RsvpAnswer.NO:
        row.answered_at = joined_at
    row.answer = new.value
    row.updated_at = now
    await tx.flush()

    promoted: list[int] = []
    if previous is RsvpAnswer.YES and new is RsvpAnswer.NO:
        promoted = await promote_waiting(tx, ts, now)
    place = await position(tx, ts.id, member_id) if new is RsvpAnswer.WAITLIST else None
    return RsvpOutcome(RsvpStatus(new.value), ts, position=place, promoted=promoted)


async def states(tx: AsyncSession, session_ids: list[int], member_id: int) -> dict[int, RsvpState]:
    """The member's answer for each of these sessions (with the list position)."""
    if not session_ids:
        return {}
    rows = await tx.scalars(
        select(Rsvp).where(Rsvp.session_id.in_(session_ids), Rsvp.member_id == member_id)
    )
    result: dict[int, RsvpState] = {sid: RsvpState(None) for sid in session_ids}
    for row in rows.all():
        answer_ = RsvpAnswer(row.answer)
        place = (
            await position(tx, row.session_id, member_id)
            if answer_ is RsvpAnswer.WAITLIST
            else None
        )
        result[row.session_id] = RsvpState(answer_, place)
    return result


async def answer_of(tx: AsyncSession, session_id: int, member_id: int) -> RsvpAnswer | None:
    value = await tx.scalar(
        select(Rsvp.answer).where(Rsvp.session_id == session_id, Rsvp.member_id == member_id)
    )
    return RsvpAnswer(value) if value else None
