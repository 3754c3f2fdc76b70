"""The progress check ("Does it pay?"): the numbers and practices a merchant reports each month.

What is asked (`questions_left`)
    Three numbers, in this order: followers of the business page (`followers`), posts in the
    last 7 days (`posts_7d`), customers who came or wrote *because of the page* in the last
    month (`customers_month`); then the practices of content/practices.yaml not yet adopted
    (`practice:<id>`, 1 = adopted, 0 = not yet). A practice once adopted is never asked again.
    The state of a check is the observations themselves: the next question is the first metric
    without an answer in the current month, so a check survives restarts, runs the same from
    `/point`, the end of onboarding or the monthly message, and a button pressed twice (or
    from an old message) finds its question already answered and changes nothing.

What is stored (`record_answer`)
    One `Observation` per answer, never overwritten: member, cohort, metric, value, source,
    period (the month of the member's zone when answering, "YYYY-MM"), observed_at. The
    source is `baseline` for every answer of the member's first month with answers (the end
    of onboarding, or the first `/point` of someone who said "later"), `monthly` after.
    A range button stores a representative value of its range: the midpoint of a closed range
    (rounded down: "6–20" -> 13) and the lower bound of the open one ("1000+" -> 1000), so that
    medians and curves stay honest; the range is recovered from the value (`range_index`).
    A typed number is stored as typed when it lies within the metric's bounds (`BOUNDS`).

When the monthly check comes (the planner `progress`, kind `progress`)
    On the member's first tip day on or after `PROGRESS_CHECK_DAY` of each month, at their tip
    time, in their cohort's zone (`check_moment`); one gentle reminder at the first tip moment
    at least `REMINDER_AFTER` later (`reminder_moment`), only if the month still has no answer;
    then nothing until next month. Not in a member's first `MIN_MEMBERSHIP` (the baseline of
    the end of onboarding is recent). The dispatcher holds anything due in the quiet hours.
    Dedup keys: `progress:<YYYY-MM>` and `progress:<YYYY-MM>:reminder` (the month of the
    check). Cost: each member stores when this planner must look at them next
    (`members.next_progress_at`, bot/delivery/due.py); whatever moves their tip moments
    resets it with the tip time (bot/services/due_times.py).

An answer counts as an answer for the coaching loop's silence rule (bot/services/checkins.py
reads the member's latest observation as an answer mark).

Milestones (`milestones_reached`) are worked out from the answers themselves, so each is
congratulated once: the first time a practice of `PRACTICE_MILESTONES` is adopted, the
practices adopted doubling from the baseline, the followers crossing `FOLLOWER_MILESTONES`.

`member_progress` is the read side for /progres and others: plain data, series per month.

Longer than our ~600 lines on purpose, along its banners (typed numbers, questions, recording,
the read side, when, the planner, what the check says, the renderer): the outbox's message and
`/point` ask the very same questions with the same buttons, and the planner, the renderer and
the recording read the same month and answer rules; split, each half would import the other.
"""

from __future__ import annotations

import calendar
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import ContentLibrary
from bot.delivery.due import AnyRow, Rows, idle_until, plan_due
from bot.delivery.quiet import first_instant_at
from bot.delivery.registry import (
    Button,
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Rendered,
    Skip,
)
from bot.i18n import N_, Translator
from bot.models import (
    ChallengeAnswer,
    ChallengeSubmission,
    Cohort,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrolment,
    Member,
    Objective,
    ObjectiveStatus,
    Observation,
    ObservationSource,
    TipReceipt,
)
from bot.services import due_times
from bot.services.preferences import parse_days

FOLLOWERS = "followers"
POSTS = "posts_7d"
CUSTOMERS = "customers_month"
NUMBERS = (FOLLOWERS, POSTS, CUSTOMERS)
PRACTICE_PREFIX = "practice:"
# One letter per number in callback data (bot/callbacks.py `ProgressRange`).
SHORT = {FOLLOWERS: "f", POSTS: "p", CUSTOMERS: "c"}
METRIC_OF_SHORT = {short: metric for metric, short in SHORT.items()}
# The largest believable answer per number: above, the answer is refused kindly.
BOUNDS = {FOLLOWERS: 1_000_000, POSTS: 200, CUSTOMERS: 10_000}


