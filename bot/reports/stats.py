"""`/stats`: the coordinator's figures for a cohort.

Attendance per session that took place (present, said yes, no-show rate, change since the
previous one, the trend over the whole programme; the chart is bot/reports/charts.py) and the
coaching loop between sessions (who answered a check-in lately, objectives set and reached,
the share of merchants with an objective in progress), and this month's progress check (who
answered it, who moved since their first answer: bot/reports/observations.py).

Read-only: plain data out, no telegram import, nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Attendance,
    Cohort,
    Enrolment,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
    Rsvp,
    RsvpAnswer,
    TrainingSession,
)
from bot.reports.observations import ProgressSummary, progress_summary
from bot.services.sessions import count_upcoming

ACTIVE = ObjectiveStatus.ACTIVE.value


# --- attendance across sessions ----------------------------------------------------------------


class Trend(StrEnum):
    UP = "up"
    STEADY = "steady"
    DOWN = "down"


@dataclass(frozen=True)
class SessionStats:
    session_id: int
    number: int
    starts_at: datetime
    theme: str
    present: int
    yes: int
    # Share of those who said yes and did not come (None when nobody said yes).
    no_show_rate: float | None
    # Present now minus present at the previous session (None for the first).
    change: int | None


@dataclass(frozen=True)
class CohortStats:
    sessions: list[SessionStats]
    trend: Trend | None
    upcoming: int


async def cohort_stats(tx: AsyncSession, cohort_id: int, now: datetime) -> CohortStats:
    """Every session that took place, with present, yes, no-show rate and the trend."""
    held = list(
        (
            await tx.scalars(
                select(TrainingSession)
                .where(
                    TrainingSession.cohort_id == cohort_id,
                    TrainingSession.cancelled_at.is_(None),
                    TrainingSession.starts_at <= now,
                )
                .order_by(TrainingSession.starts_at, TrainingSession.id)
            )
        ).all()
    )
    ids = [ts.id for ts in held]
    present_by: dict[int, set[int]] = {sid: set() for sid in ids}
    yes_by: dict[int, set[int]] = {sid: set() for sid in ids}
    counted_present: dict[int, int] = dict.fromkeys(ids, 0)
    if ids:
        for sid, member_id in await tx.execute(
            select(Attendance.session_id, Attendance.member_id).where(
                Attendance.session_id.in_(ids)
            )
        ):
            counted_present[sid] += 1
            if member_id is not None:
                present_by[sid].add(member_id)
        for sid, member_id in await tx.execute(
            select(Rsvp.session_id, Rsvp.member_id).where(
                Rsvp.session_id.in_(ids), Rsvp.answer == RsvpAnswer.YES.value
            )
        ):
            if member_id is not None:
                yes_by[sid].add(member_id)
    stats: list[SessionStats] = []
    previous: int | None = None
    for ts in held:
        yes = yes_by[ts.id]
        no_show = len(yes - present_by[ts.id])
        present = counted_present[ts.id]
        stats.append(
            SessionStats(
                session_id=ts.id,
                number=ts.number,
                starts_at=ts.starts_at,
                theme=ts.theme,
                present=present,
                yes=len(yes),
                no_show_rate=no_show / len(yes) if yes else None,
                change=None if previous is None else present - previous,
            )
        )
        previous = present
    upcoming = await count_upcoming(tx, cohort_id, now)
    return CohortStats(stats, trend_of([s.present for s in stats]), upcoming)


def trend_of(counts: list[int]) -> Trend | None:
    """Rising, steady or falling attendance: the slope of a least-squares line.

    A change of less than half a person per session is "steady".
    """
    n = len(counts)
    if n < 2:
        return None
    mean_x = (n - 1) / 2
    mean_y = sum(counts) / n
    spread = sum((x - mean_x) ** 2 for x in range(n))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(counts)) / spread
    if slope >= 0.5:
        return Trend.UP
    if slope <= -0.5:
        return Trend.DOWN
    return Trend.STEADY


# --- the coaching loop between sessions --------------------------------------------------------


@dataclass(frozen=True)
class EngagementSummary:
    """The coaching loop's figures for `/stats`."""

    merchants: int
    # Merchants who answered at least one check-in in the last 7 days.
    answered_last_7_days: int
    objectives_set: int
    objectives_done: int
    with_active_objective: int

    @property
    def share_with_active(self) -> float:
        """Share of merchants with an active objective (0.0 - 1.0)."""
        return self.with_active_objective / self.merchants if self.merchants else 0.0

    @property
    def share_answered(self) -> float:
        return self.answered_last_7_days / self.merchants if self.merchants else 0.0


async def engagement_summary(tx: AsyncSession, cohort_id: int, now: datetime) -> EngagementSummary:
    """Members who answered in the last 7 days, objectives set / done, share with one active.

    Only merchants currently enrolled in the cohort count.
    """
    enrolled = (
        select(Enrolment.member_id)
        .where(Enrolment.cohort_id == cohort_id, Enrolment.left_at.is_(None))
        .scalar_subquery()
    )
    merchants = await tx.scalar(
        select(func.count(Enrolment.id)).where(
            Enrolment.cohort_id == cohort_id, Enrolment.left_at.is_(None)
        )
    )
    answered = await tx.scalar(
        select(func.count(func.distinct(Objective.member_id)))
        .join(ObjectiveCheckin, ObjectiveCheckin.objective_id == Objective.id)
        .where(
            Objective.cohort_id == cohort_id,
            Objective.member_id.in_(enrolled),
            ObjectiveCheckin.answered_at >= now - timedelta(days=7),
            ObjectiveCheckin.answered_at <= now,
        )
    )
    set_count = await tx.scalar(
        select(func.count(Objective.id)).where(Objective.cohort_id == cohort_id)
    )
    done = await tx.scalar(
        select(func.count(Objective.id)).where(
            Objective.cohort_id == cohort_id, Objective.status == ObjectiveStatus.DONE.value
        )
    )
    with_active = await tx.scalar(
        select(func.count(func.distinct(Objective.member_id))).where(
            Objective.cohort_id == cohort_id,
            Objective.status == ACTIVE,
            Objective.member_id.in_(enrolled),
        )
    )
    return EngagementSummary(
        merchants=int(merchants or 0),
        answered_last_7_days=int(answered or 0),
        objectives_set=int(set_count or 0),
        objectives_done=int(done or 0),
        with_active_objective=int(with_active or 0),
    )


# --- this month's progress check -------------------------------------------------------------


async def progress_figures(
    tx: AsyncSession, cohort_id: int, now: datetime
) -> ProgressSummary | None:
    """This month's check of the cohort (None while nobody ever answered one)."""
    cohort = await tx.get(Cohort, cohort_id)
    return await progress_summary(tx, cohort, now) if cohort is not None else None
