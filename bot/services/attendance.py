"""Attendance: QR check-in, the trainer's roll call, and what the coordinator asks of it.

Presence is one row per (session, member) with the method that recorded it. A person who
never joined the bot can be added by name at the roll call: a Member without a Telegram
account (`telegram_user_id` NULL), never messaged, so that the counts stay true. Such a
person is offered again at the cohort's next roll calls rather than typed twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import (
    Attendance,
    AttendanceMethod,
    Cohort,
    Enrolment,
    Member,
    Role,
    Rsvp,
    RsvpAnswer,
    StaffRole,
    TrainingSession,
)
from bot.services import cohorts
from bot.services.audit import audit
from bot.services.sessions import checkin_window
from bot.services.validation import clean_text

NAME_MAX = 80


def display_name(member: Member) -> str:
    """How staff see a member: first name, and the business when there is one."""
    name = " ".join(part for part in (member.first_name, member.last_name) if part)
    return f"{name} ({member.business_name})" if member.business_name else name


# --- QR check-in ----------------------------------------------------------------------------


class CheckinStatus(StrEnum):
    RECORDED = "recorded"
    ALREADY = "already"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # no session has this token
    NOT_ENROLLED = "not_enrolled"  # not (or no longer) in this session's cohort
    STAFF = "staff"  # the cohort's trainer or coordinator trying the link


@dataclass(frozen=True)
class CheckinOutcome:
    status: CheckinStatus
    session: TrainingSession | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    join_code: str | None = None


async def check_in(
    tx: AsyncSession,
    *,
    token: str,
    member_id: int | None,
    now: datetime,
    settings: Settings,
) -> CheckinOutcome:
    """Record a QR check-in, once, within the session's window."""
    ts = await tx.scalar(select(TrainingSession).where(TrainingSession.checkin_token == token[:48]))
    if ts is None:
        return CheckinOutcome(CheckinStatus.UNKNOWN)
    opens_at, closes_at = checkin_window(ts, settings)

    def outcome(status: CheckinStatus, join_code: str | None = None) -> CheckinOutcome:
        return CheckinOutcome(status, ts, opens_at, closes_at, join_code)

    if ts.cancelled_at is not None:
        return outcome(CheckinStatus.CANCELLED)
    enrolled = member_id is not None and await cohorts.is_enrolled(tx, member_id, ts.cohort_id)
    if not enrolled:
        if member_id is not None and await _is_staff(tx, ts.cohort_id, member_id):
            return outcome(CheckinStatus.STAFF)
        code = await tx.scalar(select(Cohort.join_code).where(Cohort.id == ts.cohort_id))
        return outcome(CheckinStatus.NOT_ENROLLED, code)
    assert member_id is not None
    existing = await tx.scalar(
        select(Attendance.id).where(
            Attendance.session_id == ts.id, Attendance.member_id == member_id
        )
    )
    if existing is not None:
        return outcome(CheckinStatus.ALREADY)
    if now < opens_at:
        return outcome(CheckinStatus.TOO_EARLY)
    if now > closes_at:
        return outcome(CheckinStatus.TOO_LATE)
    tx.add(
        Attendance(
            session_id=ts.id,
            member_id=member_id,
            method=AttendanceMethod.QR.value,
            recorded_at=now,
            recorded_by_id=member_id,
        )
    )
    await tx.flush()
    return outcome(CheckinStatus.RECORDED)


async def _is_staff(tx: AsyncSession, cohort_id: int, member_id: int) -> bool:
    found = await tx.scalar(
        select(StaffRole.id).where(
            StaffRole.cohort_id == cohort_id,
            StaffRole.member_id == member_id,
            StaffRole.role.in_([Role.TRAINER.value, Role.COORDINATOR.value]),
        )
    )
    return found is not None


# --- roll call -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollEntry:
    member_id: int
    name: str
    answer: RsvpAnswer | None
    present: bool
    method: AttendanceMethod | None = None


async def roll_call(tx: AsyncSession, ts: TrainingSession) -> list[RollEntry]:
    """Everyone who could be in the room: enrolled members, whoever answered, whoever is
    already recorded, and the cohort's name-only people. Those who said yes come first."""
    enrolled = select(Enrolment.member_id).where(
        Enrolment.cohort_id == ts.cohort_id, Enrolment.left_at.is_(None)
    )
    answered = select(Rsvp.member_id).where(Rsvp.session_id == ts.id)
    recorded = select(Attendance.member_id).where(Attendance.session_id == ts.id)
    cohort_sessions = select(TrainingSession.id).where(TrainingSession.cohort_id == ts.cohort_id)
    name_only = (
        select(Attendance.member_id)
        .join(Member, Member.id == Attendance.member_id)
        .where(Attendance.session_id.in_(cohort_sessions), Member.telegram_user_id.is_(None))
    )
    members = (
        await tx.scalars(
            select(Member).where(
                Member.id.in_(enrolled.union(answered, recorded, name_only).subquery().select())
            )
        )
    ).all()
    answers = dict(
        (
            await tx.execute(select(Rsvp.member_id, Rsvp.answer).where(Rsvp.session_id == ts.id))
        ).all()
    )
    methods = dict(
        (
            await tx.execute(
                select(Attendance.member_id, Attendance.method).where(
                    Attendance.session_id == ts.id
                )
            )
        ).all()
    )
    entries = [
        RollEntry(
            member_id=member.id,
            name=display_name(member),
            answer=RsvpAnswer(answers[member.id]) if member.id in answers else None,
            present=member.id in methods,
            method=AttendanceMethod(methods[member.id]) if member.id in methods else None,
        )
        for member in members
    ]
    order = {RsvpAnswer.YES: 0, RsvpAnswer.WAITLIST: 1, None: 2, RsvpAnswer.NO: 3}
    entries.sort(key=lambda entry: (order[entry.answer], entry.name.casefold(), entry.member_id))
    return entries


