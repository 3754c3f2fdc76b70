"""The booster phase: the months after a cohort's last session.

Effects of a programme fade within 5 to 12 months after it ends; peers last. So a cohort has
an end — its last session (once the programme's last session, by its number in
content/curriculum.yaml, is planned), or a date the coordinator sets (`cohorts.ends_at`,
`relais cohort booster --ends-on`) — and after it
the group goes on by message for `BOOSTER_MONTHS` months (`cohorts.booster_until` when the
coordinator extended or ended it): a tip a week instead of the member's rhythm, the
check-ins on open objectives as before, the trio's digest once a month. Members are told
warmly when it begins, and get a farewell with a short summary when it ends, with how to stay
in touch (/reglages: keep a monthly check, or stop everything).

`cohort_phase` / `in_booster` are the predicates other planners call (the monthly progress
check, the monthly challenge); `phase_at` is the same rule on plain values, and
`end_expression` the cohort's end as SQL for planners that select many members at once.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import ContentLibrary
from bot.delivery.registry import (
    Button,
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.models import (
    AfterBooster,
    Attendance,
    Cohort,
    Delivery,
    DeliveryKind,
    Enrolment,
    Member,
    Objective,
    ObjectiveStatus,
    TrainingSession,
    UTCDateTime,
)

BOOSTER_KIND = DeliveryKind.BOOSTER.value
# The start and the farewell are planned for this long after their moment (a bot that was
# down, a coordinator who ended the phase); later, a message about it would be odd.
ANNOUNCE_WITHIN = timedelta(days=14)


class Phase(StrEnum):
    SESSIONS = "sessions"  # before the end (or no session planned yet)
    BOOSTER = "booster"  # after the last session, for BOOSTER_MONTHS months
    AFTER = "after"  # the booster phase is over


def add_months(instant: datetime, months: int) -> datetime:
    """The same day and time `months` later (the 31st becomes the month's last day)."""
    month = instant.month - 1 + months
    year, month = instant.year + month // 12, month % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def booster_end(end: datetime | None, until: datetime | None, months: int) -> datetime | None:
    if end is None:
        return None
    return until if until is not None else add_months(end, months)


def phase_at(end: datetime | None, until: datetime | None, now: datetime, months: int) -> Phase:
    """The phase of a cohort whose sessions end at `end` (None: not known yet)."""
    if end is None or now < end:
        return Phase.SESSIONS
    last = booster_end(end, until, months)
    return Phase.BOOSTER if last is not None and now < last else Phase.AFTER


@dataclass(frozen=True)
class Programme:
    """What the phase depends on besides the cohort: BOOSTER_MONTHS, and how many sessions
    the programme has (content/curriculum.yaml, from the Runtime's library; None: only the
    coordinator's date ends a cohort)."""

    months: int
    sessions: int | None


def programme_of_content(content: ContentLibrary | None) -> int | None:
    """The number of the programme's last session (None without a curriculum)."""
    if content is None or not content.curriculum.sessions:
        return None
    return max(session.number for session in content.curriculum.sessions)


def programme_of(settings: Settings, content: ContentLibrary | None) -> Programme:
    return Programme(settings.booster_months, programme_of_content(content))


def last_session_end(sessions: int | None) -> Any:
    """The end of the cohort's last session (not cancelled), correlated to `Cohort` — once
    the programme's last session (its number `sessions`) is planned: a cohort between two
    sessions, the next one not planned yet, has not ended."""
    if sessions is None:
        return literal(None, UTCDateTime())
    return (
        select(func.max(TrainingSession.ends_at))
        .where(
            TrainingSession.cohort_id == Cohort.id,
            TrainingSession.cancelled_at.is_(None),
        )
        .having(func.max(TrainingSession.number) >= sessions)
        .correlate(Cohort)
        .scalar_subquery()
    )


def end_expression(sessions: int | None) -> ColumnElement[Any]:
    """The cohort's end as SQL: the coordinator's date, else its last session's end."""
    return func.coalesce(Cohort.ends_at, last_session_end(sessions))


@dataclass(frozen=True)
class CohortTimes:
    end: datetime | None
    booster_until: datetime | None
    booster_end: datetime | None
    phase: Phase


async def cohort_times(
    session: AsyncSession, cohort_id: int, now: datetime, programme: Programme
) -> CohortTimes | None:
    months = programme.months
    row = (
        await session.execute(
            select(
                Cohort.ends_at, last_session_end(programme.sessions), Cohort.booster_until
            ).where(Cohort.id == cohort_id)
        )
    ).first()
    if row is None:
        return None
    set_end, last, until = row
    end = set_end or aware(last)
    return CohortTimes(
        end, until, booster_end(end, until, months), phase_at(end, until, now, months)
    )


def aware(value: datetime | None) -> datetime | None:
    # A scalar subquery's result bypasses the column type on SQLite.
    if value is None or value.tzinfo is not None:
        return value
    from datetime import UTC

    return value.replace(tzinfo=UTC)


async def cohort_phase(
    session: AsyncSession, cohort_id: int, now: datetime, programme: Programme
) -> Phase:
    """The cohort's phase now (the predicate for the planners of other features; build
    `programme` with `programme_of(settings, runtime.content)`)."""
    times = await cohort_times(session, cohort_id, now, programme)
    return times.phase if times is not None else Phase.SESSIONS


async def in_booster(
    session: AsyncSession, cohort_id: int, now: datetime, programme: Programme
) -> bool:
    return await cohort_phase(session, cohort_id, now, programme) is Phase.BOOSTER


def keeps_monthly_check(after_booster: str | None, phase: Phase) -> bool:
    """Whether the monthly progress check goes on for a member (for issue 12's planner):
    always before the end of the booster phase; after it, unless they chose to stop."""
    return phase is not Phase.AFTER or after_booster != AfterBooster.STOP.value


# -- the coordinator's levers ------------------------------------------------------------------


async def _members_reset(session: AsyncSession, cohort_id: int) -> None:
    """The tip rhythm of the cohort's members depends on the phase: work it out again."""
    from sqlalchemy import update

    from bot.models import Trio, TrioMembership

    await session.execute(
        update(Member)
        .where(Member.active_cohort_id == cohort_id)
        .values(next_tip_at=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(TrioMembership)
        .where(TrioMembership.trio_id.in_(select(Trio.id).where(Trio.cohort_id == cohort_id)))
        .values(next_digest_at=None)
        .execution_options(synchronize_session=False)
    )


async def set_end(session: AsyncSession, cohort_id: int, end: datetime | None) -> bool:
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None:
        return False
    cohort.ends_at = end
    await _members_reset(session, cohort_id)
    return True


async def extend(
    session: AsyncSession, cohort_id: int, months: int, now: datetime, programme: Programme
) -> datetime | None:
    """Add `months` to the booster phase; returns its new end (None: the cohort has no end)."""
    times = await cohort_times(session, cohort_id, now, programme)
    cohort = await session.get(Cohort, cohort_id)
    if times is None or cohort is None or times.booster_end is None:
        return None
    cohort.booster_until = add_months(max(times.booster_end, now), months)
    await _members_reset(session, cohort_id)
    return cohort.booster_until


async def end_now(
    session: AsyncSession, cohort_id: int, now: datetime, programme: Programme
) -> bool:
    """End the booster phase now (the farewell follows at the next tick)."""
    cohort = await session.get(Cohort, cohort_id)
    if cohort is None:
        return False
    if cohort.ends_at is None:
        last = await session.scalar(
            select(last_session_end(programme.sessions)).where(Cohort.id == cohort_id)
        )
        if last is None or aware(last) is None or aware(last) > now:  # type: ignore[operator]
            cohort.ends_at = now
    cohort.booster_until = now
    await _members_reset(session, cohort_id)
    return True


# -- the start and the farewell (outbox) -------------------------------------------------------


def _key(what: str, cohort_id: int) -> str:
    return f"booster:{what}:{cohort_id}"


async def _not_told(session: AsyncSession, cohort_id: int, key: str) -> Sequence[int]:
    told = select(Delivery.id).where(Delivery.member_id == Member.id, Delivery.dedup_key == key)
    rows = await session.scalars(
        select(Member.id)
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(
            Enrolment.cohort_id == cohort_id,
            Enrolment.left_at.is_(None),
            Member.onboarded_at.is_not(None),
            Member.chat_id.is_not(None),
            ~told.exists(),
        )
        .order_by(Member.id)
    )
    return rows.all()


async def plan_booster(
    session: AsyncSession, window: PlanWindow, sessions: int | None
) -> list[Planned]:
    """The start of the booster phase and the farewell, once per member of each cohort.

    Reads the open cohorts (a handful per deployment, not the population of members)."""
    months = window.settings.booster_months
    rows = await session.execute(
        select(Cohort.id, end_expression(sessions), Cohort.booster_until).where(
            Cohort.archived_at.is_(None)
        )
    )
    planned: list[Planned] = []
    for cohort_id, raw_end, until in rows:
        end = aware(raw_end)
        phase = phase_at(end, until, window.horizon, months)
        last = booster_end(end, until, months)
        if end is None or last is None or phase is Phase.SESSIONS:
            continue
        if phase is Phase.BOOSTER and months > 0 and window.now - end < ANNOUNCE_WITHIN:
            what, due = "start", end
        elif phase is Phase.AFTER and window.now - last < ANNOUNCE_WITHIN:
            what, due = "end", last
        else:
            continue
        key = _key(what, cohort_id)
        for member_id in await _not_told(session, cohort_id, key):
            planned.append(
                Planned(
                    member_id=member_id,
                    kind=BOOSTER_KIND,
                    dedup_key=key,
                    due_at=max(due, window.now),
                    payload={"what": what, "cohort_id": cohort_id},
                )
            )
    return planned


@dataclass(frozen=True)
class FarewellSummary:
    """What the farewell says of the member's way: sessions, objectives, and from their
    progress checks (bot/services/progress.py) the practices adopted and the customers the page
    brought, first month -> latest."""

    objectives_reached: int
    sessions_attended: int
    # Practices adopted at the first progress check and now (None: never answered one).
    practices: tuple[int, int] | None = None
    # Customers who came through the page in a month, first answer -> latest (None: fewer
    # than two months answered).
    customers: tuple[int, int] | None = None


async def farewell_summary(
    session: AsyncSession, member_id: int, cohort_id: int
) -> FarewellSummary:
    reached = await session.scalar(
        select(func.count(Objective.id)).where(
            Objective.member_id == member_id,
            Objective.cohort_id == cohort_id,
            Objective.status == ObjectiveStatus.DONE.value,
        )
    )
    attended = await session.scalar(
        select(func.count(Attendance.id))
        .join(TrainingSession, TrainingSession.id == Attendance.session_id)
        .where(Attendance.member_id == member_id, TrainingSession.cohort_id == cohort_id)
    )
    from bot.services import progress

    data = await progress.member_progress(session, member_id)
    practices = (
        (len(data.practices_before), len(data.practices_now)) if data.months_answered else None
    )
    change = data.change(progress.CUSTOMERS)
    return FarewellSummary(
        int(reached or 0),
        int(attended or 0),
        practices,
        (change[1], change[2]) if change else None,
    )


async def render_booster(ctx: RenderContext) -> Rendered | Skip:
    from bot.callbacks import AfterBoosterChoice

    t = ctx.t
    payload = ctx.delivery.payload or {}
    cohort_id = int(payload.get("cohort_id", 0))
    if payload.get("what") == "alumni":
        return await render_alumni(ctx, cohort_id)
    enrolled = await ctx.session.scalar(
        select(Enrolment.id).where(
            Enrolment.member_id == ctx.member.id,
            Enrolment.cohort_id == cohort_id,
            Enrolment.left_at.is_(None),
        )
    )
    if enrolled is None:
        return Skip("member left the cohort")
    programme = programme_of(ctx.settings, ctx.content)
    times = await cohort_times(ctx.session, cohort_id, ctx.now, programme)
    if payload.get("what") == "start":
        if times is None or times.phase is not Phase.BOOSTER or times.booster_end is None:
            return Skip("the booster phase is not on")
        text = "\n".join(
            [
                t("🌱 <b>Les séances sont terminées, le groupe continue !</b>"),
                "",
                t(
                    "Jusqu'au {date}, je reste à vos côtés par message : une astuce par "
                    "semaine, le suivi de vos objectifs en cours, et chaque mois des nouvelles "
                    "de votre trio.",
                    date=t.date(times.booster_end, "long"),
                ),
                t("Ce qui dure, ce sont les gens : un petit mot à votre trio fait du bien."),
            ]
        )
        return Rendered(text=text)
    if times is None or times.phase is not Phase.AFTER:
        return Skip("the booster phase is not over")
    summary = await farewell_summary(ctx.session, ctx.member.id, cohort_id)
    lines = [
        t("👋 <b>Merci, {name} !</b>", name=ctx.member.first_name),
        "",
        t("Le programme se termine ici. Votre parcours :"),
        t.plural(
            "🎯 {n} objectif atteint",
            "🎯 {n} objectifs atteints",
            summary.objectives_reached,
        ),
        t.plural(
            "📅 {n} séance suivie",
            "📅 {n} séances suivies",
            summary.sessions_attended,
        ),
    ]
    if summary.practices is not None:
        lines.append(
            t(
                "✅ Bonnes pratiques adoptées : {before} → {now}",
                before=summary.practices[0],
                now=summary.practices[1],
            )
        )
    if summary.customers is not None:
        lines.append(
            t(
                "🙋 Clients venus grâce à la page, par mois : {before} → {now}",
                before=summary.customers[0],
                now=summary.customers[1],
            )
        )
    if summary.practices is not None:
        lines.append(t("Votre courbe complète : /progres"))
    lines += [
        "",
        t(
            "Pour garder le contact : un point par mois, ou plus rien du tout. "
            "Vous pourrez changer d'avis dans /reglages."
        ),
    ]
    buttons = [
        [
            Button(
                t("📆 Garder un point mensuel"),
                callback_data=AfterBoosterChoice(AfterBooster.MONTHLY.value).pack(),
            )
        ],
        [
            Button(
                t("🛑 Tout arrêter"),
                callback_data=AfterBoosterChoice(AfterBooster.STOP.value).pack(),
            )
        ],
    ]
    return Rendered(text="\n".join(lines), buttons=buttons)


async def invite_alumni(
    session: AsyncSession, from_cohort_id: int, to_cohort_id: int, now: datetime
) -> int:
    """Invite the merchants of an earlier cohort to a new one, as guests (outbox; the message
    carries the new cohort's join link). Those who chose to stop everything are left alone.
    Returns how many were invited."""
    from bot.delivery.outbox import enqueue

    rows = await session.scalars(
        select(Member.id)
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(
            Enrolment.cohort_id == from_cohort_id,
            Member.onboarded_at.is_not(None),
            Member.chat_id.is_not(None),
            Member.after_booster.is_distinct_from(AfterBooster.STOP.value),
        )
        .order_by(Member.id)
    )
    key = _key("alumni", to_cohort_id)
    return await enqueue(
        session,
        [
            Planned(
                member_id=member_id,
                kind=BOOSTER_KIND,
                dedup_key=key,
                due_at=now,
                payload={"what": "alumni", "cohort_id": to_cohort_id, "from": from_cohort_id},
            )
            for member_id in rows
        ],
    )


async def render_alumni(ctx: RenderContext, cohort_id: int) -> Rendered | Skip:
    from bot.services.cohorts import JOIN_PREFIX

    cohort = await ctx.session.get(Cohort, cohort_id)
    if cohort is None or cohort.archived_at is not None:
        return Skip("the new cohort is gone")
    t = ctx.t
    text = "\n".join(
        [
            t(
                "🎓 <b>Un nouveau groupe commence : {name}</b> ({commune})",
                name=cohort.name,
                commune=cohort.commune,
            ),
            "",
            t(
                "Vous êtes invité en ancien du programme : votre expérience aidera les "
                "nouveaux. Rejoignez-le en un geste, si le cœur vous en dit."
            ),
        ]
    )
    link = f"https://t.me/{ctx.bot_username}?start={JOIN_PREFIX}{cohort.join_code}"
    return Rendered(text=text, buttons=[[Button(t("👋 Rejoindre le groupe"), url=link)]])


async def start_monthly_challenges(
    session: AsyncSession, window: PlanWindow, content: ContentLibrary, sessions: int | None
) -> list[int]:
    """One library challenge a month for each cohort in its booster phase: on the first tick of
    a month (the cohort's zone) with no challenge yet, one the cohort has not had is created and
    reaches each member at their tip time (bot/services/challenges.py). A challenge the trainer
    set that month counts as the month's. Returns the ids of the cohorts served (for tests)."""
    from zoneinfo import ZoneInfo

    from bot.models import Challenge
    from bot.services import challenges

    months = window.settings.booster_months
    rows = await session.execute(
        select(Cohort.id, end_expression(sessions), Cohort.booster_until, Cohort.timezone).where(
            Cohort.archived_at.is_(None)
        )
    )
    served: list[int] = []
    for cohort_id, raw_end, until, zone in rows:
        if phase_at(aware(raw_end), until, window.now, months) is not Phase.BOOSTER:
            continue
        local = window.now.astimezone(ZoneInfo(zone))
        month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        already = await session.scalar(
            select(func.count(Challenge.id)).where(
                Challenge.cohort_id == cohort_id, Challenge.created_at >= month_start
            )
        )
        if already:
            continue
        created = await challenges.start_library_challenge(
            session, cohort_id, window.now, library=content, settings=window.settings
        )
        if created is not None:
            served.append(cohort_id)
    return served


# The booster's planners read every open cohort's end (a subquery per cohort): the cost grows
# with the number of cohorts (bench/planner.py: ~190 ms a tick at 5,000 cohorts). What they plan
# is a message a day after the sessions end and a challenge a month, so they look every
# PLAN_EVERY rather than at every tick; this is how late they may be at worst.
PLAN_EVERY = timedelta(minutes=10)


class _Every:
    """True at the first call and then once `every` has passed (or the clock went back)."""

    def __init__(self, every: timedelta) -> None:
        self.every = every
        self.last: datetime | None = None

    def __call__(self, now: datetime) -> bool:
        if self.last is not None and self.last <= now < self.last + self.every:
            return False
        self.last = now
        return True


def register_deliveries(registry: DeliveryRegistry, content: ContentLibrary) -> None:
    sessions = programme_of_content(content)
    plan_now, challenge_now = _Every(PLAN_EVERY), _Every(PLAN_EVERY)

    async def plan(session: AsyncSession, window: PlanWindow) -> list[Planned]:
        if not plan_now(window.now):
            return []
        return await plan_booster(session, window, sessions)

    async def monthly_challenge(session: AsyncSession, window: PlanWindow) -> list[Planned]:
        if not challenge_now(window.now):
            return []
        # The challenge plans its own deliveries (at each member's tip time) when created.
        await start_monthly_challenges(session, window, content, sessions)
        return []

    registry.add_planner("booster", plan)
    registry.add_planner("booster_challenges", monthly_challenge)
    registry.add_renderer(BOOSTER_KIND, render_booster)


# -- the member's choices (/reglages) -----------------------------------------------------------


@dataclass(frozen=True)
class MemberChoices:
    share_with_trio: bool
    after_booster: str | None
    phase: Phase


async def member_choices(
    session: AsyncSession, member_id: int, now: datetime, programme: Programme
) -> MemberChoices | None:
    member = await session.get(Member, member_id)
    if member is None:
        return None
    phase = Phase.SESSIONS
    if member.active_cohort_id is not None:
        phase = await cohort_phase(session, member.active_cohort_id, now, programme)
    return MemberChoices(member.share_with_trio, member.after_booster, phase)


async def set_share_with_trio(session: AsyncSession, member_id: int, share: bool) -> bool:
    member = await session.get(Member, member_id)
    if member is None:
        return False
    member.share_with_trio = share
    return True


async def set_after_booster(session: AsyncSession, member_id: int, choice: str) -> bool:
    """Keep the monthly check, or stop everything (a pause: nothing scheduled is sent)."""
    from bot.services import due_times

    member = await session.get(Member, member_id)
    if member is None or choice not in {c.value for c in AfterBooster}:
        return False
    member.after_booster = choice
    member.paused = choice == AfterBooster.STOP.value
    await due_times.rhythm_changed(session, member)
    return True
