"""Who may do what: the one authorisation table, and the actor of an update.

Every command is listed here with the access it needs; every callback-data area is listed
with its access in the codec, bot/callbacks.py. Anything not listed is refused (deny by
default). handlers/access.py enforces both for every update before any handler runs, and a
test walks every registered handler against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cohort, Enrolment, Member, Role, StaffRole


class Access(StrEnum):
    ANYONE = "anyone"  # strangers included (onboarding, help, language, privacy)
    MEMBER = "member"  # anyone who completed onboarding or holds a staff role
    MERCHANT = "merchant"  # enrolled in the active cohort
    STAFF = "staff"  # trainer or coordinator of the active cohort
    TRAINER = "trainer"  # a coordinator too: she may do everything a trainer may (DESIGN.md)
    COORDINATOR = "coordinator"


COMMAND_ACCESS: dict[str, Access] = {
    "start": Access.ANYONE,
    "aide": Access.ANYONE,
    "help": Access.ANYONE,
    "langue": Access.ANYONE,
    "privacy": Access.ANYONE,
    "annuler": Access.ANYONE,
    "setup": Access.ANYONE,  # the first-run setup code (handlers/setup.py)
    # Privacy rights are everyone's: a stranger may hold an onboarding draft, and a second
    # /oublier after an erasure deserves a kind "nothing left", not a refusal.
    "mesdonnees": Access.ANYONE,
    "oublier": Access.ANYONE,
    "seances": Access.MEMBER,
    "cohorte": Access.MEMBER,
    "objectif": Access.MERCHANT,
    "objectifs": Access.MERCHANT,
    "astuce": Access.MERCHANT,
    "reglages": Access.MERCHANT,
    "question": Access.MERCHANT,
    "nouvelle_seance": Access.STAFF,
    "groupe": Access.STAFF,
    "qr": Access.STAFF,
    "diffuser": Access.TRAINER,
    "appel": Access.TRAINER,
    "presences": Access.STAFF,
    "stats": Access.COORDINATOR,
    "export": Access.COORDINATOR,
    "inviter": Access.COORDINATOR,
}


@dataclass(frozen=True)
class Actor:
    """The sender of an update, as the database knows them."""

    telegram_user_id: int
    language: str
    zone: str
    member_id: int | None = None
    onboarded: bool = False
    is_admin: bool = False
    active_cohort_id: int | None = None
    # Roles in the active cohort (MERCHANT when enrolled there).
    roles: frozenset[Role] = frozenset()
    # Every cohort in which the actor holds any role (to offer a choice).
    cohort_ids: frozenset[int] = frozenset()

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & {Role.TRAINER, Role.COORDINATOR})

    def may(self, access: Access) -> bool:
        if access is Access.ANYONE:
            return True
        if access is Access.MEMBER:
            return self.onboarded or self.is_staff or self.is_admin
        if access is Access.MERCHANT:
            return Role.MERCHANT in self.roles and self.onboarded
        if access is Access.STAFF:
            return self.is_staff
        if access is Access.TRAINER:
            # A small commune often has one person in both roles.
            return bool(self.roles & {Role.TRAINER, Role.COORDINATOR})
        if access is Access.COORDINATOR:
            return Role.COORDINATOR in self.roles or self.is_admin
        raise ValueError(access)  # pragma: no cover


def command_access(command: str) -> Access | None:
    return COMMAND_ACCESS.get(command.lower())


def callback_access(data: str) -> Access | None:
    """The access of the callback area named by `data` (the codec's table), or None."""
    # Imported here: bot/callbacks.py imports this module for `Access`.
    from bot.callbacks import area_of

    area = area_of(data)
    return area.access if area is not None else None


async def load_actor(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    language_code: str | None,
    admin_ids: list[int],
    default_language: str,
    default_zone: str,
) -> Actor:
    """Read who this Telegram user is: member, roles in their active cohort, language."""
    from bot.i18n import normalise_language

    is_admin = telegram_user_id in admin_ids
    member = await session.scalar(select(Member).where(Member.telegram_user_id == telegram_user_id))
    if member is None:
        return Actor(
            telegram_user_id=telegram_user_id,
            language=normalise_language(language_code, default_language),
            zone=default_zone,
            is_admin=is_admin,
        )
    staff_rows = (
        await session.execute(
            select(StaffRole.cohort_id, StaffRole.role).where(StaffRole.member_id == member.id)
        )
    ).all()
    enrolled = (
        await session.scalars(
            select(Enrolment.cohort_id).where(
                Enrolment.member_id == member.id, Enrolment.left_at.is_(None)
            )
        )
    ).all()
    cohort_ids = {cohort_id for cohort_id, _ in staff_rows} | set(enrolled)
    active = member.active_cohort_id
    if active is None or (active not in cohort_ids and not is_admin):
        active = min(cohort_ids) if cohort_ids else None
    roles: set[Role] = set()
    if active is not None:
        roles = {Role(role) for cohort_id, role in staff_rows if cohort_id == active}
        if active in enrolled:
            roles.add(Role.MERCHANT)
        if is_admin:
            roles.add(Role.COORDINATOR)
    zone = default_zone
    if active is not None:
        cohort_zone = await session.scalar(select(Cohort.timezone).where(Cohort.id == active))
        zone = cohort_zone or default_zone
    return Actor(
        telegram_user_id=telegram_user_id,
        language=member.language,
        zone=zone,
        member_id=member.id,
        onboarded=member.onboarded_at is not None,
        is_admin=is_admin,
        active_cohort_id=active,
        roles=frozenset(roles),
        cohort_ids=frozenset(cohort_ids),
    )
