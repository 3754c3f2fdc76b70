"""Objectives: what a merchant sets for themself, and what the coaching loop knows of them.

The trainer's diagnosis is that merchants find social media time-consuming *because they
struggle to set themselves objectives*; this module holds the rules that help them state one
concrete objective (starting points by sector, a measure, a due date) and record their
check-in answers:

- at most `MAX_ACTIVE` active objectives per merchant and cohort;
- a check-in answer is done / doing / stuck (+ an optional number and blocker); "stuck" is
  flagged for the trainer; "done" closes the objective; an answer after the due date closes
  it as not reached (no blame) so that the merchant can carry it over;
- the streak is the number of consecutive weeks (in the cohort's zone) with an answer.

What the trainer and the coordinator see of them (`/groupe`, the digest, `/stats`) is in
bot/reports/. Longer than our ~600 lines on purpose: the life of one objective (starting
points, draft, answers, closing, carry-over, streak, the stuck tip) reads best in one place.

Plain data in, plain data out: no telegram import, no commit (the caller owns the unit of work).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.content import ContentLibrary, Tip
from bot.delivery.outbox import skip_pending
from bot.i18n import N_
from bot.models import (
    Challenge,
    ChallengeAnswer,
    ChallengeSubmission,
    CheckinAnswer,
    MeasureKind,
    Member,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
    TipReceipt,
    TrainingSession,
)
from bot.services import due_times, tips
from bot.services.validation import clean_text

MAX_ACTIVE = 3
# Without a session ahead, an objective is due this many days after it is set.
DEFAULT_DUE_DAYS = 14
# A session sooner than this is too close to be a due date (set the evening before it).
MIN_DUE_DAYS = 2
MAX_DUE_DAYS = 120
TEXT_MAX = 300
BLOCKER_MAX = 500
COUNT_MAX = 99
COUNT_CHOICES = (1, 2, 3, 5)
# A second tap within this delay corrects the previous answer instead of adding one.
CHANGE_WINDOW = timedelta(hours=12)
# A number added within this delay of the last check-in belongs to it.
NUMBER_WINDOW = timedelta(days=7)
ACTIVE = ObjectiveStatus.ACTIVE.value


# -- starting points ------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A starting point offered in the guided conversation (texts are French msgids)."""

    code: str
    sectors: tuple[str, ...]  # empty: for everyone
    theme: str  # a theme code of content/curriculum.yaml
    text: str
    measure: MeasureKind
    target: int | None = None


def _tpl(
    code: str,
    sectors: tuple[str, ...],
    theme: str,
    text: str,
    measure: MeasureKind,
    target: int | None = None,
) -> Template:
    return Template(code, sectors, theme, text, measure, target)


COUNT = MeasureKind.COUNT
BINARY = MeasureKind.BINARY
REVIEWS_48H = N_("Répondre à chaque avis en moins de 48 h")

