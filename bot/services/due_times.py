"""A member's rhythm changed: their tips and check-ins are worked out again at the next tick.

The tip, progress-check and check-in planners read only the rows whose stored due time has
come (`members.next_tip_at` and `next_progress_at`, `objectives.next_checkin_at`; see
bot/delivery/due.py). A service that changes what those times depend on calls one of these in
its own unit of work:

- tips (and the monthly progress check, which comes on a tip day): tip days or time, the
  pause, the active cohort (its zone), an enrolment;
- check-ins: the same, the silence pause lifted, and any check-in asked or answered (the
  silence rule counts a member's check-ins across their objectives, so all of them).

The stored time becomes NULL, which the next tick reads on the same index and works out
from the new state, as the planners did for everyone before. Nothing here needs the clock.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Member, Objective, ObjectiveStatus


def tips_changed(member: Member) -> None:
    """The tip moments moved: the monthly progress check (on a tip day) moves with them."""
    member.next_tip_at = None
    member.next_progress_at = None


async def member_tips_changed(session: AsyncSession, member_id: int) -> None:
    await session.execute(
        update(Member).where(Member.id == member_id).values(next_tip_at=None, next_progress_at=None)
    )


async def checkins_changed(session: AsyncSession, member_id: int) -> None:
    """Every active objective of the member is looked at again at the next tick."""
    await session.execute(
        update(Objective)
        .where(
            Objective.member_id == member_id,
            Objective.status == ObjectiveStatus.ACTIVE.value,
        )
        .values(next_checkin_at=None)
    )


async def rhythm_changed(session: AsyncSession, member: Member) -> None:
    """Tip days or time, or the pause: both the tips and the check-ins move."""
    tips_changed(member)
    await checkins_changed(session, member.id)
