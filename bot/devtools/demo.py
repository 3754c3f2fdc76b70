"""A demo cohort with a believable past, for `relais try` and the guides' transcripts.

A dozen merchants of varied sectors in four peer trios, three past sessions with growing
attendance, one session to come, objectives in every state, three months of progress checks
(a baseline, then two monthly answers, one month skipped by one merchant), and this week's
challenge with a few answers, so that /stats, /groupe, /presences, /progres, /bilan and /defi
show something real at once. Written with the models directly: it is data, not a flow.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.models import (
    Attendance,
    AttendanceMethod,
    Challenge,
    ChallengeSubmission,
    CheckinAnswer,
    Cohort,
    Delivery,
    DeliveryStatus,
    Enrolment,
    MeasureKind,
    Member,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
    Observation,
    ObservationSource,
    Role,
    Rsvp,
    RsvpAnswer,
    StaffRole,
    TrainingSession,
)

# Telegram ids of the demo people (far from real ones; the sandbox knows them).
DEMO_ID_BASE = 900_000

MERCHANTS: tuple[tuple[str, str, str], ...] = (
    ("Sophie", "Salon Sophie", "beauty"),
    ("Julien", "Menuiserie Vandenberghe", "crafts"),
    ("Claire", "Librairie La Page", "books"),
    ("Thomas", "Studio Lumière", "photo"),
    ("Isabelle", "Gîte du Moulin", "lodging"),
    ("Nadia", "Boulangerie du Centre", "food"),
    ("Luc", "Café de la Place", "horeca"),
    ("Emma", "Boutique Émeraude", "clothing"),
    ("Karim", "Coiffure K", "beauty"),
    ("Anne", "Gîte des Prés", "lodging"),
    ("Pierre", "Boucherie Pierre", "food"),
    ("Julie", "Fleurs de Julie", "other"),
)
PAST_THEMES = (
    ("objectives", "Fixer ses objectifs et soigner sa page"),
    ("photos", "Des photos qui donnent envie"),
    ("short_videos", "La vidéo courte avec son téléphone"),
)
BLOCKERS = {
    "short_videos": "Je n'ose pas me filmer.",
    "posting_rhythm": "Le matin, je n'ai pas une minute avant l'ouverture.",
}
# How many of the merchants came to each past session: attendance grows.
PRESENT = (5, 8, 11)


@dataclass(frozen=True)
class Demo:
    cohort_id: int
    join_code: str
    merchant_telegram_ids: tuple[int, ...]
    trainer_telegram_id: int


def _evening(now: datetime, zone: ZoneInfo, days: int) -> datetime:
    day = (now.astimezone(zone) + timedelta(days=days)).date()
    return datetime.combine(day, time(19, 0), tzinfo=zone)


async def seed_demo(session: AsyncSession, settings: Settings, now: datetime) -> Demo:
    zone = ZoneInfo(settings.timezone)
    cohort = Cohort(
        name="Commerçants connectés (démo)",
        commune="Estaimpuis",
        timezone=settings.timezone,
        language=settings.default_language,
        join_code="DEMO" + secrets.token_hex(2).upper(),
        created_at=now - timedelta(days=30),
    )
    session.add(cohort)
    await session.flush()

    def person(offset: int, first_name: str, business: str | None, sector: str | None) -> Member:
        return Member(
            telegram_user_id=DEMO_ID_BASE + offset,
            chat_id=DEMO_ID_BASE + offset,
            first_name=first_name,
            business_name=business,
            sector=sector,
            commune="Estaimpuis",
            language=settings.default_language,
            tip_days=",".join(settings.tip_days),
            tip_time=settings.tip_time_value,
            consent_at=now - timedelta(days=28),
            onboarded_at=now - timedelta(days=28),
            active_cohort_id=cohort.id,
            created_at=now - timedelta(days=28),
            last_seen_at=now - timedelta(days=2),
        )

    trainer = person(100, "Martine", None, None)
    session.add(trainer)
    merchants = [person(i + 1, *data) for i, data in enumerate(MERCHANTS)]
    session.add_all(merchants)
    await session.flush()
    session.add(StaffRole(cohort_id=cohort.id, member_id=trainer.id, role=Role.TRAINER.value))
    for merchant in merchants:
        session.add(Enrolment(cohort_id=cohort.id, member_id=merchant.id, joined_at=now))

    sessions: list[TrainingSession] = []
    for number, ((code, theme), days) in enumerate(
        zip(PAST_THEMES, (-21, -14, -7), strict=True), 1
    ):
        starts = _evening(now, zone, days)
        sessions.append(
            TrainingSession(
                cohort_id=cohort.id,
                number=number,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                place="Salle du Conseil, Estaimpuis",
                theme=theme,
                theme_code=code,
                checkin_token=secrets.token_urlsafe(12),
                summary="Chacun repart avec une action pour la semaine.",
                created_by_id=trainer.id,
                created_at=now - timedelta(days=29),
                updated_at=now - timedelta(days=29),
            )
        )
    upcoming = _evening(now, zone, 6)
    sessions.append(
        TrainingSession(
            cohort_id=cohort.id,
            number=4,
            starts_at=upcoming,
            ends_at=upcoming + timedelta(hours=2),
            place="Salle du Conseil, Estaimpuis",
            theme="Le live avec ses clients",
            theme_code="live",
            capacity=20,
            checkin_token=secrets.token_urlsafe(12),
            created_by_id=trainer.id,
            created_at=now - timedelta(days=6),
            updated_at=now - timedelta(days=6),
        )
    )
    session.add_all(sessions)
    await session.flush()

    for past, present in zip(sessions[:3], PRESENT, strict=True):
        answered = past.starts_at - timedelta(days=2)
        for index, merchant in enumerate(merchants):
            came = index < present
            said_yes = index < present + 2  # two no-shows each time
            if said_yes or index % 3 == 0:
                answer = RsvpAnswer.YES if said_yes else RsvpAnswer.NO
                session.add(
                    Rsvp(
                        session_id=past.id,
                        member_id=merchant.id,
                        answer=answer.value,
                        answered_at=answered,
                        updated_at=answered,
                    )
                )
            if came:
                method = AttendanceMethod.QR if index % 4 else AttendanceMethod.ROLL_CALL
                session.add(
                    Attendance(
                        session_id=past.id,
                        member_id=merchant.id,
                        method=method.value,
                        recorded_at=past.starts_at + timedelta(minutes=5),
                        recorded_by_id=None if method is AttendanceMethod.QR else trainer.id,
                    )
                )
    for merchant in merchants[:7]:
        session.add(
            Rsvp(
                session_id=sessions[3].id,
                member_id=merchant.id,
                answer=RsvpAnswer.YES.value,
                answered_at=now - timedelta(days=1),
                updated_at=now - timedelta(days=1),
            )
        )

    due = upcoming.astimezone(zone).date()
    objectives: list[tuple[int, str, str, str, int | None, str | None]] = [
        (0, "Prendre les rendez-vous par ma page", "appointments_messages", "active", 3, "doing"),
        (1, "Publier une vidéo avant/après d'un chantier", "short_videos", "active", None, "stuck"),
        (2, "Présenter un coup de cœur en photo chaque semaine", "photos", "done", None, "done"),
        (3, "Faire un live pendant une séance photo", "live", "active", None, None),
        (4, "Répondre à chaque avis dans les 48 h", "comments_reviews", "active", None, "doing"),
        (5, "Publier deux fois par semaine", "posting_rhythm", "not_reached", 2, "doing"),
        (6, "Annoncer le plat du jour chaque matin", "posting_rhythm", "active", 5, "stuck"),
        (7, "Obtenir 5 nouveaux avis Google", "getting_reviews", "done", None, "done"),
        (8, "Publier une photo avant/après par semaine", "photos", "active", 1, "doing"),
    ]
    for index, text, theme, status, target, last in objectives:
        merchant = merchants[index]
        objective = Objective(
            member_id=merchant.id,
            cohort_id=cohort.id,
            text=text,
            theme=theme,
            measure_kind=(MeasureKind.COUNT if target else MeasureKind.BINARY).value,
            target_per_week=target,
            due_on=due if status == "active" else due - timedelta(days=14),
            status=ObjectiveStatus(status).value,
            created_at=now - timedelta(days=13),
            closed_at=now - timedelta(days=1) if status != "active" else None,
        )
        session.add(objective)
        await session.flush()
        if last is not None:
            asked = now - timedelta(days=3)
            session.add(
                ObjectiveCheckin(
                    objective_id=objective.id,
                    asked_at=asked,
                    answered_at=asked + timedelta(hours=2),
                    answer=CheckinAnswer(last).value,
                    number=target - 1 if target and last == "doing" else None,
                    blocker=BLOCKERS.get(theme) if last == "stuck" else None,
                    flagged=last == "stuck",
                )
            )
    _seed_progress(session, merchants, cohort.id, now, zone)
    # Peer trios, formed by the rule of /trios and confirmed a week ago (bot/services/trios.py).
    from bot.models import Trio, TrioMembership
    from bot.services.trios import Candidate, form_groups

    candidates = [Candidate(m.id, m.sector, m.commune) for m in merchants]
    for number, group in enumerate(form_groups(candidates, settings.trio_size), 1):
        formed = now - timedelta(days=7)
        trio = Trio(cohort_id=cohort.id, number=number, created_at=formed, confirmed_at=formed)
        trio.memberships = [
            TrioMembership(member_id=person.member_id, joined_at=formed) for person in group
        ]
        session.add(trio)
    await session.flush()
    await _seed_challenge(session, cohort, trainer, merchants, now, upcoming)
    return Demo(
        cohort_id=cohort.id,
        join_code=cohort.join_code,
        merchant_telegram_ids=tuple(m.telegram_user_id or 0 for m in merchants),
        trainer_telegram_id=DEMO_ID_BASE + 100,
    )


# The practices of content/practices.yaml in their order (the demo's answers).
DEMO_PRACTICES = (
    "weekly_post",
    "real_photos",
    "answers_48h",
    "asks_reviews",
    "google_profile",
    "short_video",
    "plans_ahead",
    "reads_statistics",
    "gone_live",
    "local_partner",
)


def _month_back(now: datetime, zone: ZoneInfo, months: int) -> tuple[str, datetime]:
    """("YYYY-MM", the 5th of that month at 10:00, or now if sooner) `months` months ago."""
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1 - months
    year, month = index // 12, index % 12 + 1
    moment = min(datetime(year, month, 5, 10, 0, tzinfo=zone), now)
    return f"{year:04d}-{month:02d}", moment


def _seed_progress(
    session: AsyncSession, merchants: list[Member], cohort_id: int, now: datetime, zone: ZoneInfo
) -> None:
    """Three months of progress checks: numbers that grow, practices adopted one by one."""
    for index, merchant in enumerate(merchants):
        followers = 60 + 37 * index
        customers = 1 + index % 4
        adopted = 1 + index % 4
        for step, months in enumerate((2, 1, 0)):
            if index == 10 and months == 1:
                continue  # one merchant skipped a month: a gap in their curve, not a zero
            period, moment = _month_back(now, zone, months)
            source = ObservationSource.BASELINE if step == 0 else ObservationSource.MONTHLY
            numbers = {
                "followers": int(followers * (1 + 0.18 * step)),
                "posts_7d": min(1 + step + index % 2, 7),
                "customers_month": customers + 3 * step,
            }
            practices = {
                f"practice:{practice}": int(position < adopted + step)
                for position, practice in enumerate(DEMO_PRACTICES)
                # A practice adopted earlier is not asked again.
                if step == 0 or position >= adopted + step - 1
            }
            for metric, value in {**numbers, **practices}.items():
                session.add(
                    Observation(
                        member_id=merchant.id,
                        cohort_id=cohort_id,
                        metric=metric,
                        value=value,
                        source=source.value,
                        period=period,
                        observed_at=moment,
                    )
                )


# This week's challenge (the last session's theme, short videos) and how some answered:
# (merchant index, answer, link, consent). No photo: the demo's file ids would mean nothing
# to the Bot API of `relais try`.
CHALLENGE_ID = "video-01-vos-mains-au-travail"
ANSWERS: tuple[tuple[int, str, str | None, bool | None], ...] = (
    (0, "proof", "https://www.facebook.com/salonsophie/videos/20", True),
    (1, "done", None, True),
    (5, "done", None, False),
    (6, "skip", None, None),
)


async def _seed_challenge(
    session: AsyncSession,
    cohort: Cohort,
    trainer: Member,
    merchants: list[Member],
    now: datetime,
    upcoming: datetime,
) -> None:
    set_at = now - timedelta(days=5)
    challenge = Challenge(
        cohort_id=cohort.id,
        author_id=trainer.id,
        library_id=CHALLENGE_ID,
        title="20 secondes de vos mains",
        text="Filmez 20 secondes de vos mains au travail.",
        proof="photo",
        audience="all",
        timing="now",
        # The day after the coming session: it is still open all through the stories.
        deadline_at=upcoming + timedelta(days=1, hours=1),
        created_at=set_at,
        recipients=len(merchants),
        showcases=0,
    )
    session.add(challenge)
    await session.flush()
    for merchant in merchants:
        session.add(
            Delivery(
                member_id=merchant.id,
                kind="challenge",
                dedup_key=f"challenge:{challenge.id}",
                payload={"challenge_id": challenge.id},
                due_at=set_at,
                status=DeliveryStatus.SENT.value,
                attempts=1,
                sent_at=set_at,
                created_at=set_at,
            )
        )
    for index, answer, link, consent in ANSWERS:
        at = set_at + timedelta(days=1, hours=index)
        session.add(
            ChallengeSubmission(
                challenge_id=challenge.id,
                member_id=merchants[index].id,
                answer=answer,
                proof_kind="link" if link else None,
                link=link,
                current=True,
                submitted_at=at,
                consent=consent,
                consent_at=at if consent is not None else None,
            )
        )