TEMPLATES: tuple[Template, ...] = (
    # beauty (hairdresser, beautician)
    _tpl("beauty_booking", ("beauty",), "appointments_messages",
         N_("Prendre des rendez-vous via ma page"), COUNT, 3),
    _tpl("beauty_before_after", ("beauty",), "photos",
         N_("Publier une photo avant/après d'une prestation"), COUNT, 2),
    _tpl("beauty_reviews", ("beauty",), "getting_reviews",
         N_("Demander un avis Google à mes clientes satisfaites"), COUNT, 3),
    _tpl("beauty_story", ("beauty",), "short_videos",
         N_("Montrer les coulisses du salon en story"), COUNT, 2),
    # food shops
    _tpl("food_daily", ("food",), "posting_rhythm",
         N_("Publier l'arrivage ou le produit du jour"), COUNT, 3),
    _tpl("food_video", ("food",), "short_videos",
         N_("Filmer une courte vidéo de préparation"), COUNT, 1),
    _tpl("food_google", ("food",), "local_visibility",
         N_("Mettre à jour ma fiche Google (horaires, photos)"), BINARY),
    _tpl("reviews_48h", ("food", "lodging", "horeca"), "comments_reviews", REVIEWS_48H, BINARY),
    # bookshops and gifts
    _tpl("books_pick", ("books",), "posting_rhythm",
         N_("Présenter un coup de cœur chaque semaine"), COUNT, 1),
    _tpl("books_event", ("books",), "local_visibility",
         N_("Annoncer une rencontre ou un événement en boutique"), BINARY),
    _tpl("books_live", ("books",), "live",
         N_("Faire un direct pour présenter les nouveautés"), BINARY),
    # clothing
    _tpl("clothing_outfit", ("clothing",), "photos",
         N_("Publier une tenue portée avec les nouveautés"), COUNT, 2),
    _tpl("clothing_video", ("clothing",), "short_videos",
         N_("Tourner une courte vidéo d'essayage"), COUNT, 1),
    _tpl("clothing_messages", ("clothing",), "appointments_messages",
         N_("Répondre aux messages de la page le jour même"), BINARY),
    # crafts and building trades
    _tpl("crafts_before_after", ("crafts",), "short_videos",
         N_("Publier une vidéo avant/après d'un chantier"), COUNT, 1),
    _tpl("crafts_reviews", ("crafts",), "getting_reviews",
         N_("Demander un avis à chaque client satisfait"), COUNT, 2),
    _tpl("crafts_page", ("crafts",), "local_visibility",
         N_("Compléter ma page : services, zone, photos de réalisations"), BINARY),
    # photographers
    _tpl("photo_story", ("photo",), "posting_rhythm",
         N_("Publier une réalisation avec son histoire"), COUNT, 2),
    _tpl("photo_booking", ("photo",), "appointments_messages",
         N_("Recevoir des demandes de séance via ma page"), COUNT, 2),
    _tpl("photo_partner", ("photo",), "local_partners",
         N_("Proposer un partenariat à un commerce voisin"), BINARY),
    # holiday lodging and tourism
    _tpl("lodging_photos", ("lodging",), "photos",
         N_("Renouveler les photos de mon hébergement"), BINARY),
    _tpl("lodging_region", ("lodging",), "local_visibility",
         N_("Publier un bon plan de la région pour mes futurs hôtes"), COUNT, 1),
    _tpl("lodging_direct", ("lodging",), "appointments_messages",
         N_("Recevoir des réservations directes via ma page"), COUNT, 1),
    # restaurants and cafés
    _tpl("horeca_menu", ("horeca",), "posting_rhythm",
         N_("Publier le plat ou le menu de la semaine"), COUNT, 1),
    _tpl("horeca_video", ("horeca",), "short_videos",
         N_("Filmer une courte vidéo en cuisine ou au comptoir"), COUNT, 1),
    # for everyone
    _tpl("all_regular", (), "posting_rhythm", N_("Publier régulièrement sur ma page"), COUNT, 2),
    _tpl("all_reviews", (), "getting_reviews",
         N_("Demander des avis à mes clients satisfaits"), COUNT, 2),
    _tpl("all_stats", (), "page_statistics",
         N_("Regarder les statistiques de ma page chaque semaine"), BINARY),
    _tpl("all_slot", (), "time_protection",
         N_("Bloquer un créneau fixe par semaine pour ma page"), BINARY),
)  # fmt: skip
_BY_CODE = {template.code: template for template in TEMPLATES}
# How many generic starting points follow the sector's own.
GENERIC_OFFERED = 2


def templates_for(sector: str | None) -> list[Template]:
    """The starting points for a sector: its own first, then a few for everyone."""
    own = [tpl for tpl in TEMPLATES if sector and sector in tpl.sectors]
    generic = [tpl for tpl in TEMPLATES if not tpl.sectors]
    return own + generic[: max(GENERIC_OFFERED, 4 - len(own))]


