"""Check-ins and the trainer's digest: when the bot asks, what it sends, what a send records.

Everything here goes through the outbox (bot/delivery): the planners below turn objectives
and sessions into deliveries, the renderers write them at send time in the recipient's
language (or skip them when their reason disappeared), and the after-send hook records what
was asked. Nothing is scheduled in memory.

When a merchant is asked (in their cohort's zone, at their tip time, on their tip days; the
dispatcher holds anything non-urgent during quiet hours):

- the first check-in on an objective at their first tip moment at least
  `FIRST_CHECKIN_AFTER` after they set it, then weekly (the first tip moment a week or more
  after the previous one) while that moment falls before the due date;
- after the due date, one gentle check (the day after, at their tip time); if it stays
  unanswered for `MISSED_AFTER`, a last message marks the objective not reached and offers to
  carry it over;
- the silence rule: after `SILENCE_LIMIT` check-ins in a row without any answer (an answer
  to the monthly progress check counts as one), the next one
  is replaced by a single message saying check-ins pause and how to resume, and the member's
  `checkins_paused` is set when it went out. Tips are not concerned.

Cost: each active objective stores when the planner must look at it next
(`objectives.next_checkin_at`, indexed with the status); a tick reads only those whose time
has come (bot/delivery/due.py). A check-in asked or answered, a change of tip days or time,
a pause lifted or a new enrolment resets the member's objectives (bot/services/due_times.py).

Dedup keys (unique per recipient; planning again never doubles a message):

    checkin:<objective_id>:<YYYY-MM-DD>     the weekly check-in of that local day
    checkin:<objective_id>:due              the gentle check after the due date
    checkin:<objective_id>:missed           "not reached" + the carry-over offer
    checkin-pause:<member_id>:<checkin_id>  the silence pause (one per silent stretch)
    digest:<session_id>:r<revision>         the trainer's digest the day before a session

Longer than our ~600 lines on purpose: the coaching loop's rhythm (when to ask, silence,
missed deadlines, the trainer's digest) is one state machine over one objective; its
planners and renderers read the same rules. The staff views it feeds are in bot/reports/.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import buttons
from bot.config import WEEKDAYS, Settings
from bot.delivery.due import AnyRow, Rows, idle_until, plan_due
from bot.delivery.quiet import first_instant_at
from bot.delivery.registry import (
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.i18n import Translator
from bot.models import (
    ChallengeAnswer,
    ChallengeSubmission,
    Cohort,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrolment,
    MeasureKind,
    Member,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
    Observation,
    Role,
    StaffRole,
    TrainingSession,
)
from bot.reports import digest
from bot.reports.observations import ProgressSummary
from bot.services import due_times
from bot.services import objectives as objs
from bot.telegram_html import telegram_length, visible_text

FIRST_CHECKIN_AFTER = timedelta(days=3)
# Never two check-ins on one objective closer than this (e.g. after a change of tip days).
MIN_GAP = timedelta(days=4)
# A moment missed by more than this (the bot was down) waits for the member's next moment.
LATE_TOLERANCE = timedelta(hours=12)
MISSED_AFTER = timedelta(days=3)
# Once a step's moment is this far behind, the planner would move on to the next one.
_STEP_PASSED = LATE_TOLERANCE + timedelta(seconds=1)
SILENCE_LIMIT = 3
# Check-ins older than this do not matter for the silence rule.
SILENCE_LOOKBACK = timedelta(days=180)
# The digest goes out the day before a session; planned this far ahead of its start.
DIGEST_LOOKAHEAD = timedelta(days=2)
# A second digest for a moved session within this delay would repeat the first.
DIGEST_REPEAT = timedelta(hours=20)
_CHUNK = 2000

CHECKIN = DeliveryKind.CHECKIN.value
DIGEST = DeliveryKind.DIGEST.value
PAUSE_PREFIX = "checkin-pause:"


class CheckinType(StrEnum):
    WEEKLY = "weekly"
    DUE = "due"
    MISSED = "missed"
    PAUSE = "pause"


# -- when: pure functions ------------------------------------------------------------------


@dataclass(frozen=True)
class Rhythm:
    """A member's moments: tip days (0 = Monday) and tip time, in their cohort's zone."""

    days: frozenset[int]
    at: time
    zone: tzinfo


EVERY_DAY = frozenset(range(7))


def parse_days(text: str | None, default: Iterable[str] = ()) -> frozenset[int]:
    """Weekday numbers of "tue,fri" (the member's tip days); every day if none is valid."""
    names = [part.strip().lower()[:3] for part in (text or "").split(",") if part.strip()]
    days = frozenset(WEEKDAYS.index(name) for name in names if name in WEEKDAYS)
    if not days:
        days = frozenset(WEEKDAYS.index(name) for name in default if name in WEEKDAYS)
    return days or EVERY_DAY


def local_moment(day: date, at: time, zone: tzinfo) -> datetime:
    """`day` at wall time `at` in `zone`, as a UTC instant (DST-safe: a time in the
    spring-forward gap becomes the jump)."""
    return first_instant_at(datetime.combine(day, at), zone)


def start_of_day(day: date, zone: tzinfo) -> datetime:
    return first_instant_at(datetime.combine(day, time(0, 0)), zone)


def moment_on_or_after(
    not_before: datetime, days: frozenset[int], at: time, zone: tzinfo
) -> datetime:
    """The first moment at `at` local time, on one of `days`, at or after `not_before`."""
    first_day = not_before.astimezone(zone).date()
    for offset in range(15):
        day = first_day + timedelta(days=offset)
        if day.weekday() in days:
            candidate = local_moment(day, at, zone)
            if candidate >= not_before:
                return candidate
    raise ValueError("no weekday given")  # pragma: no cover - days is never empty


def next_weekly(
    *,
    created_at: datetime,
    due_on: date,
    last_event: datetime | None,
    rhythm: Rhythm,
    now: datetime,
) -> datetime | None:
    """When to ask next about an objective before its due date, or None (nothing before it)."""
    if last_event is None:
        base = created_at + FIRST_CHECKIN_AFTER
    else:
        # A week after the day of the last check-in: same weekday when it is a tip day.
        base = start_of_day(
            last_event.astimezone(rhythm.zone).date() + timedelta(days=7), rhythm.zone
        )
    slot = moment_on_or_after(max(base, now - LATE_TOLERANCE), rhythm.days, rhythm.at, rhythm.zone)
    if slot.astimezone(rhythm.zone).date() >= due_on:
        return None
    return slot


def due_check_at(due_on: date, rhythm: Rhythm, now: datetime) -> datetime:
    """The gentle check: the day after the due date at the member's tip time (any weekday)."""
    base = start_of_day(due_on + timedelta(days=1), rhythm.zone)
    return moment_on_or_after(max(base, now - LATE_TOLERANCE), EVERY_DAY, rhythm.at, rhythm.zone)


def missed_at(due_asked_at: datetime, rhythm: Rhythm, now: datetime) -> datetime:
    base = max(due_asked_at + MISSED_AFTER, now - LATE_TOLERANCE)
    return moment_on_or_after(base, EVERY_DAY, rhythm.at, rhythm.zone)


@dataclass(frozen=True)
class CheckinEvent:
    """One check-in row as the silence rule sees it."""

    id: int
    asked_at: datetime | None
    answered_at: datetime | None


def silent_since(events: Iterable[CheckinEvent], reset: datetime | None) -> list[CheckinEvent]:
    """The check-ins asked since the member's last answer (or the last pause), oldest first."""
    listed = list(events)
    answers = [event.answered_at for event in listed if event.answered_at is not None]
    marks = [moment for moment in (*answers, reset) if moment is not None]
    since = max(marks) if marks else None
    asked = [
        event
        for event in listed
        if event.asked_at is not None
        and event.answered_at is None
        and (since is None or event.asked_at > since)
    ]
    return sorted(asked, key=lambda event: (event.asked_at or since, event.id))


def is_silent(events: Iterable[CheckinEvent], reset: datetime | None) -> bool:
    return len(silent_since(events, reset)) >= SILENCE_LIMIT


# -- data for the planner and the renderers -------------------------------------------------


def member_rhythm(member: Member, zone: str, settings: Settings) -> Rhythm:
    return Rhythm(
        days=parse_days(member.tip_days, settings.tip_days),
        at=member.tip_time or settings.tip_time_value,
        zone=ZoneInfo(zone),
    )


async def _silence_data(
    session: AsyncSession, member_ids: Sequence[int], now: datetime
) -> tuple[dict[int, list[CheckinEvent]], dict[int, datetime]]:
    events: dict[int, list[CheckinEvent]] = defaultdict(list)
    resets: dict[int, datetime] = {}
    horizon = now - SILENCE_LOOKBACK
    for start in range(0, len(member_ids), _CHUNK):
        chunk = member_ids[start : start + _CHUNK]
        rows = await session.execute(
            select(
                Objective.member_id,
                ObjectiveCheckin.id,
                ObjectiveCheckin.asked_at,
                ObjectiveCheckin.answered_at,
            )
            .join(Objective, Objective.id == ObjectiveCheckin.objective_id)
            .where(
                Objective.member_id.in_(chunk),
                or_(ObjectiveCheckin.asked_at > horizon, ObjectiveCheckin.answered_at > horizon),
            )
        )
        for member_id, checkin_id, asked_at, answered_at in rows:
            events[member_id].append(CheckinEvent(checkin_id, asked_at, answered_at))
        # The status is tested inside the aggregate: as a condition it would lead SQLite to
        # the (status, due_at) index, i.e. through every message ever sent.
        sent = Delivery.status == DeliveryStatus.SENT.value
        pauses = await session.execute(
            select(Delivery.member_id, func.max(case((sent, Delivery.sent_at))))
            .where(Delivery.member_id.in_(chunk), Delivery.dedup_key.startswith(PAUSE_PREFIX))
            .group_by(Delivery.member_id)
        )
        for member_id, sent_at in pauses:
            if sent_at is not None:
                resets[member_id] = sent_at
        # An answer to the monthly progress check is an answer too (bot/services/progress.py).
        answered = await session.execute(
            select(Observation.member_id, func.max(Observation.observed_at))
            .where(Observation.member_id.in_(chunk), Observation.observed_at > horizon)
            .group_by(Observation.member_id)
        )
        for member_id, observed_at in answered:
            if observed_at is not None:
                resets[member_id] = max(observed_at, resets.get(member_id, observed_at))
        # A challenge done (proof or "done") is an answer too: the silence ends there.
        done = await session.execute(
            select(ChallengeSubmission.member_id, func.max(ChallengeSubmission.submitted_at))
            .where(
                ChallengeSubmission.member_id.in_(chunk),
                ChallengeSubmission.answer != ChallengeAnswer.SKIP.value,
                ChallengeSubmission.submitted_at > horizon,
            )
            .group_by(ChallengeSubmission.member_id)
        )
        for member_id, submitted_at in done:
            if submitted_at is not None:
                earlier = resets.get(member_id)
                resets[member_id] = submitted_at if earlier is None else max(earlier, submitted_at)
    return events, resets


async def member_silence(
    session: AsyncSession, member_id: int, now: datetime
) -> list[CheckinEvent]:
    """The check-ins this member left unanswered since their last answer or pause."""
    events, resets = await _silence_data(session, [member_id], now)
    return silent_since(events.get(member_id, []), resets.get(member_id))


def pause_key(member_id: int, unanswered: Sequence[CheckinEvent]) -> str:
    return f"{PAUSE_PREFIX}{member_id}:{max(event.id for event in unanswered)}"


# -- the check-in planner -------------------------------------------------------------------


def _objective_rows() -> Rows:
    """Each active objective with what its moments and the right to ask depend on."""
    # Plain columns, not ORM objects: a tick may look at many rows (everyone's Tuesday 09:30).
    return (
        select(
            Objective.id,
            Objective.member_id,
            Objective.created_at,
            Objective.due_on,
            Member.tip_days,
            Member.tip_time,
            Member.paused,
            Member.checkins_paused,
            Member.reachable,
            Member.chat_id,
            Cohort.timezone,
            Cohort.archived_at,
            Enrolment.joined_at,
            Enrolment.left_at,
        )
        .join(Member, Member.id == Objective.member_id)
        .outerjoin(Cohort, Cohort.id == Objective.cohort_id)
        .outerjoin(
            Enrolment,
            and_(
                Enrolment.member_id == Objective.member_id,
                Enrolment.cohort_id == Objective.cohort_id,
            ),
        )
        .where(Objective.status == objs.ACTIVE)
    )


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


async def _asked(
    session: AsyncSession, objective_ids: Sequence[int]
) -> dict[int, list[CheckinEvent]]:
    asked: dict[int, list[CheckinEvent]] = defaultdict(list)
    for start in range(0, len(objective_ids), _CHUNK):
        found = await session.execute(
            select(
                ObjectiveCheckin.objective_id,
                ObjectiveCheckin.id,
                ObjectiveCheckin.asked_at,
                ObjectiveCheckin.answered_at,
            ).where(ObjectiveCheckin.objective_id.in_(objective_ids[start : start + _CHUNK]))
        )
        for objective_id, checkin_id, asked_at, answered_at in found:
            asked[objective_id].append(CheckinEvent(checkin_id, asked_at, answered_at))
    return asked


async def plan_checkins(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    """Check-ins, gentle checks, not-reached notices and silence pauses falling due by the horizon.

    Reads only the active objectives whose stored time has come (`next_checkin_at`), and
    stores when each must be looked at next: its next step, or once the step planned now
    has passed (bot/delivery/due.py). Check-ins asked or answered, a change of rhythm or a
    lifted pause reset it (bot/services/due_times.py).
    """
    settings = window.settings
    rhythms: dict[tuple[str, time | None, str], Rhythm] = {}
    # (member, key) -> (the first objective that planned it, the delivery): one pause per
    # member even when several objectives fall due together, at the earliest moment.
    chosen: dict[tuple[int, str], tuple[int, Planned]] = {}

    async def evaluate(
        rows: Sequence[AnyRow], window: PlanWindow
    ) -> tuple[list[Planned], dict[int, datetime]]:
        now, horizon = window.now, window.horizon
        asked = await _asked(session, [row[0] for row in rows])
        next_at: dict[int, datetime] = {}
        steps: list[tuple[int, int, CheckinType, datetime, tzinfo]] = []
        for row in rows:
            objective_id, member_id, created_at, due_on, tip_days, tip_time = row[:6]
            paused, checkins_paused, reachable, chat_id, zone_name, archived_at = row[6:12]
            joined_at, left_at = row[12:]
            zone = _zone(zone_name or settings.timezone)
            if zone is None:
                next_at[objective_id] = idle_until(window)
                continue
            rhythm = rhythms.get((tip_days, tip_time, zone.key))
            if rhythm is None:
                rhythm = rhythms[(tip_days, tip_time, zone.key)] = Rhythm(
                    days=parse_days(tip_days, settings.tip_days),
                    at=tip_time or settings.tip_time_value,
                    zone=zone,
                )
            events = asked[objective_id]
            step = _next_step(created_at, due_on, events, rhythm, now)
            if step is None:
                next_at[objective_id] = idle_until(window)
                continue
            kind, due_at = step
            if due_at > horizon:
                next_at[objective_id] = due_at
                continue
            # The step stays this one until its moment is past the tolerance (unless a
            # check-in is asked or answered meanwhile, which resets the time): look again then.
            later = _next_step(created_at, due_on, events, rhythm, due_at + _STEP_PASSED)
            next_at[objective_id] = later[1] if later is not None else idle_until(window)
            may_ask = (
                zone_name is not None
                and archived_at is None
                and joined_at is not None
                and left_at is None
                and not paused
                and not checkins_paused
                and reachable
                and chat_id is not None
            )
            if may_ask:
                steps.append((objective_id, member_id, kind, due_at, rhythm.zone))
        if steps:
            await _choose(session, steps, now, chosen)
        return [], next_at

    await plan_due(
        session, window, rows=_objective_rows(), due=Objective.next_checkin_at, evaluate=evaluate
    )
    return [item for _, item in sorted(chosen.values(), key=lambda pair: pair[0])]


async def _choose(
    session: AsyncSession,
    steps: Sequence[tuple[int, int, CheckinType, datetime, tzinfo]],
    now: datetime,
    chosen: dict[tuple[int, str], tuple[int, Planned]],
) -> None:
    """The delivery of each due step: the check-in itself, or the silence pause instead."""
    events, resets = await _silence_data(session, sorted({step[1] for step in steps}), now)
    for objective_id, member_id, kind, due_at, zone in steps:
        unanswered = silent_since(events.get(member_id, []), resets.get(member_id))
        if kind is not CheckinType.MISSED and len(unanswered) >= SILENCE_LIMIT:
            key = pause_key(member_id, unanswered)
            item = Planned(member_id, CHECKIN, key, due_at, {"type": CheckinType.PAUSE.value})
        else:
            key = _objective_key(objective_id, kind, due_at, zone)
            payload = {"type": kind.value, "objective_id": objective_id}
            item = Planned(member_id, CHECKIN, key, due_at, payload)
        previous = chosen.get((member_id, key))
        if previous is None:
            chosen[(member_id, key)] = (objective_id, item)
        elif item.due_at < previous[1].due_at:
            chosen[(member_id, key)] = (previous[0], item)


def _objective_key(objective_id: int, kind: CheckinType, due_at: datetime, zone: tzinfo) -> str:
    prefix = objs.checkin_prefix(objective_id)
    if kind is CheckinType.WEEKLY:
        return f"{prefix}{due_at.astimezone(zone).date().isoformat()}"
    return f"{prefix}{kind.value}"


class Asked(Protocol):
    """A check-in as the schedule sees it (an ObjectiveCheckin or a CheckinEvent)."""

    @property
    def asked_at(self) -> datetime | None: ...

    @property
    def answered_at(self) -> datetime | None: ...


A = TypeVar("A", bound=Asked)


def due_row(due_on: date, rows: Iterable[A], zone: tzinfo) -> A | None:
    """The gentle check: the check-in asked after the due date, if any."""
    for row in rows:
        if row.asked_at is not None and row.asked_at.astimezone(zone).date() > due_on:
            return row
    return None


def _next_step(
    created_at: datetime, due_on: date, rows: Sequence[Asked], rhythm: Rhythm, now: datetime
) -> tuple[CheckinType, datetime] | None:
    gentle = due_row(due_on, rows, rhythm.zone)
    if gentle is not None:
        gentle_at = gentle.asked_at
        assert gentle_at is not None
        answered_after = any(
            row.answered_at is not None and row.answered_at >= gentle_at for row in rows
        )
        if answered_after:
            return None
        return CheckinType.MISSED, missed_at(gentle_at, rhythm, now)
    events = [moment for row in rows if (moment := row.asked_at or row.answered_at)]
    weekly = next_weekly(
        created_at=created_at,
        due_on=due_on,
        last_event=max(events, default=None),
        rhythm=rhythm,
        now=now,
    )
    if weekly is not None:
        return CheckinType.WEEKLY, weekly
    return CheckinType.DUE, due_check_at(due_on, rhythm, now)


# -- what a check-in says -------------------------------------------------------------------


def measure_line(t: Translator, measure_kind: str, target: int | None) -> str:
    if measure_kind == MeasureKind.COUNT.value and target:
        return t.plural("{n} fois par semaine", "{n} fois par semaine", target)
    return t("fait ou pas fait")


def objective_card(
    t: Translator, text: str, measure_kind: str, target: int | None, due_on: date
) -> str:
    """The objective in three short lines: what, how it is measured, by when."""
    return "\n".join(
        (
            t("🎯 <b>{text}</b>", text=text),
            t("📏 {measure}", measure=measure_line(t, measure_kind, target)),
            t("📅 d'ici {date}", date=t.date(due_on)),
        )
    )


async def _zone_of(session: AsyncSession, cohort_id: int | None, settings: Settings) -> str:
    if cohort_id is None:
        return settings.timezone
    zone = await session.scalar(select(Cohort.timezone).where(Cohort.id == cohort_id))
    return zone or settings.timezone


async def render_checkin(ctx: RenderContext) -> Rendered | Skip:
    payload = ctx.delivery.payload
    kind = payload.get("type")
    member = ctx.member
    if not member.reachable:
        return Skip("unreachable")
    if member.paused or member.checkins_paused:
        return Skip("check-ins paused")
    if kind == CheckinType.PAUSE.value:
        if not await member_silence(ctx.session, member.id, ctx.now):
            return Skip("the member answered since")
        t = ctx.t
        text = "\n\n".join(
            (
                t(
                    "Je n'ai pas eu de nouvelles de vos objectifs depuis un moment, alors je "
                    "mets mes questions en pause. Vos astuces continuent comme avant."
                ),
                t(
                    "Pour reprendre quand vous voulez : touchez le bouton ci-dessous, "
                    "ou ouvrez « 📋 Mes objectifs »."
                ),
            )
        )
        return Rendered(text, [[buttons.resume_checkins(t)]])

    objective_id = payload.get("objective_id")
    objective = (
        await ctx.session.get(Objective, objective_id) if isinstance(objective_id, int) else None
    )
    if objective is None or objective.member_id != member.id:
        return Skip("objective gone")
    if objective.status != objs.ACTIVE:
        return Skip(f"objective {objective.status}")
    enrolled = await ctx.session.scalar(
        select(Enrolment.id).where(
            Enrolment.member_id == member.id,
            Enrolment.cohort_id == objective.cohort_id,
            Enrolment.left_at.is_(None),
        )
    )
    if enrolled is None:
        return Skip("no longer in the cohort")
    zone = await _zone_of(ctx.session, objective.cohort_id, ctx.settings)
    t = ctx.t.with_zone(zone)
    rows = list(
        (
            await ctx.session.scalars(
                select(ObjectiveCheckin).where(ObjectiveCheckin.objective_id == objective.id)
            )
        ).all()
    )
    gentle = due_row(objective.due_on, rows, ZoneInfo(zone))
    name = member.first_name

    if kind == CheckinType.WEEKLY.value:
        if any(row.asked_at and ctx.now - row.asked_at < MIN_GAP for row in rows):
            return Skip("asked recently")
        if len(await member_silence(ctx.session, member.id, ctx.now)) >= SILENCE_LIMIT:
            return Skip("silent: the pause notice replaces it")
        text = "\n\n".join(
            (
                t("Bonjour {name} ! Où en êtes-vous avec votre objectif ?", name=name),
                objective_card(
                    t,
                    objective.text,
                    objective.measure_kind,
                    objective.target_per_week,
                    objective.due_on,
                ),
                t("Une réponse d'un seul geste suffit."),
            )
        )
        return Rendered(text, buttons.checkin_answers(t, objective.id, objective.measure_kind))

    if kind == CheckinType.DUE.value:
        if gentle is not None:
            return Skip("already checked after the due date")
        text = "\n\n".join(
            (
                t(
                    "Bonjour {name} ! Votre objectif « {text} » arrivait à échéance {date}.",
                    name=name,
                    text=objective.text,
                    date=t.date(objective.due_on),
                ),
                t("Alors, où en êtes-vous ? Il n'y a pas de mauvaise réponse."),
            )
        )
        return Rendered(text, buttons.checkin_answers(t, objective.id, objective.measure_kind))

    if kind == CheckinType.MISSED.value:
        if gentle is None or gentle.answered_at is not None:
            return Skip("answered since")
        due = await objs.default_due_date(
            ctx.session, objective.cohort_id or 0, ctx.now, ZoneInfo(zone)
        )
        text = "\n\n".join(
            (
                t(
                    "Votre objectif « {text} » n'est pas marqué comme atteint. Ce n'est pas "
                    "grave : cela arrive à tout le monde, et chaque essai apprend quelque chose.",
                    text=objective.text,
                ),
                t("Voulez-vous le reconduire jusqu'au {date} ?", date=t.date(due)),
            )
        )
        return Rendered(text, buttons.carry_over(t, objective.id))
    return Skip(f"unknown check-in type {kind!r}")


async def checkin_sent(session: AsyncSession, delivery: Delivery, now: datetime) -> None:
    """Record what reached the member: a question asked, a pause, a not-reached objective."""
    payload = delivery.payload
    kind = payload.get("type")
    if kind == CheckinType.PAUSE.value:
        member = await session.get(Member, delivery.member_id)
        if member is not None:
            member.checkins_paused = True
        return
    objective_id = payload.get("objective_id")
    if not isinstance(objective_id, int):
        return
    objective = await session.get(Objective, objective_id)
    if objective is None:
        return
    if kind in (CheckinType.WEEKLY.value, CheckinType.DUE.value):
        session.add(ObjectiveCheckin(objective_id=objective.id, asked_at=now))
        # The next question moves on, and the silence rule may now hold for every objective.
        await due_times.checkins_changed(session, objective.member_id)
    elif kind == CheckinType.MISSED.value and objective.status == objs.ACTIVE:
        objective.status = ObjectiveStatus.NOT_REACHED.value
        objective.closed_at = now
    await session.flush()


# -- the trainer's digest -------------------------------------------------------------------


def digest_key(session_id: int, revision: int) -> str:
    return f"digest:{session_id}:r{revision}"


async def plan_digests(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    """The day before each coming session, at the trainer's tip time: one digest per trainer."""
    now, horizon = window.now, window.horizon
    rows = (
        await session.execute(
            select(TrainingSession, Cohort.timezone)
            .join(Cohort, Cohort.id == TrainingSession.cohort_id)
            .where(
                TrainingSession.starts_at > now,
                TrainingSession.starts_at <= horizon + DIGEST_LOOKAHEAD,
                TrainingSession.cancelled_at.is_(None),
                Cohort.archived_at.is_(None),
            )
        )
    ).all()
    planned: list[Planned] = []
    for ts, zone_name in rows:
        zone = ZoneInfo(zone_name)
        trainers = await session.scalars(
            select(Member)
            .join(StaffRole, StaffRole.member_id == Member.id)
            .where(
                StaffRole.cohort_id == ts.cohort_id,
                StaffRole.role == Role.TRAINER.value,
                Member.chat_id.is_not(None),
                Member.reachable.is_(True),
            )
        )
        eve = ts.starts_at.astimezone(zone).date() - timedelta(days=1)
        for trainer in trainers:
            due_at = local_moment(eve, trainer.tip_time or window.settings.tip_time_value, zone)
            if due_at > horizon:
                continue
            planned.append(
                Planned(
                    trainer.id,
                    DIGEST,
                    digest_key(ts.id, ts.revision),
                    due_at,
                    {"session_id": ts.id, "revision": ts.revision},
                )
            )
    return planned


# Limits that keep a digest on one screen and far below Telegram's 4096 characters.
DIGEST_MAX_STUCK = 8
DIGEST_MAX_QUESTIONS = 6
DIGEST_MAX_NAMES = 8
DIGEST_QUESTION_BUTTONS = 4
TEXT_LIMIT = 4000  # Telegram's 4096, with a margin


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """Drop whole lines from the end until the visible text fits (each line is complete HTML)."""
    lines = text.split("\n")
    if telegram_length(visible_text(text)) <= limit:
        return text
    while len(lines) > 1 and telegram_length(visible_text("\n".join([*lines, "…"]))) > limit:
        lines.pop()
    return "\n".join([*lines, "…"])


def clip(text: str | None, limit: int) -> str:
    """A user text shortened to `limit` characters for a list line."""
    value = " ".join((text or "").split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


async def render_digest(ctx: RenderContext) -> Rendered | Skip:
    payload = ctx.delivery.payload
    session_id = payload.get("session_id")
    ts = await ctx.session.get(TrainingSession, session_id) if isinstance(session_id, int) else None
    if ts is None or ts.cancelled_at is not None:
        return Skip("session cancelled")
    if ts.revision != payload.get("revision"):
        return Skip("session moved: a new digest is planned")
    if ts.starts_at <= ctx.now:
        return Skip("session started")
    trainer = await ctx.session.scalar(
        select(StaffRole.id).where(
            StaffRole.member_id == ctx.member.id,
            StaffRole.cohort_id == ts.cohort_id,
            StaffRole.role == Role.TRAINER.value,
        )
    )
    if trainer is None:
        return Skip("no longer a trainer of this cohort")
    repeated = await ctx.session.scalar(
        select(Delivery.id).where(
            Delivery.member_id == ctx.member.id,
            Delivery.dedup_key.startswith(f"digest:{ts.id}:"),
            Delivery.status == DeliveryStatus.SENT.value,
            Delivery.sent_at > ctx.now - DIGEST_REPEAT,
        )
    )
    if repeated is not None:
        return Skip("a digest for this session was sent a moment ago")
    zone = await _zone_of(ctx.session, ts.cohort_id, ctx.settings)
    t = ctx.t.with_zone(zone)
    since = await digest.digest_since(ctx.session, ts.cohort_id, ts.starts_at)
    month = f"{t.local(ctx.now):%Y-%m}"
    data = await digest.trainer_digest(
        ctx.session, ts.cohort_id, since=since, now=ctx.now, month=month
    )
    # Imported here: the challenges service builds on this module (member rhythms).
    from bot.services import challenges

    challenge = await challenges.digest_line(ctx.session, ts.cohort_id, ctx.now)
    if not data.has_news and challenge is None:
        # No objective in play, no question, no challenge: a page of zeros would be noise.
        return Skip("nothing to report")
    questions = [(q.id, q.first_name) for q in data.questions[:DIGEST_QUESTION_BUTTONS]]
    text = digest_text(t, ts, data)
    if challenge is not None:
        text += "\n\n" + challenges.digest_part(t, challenge)
    return Rendered(fit(text), buttons.trainer_digest(t, questions))


def digest_text(t: Translator, ts: TrainingSession, data: digest.DigestData) -> str:
    parts = [
        t(
            "📋 <b>Avant la séance {number} de demain</b> ({when})",
            number=ts.number,
            when=t.when(ts.starts_at),
        ),
        "\n".join(
            (
                t.plural(
                    "Depuis la dernière séance, {n} objectif fixé.",
                    "Depuis la dernière séance, {n} objectifs fixés.",
                    data.set_count,
                ),
                t(
                    "✅ atteints : {done} · 🚧 en cours : {doing} · 😕 bloqués : {stuck} "
                    "· 💤 sans nouvelles : {quiet}",
                    done=data.done_count,
                    doing=data.doing_count,
                    stuck=data.stuck_count,
                    quiet=data.no_news_count,
                ),
            )
        ),
    ]
    if data.stuck:
        lines = [t("<b>😕 Bloqués — à aborder en séance</b>")]
        for item in data.stuck[:DIGEST_MAX_STUCK]:
            who = clip(item.first_name, 30) + (
                f" ({clip(item.business_name, 30)})" if item.business_name else ""
            )
            if item.blocker:
                lines.append(
                    t(
                        "• {who} — « {objective} » : {blocker}",
                        who=who,
                        objective=clip(item.objective_text, 80),
                        blocker=clip(item.blocker, 100),
                    )
                )
            else:
                lines.append(
                    t("• {who} — « {objective} »", who=who, objective=clip(item.objective_text, 80))
                )
        hidden = len(data.stuck) - DIGEST_MAX_STUCK
        if hidden > 0:
            lines.append(t.plural("… et {n} autre.", "… et {n} autres.", hidden))
        parts.append("\n".join(lines))
    if data.questions:
        lines = [t("<b>❓ Questions en attente de réponse</b>")]
        for question in data.questions[:DIGEST_MAX_QUESTIONS]:
            lines.append(
                t(
                    "• {who} : « {text} »",
                    who=clip(question.first_name, 30),
                    text=clip(question.text, 120),
                )
            )
        hidden = len(data.questions) - DIGEST_MAX_QUESTIONS
        if hidden > 0:
            lines.append(t.plural("… et {n} autre.", "… et {n} autres.", hidden))
        parts.append("\n".join(lines))
    if not data.stuck and not data.questions:
        parts.append(t("Personne n'est bloqué et aucune question n'attend : belle séance !"))
    if data.progress is not None:
        parts.append(progress_digest_text(t, data.progress))
    if data.trios is not None:
        from bot.services.trio_week import trio_figures_line

        parts.append(trio_figures_line(t, data.trios))
    return "\n\n".join(parts)


def names_line(t: Translator, names: Sequence[str]) -> str:
    """First names for a digest line, the first DIGEST_MAX_NAMES and how many more."""
    shown = ", ".join(clip(name, 30) for name in names[:DIGEST_MAX_NAMES])
    hidden = len(names) - DIGEST_MAX_NAMES
    if hidden > 0:
        shown += " " + t.plural("et {n} autre", "et {n} autres", hidden)
    return shown


def progress_digest_text(t: Translator, progress: ProgressSummary) -> str:
    """This month's progress check for the trainer: who has not answered, who moved."""
    lines = [
        t("<b>📝 Point du mois</b>"),
        t(
            "{answered} sur {merchants} ont répondu ce mois-ci.",
            answered=progress.answered,
            merchants=progress.merchants,
        ),
    ]
    if progress.not_answered:
        lines.append(t("Pas encore répondu : {names}", names=names_line(t, progress.not_answered)))
    if progress.moved:
        lines.append(
            t(
                "📈 En progrès depuis leur premier point : {names} — un mot pour les féliciter ?",
                names=names_line(t, progress.moved),
            )
        )
    return "\n".join(lines)


def register_deliveries(registry: DeliveryRegistry) -> None:
    """Add the coaching loop's planners and renderers to the outbox (bot/delivery/features)."""
    registry.add_planner("checkins", plan_checkins)
    registry.add_planner("digests", plan_digests)
    registry.add_renderer(CHECKIN, render_checkin, after_send=checkin_sent)
    registry.add_renderer(DIGEST, render_digest)


__all__ = [
    "CheckinType",
    "Rhythm",
    "due_check_at",
    "is_silent",
    "moment_on_or_after",
    "next_weekly",
    "objective_card",
    "plan_checkins",
    "plan_digests",
    "register_deliveries",
    "render_checkin",
    "render_digest",
]
