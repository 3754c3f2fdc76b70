"""The one place that builds test data: cohorts, members, enrolments, staff roles, training
sessions, RSVPs, objectives and progress observations (one builder per model, as in
FastAPI's full-stack template).

`build_*` returns an object not yet added (for tests that add it themselves or on purpose
leave it out); `make_*` adds it to the open unit of work (`tx`) and flushes, never commits:
the test owns the transaction. Telegram ids, chat ids, join codes and check-in tokens are
unique within a test run; pass them explicitly when a test reads them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import ContentLibrary, load_for_bot
from bot.delivery.registry import PlanWindow
from bot.models import (
    Cohort,
    Enrolment,
    MeasureKind,
    Member,
    Objective,
    Observation,
    ObservationSource,
    Role,
    Rsvp,
    RsvpAnswer,
    StaffRole,
    TrainingSession,
)
from bot.services import objectives as objectives_service
from bot.services.sessions import new_checkin_token

BRUSSELS = ZoneInfo("Europe/Brussels")
# When the members built here went through onboarding, unless a test says otherwise.
ONBOARDED_AT = datetime(2026, 11, 1, tzinfo=UTC)
# The moment objectives are set at, unless a test says otherwise (tests/conftest.py's now).
OBJECTIVES_SET_AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

_ids = itertools.count(50_001)
_numbers = itertools.count(1)


def next_id() -> int:
    """A Telegram user id (and private chat id) no other builder has handed out."""
    return next(_ids)


@cache
def content_library() -> ContentLibrary:
    """The real tips library and curriculum, read once per test run (it is immutable)."""
    return load_for_bot()


# --- cohorts --------------------------------------------------------------------------------


def build_cohort(
    name: str = "Estaimpuis 2026",
    *,
    commune: str = "Estaimpuis",
    timezone: str = "Europe/Brussels",
    language: str = "fr",
    join_code: str | None = None,
    **fields: Any,
) -> Cohort:
    return Cohort(
        name=name,
        commune=commune,
        timezone=timezone,
        language=language,
        join_code=join_code or f"C{next_id()}",
        **fields,
    )


async def make_cohort(tx: AsyncSession, name: str = "Estaimpuis 2026", **fields: Any) -> Cohort:
    cohort = build_cohort(name, **fields)
    tx.add(cohort)
    await tx.flush()
    return cohort


# --- members, enrolments, staff roles -----------------------------------------------------


class _Auto:
    """A Telegram id chosen by the builder (None is a real value: a name-only person)."""


AUTO: Any = _Auto()


def build_member(
    name: str = "Alice",
    *,
    user_id: int | None = AUTO,
    chat_id: int | None = AUTO,
    language: str = "fr",
    tip_days: str = "tue,fri",
    tip_time: time = time(9, 30),
    **fields: Any,
) -> Member:
    """A member as the bot stores them; `user_id` None is someone not on Telegram."""
    if user_id is AUTO:
        user_id = next_id()
    if chat_id is AUTO:
        chat_id = user_id
    return Member(
        telegram_user_id=user_id,
        chat_id=chat_id,
        first_name=name,
        language=language,
        tip_days=tip_days,
        tip_time=tip_time,
        **fields,
    )


async def make_member(
    tx: AsyncSession,
    cohort: Cohort | None = None,
    name: str = "Alice",
    *,
    role: Role | None = Role.MERCHANT,
    joined_at: datetime | None = None,
    onboarded_at: datetime | None = ONBOARDED_AT,
    **fields: Any,
) -> Member:
    """A member through onboarding, acting on `cohort`: enrolled in it as a merchant, or
    holding the staff `role` there (`role=None`: neither, only their active cohort)."""
    member = build_member(
        name,
        onboarded_at=onboarded_at,
        active_cohort_id=cohort.id if cohort is not None else None,
        **fields,
    )
    tx.add(member)
    await tx.flush()
    if cohort is not None and role is Role.MERCHANT:
        await enrol(tx, cohort, member, joined_at=joined_at)
    elif cohort is not None and role is not None:
        await add_staff(tx, cohort, member, role)
    return member


async def make_members(
    tx: AsyncSession,
    cohort: Cohort,
    count: int,
    *,
    name: str = "Membre {index}",
    role: Role | None = Role.MERCHANT,
    onboarded_at: datetime | None = ONBOARDED_AT,
    **fields: Any,
) -> list[Member]:
    """`count` members like `make_member`'s, added in one go (hundreds stay fast)."""
    members = [
        build_member(
            name.format(index=index),
            onboarded_at=onboarded_at,
            active_cohort_id=cohort.id,
            **fields,
        )
        for index in range(count)
    ]
    tx.add_all(members)
    await tx.flush()
    if role is Role.MERCHANT:
        tx.add_all(Enrolment(cohort_id=cohort.id, member_id=member.id) for member in members)
    elif role is not None:
        tx.add_all(
            StaffRole(cohort_id=cohort.id, member_id=member.id, role=role.value)
            for member in members
        )
    await tx.flush()
    return members


async def enrol(
    tx: AsyncSession, cohort: Cohort, member: Member, *, joined_at: datetime | None = None
) -> Enrolment:
    enrolment = Enrolment(cohort_id=cohort.id, member_id=member.id)
    if joined_at is not None:
        enrolment.joined_at = joined_at
    tx.add(enrolment)
    await tx.flush()
    return enrolment


async def add_staff(tx: AsyncSession, cohort: Cohort, member: Member, role: Role) -> StaffRole:
    staff_role = StaffRole(cohort_id=cohort.id, member_id=member.id, role=role.value)
    tx.add(staff_role)
    await tx.flush()
    return staff_role