def template_by_code(code: str) -> Template | None:
    return _BY_CODE.get(code)


# Words that reveal the theme of an objective written freely (fr, nl, en), most specific first.
_THEME_WORDS: tuple[tuple[str, str], ...] = (
    ("comments_reviews", r"répond\w* .*avis|avis négati|reageren|beantwoord|reply|answer"),
    ("getting_reviews", r"\bavis\b|review|recensie|beoordel|étoile|\bsterren\b"),
    ("short_videos", r"vid[ée]o|reel|story|stories|tiktok|film"),
    ("live", r"\blive\b|en direct|livestream"),
    ("photos", r"photo|foto|image|beeld|picture"),
    ("appointments_messages", r"rendez|réserv|afspra|reserv|booking|message|bericht"),
    ("local_visibility", r"google|fiche|événement|evenement|event|agenda|carte|kaart|map"),
    ("page_statistics", r"statisti|chiffre|cijfer|insight"),
    ("local_partners", r"partena|voisin|partner|buur|samenwerk|collab"),
    ("time_protection", r"temps|tijd|time|créneau|planning|agenda"),
    ("posting_rhythm", r"publi|post|partag|deel|share|page|pagina"),
)


def guess_theme(text: str) -> str:
    """The theme of a free-text objective (for the tip offered when stuck)."""
    lowered = text.lower()
    for theme, pattern in _THEME_WORDS:
        if re.search(pattern, lowered):
            return theme
    return "objectives"


# -- drafts and creation ------------------------------------------------------------------


class ObjectiveError(Exception):
    """An objective cannot be created or changed as asked."""


class TooManyActive(ObjectiveError):
    """The merchant already has MAX_ACTIVE active objectives (one must be closed first)."""

    def __init__(self, active: Sequence[Objective]) -> None:
        super().__init__(f"{len(active)} active objectives")
        self.active = list(active)


class InvalidDraft(ObjectiveError):
    """Something in the draft is missing or out of range (`field` says which)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class Draft:
    """What the guided conversation gathered (plain data, kept in user_data as a dict)."""

    text: str
    measure_kind: MeasureKind
    due_on: date
    target_per_week: int | None = None
    theme: str | None = None
    template_code: str | None = None


def clean_objective_text(value: str) -> str:
    """Raises bot.services.validation.InvalidValue when empty or too long."""
    return clean_text(value, max_length=TEXT_MAX)


def parse_count(value: str) -> int | None:
    """A weekly number typed by the merchant ("3", " 12 "), or None."""
    text = value.strip()
    if not text.isdigit() or len(text) > 3:
        return None
    number = int(text)
    return number if 1 <= number <= COUNT_MAX else None


def parse_reported_number(value: str) -> int | None:
    """A number reported at a check-in (0 allowed), or None."""
    text = value.strip()
    if not text.isdigit() or len(text) > 4:
        return None
    number = int(text)
    return number if 0 <= number <= 999 else None


def validate_draft(draft: Draft, today: date) -> Draft:
    try:
        text = clean_objective_text(draft.text)
    except ValueError as exc:
        raise InvalidDraft("text") from exc
    if draft.measure_kind is MeasureKind.COUNT:
        if draft.target_per_week is None or not 1 <= draft.target_per_week <= COUNT_MAX:
            raise InvalidDraft("target")
        target: int | None = draft.target_per_week
    else:
        target = None
    if not today < draft.due_on <= today + timedelta(days=MAX_DUE_DAYS):
        raise InvalidDraft("due")
    theme = draft.theme or guess_theme(text)
    return Draft(text, draft.measure_kind, draft.due_on, target, theme, draft.template_code)


async def active_objectives(
    session: AsyncSession, member_id: int, cohort_id: int
) -> list[Objective]:
    rows = await session.scalars(
        select(Objective)
        .where(
            Objective.member_id == member_id,
            Objective.cohort_id == cohort_id,
            Objective.status == ACTIVE,
        )
        .order_by(Objective.created_at, Objective.id)
    )
    return list(rows.all())


async def create_objective(
    session: AsyncSession,
    *,
    member_id: int,
    cohort_id: int,
    draft: Draft,
    now: datetime,
    zone: tzinfo,
    carried_from_id: int | None = None,
) -> Objective:
    """Store a new active objective. Raises TooManyActive or InvalidDraft."""
    clean = validate_draft(draft, now.astimezone(zone).date())
    active = await active_objectives(session, member_id, cohort_id)
    if len(active) >= MAX_ACTIVE:
        raise TooManyActive(active)
    objective = Objective(
        member_id=member_id,
        cohort_id=cohort_id,
        text=clean.text,
        theme=clean.theme,
        template_code=clean.template_code,
        measure_kind=clean.measure_kind.value,
        target_per_week=clean.target_per_week,
        due_on=clean.due_on,
        status=ACTIVE,
        carried_from_id=carried_from_id,
        created_at=now,
    )
    session.add(objective)
    await session.flush()
    return objective


async def owned_objective(
    session: AsyncSession, objective_id: int, member_id: int | None, cohort_id: int | None
) -> Objective | None:
    """The objective if it is this member's in this cohort (callback data is untrusted)."""
    if member_id is None or cohort_id is None:
        return None
    objective = await session.get(Objective, objective_id)
    if objective is None or objective.member_id != member_id or objective.cohort_id != cohort_id:
        return None
    return objective


