"""Small builders for the sessions' unit tests: a cohort, members, sessions, a plan window."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.delivery.registry import PlanWindow
from bot.models import Cohort, Enrolment, Member, Role, Rsvp, StaffRole, TrainingSession
from bot.services.sessions import new_checkin_token

_ids = itertools.count(50_001)


async def make_cohort(session: AsyncSession, name: str = "Estaimpuis 2026") -> Cohort:
    cohort = Cohort(
        name=name,
        commune="Estaimpuis",
        timezone="Europe/Brussels",
        language="fr",
        join_code=f"C{next(_ids)}",
    )
    session.add(cohort)
    await session.flush()
    return cohort


async def make_member(
    session: AsyncSession,
    cohort: Cohort,
    name: str = "Alice",
    *,
    role: Role = Role.MERCHANT,
    language: str = "fr",
    business: str | None = None,
) -> Member:
    user_id = next(_ids)
    member = Member(
        telegram_user_id=user_id,
        chat_id=user_id,
        first_name=name,
        business_name=business,
        language=language,
        tip_days="tue,fri",
        tip_time=time(9, 30),
        onboarded_at=datetime(2026, 11, 1, tzinfo=UTC),
        active_cohort_id=cohort.id,
    )
    session.add(member)
    await session.flush()
    if role is Role.MERCHANT:
        session.add(Enrolment(cohort_id=cohort.id, member_id=member.id))
    else:
        session.add(StaffRole(cohort_id=cohort.id, member_id=member.id, role=role.value))
    await session.flush()
    return member


_numbers = itertools.count(1)


async def make_session(
    session: AsyncSession,
    cohort: Cohort,
    starts_at: datetime,
    *,
    capacity: int | None = None,
    theme: str = "Vidéo et live",
    place: str = "Salle du Conseil",
) -> TrainingSession:
    ts = TrainingSession(
        cohort_id=cohort.id,
        number=next(_numbers),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        place=place,
        theme=theme,
        capacity=capacity,
        checkin_token=new_checkin_token(),
        revision=1,
    )
    session.add(ts)
    await session.flush()
    return ts


async def answer(session: AsyncSession, ts: TrainingSession, member: Member, value: str) -> None:
    session.add(Rsvp(session_id=ts.id, member_id=member.id, answer=value))
    await session.flush()


def window(
    settings: Settings, now: datetime, ahead: timedelta = timedelta(minutes=1)
) -> PlanWindow:
    return PlanWindow(now=now, horizon=now + ahead, settings=settings)