# --- training sessions and RSVPs --------------------------------------------------------------


def build_session(
    cohort: Cohort | int,
    starts_at: datetime,
    *,
    ends_at: datetime | None = None,
    number: int | None = None,
    capacity: int | None = None,
    theme: str = "Vidéo et live",
    place: str = "Salle du Conseil",
    **fields: Any,
) -> TrainingSession:
    fields.setdefault("checkin_token", new_checkin_token())
    fields.setdefault("revision", 1)
    return TrainingSession(
        cohort_id=cohort if isinstance(cohort, int) else cohort.id,
        number=number if number is not None else next(_numbers),
        starts_at=starts_at,
        ends_at=ends_at or starts_at + timedelta(hours=2),
        place=place,
        theme=theme,
        capacity=capacity,
        **fields,
    )


async def make_session(
    tx: AsyncSession, cohort: Cohort | int, starts_at: datetime, **fields: Any
) -> TrainingSession:
    ts = build_session(cohort, starts_at, **fields)
    tx.add(ts)
    await tx.flush()
    return ts


async def make_rsvp(
    tx: AsyncSession, ts: TrainingSession, member: Member, answer: RsvpAnswer | str
) -> Rsvp:
    rsvp = Rsvp(session_id=ts.id, member_id=member.id, answer=str(answer))
    tx.add(rsvp)
    await tx.flush()
    return rsvp


def plan_window(
    settings: Settings, now: datetime, ahead: timedelta = timedelta(minutes=1)
) -> PlanWindow:
    """What a planner tick at `now` looks at."""
    return PlanWindow(now=now, horizon=now + ahead, settings=settings)


# --- objectives -------------------------------------------------------------------------------


def objective_draft(
    text: str = "Publier deux fois par semaine",
    *,
    today: date | None = None,
    **changes: Any,
) -> objectives_service.Draft:
    """What the guided /objectif collects: a weekly count, due two weeks after `today`."""
    values: dict[str, Any] = {
        "text": text,
        "measure_kind": MeasureKind.COUNT,
        "target_per_week": 2,
        "due_on": (today or OBJECTIVES_SET_AT.date()) + timedelta(days=14),
    }
    values.update(changes)
    return objectives_service.Draft(**values)


async def make_objective(
    tx: AsyncSession,
    member: Member | int,
    cohort: Cohort | int,
    text: str = "Publier deux fois par semaine",
    *,
    now: datetime = OBJECTIVES_SET_AT,
    zone: tzinfo = BRUSSELS,
    **draft_changes: Any,
) -> Objective:
    """An objective set through the service, as the merchant would (its check-ins planned)."""
    return await objectives_service.create_objective(
        tx,
        member_id=member if isinstance(member, int) else member.id,
        cohort_id=cohort if isinstance(cohort, int) else cohort.id,
        draft=objective_draft(text, **draft_changes),
        now=now,
        zone=zone,
    )


def build_objective(
    member: Member,
    cohort: Cohort,
    text: str = "Publier deux fois par semaine",
    *,
    due_on: date = date(2026, 12, 20),
    **fields: Any,
) -> Objective:
    """A bare objective row, without the check-ins the service would plan."""
    fields.setdefault("measure_kind", MeasureKind.COUNT.value)
    return Objective(member_id=member.id, cohort_id=cohort.id, text=text, due_on=due_on, **fields)


async def make_observations(
    tx: AsyncSession,
    member: Member,
    period: str,
    values: dict[str, int],
    *,
    source: str = "monthly",
    observed_at: datetime | None = None,
) -> list[Observation]:
    """Answers of one month's progress check, as the check stores them (one row each)."""
    year, month = (int(part) for part in period.split("-"))
    when = observed_at or datetime(year, month, 5, 9, 0, tzinfo=UTC)
    rows = [
        Observation(
            member_id=member.id,
            cohort_id=member.active_cohort_id,
            metric=metric,
            value=value,
            source=source,
            period=period,
            observed_at=when,
        )
        for metric, value in values.items()
    ]
    tx.add_all(rows)
    await tx.flush()
    return rows


# --- progress observations --------------------------------------------------------------------


def build_observation(
    member: Member | int,
    metric: str,
    value: int,
    *,
    observed_at: datetime = OBJECTIVES_SET_AT,
    cohort: Cohort | int | None = None,
    source: ObservationSource | str | None = None,
    period: str | None = None,
    zone: tzinfo = BRUSSELS,
) -> Observation:
    """One answer of the progress check: a number ("followers", "posts_7d",
    "customers_month") or "practice:<id>" with 1 (adopted) / 0 (not yet).

    `period` defaults to the month of `observed_at` in `zone`; `source` to "monthly".
    """
    member_id = member if isinstance(member, int) else member.id
    if cohort is None and isinstance(member, Member):
        cohort = member.active_cohort_id
    return Observation(
        member_id=member_id,
        cohort_id=cohort if isinstance(cohort, int) or cohort is None else cohort.id,
        metric=metric,
        value=value,
        source=str(source or ObservationSource.MONTHLY),
        period=period or observed_at.astimezone(zone).strftime("%Y-%m"),
        observed_at=observed_at,
    )


async def observation(
    tx: AsyncSession, member: Member | int, metric: str, value: int, **fields: Any
) -> Observation:
    """An observation added to the unit of work (see `build_observation`)."""
    row = build_observation(member, metric, value, **fields)
    tx.add(row)
    await tx.flush()
    return row