def checkin_prefix(objective_id: int) -> str:
    """The dedup_key prefix of every delivery about one objective (see bot/services/checkins)."""
    return f"checkin:{objective_id}:"


async def _finish(
    session: AsyncSession, objective: Objective, status: ObjectiveStatus, now: datetime
) -> None:
    objective.status = status.value
    objective.closed_at = now
    # Nothing more to ask about it: drop what was planned and not sent yet.
    await skip_pending(
        session,
        reason=f"objective {status.value}",
        member_id=objective.member_id,
        dedup_prefix=checkin_prefix(objective.id),
    )


async def close_objective(session: AsyncSession, objective: Objective, now: datetime) -> bool:
    """Close an active objective at the merchant's request (to make room, or abandoned)."""
    if objective.status != ACTIVE:
        return False
    await _finish(session, objective, ObjectiveStatus.CLOSED, now)
    return True


# -- due dates ----------------------------------------------------------------------------


class DueKind(StrEnum):
    SESSION = "session"  # the date of a coming session
    WEEKS = "weeks"  # in n weeks


@dataclass(frozen=True)
class DueChoice:
    day: date
    kind: DueKind
    # The session's number, or the number of weeks.
    number: int


async def due_choices(
    session: AsyncSession, cohort_id: int, now: datetime, zone: tzinfo
) -> list[DueChoice]:
    """The due dates offered, the default first: the next session, else in two weeks."""
    today = now.astimezone(zone).date()
    sessions = await session.scalars(
        select(TrainingSession)
        .where(
            TrainingSession.cohort_id == cohort_id,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.starts_at > now,
        )
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .limit(4)
    )
    earliest = today + timedelta(days=MIN_DUE_DAYS)
    latest = today + timedelta(days=MAX_DUE_DAYS)
    choices: list[DueChoice] = [
        DueChoice(ts.starts_at.astimezone(zone).date(), DueKind.SESSION, ts.number)
        for ts in sessions
        if earliest <= ts.starts_at.astimezone(zone).date() <= latest
    ][:2]
    default = choices[:1] or [DueChoice(today + timedelta(days=DEFAULT_DUE_DAYS), DueKind.WEEKS, 2)]
    others = [*choices[1:]] + [
        DueChoice(today + timedelta(weeks=weeks), DueKind.WEEKS, weeks) for weeks in (1, 2, 4)
    ]
    seen = {default[0].day}
    result = list(default)
    for choice in sorted(others, key=lambda c: c.day):
        if choice.day not in seen:
            seen.add(choice.day)
            result.append(choice)
    return result


