"""Cohorts: groups of merchants following one programme in one commune.

A cohort has a human-friendly join code (`/start join_<code>`): six characters from an
alphabet without look-alikes (no 0/O, 1/I/L), so that it can also be read out or typed.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cohort, Enrolment, Member, Role, StaffRole
from bot.services import audit, due_times, staff
from bot.services.validation import clean_text

JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6
JOIN_PREFIX = "join_"
_CODE_SHAPE = re.compile(r"^[A-Z0-9_-]{1,32}$")
# Tries before giving up on finding a free code (31**6 ≈ 887 million codes: never reached).
_CODE_ATTEMPTS = 20

NAME_MAX = 80
COMMUNE_MAX = 80


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalise_code(code: str) -> str | None:
    """The canonical form of a typed or linked code, or None if it cannot be one.

    New codes use JOIN_CODE_ALPHABET, but any code a deep link can carry is looked up
    (codes made by other tools, e.g. `TEST0001` in tests).
    """
    text = code.strip().upper()
    if not _CODE_SHAPE.match(text):
        return None
    return text


@dataclass(frozen=True)
class Membership:
    """One cohort someone belongs to, and their roles in it."""

    cohort_id: int
    name: str
    commune: str
    roles: frozenset[Role]


async def get(session: AsyncSession, cohort_id: int) -> Cohort | None:
    """An open (not archived) cohort by id."""
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None or cohort.archived_at is not None:
        return None
    return cohort


async def find_by_code(session: AsyncSession, code: str) -> Cohort | None:
    """The open cohort whose join code is `code` (case and spaces do not matter)."""
    normalised = normalise_code(code)
    if normalised is None:
        return None
    return await session.scalar(
        select(Cohort).where(Cohort.join_code == normalised, Cohort.archived_at.is_(None))
    )


async def find_by_ref(
    session: AsyncSession, ref: str, *, include_archived: bool = False
) -> Cohort | None:
    """A cohort by id or by join code (as printed on the invitation), for the command line.

    `include_archived`: the tools that work on a finished programme (export, flyer, purge)
    must still find it.
    """
    text = ref.strip()
    if text.isdigit():
        found = await session.get(Cohort, int(text))
        if found is not None and (include_archived or found.archived_at is None):
            return found
    code = normalise_code(text)
    if code is None:
        return None
    query = select(Cohort).where(Cohort.join_code == code)
    if not include_archived:
        query = query.where(Cohort.archived_at.is_(None))
    return await session.scalar(query)


async def create_cohort(
    session: AsyncSession,
    *,
    name: str,
    commune: str,
    timezone: str,
    language: str,
    now: datetime,
    created_by_id: int | None = None,
) -> Cohort:
    """A new cohort with a fresh join code.

    Its creator (if any) becomes its coordinator and acts on it from now on.

    Raises members.InvalidValue for an empty or too long name or commune.
    """
    clean_name = clean_text(name, max_length=NAME_MAX)
    clean_commune = clean_text(commune, max_length=COMMUNE_MAX)
    for _ in range(_CODE_ATTEMPTS):
        code = new_join_code()
        taken = await session.scalar(select(exists().where(Cohort.join_code == code)))
        if not taken:
            break
    else:  # pragma: no cover - see _CODE_ATTEMPTS
        raise RuntimeError("could not find a free join code")
    cohort = Cohort(
        name=clean_name,
        commune=clean_commune,
        timezone=timezone,
        language=language,
        join_code=code,
        created_at=now,
    )
    session.add(cohort)
    await session.flush()
    await audit.audit(
        session,
        created_by_id,
        cohort.id,
        "cohort.create",
        {"name": clean_name, "commune": clean_commune},
        at=now,
    )
    if created_by_id is not None:
        creator = await session.get(Member, created_by_id)
        if creator is not None:
            creator.active_cohort_id = cohort.id
            creator.onboarded_at = creator.onboarded_at or now
            due_times.tips_changed(creator)
        await staff.grant_role(
            session,
            member_id=created_by_id,
            cohort_id=cohort.id,
            role=Role.COORDINATOR,
            actor_id=created_by_id,
            now=now,
        )
    return cohort


async def enrol(session: AsyncSession, member_id: int, cohort_id: int, now: datetime) -> bool:
    """Enrol a merchant in a cohort; True if they were not enrolled already (or had left)."""
    row = await session.scalar(
        select(Enrolment).where(Enrolment.member_id == member_id, Enrolment.cohort_id == cohort_id)
    )
    if row is None:
        session.add(Enrolment(member_id=member_id, cohort_id=cohort_id, joined_at=now))
        await session.flush()
    elif row.left_at is not None:
        row.left_at = None
        row.joined_at = now
    else:
        return False
    # Tips and check-ins (objectives of this cohort again) start from this enrolment.
    await due_times.member_tips_changed(session, member_id)
    await due_times.checkins_changed(session, member_id)
    # Someone joining after the trios were formed goes to the smallest one.
    from bot.services import trios

    await trios.add_late_joiner(session, cohort_id, member_id, now)
    return True


async def is_enrolled(session: AsyncSession, member_id: int, cohort_id: int) -> bool:
    found = await session.scalar(
        select(Enrolment.id).where(
            Enrolment.member_id == member_id,
            Enrolment.cohort_id == cohort_id,
            Enrolment.left_at.is_(None),
        )
    )
    return found is not None


async def memberships(session: AsyncSession, member_id: int) -> list[Membership]:
    """Every open cohort the member belongs to (enrolled or staff), oldest first."""
    roles: dict[int, set[Role]] = {}
    staff_rows = await session.execute(
        select(StaffRole.cohort_id, StaffRole.role).where(StaffRole.member_id == member_id)
    )
    for cohort_id, role in staff_rows:
        roles.setdefault(cohort_id, set()).add(Role(role))
    enrolled = await session.scalars(
        select(Enrolment.cohort_id).where(
            Enrolment.member_id == member_id, Enrolment.left_at.is_(None)
        )
    )
    for cohort_id in enrolled:
        roles.setdefault(cohort_id, set()).add(Role.MERCHANT)
    if not roles:
        return []
    cohorts = await session.scalars(
        select(Cohort)
        .where(Cohort.id.in_(roles), Cohort.archived_at.is_(None))
        .order_by(Cohort.created_at, Cohort.id)
    )
    return [
        Membership(cohort.id, cohort.name, cohort.commune, frozenset(roles[cohort.id]))
        for cohort in cohorts
    ]


async def open_cohorts(session: AsyncSession) -> list[Cohort]:
    """Every open cohort, oldest first (what an admin may choose from)."""
    return list(
        (
            await session.scalars(
                select(Cohort)
                .where(Cohort.archived_at.is_(None))
                .order_by(Cohort.created_at, Cohort.id)
            )
        ).all()
    )
