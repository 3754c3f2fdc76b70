"""Staff: trainers and coordinators of a cohort, and how one becomes staff.

A coordinator makes a single-use, expiring invitation for one cohort and one role; the
link `/start staff_<token>` grants that role to whoever opens it first, before it expires.
Every staff action is written to the audit log.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cohort, Member, Role, StaffInvitation, StaffRole
from bot.services import due_times
from bot.services.audit import audit

STAFF_PREFIX = "staff_"
STAFF_ROLES = frozenset({Role.TRAINER, Role.COORDINATOR})
# 18 random bytes -> 24 URL-safe characters: unguessable, and "staff_" + token fits
# Telegram's 64-character deep-link payload.
_TOKEN_BYTES = 18
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,48}$")


class InviteOutcome(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    ACCEPTED = "accepted"
    VALID = "valid"  # from check_invitation only: it would be accepted


@dataclass(frozen=True)
class InvitationResult:
    outcome: InviteOutcome
    cohort_id: int | None = None
    cohort_name: str | None = None
    role: Role | None = None


@dataclass(frozen=True)
class StaffChat:
    """A staff member's private chat, for their command menu."""

    chat_id: int
    language: str
    roles: frozenset[Role]


def parse_staff_role(value: str) -> Role | None:
    """A staff role from untrusted input (callback data); merchants are not invited this way."""
    try:
        role = Role(value)
    except ValueError:
        return None
    return role if role in STAFF_ROLES else None


async def grant_role(
    session: AsyncSession,
    *,
    member_id: int,
    cohort_id: int,
    role: Role,
    actor_id: int | None,
    now: datetime,
    via: str | None = None,
) -> bool:
    """Give `role` in the cohort to the member; True if it is new. Audited."""
    if role not in STAFF_ROLES:
        raise ValueError(f"{role} is not a staff role")
    existing = await session.scalar(
        select(StaffRole.id).where(
            StaffRole.member_id == member_id,
            StaffRole.cohort_id == cohort_id,
            StaffRole.role == role.value,
        )
    )
    if existing is not None:
        return False
    session.add(
        StaffRole(member_id=member_id, cohort_id=cohort_id, role=role.value, granted_at=now)
    )
    details: dict[str, Any] = {"member_id": member_id, "role": role.value}
    if via:
        details["via"] = via
    await audit(session, actor_id, cohort_id, "staff.grant", details, at=now)
    return True


async def roles_in(session: AsyncSession, member_id: int, cohort_id: int) -> frozenset[Role]:
    rows = await session.scalars(
        select(StaffRole.role).where(
            StaffRole.member_id == member_id, StaffRole.cohort_id == cohort_id
        )
    )
    return frozenset(Role(role) for role in rows)


async def can_coordinate(
    session: AsyncSession, member_id: int | None, cohort_id: int, *, is_admin: bool
) -> bool:
    """Whether someone may invite people into this open cohort (re-checked on every callback)."""
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None or cohort.archived_at is not None:
        return False
    if is_admin:
        return True
    if member_id is None:
        return False
    return Role.COORDINATOR in await roles_in(session, member_id, cohort_id)


