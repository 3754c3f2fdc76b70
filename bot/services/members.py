"""Members: the people the bot knows, their profile, language, active cohort and rhythm.

Onboarding keeps its draft answers out of the database until the person consents; then
`register` writes the whole profile at once. Staff who arrive by an invitation link get a
minimal member row from `ensure_member` (they have no business profile to fill in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import LANGUAGES
from bot.models import Cohort, Enrolment, Member, Sector, StaffRole
from bot.services import cohorts, due_times
from bot.services.validation import InvalidValue, clean_text

# Activity is recorded at most this often, to keep a write off most updates: the access gate
# reads `last_seen_at` with the actor and only calls `touch` when it is older than this.
TOUCH_GRANULARITY = timedelta(minutes=15)

# Short enough to fit a button label and a line of a report, long enough for real names.
FIRST_NAME_MAX = 64
BUSINESS_NAME_MAX = 80
COMMUNE_MAX = 80


class JoinOutcome(StrEnum):
    JOINED = "joined"  # enrolled now (a second cohort, or back after leaving)
    ALREADY = "already"  # was enrolled already
    STAFF = "staff"  # trainer/coordinator of that cohort: the merchants' link is not for them
    NEEDS_PROFILE = "needs_profile"  # known (e.g. staff elsewhere) but no business profile yet


def parse_sector(code: str) -> Sector | None:
    """The sector of a button's code, or None for anything else (callback data is untrusted)."""
    try:
        return Sector(code)
    except ValueError:
        return None


def is_language(code: str) -> bool:
    return code in LANGUAGES


@dataclass(frozen=True)
class Identity:
    """Who someone is on Telegram, as plain data (services never see telegram objects)."""

    telegram_user_id: int
    chat_id: int
    first_name: str
    language: str
    last_name: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class Profile:
    """What a merchant tells about themself during onboarding."""

    first_name: str
    business_name: str
    sector: Sector
    commune: str
    language: str


@dataclass(frozen=True)
class Rhythm:
    """The default tip rhythm of a new member (from the settings)."""

    tip_days: tuple[str, ...]
    tip_time: time

    @property
    def days_text(self) -> str:
        return ",".join(self.tip_days)


async def by_telegram_id(session: AsyncSession, telegram_user_id: int) -> Member | None:
    return await session.scalar(select(Member).where(Member.telegram_user_id == telegram_user_id))


async def get(session: AsyncSession, member_id: int) -> Member | None:
    return await session.get(Member, member_id)


async def touch(session: AsyncSession, member_id: int, now: datetime) -> None:
    """Remember that the member was active (retention counts from here).

    The condition repeats the gate's check in the database, so two updates of the same
    minute that both saw a stale time write once.
    """
    await session.execute(
        update(Member)
        .where(
            Member.id == member_id,
            or_(Member.last_seen_at.is_(None), Member.last_seen_at < now - TOUCH_GRANULARITY),
        )
        .values(last_seen_at=now)
    )


def _fit(value: str | None, limit: int) -> str | None:
    """Telegram names can be longer than our columns; keep what fits."""
    if value is None:
        return None
    try:
        return clean_text(value, max_length=10_000)[:limit]
    except InvalidValue:
        return None


async def ensure_member(
    session: AsyncSession, identity: Identity, *, now: datetime, rhythm: Rhythm
) -> tuple[Member, bool]:
    """The member for this Telegram user, created (not onboarded) if unknown.

    Returns `(member, created)`.
    """
    member = await by_telegram_id(session, identity.telegram_user_id)
    if member is not None:
        member.chat_id = identity.chat_id
        return member, False
    member = Member(
        telegram_user_id=identity.telegram_user_id,
        chat_id=identity.chat_id,
        first_name=_fit(identity.first_name, FIRST_NAME_MAX) or "?",
        last_name=_fit(identity.last_name, 128),
        # The @username is not kept: no feature needs it (data minimisation, /privacy).
        language=identity.language if is_language(identity.language) else LANGUAGES[0],
        tip_days=rhythm.days_text,
        tip_time=rhythm.tip_time,
        created_at=now,
        last_seen_at=now,
    )
    session.add(member)
    await session.flush()
    return member, True