@dataclass(frozen=True)
class Range:
    """One range button: its bounds (None: open) and the value stored when it is pressed."""

    low: int
    high: int | None

    @property
    def value(self) -> int:
        return self.low if self.high is None else (self.low + self.high) // 2


RANGES: dict[str, tuple[Range, ...]] = {
    FOLLOWERS: (
        Range(0, 49),
        Range(50, 99),
        Range(100, 249),
        Range(250, 499),
        Range(500, 999),
        Range(1000, None),
    ),
    POSTS: (Range(0, 0), Range(1, 1), Range(2, 3), Range(4, 7), Range(8, None)),
    CUSTOMERS: (
        Range(0, 0),
        Range(1, 5),
        Range(6, 20),
        Range(21, 50),
        Range(51, 100),
        Range(101, None),
    ),
}

PROGRESS = DeliveryKind.PROGRESS.value
KEY_PREFIX = "progress:"
# The reminder comes at the first tip moment at least this long after the check.
REMINDER_AFTER = timedelta(days=3)
# A moment missed by up to this much (the bot was down) is still sent.
LATE_TOLERANCE = timedelta(hours=12)
# A check or reminder held this long after its moment has lost its point.
STALE_AFTER = timedelta(days=2)
# No monthly check in a member's first week (their baseline is fresh).
MIN_MEMBERSHIP = timedelta(days=7)
# Practices whose first adoption is a milestone.
PRACTICE_MILESTONES = ("short_video", "gone_live")
FOLLOWER_MILESTONES = (100, 500, 1000)


def practice_metric(practice_id: str) -> str:
    return f"{PRACTICE_PREFIX}{practice_id}"


def practice_of(metric: str) -> str | None:
    return metric[len(PRACTICE_PREFIX) :] if metric.startswith(PRACTICE_PREFIX) else None


def period_of(moment: datetime, zone: tzinfo) -> str:
    """The month an answer stands for, in the member's zone: "2026-11"."""
    local = moment.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def period_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def next_period(period: str) -> str:
    start = period_start(period)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return f"{year:04d}-{month:02d}"