async def create_invitation(
    session: AsyncSession,
    *,
    cohort_id: int,
    role: Role,
    created_by_id: int | None,
    now: datetime,
    ttl: timedelta,
) -> StaffInvitation:
    """A new single-use invitation for `role` in the cohort, valid for `ttl`. Audited."""
    if role not in STAFF_ROLES:
        raise ValueError(f"{role} is not a staff role")
    invitation = StaffInvitation(
        token=secrets.token_urlsafe(_TOKEN_BYTES),
        cohort_id=cohort_id,
        role=role.value,
        created_by_id=created_by_id,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(invitation)
    await session.flush()
    await audit(
        session,
        created_by_id,
        cohort_id,
        "staff.invite",
        {
            "invitation_id": invitation.id,
            "role": role.value,
            "expires_at": invitation.expires_at.isoformat(),
        },
        at=now,
    )
    return invitation


async def _find(session: AsyncSession, token: str) -> tuple[StaffInvitation, Cohort] | None:
    if not _TOKEN.match(token):
        return None
    row = (
        await session.execute(
            select(StaffInvitation, Cohort)
            .join(Cohort, Cohort.id == StaffInvitation.cohort_id)
            .where(StaffInvitation.token == token)
        )
    ).first()
    if row is None:
        return None
    invitation, cohort = row
    if cohort.archived_at is not None:
        return None
    return invitation, cohort


def _status(invitation: StaffInvitation, now: datetime) -> InviteOutcome:
    # "Used" wins over "expired": it tells the person the more useful story.
    if invitation.used_at is not None:
        return InviteOutcome.USED
    if invitation.expires_at <= now:
        return InviteOutcome.EXPIRED
    return InviteOutcome.VALID


async def check_invitation(session: AsyncSession, token: str, now: datetime) -> InvitationResult:
    """What accepting this token would do, changing nothing."""
    found = await _find(session, token)
    if found is None:
        return InvitationResult(InviteOutcome.UNKNOWN)
    invitation, cohort = found
    return InvitationResult(_status(invitation, now), cohort.id, cohort.name, Role(invitation.role))


async def accept_invitation(
    session: AsyncSession, token: str, *, member_id: int, now: datetime
) -> InvitationResult:
    """Use the invitation for this member: grant the role and make the cohort their active one.

    Single use even under concurrency: the token is claimed by a conditional UPDATE, so of
    two simultaneous acceptances only one sees its row change.
    """
    found = await _find(session, token)
    if found is None:
        return InvitationResult(InviteOutcome.UNKNOWN)
    invitation, cohort = found
    role = Role(invitation.role)
    status = _status(invitation, now)
    if status is not InviteOutcome.VALID:
        return InvitationResult(status, cohort.id, cohort.name, role)
    claimed = await session.execute(
        update(StaffInvitation)
        .where(
            StaffInvitation.id == invitation.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.expires_at > now,
        )
        .values(used_at=now, used_by_id=member_id)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        return InvitationResult(InviteOutcome.USED, cohort.id, cohort.name, role)
    await session.refresh(invitation)
    await grant_role(
        session,
        member_id=member_id,
        cohort_id=cohort.id,
        role=role,
        actor_id=invitation.created_by_id,
        now=now,
        via=f"invitation:{invitation.id}",
    )
    await audit(
        session,
        member_id,
        cohort.id,
        "staff.accept",
        {"invitation_id": invitation.id, "role": role.value},
        at=now,
    )
    member = await session.get(Member, member_id)
    if member is not None:
        member.active_cohort_id = cohort.id
        member.onboarded_at = member.onboarded_at or now
        due_times.tips_changed(member)
    await session.flush()
    return InvitationResult(InviteOutcome.ACCEPTED, cohort.id, cohort.name, role)


async def staff_chats(session: AsyncSession, admin_ids: list[int]) -> list[StaffChat]:
    """Every staff member's private chat with their roles (all cohorts), admins included."""
    rows = await session.execute(
        select(Member.telegram_user_id, Member.chat_id, Member.language, StaffRole.role)
        .join(StaffRole, StaffRole.member_id == Member.id)
        .join(Cohort, Cohort.id == StaffRole.cohort_id)
        .where(Cohort.archived_at.is_(None), Member.chat_id.is_not(None))
    )
    chats: dict[int, tuple[str, set[Role]]] = {}
    for user_id, chat_id, language, role in rows:
        if chat_id is None:  # pragma: no cover - filtered above; keeps the type narrow
            continue
        roles = chats.setdefault(chat_id, (language, set()))[1]
        roles.add(Role(role))
        if user_id in admin_ids:
            roles.add(Role.COORDINATOR)
    known = await session.execute(
        select(Member.telegram_user_id, Member.language).where(
            Member.telegram_user_id.in_(admin_ids)
        )
    )
    languages: dict[int | None, str] = dict(known.all())
    for admin_id in admin_ids:
        # A private chat's id is the user's id.
        if admin_id not in chats:
            chats[admin_id] = (languages.get(admin_id) or "", {Role.COORDINATOR})
    return [
        StaffChat(chat_id, language, frozenset(roles))
        for chat_id, (language, roles) in sorted(chats.items())
    ]


async def staff_chat(
    session: AsyncSession, member_id: int, admin_ids: list[int]
) -> StaffChat | None:
    """One member's chat and roles across cohorts (None if they hold no staff role)."""
    member = await session.get(Member, member_id)
    if member is None or member.chat_id is None:
        return None
    roles = {
        Role(role)
        for role in await session.scalars(
            select(StaffRole.role)
            .join(Cohort, Cohort.id == StaffRole.cohort_id)
            .where(StaffRole.member_id == member_id, Cohort.archived_at.is_(None))
        )
    }
    if member.telegram_user_id in admin_ids:
        roles.add(Role.COORDINATOR)
    if not roles:
        return None
    return StaffChat(member.chat_id, member.language, frozenset(roles))