async def default_due_date(
    session: AsyncSession, cohort_id: int, now: datetime, zone: tzinfo
) -> date:
    return (await due_choices(session, cohort_id, now, zone))[0].day


_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?:\s*[/.\-]\s*(\d{2}|\d{4}))?\s*$")
_ISO = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")


def parse_due(text: str, today: date) -> date | None:
    """A typed due date ("9/12", "09/12/2026", "2026-12-09") within the allowed range."""
    iso = _ISO.match(text)
    match = _DATE.match(text)
    try:
        if iso:
            day = date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        elif match:
            year_text = match.group(3)
            year = today.year if year_text is None else int(year_text)
            if year < 100:
                year += 2000
            day = date(year, int(match.group(2)), int(match.group(1)))
            if year_text is None and day <= today:
                day = date(year + 1, day.month, day.day)
        else:
            return None
    except ValueError:
        return None
    if not today < day <= today + timedelta(days=MAX_DUE_DAYS):
        return None
    return day


def parse_due_code(code: str, today: date) -> date | None:
    """A due date from callback data (`YYYYMMDD`, untrusted) within the allowed range."""
    if len(code) != 8 or not code.isdigit():
        return None
    try:
        day = date(int(code[:4]), int(code[4:6]), int(code[6:]))
    except ValueError:
        return None
    if not today < day <= today + timedelta(days=MAX_DUE_DAYS):
        return None
    return day


# -- check-in answers ---------------------------------------------------------------------


@dataclass(frozen=True)
class CheckinOutcome:
    """What an answer changed, for the reply (congratulation, blocker question, carry-over)."""

    objective_id: int
    text: str
    status: ObjectiveStatus
    changed: bool  # False: the objective was no longer active, nothing was recorded
    answer: CheckinAnswer | None = None
    checkin_id: int | None = None
    number: int | None = None
    target: int | None = None
    measure_kind: MeasureKind = MeasureKind.BINARY
    theme: str | None = None
    # The due date had passed: the objective is now "not reached" and may be carried over.
    overdue: bool = False
    # Objectives done and the weekly streak: filled for a "done" answer of `answer_checkin`
    # (its reply shows them) and the streak for `record_number`; 0 otherwise.
    done_count: int = 0
    streak: int = 0


_NEVER = datetime.min.replace(tzinfo=UTC)


def event_time(row: ObjectiveCheckin) -> datetime:
    """When a check-in happened: asked, or answered for a spontaneous report."""
    return row.asked_at or row.answered_at or _NEVER


def _pick_row(objective: Objective, now: datetime) -> ObjectiveCheckin | None:
    """The check-in an answer belongs to: the latest unanswered question, else the answer
    given a moment ago (a correction), else None (a new, spontaneous report)."""
    rows = sorted(objective.checkins, key=lambda row: (event_time(row), row.id))
    for row in reversed(rows):
        if row.asked_at is not None and row.answered_at is None:
            return row
    if rows and rows[-1].answered_at is not None and now - rows[-1].answered_at < CHANGE_WINDOW:
        return rows[-1]
    return None


async def _load_checkins(session: AsyncSession, objective: Objective) -> None:
    await session.refresh(objective, attribute_names=["checkins"])