async def toggle(
    tx: AsyncSession,
    *,
    ts: TrainingSession,
    member_id: int,
    by_id: int | None,
    now: datetime,
) -> bool | None:
    """Tick or untick someone at the roll call; returns whether they are now present.

    None when `member_id` is nobody who could be on this session's roll call (callback
    data is untrusted).
    """
    if member_id not in {entry.member_id for entry in await roll_call(tx, ts)}:
        return None
    existing = await tx.scalar(
        select(Attendance).where(Attendance.session_id == ts.id, Attendance.member_id == member_id)
    )
    if existing is not None:
        await tx.delete(existing)
        await tx.flush()
        await audit(
            tx,
            by_id,
            ts.cohort_id,
            "attendance.untick",
            {"session_id": ts.id, "member_id": member_id, "was": existing.method},
            at=now,
        )
        return False
    tx.add(
        Attendance(
            session_id=ts.id,
            member_id=member_id,
            method=AttendanceMethod.ROLL_CALL.value,
            recorded_at=now,
            recorded_by_id=by_id,
        )
    )
    await tx.flush()
    await audit(
        tx,
        by_id,
        ts.cohort_id,
        "attendance.tick",
        {"session_id": ts.id, "member_id": member_id},
        at=now,
    )
    return True


async def add_by_name(
    tx: AsyncSession,
    *,
    ts: TrainingSession,
    name: str,
    by_id: int | None,
    now: datetime,
) -> Member:
    """Record someone who is not on the bot as present, by name only.

    A name-only person already seen at this cohort's sessions is reused, not duplicated.
    Raises `InvalidValue` for an empty or too long name.
    """
    clean = clean_text(name, max_length=NAME_MAX)
    cohort_sessions = select(TrainingSession.id).where(TrainingSession.cohort_id == ts.cohort_id)
    member = await tx.scalar(
        select(Member)
        .join(Attendance, Attendance.member_id == Member.id)
        .where(
            Attendance.session_id.in_(cohort_sessions),
            Member.telegram_user_id.is_(None),
            func.lower(Member.first_name) == clean.lower(),
        )
        .limit(1)
    )
    if member is None:
        language = await tx.scalar(select(Cohort.language).where(Cohort.id == ts.cohort_id))
        member = Member(
            telegram_user_id=None,
            chat_id=None,
            first_name=clean,
            language=language or "fr",
            tip_days="",
            tip_time=time(9, 30),
            # Never messaged: no chat, paused and unreachable keep every planner away.
            paused=True,
            checkins_paused=True,
            reachable=False,
            created_at=now,
        )
        tx.add(member)
        await tx.flush()
    present = await tx.scalar(
        select(Attendance.id).where(
            Attendance.session_id == ts.id, Attendance.member_id == member.id
        )
    )
    if present is None:
        tx.add(
            Attendance(
                session_id=ts.id,
                member_id=member.id,
                method=AttendanceMethod.MANUAL.value,
                recorded_at=now,
                recorded_by_id=by_id,
            )
        )
        await tx.flush()
    await audit(
        tx,
        by_id,
        ts.cohort_id,
        "attendance.add_name",
        {"session_id": ts.id, "member_id": member.id},
        at=now,
    )
    return member


# --- reports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PresenceReport:
    """Session n's attendance as the coordinator asks for it."""

    session: TrainingSession
    present: list[tuple[str, AttendanceMethod]] = field(default_factory=list)
    yes_absent: list[str] = field(default_factory=list)
    said_no: list[str] = field(default_factory=list)
    waitlist: list[str] = field(default_factory=list)
    no_answer: list[str] = field(default_factory=list)


async def presence_report(tx: AsyncSession, ts: TrainingSession) -> PresenceReport:
    entries = await roll_call(tx, ts)
    enrolled = await _enrolled(tx, ts)
    present = [(e.name, e.method) for e in entries if e.present and e.method is not None]
    absent = [e for e in entries if not e.present]
    return PresenceReport(
        session=ts,
        present=sorted(present, key=lambda item: item[0].casefold()),
        yes_absent=[e.name for e in absent if e.answer is RsvpAnswer.YES],
        said_no=[e.name for e in absent if e.answer is RsvpAnswer.NO],
        waitlist=[e.name for e in absent if e.answer is RsvpAnswer.WAITLIST],
        # Name-only people are never "no answer": they could not answer.
        no_answer=[e.name for e in absent if e.answer is None and e.member_id in enrolled],
    )


async def _enrolled(tx: AsyncSession, ts: TrainingSession) -> set[int]:
    rows = await tx.scalars(
        select(Enrolment.member_id).where(
            Enrolment.cohort_id == ts.cohort_id, Enrolment.left_at.is_(None)
        )
    )
    return set(rows.all())
