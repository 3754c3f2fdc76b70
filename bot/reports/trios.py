"""Figures of the trios and of the booster phase, for /stats, the trainer's digest and /bilan.

- `cohort_trio_figures`: of the members now in a trio, the share who encouraged someone and
  the share who were encouraged in a month (the research: what lasts is people).
- `booster_retention`: the share of the cohort's merchants still **answering** 1, 3 and 6
  months after the last session (the fade the research warns about). *Answering* at a
  milestone means at least one action of the member in the 30 days before it: a check-in
  answered, an objective set, an encouragement sent, or a tip rated. Merchants counted are
  those enrolled (and not erased) — the ones the booster phase writes to.

Plain data, read only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import (
    Encouragement,
    Enrolment,
    Objective,
    ObjectiveCheckin,
    Observation,
    TipReceipt,
    Trio,
    TrioMembership,
)
from bot.services import booster

MILESTONES = (1, 3, 6)
ANSWER_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class TrioFigures:
    month: str  # "2026-12"
    in_trios: int  # members in a trio now
    encouraged: int  # of them, sent at least one encouragement this month
    were_encouraged: int  # of them, received at least one
    encouragements: int  # every encouragement of the cohort this month
    # Of them, sent or received at least one this month (for /bilan's share).
    active: int = 0

    @property
    def share_encouraged(self) -> float:
        return self.encouraged / self.in_trios if self.in_trios else 0.0

    @property
    def share_were_encouraged(self) -> float:
        return self.were_encouraged / self.in_trios if self.in_trios else 0.0


def month_bounds(month: str) -> tuple[date, date]:
    """The first day of `month` ("YYYY-MM") and the first day of the next."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    return first, after


async def cohort_trio_figures(tx: AsyncSession, cohort_id: int, month: str) -> TrioFigures:
    in_trios = set(
        await tx.scalars(
            select(TrioMembership.member_id)
            .join(Trio, Trio.id == TrioMembership.trio_id)
            .where(
                Trio.cohort_id == cohort_id,
                Trio.confirmed_at.is_not(None),
                Trio.dissolved_at.is_(None),
                TrioMembership.left_at.is_(None),
            )
        )
    )
    first, after = month_bounds(month)
    rows = (
        await tx.execute(
            select(Encouragement.sender_id, Encouragement.recipient_id).where(
                Encouragement.cohort_id == cohort_id,
                Encouragement.day >= first,
                Encouragement.day < after,
            )
        )
    ).all()
    senders = {sender for sender, _ in rows if sender in in_trios}
    recipients = {recipient for _, recipient in rows if recipient in in_trios}
    return TrioFigures(
        month,
        len(in_trios),
        len(senders),
        len(recipients),
        len(rows),
        len(senders | recipients),
    )


@dataclass(frozen=True)
class RetentionPoint:
    months: int
    at: datetime | None  # the milestone (None: the cohort has no end yet)
    merchants: int
    answering: int | None  # None: the milestone is still to come

    @property
    def share(self) -> float | None:
        if self.answering is None or not self.merchants:
            return None
        return self.answering / self.merchants


async def _answering(tx: AsyncSession, member_ids: set[int], start: datetime, end: datetime) -> int:
    if not member_ids:
        return 0
    ids = list(member_ids)
    acted = union(
        select(Objective.member_id.label("member_id"))
        .join(ObjectiveCheckin, ObjectiveCheckin.objective_id == Objective.id)
        .where(
            Objective.member_id.in_(ids),
            ObjectiveCheckin.answered_at > start,
            ObjectiveCheckin.answered_at <= end,
        ),
        select(Objective.member_id).where(
            Objective.member_id.in_(ids), Objective.created_at > start, Objective.created_at <= end
        ),
        select(Encouragement.sender_id).where(
            Encouragement.sender_id.in_(ids),
            Encouragement.sent_at > start,
            Encouragement.sent_at <= end,
        ),
        select(TipReceipt.member_id).where(
            TipReceipt.member_id.in_(ids),
            TipReceipt.feedback_at > start,
            TipReceipt.feedback_at <= end,
        ),
        # The monthly progress check (bot/services/progress.py) is an answer too.
        select(Observation.member_id).where(
            Observation.member_id.in_(ids),
            Observation.observed_at > start,
            Observation.observed_at <= end,
        ),
    ).subquery()
    return int(await tx.scalar(select(func.count()).select_from(acted)) or 0)


async def booster_retention(
    tx: AsyncSession, cohort_id: int, now: datetime, programme: booster.Programme
) -> list[RetentionPoint]:
    """The share still answering 1, 3 and 6 months after the last session (see the top);
    `programme`: `booster.programme_of(settings, runtime.content)`."""
    times = await booster.cohort_times(tx, cohort_id, now, programme)
    end = times.end if times is not None else None
    merchants = set(
        await tx.scalars(
            select(Enrolment.member_id).where(
                Enrolment.cohort_id == cohort_id, Enrolment.left_at.is_(None)
            )
        )
    )
    points: list[RetentionPoint] = []
    for after in MILESTONES:
        if end is None:
            points.append(RetentionPoint(after, None, len(merchants), None))
            continue
        milestone = booster.add_months(end, after)
        answering = (
            await _answering(tx, merchants, milestone - ANSWER_WINDOW, milestone)
            if milestone <= now
            else None
        )
        points.append(RetentionPoint(after, milestone, len(merchants), answering))
    return points