async def answer_checkin(
    session: AsyncSession,
    objective: Objective,
    answer: CheckinAnswer,
    now: datetime,
    zone: tzinfo,
) -> CheckinOutcome:
    """Record done / doing / stuck on the objective's current check-in."""
    if objective.status != ACTIVE:
        return _outcome(objective, changed=False)
    await _load_checkins(session, objective)
    row = _pick_row(objective, now)
    if row is None:
        row = ObjectiveCheckin(objective_id=objective.id)
        session.add(row)
        objective.checkins.append(row)
    row.answer = answer.value
    row.answered_at = now
    row.flagged = answer is CheckinAnswer.STUCK
    if answer is not CheckinAnswer.STUCK:
        row.blocker = None
    overdue = now.astimezone(zone).date() > objective.due_on
    if answer is CheckinAnswer.DONE:
        await _finish(session, objective, ObjectiveStatus.DONE, now)
    elif overdue:
        # Past the due date and not done: "not reached", without blame; the reply offers
        # to carry it over.
        await _finish(session, objective, ObjectiveStatus.NOT_REACHED, now)
    await due_times.checkins_changed(session, objective.member_id)
    await session.flush()
    if answer is not CheckinAnswer.DONE:
        # Only "done" is answered with the counts: other answers skip their two queries.
        return _outcome(
            objective,
            changed=True,
            answer=answer,
            checkin_id=row.id,
            number=row.number,
            overdue=overdue,
        )
    return _outcome(
        objective,
        changed=True,
        answer=answer,
        checkin_id=row.id,
        number=row.number,
        done_count=await done_count(session, objective.member_id, objective.cohort_id),
        streak=await member_streak(session, objective.member_id, objective.cohort_id, now, zone),
    )


async def record_number(
    session: AsyncSession, objective: Objective, number: int, now: datetime, zone: tzinfo
) -> CheckinOutcome:
    """Add this week's number to the current check-in (an unanswered one counts as doing)."""
    if objective.status != ACTIVE or objective.measure_kind != MeasureKind.COUNT.value:
        return _outcome(objective, changed=False)
    await _load_checkins(session, objective)
    rows = sorted(objective.checkins, key=lambda row: (event_time(row), row.id))
    row = rows[-1] if rows and now - event_time(rows[-1]) < NUMBER_WINDOW else None
    if row is None:
        row = ObjectiveCheckin(objective_id=objective.id)
        session.add(row)
        objective.checkins.append(row)
    row.number = number
    if row.answer is None:
        row.answer = CheckinAnswer.DOING.value
        row.answered_at = now
    await due_times.checkins_changed(session, objective.member_id)
    await session.flush()
    answer = CheckinAnswer(row.answer)
    return _outcome(
        objective,
        changed=True,
        answer=answer,
        checkin_id=row.id,
        number=number,
        streak=await member_streak(session, objective.member_id, objective.cohort_id, now, zone),
    )


async def record_blocker(
    session: AsyncSession, objective: Objective, checkin_id: int, text: str
) -> bool:
    """Keep what blocks the merchant on their "stuck" answer (shown to the trainer).

    Raises bot.services.validation.InvalidValue when empty or too long.
    """
    blocker = clean_text(text, max_length=BLOCKER_MAX)
    row = await session.get(ObjectiveCheckin, checkin_id)
    if row is None or row.objective_id != objective.id or row.answer != CheckinAnswer.STUCK:
        return False
    row.blocker = blocker
    row.flagged = True
    return True


def _outcome(objective: Objective, *, changed: bool, **values: object) -> CheckinOutcome:
    return CheckinOutcome(
        objective_id=objective.id,
        text=objective.text,
        status=ObjectiveStatus(objective.status),
        changed=changed,
        target=objective.target_per_week,
        measure_kind=MeasureKind(objective.measure_kind),
        theme=objective.theme,
        **values,  # type: ignore[arg-type]
    )


async def done_count(session: AsyncSession, member_id: int, cohort_id: int | None) -> int:
    total = await session.scalar(
        select(func.count(Objective.id)).where(
            Objective.member_id == member_id,
            Objective.cohort_id == cohort_id,
            Objective.status == ObjectiveStatus.DONE.value,
        )
    )
    return int(total or 0)


class CarryResult(StrEnum):
    CARRIED = "carried"
    ALREADY = "already"  # carried over before (a second tap)
    NOT_ALLOWED = "not_allowed"  # still active, or done / closed
    TOO_MANY = "too_many"


