"""The progress check's answers as staff reports read them (bot/reports/bilan.py, /stats,
the trainer's digest): the cohort's observations in time order, each member's first and latest
answer per metric, and this month's check (who answered, who has not, who moved).

Read-only: plain data out, no telegram import, nothing written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cohort, Enrolment, Member, Observation

# One answer to the progress check, as read: (member_id, metric, value, period), in time order.
Answer = tuple[int, str, int, str]


async def read_observations(tx: AsyncSession, cohort_id: int, now: datetime) -> list[Answer]:
    """The cohort's observations up to `now`, oldest first (instants are not read: ordering
    and filtering happen in the database, which spares converting ~100k datetimes)."""
    rows: Sequence[Any] = (
        await tx.execute(
            select(Observation.member_id, Observation.metric, Observation.value, Observation.period)
            .where(Observation.cohort_id == cohort_id, Observation.observed_at <= now)
            .order_by(Observation.observed_at, Observation.id)
        )
    ).all()
    return [tuple(row) for row in rows]


def first_and_latest(observations: Iterable[Answer]) -> dict[str, dict[int, tuple[Answer, Answer]]]:
    """Per metric, per member: the first and the latest answer (rows come in time order)."""
    found: dict[str, dict[int, tuple[Answer, Answer]]] = defaultdict(dict)
    for obs in observations:
        by_member = found[obs[1]]
        known = by_member.get(obs[0])
        by_member[obs[0]] = (obs, obs) if known is None else (known[0], obs)
    return found


def latest_period(observations: Iterable[Answer]) -> dict[int, str]:
    latest: dict[int, str] = {}
    for member_id, _metric, _value, period in observations:
        if period > latest.get(member_id, ""):
            latest[member_id] = period
    return latest


@dataclass(frozen=True)
class ProgressSummary:
    """This month's progress check in a cohort: who answered, who has not, who moved."""

    period: str  # "2026-11", the month in the cohort's zone
    merchants: int
    answered: int
    not_answered: tuple[str, ...]  # first names, alphabetical
    # Members with a number or a practice up since their first answer.
    moved: tuple[str, ...]


def month_of(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%Y-%m")


async def progress_summary(
    tx: AsyncSession, cohort: Cohort, now: datetime
) -> ProgressSummary | None:
    """This month's check for /stats and the digest; None while nobody in the cohort ever
    answered the progress check (the feature is not in use: nothing to say)."""
    period = month_of(now, ZoneInfo(cohort.timezone))
    enrolled = (
        await tx.execute(
            select(Member.id, Member.first_name)
            .join(Enrolment, Enrolment.member_id == Member.id)
            .where(Enrolment.cohort_id == cohort.id, Enrolment.left_at.is_(None))
        )
    ).all()
    names: dict[int, str] = {row.id: row.first_name for row in enrolled}
    observations = [obs for obs in await read_observations(tx, cohort.id, now) if obs[0] in names]
    if not observations:
        return None
    answered = {member_id for member_id, _metric, _value, at in observations if at == period}
    moved = {
        member_id
        for by_member in first_and_latest(observations).values()
        for member_id, (first, latest) in by_member.items()
        if latest[2] > first[2]
    }

    def sorted_names(ids: Iterable[int]) -> tuple[str, ...]:
        return tuple(sorted((names[i] for i in ids), key=str.casefold))

    return ProgressSummary(
        period=period,
        merchants=len(names),
        answered=len(answered),
        not_answered=sorted_names(set(names) - answered),
        moved=sorted_names(moved),
    )