def periods_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` included (empty if `last` comes first)."""
    found: list[str] = []
    current = first
    while current <= last and len(found) < 1200:
        found.append(current)
        current = next_period(current)
    return found


# -- typed numbers: pure functions -------------------------------------------------------------


class NumberProblem(StrEnum):
    NONE = "none"  # no number in the text ("beaucoup")
    NEGATIVE = "negative"
    TOO_BIG = "too_big"


@dataclass(frozen=True)
class ParsedNumber:
    value: int | None
    problem: NumberProblem | None = None


# A number: digits with thousands separators (1.200, 1 200, 1'200, 1,200), or plain digits,
# maybe a decimal part, maybe "k" / "mille" (2k, 1,5k). A minus sign right before it counts.
_NUMBER = re.compile(
    r"(?P<sign>[-−–]\s*)?"
    r"(?<![\d])(?P<int>\d{1,3}(?:[ .,'\u00a0\u202f]\d{3})+(?!\d)|\d+)"
    r"(?:[.,](?P<dec>\d+))?"
    r"\s*(?P<k>k\b|mille\b|duizend\b|thousand\b)?",
    re.IGNORECASE,
)
# More digits than any bound: read as "too big" without building a huge int.
_MAX_DIGITS = 12


def parse_number(text: str, metric: str) -> ParsedNumber:
    """The number in a typed answer ("environ 200", "200 abonnés", "1.200"), within bounds."""
    match = _NUMBER.search(text or "")
    if match is None:
        return ParsedNumber(None, NumberProblem.NONE)
    digits = re.sub(r"\D", "", match.group("int"))
    if len(digits) > _MAX_DIGITS:
        return ParsedNumber(None, NumberProblem.TOO_BIG)
    number = float(int(digits))
    decimals = match.group("dec")
    if decimals:
        number += float(f"0.{decimals[:6]}")
    if match.group("k"):
        number *= 1000
    if match.group("sign"):
        return ParsedNumber(None, NumberProblem.NEGATIVE)
    value = math.floor(number + 0.5)
    if value > BOUNDS.get(metric, 0):
        return ParsedNumber(None, NumberProblem.TOO_BIG)
    return ParsedNumber(value)


def range_index(metric: str, value: int) -> int | None:
    """The range button a value belongs to (e.g. to show it), or None."""
    for index, item in enumerate(RANGES.get(metric, ())):
        if value >= item.low and (item.high is None or value <= item.high):
            return index
    return None


def range_value(metric: str, index: int) -> int | None:
    ranges = RANGES.get(metric, ())
    return ranges[index].value if 0 <= index < len(ranges) else None


# -- questions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """The next thing to ask: a number (with its ranges) or a practice."""

    metric: str
    period: str
    # 1-based position in this month's check, and how many questions it has in all.
    position: int
    total: int

    @property
    def practice_id(self) -> str | None:
        return practice_of(self.metric)

    @property
    def is_number(self) -> bool:
        return self.metric in NUMBERS


@dataclass(frozen=True)
class MemberAnswers:
    """A member's answers as the check sees them."""

    # metric -> periods answered
    answered: Mapping[str, frozenset[str]]
    # practice ids adopted (a 1 in any month)
    adopted: frozenset[str]
    # practice ids adopted before `period` (they are not part of this month's check)
    adopted_before: frozenset[str]
    has_earlier_periods: bool


async def member_answers(session: AsyncSession, member_id: int, period: str) -> MemberAnswers:
    rows = (
        await session.execute(
            select(Observation.metric, Observation.value, Observation.period).where(
                Observation.member_id == member_id
            )
        )
    ).all()
    answered: dict[str, set[str]] = defaultdict(set)
    adopted: set[str] = set()
    adopted_before: set[str] = set()
    earlier = False
    for metric, value, row_period in rows:
        answered[metric].add(row_period)
        practice = practice_of(metric)
        if practice is not None and value == 1:
            adopted.add(practice)
            if row_period < period:
                adopted_before.add(practice)
        if row_period < period:
            earlier = True
    return MemberAnswers(
        {metric: frozenset(periods) for metric, periods in answered.items()},
        frozenset(adopted),
        frozenset(adopted_before),
        earlier,
    )


def check_metrics(library: ContentLibrary, answers: MemberAnswers) -> list[str]:
    """Every question of this month's check, in order (answered ones included)."""
    practices = [
        practice_metric(practice.id)
        for practice in library.practices
        if practice.id not in answers.adopted_before
    ]
    return [*NUMBERS, *practices]


def next_question(library: ContentLibrary, answers: MemberAnswers, period: str) -> Question | None:
    """The first question of this month's check still without an answer, or None (done)."""
    metrics = check_metrics(library, answers)
    for position, metric in enumerate(metrics, start=1):
        if period not in answers.answered.get(metric, frozenset()):
            return Question(metric, period, position, len(metrics))
    return None


async def current_question(
    session: AsyncSession, library: ContentLibrary, member_id: int, period: str
) -> Question | None:
    return next_question(library, await member_answers(session, member_id, period), period)


async def has_answers(session: AsyncSession, member_id: int, period: str | None = None) -> bool:
    """Whether the member ever answered (in `period` when given)."""
    query = select(Observation.id).where(Observation.member_id == member_id)
    if period is not None:
        query = query.where(Observation.period == period)
    return (await session.scalar(query.limit(1))) is not None


# -- recording an answer -----------------------------------------------------------------------


class Milestone(StrEnum):
    FIRST_VIDEO = "short_video"
    FIRST_LIVE = "gone_live"
    PRACTICES_DOUBLED = "practices_doubled"
    FOLLOWERS_100 = "followers_100"
    FOLLOWERS_500 = "followers_500"
    FOLLOWERS_1000 = "followers_1000"


class AnswerStatus(StrEnum):
    RECORDED = "recorded"
    STALE = "stale"  # another month, answered already, adopted already, unknown practice


@dataclass(frozen=True)
class AnswerOutcome:
    status: AnswerStatus
    # What to ask next (None: this month's check is complete).
    following: Question | None = None
    milestones: tuple[Milestone, ...] = ()
    source: ObservationSource | None = None


def milestones_reached(
    before: Sequence[tuple[str, int, str]],
    new: tuple[str, int],
) -> tuple[Milestone, ...]:
    """Milestones that `new` (metric, value) reaches for the first time.

    `before`: the member's earlier answers as (metric, value, source)."""
    metric, value = new
    reached: list[Milestone] = []
    practice = practice_of(metric)
    if practice is not None and value == 1:
        adopted = {practice_of(m) for m, v, _ in before if v == 1 and practice_of(m) is not None}
        if practice in PRACTICE_MILESTONES and practice not in adopted:
            reached.append(Milestone(practice))
        baseline = {
            practice_of(m)
            for m, v, source in before
            if v == 1 and source == ObservationSource.BASELINE.value and practice_of(m)
        }
        doubles_now = len(adopted) < 2 * len(baseline) <= len(adopted) + 1
        if baseline and practice not in adopted and doubles_now:
            reached.append(Milestone.PRACTICES_DOUBLED)
    if metric == FOLLOWERS:
        highest = max((v for m, v, _ in before if m == FOLLOWERS), default=None)
        if highest is not None:
            for threshold in FOLLOWER_MILESTONES:
                if highest < threshold <= value:
                    reached.append(Milestone(f"followers_{threshold}"))
    return tuple(reached)


async def record_answer(
    session: AsyncSession,
    library: ContentLibrary,
    *,
    member_id: int,
    cohort_id: int | None,
    period: str,
    metric: str,
    value: int,
    now: datetime,
    zone: tzinfo,
) -> AnswerOutcome:
    """Store one answer of this month's check (a new row), or say why it changes nothing.

    `period` comes from the button (untrusted): only the current month of the member's zone
    is open. A metric already answered this month, a practice adopted earlier or unknown, a
    value outside the bounds: stale, nothing stored.
    """
    current = period_of(now, zone)
    answers = await member_answers(session, member_id, current)
    practice = practice_of(metric)
    fine = (
        period == current
        and current not in answers.answered.get(metric, frozenset())
        and (
            (metric in NUMBERS and 0 <= value <= BOUNDS[metric])
            or (
                practice is not None
                and library.practice(practice) is not None
                and practice not in answers.adopted_before
                and value in (0, 1)
            )
        )
    )
    if not fine:
        return AnswerOutcome(AnswerStatus.STALE, next_question(library, answers, current))
    before = [
        (m, v, s)
        for m, v, s in (
            await session.execute(
                select(Observation.metric, Observation.value, Observation.source).where(
                    Observation.member_id == member_id
                )
            )
        ).all()
    ]
    source = (
        ObservationSource.MONTHLY if answers.has_earlier_periods else ObservationSource.BASELINE
    )
    session.add(
        Observation(
            member_id=member_id,
            cohort_id=cohort_id,
            metric=metric,
            value=value,
            source=source.value,
            period=current,
            observed_at=now,
        )
    )
    await session.flush()
    # The silence rule counts this as an answer: the member's check-ins are looked at again.
    await due_times.checkins_changed(session, member_id)
    reached = (
        milestones_reached(before, (metric, value)) if source is ObservationSource.MONTHLY else ()
    )
    answers = await member_answers(session, member_id, current)
    return AnswerOutcome(
        AnswerStatus.RECORDED, next_question(library, answers, current), reached, source
    )


# -- the read side: /progres and others --------------------------------------------------------


@dataclass(frozen=True)
class ProgressData:
    """A member's progress as plain data (for /progres, and whoever wants the same figures)."""

    # Every month from the first answer to `until`, in order.
    periods: tuple[str, ...]
    # number metric -> the value of each month of `periods` (its latest answer), None = no answer.
    series: Mapping[str, tuple[int | None, ...]]
    # Practices adopted in the first month with answers, and now.
    practices_before: frozenset[str]
    practices_now: frozenset[str]
    # How many months have at least one answer.
    months_answered: int
    objectives_reached: int
    # Challenges taken up (a proof or "done"); None while there is none.
    challenges_done: int | None = None

    def change(self, metric: str) -> tuple[str, int, int] | None:
        """(first month, first value, latest value) of a number answered in two months or more."""
        values = [
            (period, value)
            for period, value in zip(self.periods, self.series.get(metric, ()), strict=False)
            if value is not None
        ]
        if len(values) < 2:
            return None
        return values[0][0], values[0][1], values[-1][1]


async def member_progress(
    session: AsyncSession, member_id: int, *, until: str | None = None
) -> ProgressData:
    """The member's numbers month by month since their first answer (gaps as None)."""
    rows = (
        await session.execute(
            select(Observation.metric, Observation.value, Observation.period)
            .where(Observation.member_id == member_id)
            .order_by(Observation.observed_at, Observation.id)
        )
    ).all()
    reached = await session.scalar(
        select(func.count(Objective.id)).where(
            Objective.member_id == member_id, Objective.status == ObjectiveStatus.DONE.value
        )
    )
    # Challenges taken up (a proof or "done"; bot/services/challenges.py): shown once there is one.
    taken = await session.scalar(
        select(func.count(ChallengeSubmission.id)).where(
            ChallengeSubmission.member_id == member_id,
            ChallengeSubmission.current.is_(True),
            ChallengeSubmission.answer.in_(
                (ChallengeAnswer.PROOF.value, ChallengeAnswer.DONE.value)
            ),
        )
    )
    challenges_done = int(taken or 0) or None
    if not rows:
        return ProgressData((), dict.fromkeys(NUMBERS, ()), frozenset(), frozenset(), 0,
                            int(reached or 0), challenges_done)  # fmt: skip
    first = min(period for _, _, period in rows)
    last = max([*(period for _, _, period in rows), *([until] if until else [])])
    periods = tuple(periods_between(first, last))
    latest: dict[tuple[str, str], int] = {}
    for metric, value, period in rows:
        latest[(metric, period)] = value  # ordered by time: the last answer of a month wins
    series = {
        metric: tuple(latest.get((metric, period)) for period in periods) for metric in NUMBERS
    }
    before = frozenset(
        p
        for (metric, period), value in latest.items()
        if period == first and value == 1 and (p := practice_of(metric)) is not None
    )
    now = frozenset(
        p for (metric, _), value in latest.items() if value == 1 and (p := practice_of(metric))
    )
    answered_months = len({period for _, _, period in rows})
    return ProgressData(
        periods, series, before, now, answered_months, int(reached or 0), challenges_done
    )


# -- when: pure functions ----------------------------------------------------------------------


def local_moment(day: date, at: time, zone: tzinfo) -> datetime:
    return first_instant_at(datetime.combine(day, at), zone)


def check_moment(
    year: int, month: int, check_day: int, days: frozenset[int], at: time, zone: tzinfo
) -> datetime:
    """The month's check: the first tip day on or after `check_day`, at the tip time."""
    start = date(year, month, min(check_day, calendar.monthrange(year, month)[1]))
    for offset in range(7):
        day = start + timedelta(days=offset)
        if day.weekday() in days:
            return local_moment(day, at, zone)
    raise ValueError("no tip day")  # pragma: no cover - days is never empty here


def reminder_moment(check: datetime, days: frozenset[int], at: time, zone: tzinfo) -> datetime:
    """The first tip moment at least `REMINDER_AFTER` after the check."""
    not_before = check + REMINDER_AFTER
    day = not_before.astimezone(zone).date()
    for offset in range(15):
        current = day + timedelta(days=offset)
        if current.weekday() in days:
            moment = local_moment(current, at, zone)
            if moment >= not_before:
                return moment
    raise ValueError("no tip day")  # pragma: no cover


def _month_shift(year: int, month: int, shift: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + shift
    return index // 12, index % 12 + 1


def check_key(year: int, month: int) -> str:
    return f"{KEY_PREFIX}{year:04d}-{month:02d}"


def reminder_key(year: int, month: int) -> str:
    return f"{check_key(year, month)}:reminder"


@dataclass(frozen=True)
class Moment:
    """A check or its reminder: its dedup key, type, month, when, and when its check is."""

    key: str
    type: str
    month: str
    at: datetime
    check_at: datetime


def month_moments(
    around: datetime, check_day: int, days: frozenset[int], at: time, zone: tzinfo
) -> list[Moment]:
    """The checks and reminders of the months around `around` (the one before to two after)."""
    local = around.astimezone(zone)
    moments: list[Moment] = []
    for shift in (-1, 0, 1, 2):
        year, month = _month_shift(local.year, local.month, shift)
        check = check_moment(year, month, check_day, days, at, zone)
        reminder = reminder_moment(check, days, at, zone)
        label = f"{year:04d}-{month:02d}"
        moments.append(Moment(check_key(year, month), "check", label, check, check))
        moments.append(Moment(reminder_key(year, month), "reminder", label, reminder, check))
    return moments


# -- the planner -------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _member_rows() -> Rows:
    """Each member with what their check moments and their right to a check depend on."""
    return (
        select(
            Member.id,
            Member.tip_days,
            Member.tip_time,
            Member.onboarded_at,
            Member.reachable,
            Member.chat_id,
            Cohort.timezone,
            Cohort.archived_at,
            Enrolment.joined_at,
            Enrolment.left_at,
        )
        .outerjoin(Cohort, Cohort.id == Member.active_cohort_id)
        .outerjoin(
            Enrolment,
            and_(
                Enrolment.member_id == Member.id,
                Enrolment.cohort_id == Member.active_cohort_id,
            ),
        )
    )


def _weekdays(tip_days: str | None) -> frozenset[int]:
    from bot.config import WEEKDAYS

    return frozenset(WEEKDAYS.index(day) for day in parse_days(tip_days))


async def _evaluate(
    rows: Sequence[AnyRow], window: PlanWindow
) -> tuple[list[Planned], dict[int, datetime]]:
    """The checks and reminders due in the window, and when to look at each member next."""
    settings = window.settings
    earliest = window.now - LATE_TOLERANCE
    planned: list[Planned] = []
    next_at: dict[int, datetime] = {}
    # Most members share a rhythm (the default tip days and time, one zone): work out the
    # moments of each rhythm once per batch.
    rhythms: dict[tuple[str | None, time | None, str], list[Moment] | None] = {}
    for row in rows:
        member_id, tip_days, at, onboarded_at, reachable, chat_id = row[:6]
        zone_name, archived_at, joined_at, left_at = row[6:]
        rhythm = (tip_days, at, zone_name or settings.timezone)
        if rhythm not in rhythms:
            zone = _zone(rhythm[2])
            days = _weekdays(tip_days)
            rhythms[rhythm] = (
                month_moments(window.now, settings.progress_check_day, days, at, zone)
                if zone is not None and days and at is not None
                else None
            )
        moments = rhythms[rhythm]
        if moments is None:
            next_at[member_id] = idle_until(window)
            continue
        may_receive = (
            zone_name is not None
            and archived_at is None
            and joined_at is not None
            and left_at is None
            and onboarded_at is not None
            and reachable
            and chat_id is not None
        )
        upcoming: list[datetime] = []
        for moment in moments:
            if moment.at > window.horizon:
                upcoming.append(moment.at)
                continue
            if not may_receive or moment.at < earliest:
                continue
            if moment.check_at < joined_at + MIN_MEMBERSHIP:
                continue
            planned.append(
                Planned(
                    member_id=member_id,
                    kind=PROGRESS,
                    dedup_key=moment.key,
                    due_at=moment.at,
                    payload={"type": moment.type, "month": moment.month},
                )
            )
        next_at[member_id] = min(upcoming) if upcoming else idle_until(window)
    return planned, next_at


async def plan_progress_checks(session: AsyncSession, window: PlanWindow) -> list[Planned]:
    """The monthly check and its reminder for the members whose moment has come."""
    planned = await plan_due(
        session, window, rows=_member_rows(), due=Member.next_progress_at, evaluate=_evaluate
    )
    return sorted(planned, key=lambda item: (item.dedup_key, item.member_id))


# -- what the check says (shared by the outbox and the handlers) -------------------------------

NUMBER_QUESTIONS = {
    FOLLOWERS: N_("Combien d'<b>abonnés</b> a la page de votre commerce aujourd'hui ?"),
    POSTS: N_("Combien de <b>publications</b> avez-vous faites ces <b>7 derniers jours</b> ?"),
    CUSTOMERS: N_(
        "Le mois dernier, combien de <b>clients</b> sont venus ou vous ont écrit "
        "<b>grâce à votre page</b> ? (un message, une réservation, « je vous ai vu sur "
        "Facebook »…)"
    ),
}
LABEL_YES = N_("✅ Oui")
LABEL_NOT_YET = N_("Pas encore")
LABEL_START = N_("📈 C'est parti (1 min)")
LABEL_LATER = N_("Plus tard")
LABEL_STOP = N_("⏸ On arrête là")


def range_label(item: Range) -> str:
    """A range as a button: "0", "1–5", "100+" (digits only: no translation needed)."""
    if item.high is None:
        return f"{item.low}+"
    if item.high == item.low:
        return str(item.low)
    return f"{item.low}–{item.high}"


def question_text(t: Translator, library: ContentLibrary, question: Question) -> str:
    head = t("<i>Question {n} sur {total}</i>", n=question.position, total=question.total)
    if question.is_number:
        body = t(NUMBER_QUESTIONS[question.metric])
        hint = t("Touchez une tranche, ou écrivez le nombre exact.")
        return f"{head}\n{body}\n\n{hint}"
    practice = library.practice(question.practice_id or "")
    text = practice.text(t.lang) if practice is not None else question.metric
    body = t("Est-ce votre cas ?\n<b>{practice}</b>", practice=text)
    hint = t("« Pas encore », c'est très bien aussi.")
    return f"{head}\n{body}\n\n{hint}"


def question_buttons(t: Translator, question: Question) -> list[list[Button]]:
    from bot.callbacks import ProgressPractice, ProgressRange, ProgressStep

    stop = [Button(t(LABEL_STOP), ProgressStep("stop").pack())]
    period = question.period.replace("-", "")
    if question.is_number:
        short = SHORT[question.metric]
        buttons = [
            Button(range_label(item), ProgressRange(period, short, index).pack())  # type: ignore[arg-type]
            for index, item in enumerate(RANGES[question.metric])
        ]
        return [buttons[:3], buttons[3:], stop]
    practice = question.practice_id or ""
    return [
        [
            Button(t(LABEL_YES), ProgressPractice(period, practice, "yes").pack()),
            Button(t(LABEL_NOT_YET), ProgressPractice(period, practice, "no").pack()),
        ],
        stop,
    ]


def invitation_buttons(t: Translator) -> list[list[Button]]:
    from bot.callbacks import ProgressStep

    return [
        [
            Button(t(LABEL_START), ProgressStep("start").pack()),
            Button(t(LABEL_LATER), ProgressStep("later").pack()),
        ]
    ]


def invitation_text(t: Translator, *, name: str, baseline: bool, reminder: bool = False) -> str:
    if baseline:
        return t(
            "Une dernière minute, {name} ? 📈\n\n"
            "Trois chiffres sur votre page et quelques cases à cocher : c'est votre point de "
            "départ. Dans quelques mois, vous verrez le chemin parcouru.",
            name=name,
        )
    if reminder:
        return t(
            "Petit rappel, {name} 🙂 Le point du mois vous attend : une minute, pas plus. "
            "Si ce n'est pas le moment, pas de souci : on se retrouve le mois prochain.",
            name=name,
        )
    return t(
        "Bonjour {name} ! C'est le moment du <b>point du mois</b> 📈\n\n"
        "Trois chiffres et quelques cases, une minute en tout : c'est ce qui dessine votre "
        "courbe de progrès.",
        name=name,
    )


# -- the renderer ------------------------------------------------------------------------------


async def _open_enrolment(session: AsyncSession, member: Member) -> str | None:
    """The zone of the member's active cohort if they still follow it, else None."""
    if member.active_cohort_id is None:
        return None
    return await session.scalar(
        select(Cohort.timezone)
        .join(Enrolment, Enrolment.cohort_id == Cohort.id)
        .where(
            Enrolment.member_id == member.id,
            Enrolment.cohort_id == member.active_cohort_id,
            Enrolment.left_at.is_(None),
            Cohort.archived_at.is_(None),
        )
    )


async def render_progress(ctx: RenderContext) -> Rendered | Skip:
    member = ctx.member
    if not member.reachable:
        return Skip("unreachable")
    if ctx.now - ctx.delivery.due_at > STALE_AFTER:
        return Skip("too late: next month's check will come")
    zone_name = await _open_enrolment(ctx.session, member)
    if zone_name is None:
        return Skip("member is not enrolled in an open cohort")
    period = period_of(ctx.now, ZoneInfo(zone_name))
    if await has_answers(ctx.session, member.id, period):
        return Skip("already answered this month")
    kind = ctx.delivery.payload.get("type")
    if kind == "reminder":
        check = ctx.delivery.dedup_key.removesuffix(":reminder")
        sent = await ctx.session.scalar(
            select(Delivery.id).where(
                Delivery.member_id == member.id,
                Delivery.dedup_key == check,
                Delivery.status == DeliveryStatus.SENT.value,
            )
        )
        if sent is None:
            return Skip("the check itself was not sent")
    t = ctx.t.with_zone(zone_name)
    baseline = not await has_answers(ctx.session, member.id)
    text = invitation_text(t, name=member.first_name, baseline=False, reminder=kind == "reminder")
    if baseline:
        text += "\n\n" + t("(C'est votre premier point : il servira de point de départ.)")
    return Rendered(text, invitation_buttons(t))


# The baseline is offered again with the member's first tips (the drip), up to this many.
OFFER_WITH_TIPS = 3


async def with_baseline_offer(
    session: AsyncSession, t: Translator, member: Member, message: Rendered
) -> Rendered:
    """A tip of the drip, plus the baseline's invitation while the member has no answer yet."""
    if await has_answers(session, member.id):
        return message
    received = await session.scalar(
        select(func.count(TipReceipt.id)).where(TipReceipt.member_id == member.id)
    )
    if (received or 0) >= OFFER_WITH_TIPS:
        return message
    text = (
        message.text
        + "\n\n"
        + t(
            "📈 Et votre point de départ ? Trois chiffres et quelques cases, une minute : "
            "dans quelques mois, vous verrez le chemin parcouru."
        )
    )
    return Rendered(text, [*message.buttons, *invitation_buttons(t)], message.photo)


def register_deliveries(registry: DeliveryRegistry) -> None:
    """Add the monthly check's planner and renderer (see bot/delivery/features.py)."""
    registry.add_planner("progress", plan_progress_checks)
    registry.add_renderer(PROGRESS, render_progress)


__all__ = [
    "BOUNDS",
    "NUMBERS",
    "RANGES",
    "AnswerOutcome",
    "AnswerStatus",
    "Milestone",
    "ProgressData",
    "Question",
    "member_progress",
    "next_question",
    "parse_number",
    "plan_progress_checks",
    "record_answer",
    "register_deliveries",
    "render_progress",
]