async def carry_over(
    session: AsyncSession, objective: Objective, now: datetime, zone: tzinfo
) -> tuple[CarryResult, Objective | None]:
    """A not-reached objective starts again, due at the next default date."""
    existing = await session.scalar(
        select(Objective).where(Objective.carried_from_id == objective.id).limit(1)
    )
    if existing is not None:
        return CarryResult.ALREADY, existing
    if objective.status != ObjectiveStatus.NOT_REACHED.value or objective.cohort_id is None:
        return CarryResult.NOT_ALLOWED, None
    due_on = await default_due_date(session, objective.cohort_id, now, zone)
    draft = Draft(
        text=objective.text,
        measure_kind=MeasureKind(objective.measure_kind),
        due_on=due_on,
        target_per_week=objective.target_per_week,
        theme=objective.theme,
        template_code=objective.template_code,
    )
    try:
        carried = await create_objective(
            session,
            member_id=objective.member_id,
            cohort_id=objective.cohort_id,
            draft=draft,
            now=now,
            zone=zone,
            carried_from_id=objective.id,
        )
    except TooManyActive:
        return CarryResult.TOO_MANY, None
    return CarryResult.CARRIED, carried


async def resume_checkins(session: AsyncSession, member_id: int) -> bool:
    """Check-ins start again after the silence pause; False when they were not paused."""
    member = await session.get(Member, member_id)
    if member is None or not member.checkins_paused:
        return False
    member.checkins_paused = False
    await due_times.checkins_changed(session, member_id)
    return True


# -- streaks ------------------------------------------------------------------------------


def _week(day: date) -> date:
    """The Monday of the week of `day` (weeks as people count them in Belgium)."""
    return day - timedelta(days=day.weekday())


def weekly_streak(answered: Iterable[datetime], now: datetime, zone: tzinfo) -> int:
    """Consecutive weeks with at least one answer, up to this week.

    The current week without an answer (yet) does not break the streak: it still runs.
    """
    weeks = {_week(moment.astimezone(zone).date()) for moment in answered}
    if not weeks:
        return 0
    current = _week(now.astimezone(zone).date())
    if current not in weeks:
        current -= timedelta(weeks=1)
    streak = 0
    while current in weeks:
        streak += 1
        current -= timedelta(weeks=1)
    return streak


async def member_streak(
    session: AsyncSession, member_id: int, cohort_id: int | None, now: datetime, zone: tzinfo
) -> int:
    rows = await session.scalars(
        select(ObjectiveCheckin.answered_at)
        .join(Objective, Objective.id == ObjectiveCheckin.objective_id)
        .where(
            Objective.member_id == member_id,
            Objective.cohort_id == cohort_id,
            ObjectiveCheckin.answered_at.is_not(None),
            ObjectiveCheckin.answered_at > now - timedelta(days=400),
        )
    )
    answered = [moment for moment in rows.all() if moment is not None]
    # A challenge done (proof or "done") counts for the streak like a check-in answered.
    done = await session.scalars(
        select(ChallengeSubmission.submitted_at)
        .join(Challenge, Challenge.id == ChallengeSubmission.challenge_id)
        .where(
            ChallengeSubmission.member_id == member_id,
            Challenge.cohort_id == cohort_id,
            ChallengeSubmission.answer != ChallengeAnswer.SKIP.value,
            ChallengeSubmission.submitted_at > now - timedelta(days=400),
        )
    )
    return weekly_streak([*answered, *done.all()], now, zone)


# -- the merchant's own view (/objectifs) ---------------------------------------------------


@dataclass(frozen=True)
class CheckinView:
    at: datetime
    answer: CheckinAnswer
    number: int | None
    blocker: str | None


