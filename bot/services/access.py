"""Who may do what: the one authorisation table, and the actor of an update.

Every command is listed here with the access it needs; every callback-data area is listed
with its access in the codec, bot/callbacks.py. Anything not listed is refused (deny by
default). handlers/access.py enforces both for every update before any handler runs, and a
test walks every registered handler against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Select, String, bindparam, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
    "point": Access.MERCHANT,
    "progres": Access.MERCHANT,
    "trio": Access.MERCHANT,
    "trios": Access.TRAINER,
    "nouvelle_seance": Access.STAFF,
    "groupe": Access.STAFF,
    "qr": Access.STAFF,
    "diffuser": Access.TRAINER,
    "appel": Access.TRAINER,
    "presences": Access.STAFF,
    "stats": Access.COORDINATOR,
    # The impact report: aggregates only ("< 5" below five people), like /groupe for staff.
    "bilan": Access.STAFF,
    "export": Access.COORDINATOR,
    "inviter": Access.COORDINATOR,
    # Members and staff alike: the handler shows the open challenge or the trainer's list.
    "defi": Access.MEMBER,
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
    # When the member was last recorded active (see `seen_is_stale`).
    last_seen_at: datetime | None = None
    # How replies greet them (read with the rest: no second query for a name).
    first_name: str | None = None

    def seen_is_stale(self, now: datetime, granularity: timedelta) -> bool:
        """Whether to record activity now: a member last seen over `granularity` ago."""
        if self.member_id is None:
            return False
        return self.last_seen_at is None or self.last_seen_at < now - granularity

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
    """Read who this Telegram user is: member, roles in their active cohort, language.

    One query for every update (the access gate runs it before anything else): the member,
    one row per role they hold (staff roles and current enrolments, each with its cohort's
    zone) and the zone of the cohort they last chose.
    """
    from bot.i18n import normalise_language

    is_admin = telegram_user_id in admin_ids
    rows = (await session.execute(_actor_query(), {"telegram_user_id": telegram_user_id})).all()
    if not rows:
        return Actor(
            telegram_user_id=telegram_user_id,
            language=normalise_language(language_code, default_language),
            zone=default_zone,
            is_admin=is_admin,
        )
    first = rows[0]
    held = [(row.cohort_id, row.role) for row in rows if row.cohort_id is not None]
    zones = {row.cohort_id: row.cohort_zone for row in rows if row.cohort_id is not None}
    cohort_ids = {cohort_id for cohort_id, _ in held}
    active = first.active_cohort_id
    if active is None or (active not in cohort_ids and not is_admin):
        active = min(cohort_ids) if cohort_ids else None
    roles: set[Role] = set()
    zone = default_zone
    if active is not None:
        roles = {Role(role) for cohort_id, role in held if cohort_id == active}
        if is_admin:
            roles.add(Role.COORDINATOR)
        chosen_zone = first.chosen_zone if active == first.active_cohort_id else zones[active]
        zone = chosen_zone or default_zone
    return Actor(
        telegram_user_id=telegram_user_id,
        language=first.language,
        zone=zone,
        member_id=first.member_id,
        onboarded=first.onboarded_at is not None,
        is_admin=is_admin,
        active_cohort_id=active,
        roles=frozenset(roles),
        cohort_ids=frozenset(cohort_ids),
        last_seen_at=first.last_seen_at,
        first_name=first.first_name,
    )


@cache
def _actor_query() -> Select[Any]:
    """The member of a Telegram user, one row per role held (or one row with no role).

    Built once: constructing this statement costs more CPU than running it.
    """
    user = bindparam("telegram_user_id", type_=BigInteger)
    member_id = select(Member.id).where(Member.telegram_user_id == user).scalar_subquery()
    # Each branch is filtered by the member's id, so both databases seek their indexes on
    # member_id instead of reading every role of everyone.
    held = union_all(
        select(
            StaffRole.member_id.label("member_id"),
            StaffRole.cohort_id.label("cohort_id"),
            StaffRole.role.label("role"),
        ).where(StaffRole.member_id == member_id),
        select(
            Enrolment.member_id,
            Enrolment.cohort_id,
            literal(Role.MERCHANT.value, String(16)),
        ).where(Enrolment.member_id == member_id, Enrolment.left_at.is_(None)),
    ).subquery("held")
    held_cohort = aliased(Cohort, name="held_cohort")
    chosen_cohort = aliased(Cohort, name="chosen_cohort")
    return (
        select(
            Member.id.label("member_id"),
            Member.language,
            Member.onboarded_at,
            Member.last_seen_at,
            Member.first_name,
            Member.active_cohort_id,
            chosen_cohort.timezone.label("chosen_zone"),
            held.c.cohort_id,
            held.c.role,
            held_cohort.timezone.label("cohort_zone"),
        )
        .select_from(Member)
        .outerjoin(held, held.c.member_id == Member.id)
        .outerjoin(held_cohort, held_cohort.id == held.c.cohort_id)
        .outerjoin(chosen_cohort, chosen_cohort.id == Member.active_cohort_id)
        .where(Member.telegram_user_id == user)
    )
