"""`/groupe`: the cohort's objectives as its trainers and coordinators see them.

One row per merchant enrolled in the cohort, with the objective that matters most now (a
stuck one first, that is what the trainer can help with), paged for Telegram. The helpers
here (`cohort_objectives`, `objective_state`, `last_answered`) are shared with the trainer's
digest (bot/reports/digest.py).

Read-only: plain data out, no telegram import, nothing written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.models import (
    CheckinAnswer,
    Enrolment,
    Member,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
)

ACTIVE = ObjectiveStatus.ACTIVE.value


class GroupState(StrEnum):
    """Where a merchant stands, in the order the trainer sees them."""

    STUCK = "stuck"
    NO_NEWS = "no_news"  # an active objective without any answer yet
    DOING = "doing"
    DONE = "done"
    NOT_REACHED = "not_reached"
    NONE = "none"  # no objective yet


GROUP_ORDER = tuple(GroupState)


@dataclass(frozen=True)
class GroupRow:
    member_id: int
    first_name: str
    business_name: str | None
    state: GroupState
    objective_text: str | None
    due_on: date | None
    last_checkin_at: datetime | None
    last_number: int | None
    blocker: str | None
    # Other active objectives of the same merchant (not shown in the row).
    other_active: int


@dataclass(frozen=True)
class GroupPage:
    rows: tuple[GroupRow, ...]
    page: int
    pages: int
    total: int
    counts: dict[GroupState, int]


def objective_state(objective: Objective) -> GroupState:
    if objective.status == ObjectiveStatus.DONE.value:
        return GroupState.DONE
    if objective.status != ACTIVE:
        return GroupState.NOT_REACHED
    last = last_answered(objective)
    if last is None:
        return GroupState.NO_NEWS
    return GroupState.STUCK if last.answer == CheckinAnswer.STUCK.value else GroupState.DOING


def last_answered(objective: Objective) -> ObjectiveCheckin | None:
    answered = [row for row in objective.checkins if row.answered_at is not None]
    return max(answered, key=lambda row: (row.answered_at, row.id)) if answered else None


async def cohort_objectives(
    tx: AsyncSession, cohort_id: int
) -> tuple[list[Member], dict[int, list[Objective]]]:
    members = list(
        (
            await tx.scalars(
                select(Member)
                .join(Enrolment, Enrolment.member_id == Member.id)
                .where(Enrolment.cohort_id == cohort_id, Enrolment.left_at.is_(None))
                .order_by(Member.first_name, Member.id)
            )
        ).all()
    )
    objectives = await tx.scalars(
        select(Objective)
        .where(Objective.cohort_id == cohort_id)
        .options(selectinload(Objective.checkins))
        .order_by(Objective.created_at.desc(), Objective.id.desc())
    )
    by_member: dict[int, list[Objective]] = defaultdict(list)
    for objective in objectives.all():
        by_member[objective.member_id].append(objective)
    return members, by_member


def _group_row(member: Member, objectives: list[Objective]) -> GroupRow:
    active = [o for o in objectives if o.status == ACTIVE]
    current: Objective | None
    if active:
        # The stuck one first: that is what the trainer can help with.
        current = min(active, key=lambda o: GROUP_ORDER.index(objective_state(o)))
    else:
        closed = [o for o in objectives if o.status != ObjectiveStatus.CLOSED.value]
        current = closed[0] if closed else None
    if current is None:
        return GroupRow(
            member.id, member.first_name, member.business_name, GroupState.NONE,
            None, None, None, None, None, 0,
        )  # fmt: skip
    last = last_answered(current)
    return GroupRow(
        member_id=member.id,
        first_name=member.first_name,
        business_name=member.business_name,
        state=objective_state(current),
        objective_text=current.text,
        due_on=current.due_on,
        last_checkin_at=last.answered_at if last else None,
        last_number=last.number if last else None,
        blocker=last.blocker if last and last.answer == CheckinAnswer.STUCK.value else None,
        other_active=max(len(active) - 1, 0),
    )


async def group_overview(
    tx: AsyncSession, cohort_id: int, *, page: int = 0, page_size: int = 8
) -> GroupPage:
    """One page of the cohort's merchants, stuck first, then no news, in progress, done..."""
    members, by_member = await cohort_objectives(tx, cohort_id)
    rows = [_group_row(member, by_member.get(member.id, [])) for member in members]
    rows.sort(key=lambda row: (GROUP_ORDER.index(row.state), row.first_name.lower(), row.member_id))
    counts = {state: sum(1 for row in rows if row.state is state) for state in GroupState}
    pages = max(1, -(-len(rows) // page_size))
    page = min(max(page, 0), pages - 1)
    start = page * page_size
    return GroupPage(tuple(rows[start : start + page_size]), page, pages, len(rows), counts)