@dataclass(frozen=True)
class ObjectiveView:
    id: int
    text: str
    status: ObjectiveStatus
    measure_kind: MeasureKind
    target: int | None
    due_on: date
    created_at: datetime
    closed_at: datetime | None
    # Answered check-ins, newest first.
    checkins: tuple[CheckinView, ...]
    overdue: bool
    carried_over: bool

    @property
    def last_answer(self) -> CheckinAnswer | None:
        return self.checkins[0].answer if self.checkins else None


@dataclass(frozen=True)
class MyObjectives:
    active: tuple[ObjectiveView, ...]
    history: tuple[ObjectiveView, ...]
    streak: int
    done_count: int
    checkins_paused: bool


def _view(objective: Objective, today: date, carried: set[int]) -> ObjectiveView:
    answered = sorted(
        (row for row in objective.checkins if row.answered_at and row.answer),
        key=lambda row: (row.answered_at, row.id),
        reverse=True,
    )
    return ObjectiveView(
        id=objective.id,
        text=objective.text,
        status=ObjectiveStatus(objective.status),
        measure_kind=MeasureKind(objective.measure_kind),
        target=objective.target_per_week,
        due_on=objective.due_on,
        created_at=objective.created_at,
        closed_at=objective.closed_at,
        checkins=tuple(
            CheckinView(row.answered_at, CheckinAnswer(row.answer), row.number, row.blocker)
            for row in answered
            if row.answered_at is not None and row.answer is not None
        ),
        overdue=objective.status == ACTIVE and today > objective.due_on,
        carried_over=objective.id in carried,
    )


async def my_objectives(
    session: AsyncSession,
    member_id: int,
    cohort_id: int,
    now: datetime,
    zone: tzinfo,
    *,
    history_limit: int = 5,
) -> MyObjectives:
    rows = await session.scalars(
        select(Objective)
        .where(Objective.member_id == member_id, Objective.cohort_id == cohort_id)
        .options(selectinload(Objective.checkins))
        .order_by(Objective.created_at.desc(), Objective.id.desc())
    )
    objectives = list(rows.all())
    carried = {o.carried_from_id for o in objectives if o.carried_from_id is not None}
    today = now.astimezone(zone).date()
    active = [_view(o, today, carried) for o in objectives if o.status == ACTIVE]
    history = [_view(o, today, carried) for o in objectives if o.status != ACTIVE]
    member = await session.get(Member, member_id)
    answered = [
        row.answered_at for o in objectives for row in o.checkins if row.answered_at is not None
    ]
    return MyObjectives(
        active=tuple(reversed(active)),  # oldest active first, as they were set
        history=tuple(history[:history_limit]),
        streak=weekly_streak(answered, now, zone),
        done_count=sum(1 for o in objectives if o.status == ObjectiveStatus.DONE.value),
        checkins_paused=bool(member and member.checkins_paused),
    )


# -- the stuck answer's tip ---------------------------------------------------------------


async def stuck_tip(
    session: AsyncSession,
    library: ContentLibrary,
    *,
    member_id: int,
    sector: str | None,
    theme: str | None,
    now: datetime,
) -> Tip | None:
    """The tip most relevant to a stuck objective: its theme, the member's sector, unseen
    first, easiest first; it counts as seen ("stuck")."""
    seen = set(
        (
            await session.scalars(
                select(TipReceipt.tip_id).where(TipReceipt.member_id == member_id)
            )
        ).all()
    )
    candidates: list[Tip] = []
    for wanted in (theme, "objectives", "time_protection"):
        if wanted:
            candidates = library.tips_for(theme=wanted, sector=sector)
            if candidates:
                break
    if not candidates:
        return None
    # The sector's own tips before the generic ones, unseen before seen, easy before hard.
    candidates.sort(key=lambda tip: (tip.id in seen, tip.for_all, tip.level, tip.id))
    tip = candidates[0]
    # Shown in the stuck answer: the drip will not send it again.
    await tips.record_receipt(session, member_id, tip.id, tips.Via.STUCK, now)
    return tip
