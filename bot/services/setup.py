"""The first-run setup code: how the first coordinator gets in without editing ADMIN_IDS.

`relais init` (and `relais run`, while nobody coordinates yet) prints a one-time code. The
first person to send `/start setup_<code>` (the deep link) or `/setup <code>` becomes
coordinator of the first (oldest open) cohort. A code works once, for a week; using one
retires every other code, since from then on coordinators invite each other (/inviter).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cohort, Member, Role, SetupCode, StaffRole
from bot.services import audit, due_times, staff
from bot.services.cohorts import JOIN_CODE_ALPHABET

SETUP_PREFIX = "setup_"
SETUP_CODE_LENGTH = 10  # 31**10 codes: not guessable through Telegram
SETUP_CODE_TTL = timedelta(days=7)
_SHAPE = re.compile(r"^[A-Za-z0-9]{4,32}$")


class SetupOutcome(StrEnum):
    UNKNOWN = "unknown"  # no such code, or expired
    USED = "used"  # someone already used it
    NO_COHORT = "no_cohort"  # valid, but there is no cohort to coordinate yet (kept unused)
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class SetupResult:
    outcome: SetupOutcome
    cohort_id: int | None = None
    cohort_name: str | None = None


def normalise(code: str) -> str | None:
    """The stored form of a typed or linked code (spaces, dashes and case do not matter)."""
    text = re.sub(r"[\s-]", "", code).upper()
    return text if _SHAPE.match(text) else None


def setup_payload(code: str) -> str:
    """The deep-link payload: `https://t.me/<bot>?start=setup_<code>`."""
    return f"{SETUP_PREFIX}{code}"


async def first_cohort(session: AsyncSession) -> Cohort | None:
    """The oldest open cohort: the one the setup code's user coordinates."""
    return await session.scalar(
        select(Cohort)
        .where(Cohort.archived_at.is_(None))
        .order_by(Cohort.created_at, Cohort.id)
        .limit(1)
    )


async def has_coordinator(session: AsyncSession) -> bool:
    """Whether anyone coordinates an open cohort (ADMIN_IDS aside)."""
    found = await session.scalar(
        select(
            exists()
            .where(StaffRole.role == Role.COORDINATOR.value)
            .where(StaffRole.cohort_id == Cohort.id)
            .where(Cohort.archived_at.is_(None))
        )
    )
    return bool(found)


async def current_code(session: AsyncSession, now: datetime) -> str | None:
    """The newest unused code that has not expired, if any."""
    return await session.scalar(
        select(SetupCode.code)
        .where(SetupCode.used_at.is_(None), SetupCode.created_at > now - SETUP_CODE_TTL)
        .order_by(SetupCode.created_at.desc())
        .limit(1)
    )


async def issue_code(session: AsyncSession, now: datetime) -> str:
    """The code to print: the current one if there is one, else a new one."""
    code = await current_code(session, now)
    if code is not None:
        return code
    code = "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(SETUP_CODE_LENGTH))
    session.add(SetupCode(code=code, created_at=now))
    await session.flush()
    return code


async def retire_codes(session: AsyncSession, now: datetime) -> None:
    """Make every unused code unusable (a coordinator exists now)."""
    await session.execute(
        update(SetupCode)
        .where(SetupCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


async def use_code(
    session: AsyncSession, code: str, *, member_id: int, now: datetime
) -> SetupResult:
    """Make the member coordinator of the first cohort with this code, once.

    Single use even under concurrency: the code is claimed by a conditional UPDATE, and of
    two simultaneous attempts only one sees its row change. Audited.
    """
    normalised = normalise(code)
    row = await session.get(SetupCode, normalised) if normalised else None
    expired = row is not None and row.used_at is None and row.created_at <= now - SETUP_CODE_TTL
    if row is None or expired:
        return SetupResult(SetupOutcome.UNKNOWN)
    if row.used_at is not None:
        return SetupResult(SetupOutcome.USED)
    cohort = await first_cohort(session)
    if cohort is None:
        return SetupResult(SetupOutcome.NO_COHORT)
    claimed = await session.execute(
        update(SetupCode)
        .where(SetupCode.code == row.code, SetupCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        return SetupResult(SetupOutcome.USED)
    # From now on coordinators invite each other: every other code is retired.
    await retire_codes(session, now)
    await staff.grant_role(
        session,
        member_id=member_id,
        cohort_id=cohort.id,
        role=Role.COORDINATOR,
        actor_id=member_id,
        now=now,
        via="setup_code",
    )
    await audit.audit(session, member_id, cohort.id, "setup.use", {"member_id": member_id}, at=now)
    member = await session.get(Member, member_id)
    if member is not None:
        member.active_cohort_id = cohort.id
        member.onboarded_at = member.onboarded_at or now
        due_times.tips_changed(member)
    await session.flush()
    return SetupResult(SetupOutcome.ACCEPTED, cohort.id, cohort.name)