async def register(
    session: AsyncSession,
    identity: Identity,
    profile: Profile,
    *,
    cohort_id: int,
    now: datetime,
    rhythm: Rhythm,
) -> Member:
    """Finish onboarding: store the profile and the consent, enrol in the cohort, make it active.

    Raises LookupError if the cohort vanished (archived) since the link was opened.
    """
    cohort = await cohorts.get(session, cohort_id)
    if cohort is None:
        raise LookupError(f"cohort {cohort_id} is not open")
    member, _ = await ensure_member(session, identity, now=now, rhythm=rhythm)
    member.first_name = clean_text(profile.first_name, max_length=FIRST_NAME_MAX)
    member.business_name = clean_text(profile.business_name, max_length=BUSINESS_NAME_MAX)
    member.sector = Sector(profile.sector).value
    member.commune = clean_text(profile.commune, max_length=COMMUNE_MAX)
    member.language = profile.language if is_language(profile.language) else member.language
    member.consent_at = now
    member.onboarded_at = member.onboarded_at or now
    member.active_cohort_id = cohort.id
    due_times.tips_changed(member)
    await cohorts.enrol(session, member.id, cohort.id, now)
    await session.flush()
    return member


def has_merchant_profile(member: Member) -> bool:
    """Whether the member went through the merchant onboarding (profile and consent)."""
    return (
        member.onboarded_at is not None
        and member.consent_at is not None
        and member.business_name is not None
    )


async def join_cohort(
    session: AsyncSession, member_id: int, cohort_id: int, now: datetime
) -> JoinOutcome:
    """A known member opened the join link of a cohort: enrol them there and make it active.

    Someone without a merchant profile yet must go through onboarding instead.
    """
    member = await session.get(Member, member_id)
    cohort = await cohorts.get(session, cohort_id)
    if member is None or cohort is None:
        raise LookupError(f"member {member_id} or cohort {cohort_id} not found")
    staff_role = await session.scalar(
        select(StaffRole.id).where(
            StaffRole.member_id == member_id, StaffRole.cohort_id == cohort_id
        )
    )
    if staff_role is not None:
        return JoinOutcome.STAFF
    if not has_merchant_profile(member):
        return JoinOutcome.NEEDS_PROFILE
    member.active_cohort_id = cohort.id
    due_times.tips_changed(member)
    joined = await cohorts.enrol(session, member_id, cohort.id, now)
    await session.flush()
    return JoinOutcome.JOINED if joined else JoinOutcome.ALREADY


async def update_profile(
    session: AsyncSession,
    member_id: int,
    *,
    first_name: str | None = None,
    business_name: str | None = None,
    sector: Sector | str | None = None,
    commune: str | None = None,
) -> Member:
    """Change some profile fields (each validated as in onboarding). Raises LookupError."""
    member = await session.get(Member, member_id)
    if member is None:
        raise LookupError(f"member {member_id} not found")
    if first_name is not None:
        member.first_name = clean_text(first_name, max_length=FIRST_NAME_MAX)
    if business_name is not None:
        member.business_name = clean_text(business_name, max_length=BUSINESS_NAME_MAX)
    if sector is not None:
        parsed = parse_sector(str(sector))
        if parsed is None:
            raise ValueError(f"unknown sector {sector!r}")
        member.sector = parsed.value
    if commune is not None:
        member.commune = clean_text(commune, max_length=COMMUNE_MAX)
    await session.flush()
    return member


async def set_language(session: AsyncSession, member_id: int, language: str) -> bool:
    """Switch the member's language; False if the language or the member is unknown."""
    if not is_language(language):
        return False
    result = await session.execute(
        update(Member).where(Member.id == member_id).values(language=language)
    )
    return bool(getattr(result, "rowcount", 0))


async def belongs_to(session: AsyncSession, member_id: int, cohort_id: int) -> bool:
    """Whether the member is enrolled in the cohort or holds a staff role in it."""
    enrolled = await session.scalar(
        select(Enrolment.id).where(
            Enrolment.member_id == member_id,
            Enrolment.cohort_id == cohort_id,
            Enrolment.left_at.is_(None),
        )
    )
    if enrolled is not None:
        return True
    staff = await session.scalar(
        select(StaffRole.id).where(
            StaffRole.member_id == member_id, StaffRole.cohort_id == cohort_id
        )
    )
    return staff is not None


async def set_active_cohort(
    session: AsyncSession, member_id: int, cohort_id: int, *, is_admin: bool = False
) -> Cohort | None:
    """Make `cohort_id` the cohort the member acts on; None if they may not (or it is closed).

    Admins (ADMIN_IDS) may act on any open cohort; everybody else only on their own.
    """
    cohort = await cohorts.get(session, cohort_id)
    member = await session.get(Member, member_id)
    if cohort is None or member is None:
        return None
    if not is_admin and not await belongs_to(session, member_id, cohort_id):
        return None
    member.active_cohort_id = cohort.id
    # The tips follow the active cohort (its zone, the enrolment there).
    due_times.tips_changed(member)
    await session.flush()
    return cohort
