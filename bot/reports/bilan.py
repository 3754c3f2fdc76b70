"""`/bilan`: the programme's impact report for the commune's council — the figures.

What the cohort did and what changed, as aggregates only: sessions and attendance per
session, engagement (the share of members answering each week), objectives set and reached,
practices adopted at the first answer and now (the same members), the medians of the three
numbers at the first answer and now, the most liked tip themes — and, once their branches are
merged, the challenge and trio figures (optional sections: None leaves them out).

**Aggregates only.** Every figure is a `Figure` made by `figure()`: over fewer than
`MIN_PEOPLE` people it is hidden (shown "< 5") and keeps neither its value nor its count, so
no renderer can leak it. Nothing here names a person.

Definitions (what the database records):
- *answering* in a week: a member of the cohort answered an objective check-in, answered or
  changed an RSVP, gave a tip 👍/👎, answered the progress check (an observation) or asked the
  trainer a question, in that week (Monday to Sunday, in the cohort's zone); the base is the
  members enrolled during that week.
- *first* and *latest* answer of a metric: its earliest and latest observation (answers are
  never overwritten). A number is *paired* when the member gave it in two different months;
  a practice when the member answered a progress check in a later month than their first
  answer to it (adopted practices are not asked again: their latest answer stands).

`bilan_pdf.py` draws these; bot/reports/observations.py reads the progress check's answers
(and gives /stats and the trainer's digest this month's check). Read-only: plain dataclasses
out, no telegram import, nothing written.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, case, func, select, type_coerce, union
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import ContentLibrary
from bot.models import (
    Challenge,
    ChallengeAnswer,
    ChallengeSubmission,
    Cohort,
    Enrolment,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
    Observation,
    Question,
    Rsvp,
    TipReceipt,
    TrainingSession,
)
from bot.reports import trios as trios_report
from bot.reports.observations import (
    Answer,
    first_and_latest,
    latest_period,
    read_observations,
)
from bot.reports.stats import cohort_stats
from bot.services.booster import Programme, programme_of_content

# A figure over fewer people than this is hidden (shown "< 5"), never given per person.
MIN_PEOPLE = 5
HIDDEN_TEXT = f"< {MIN_PEOPLE}"
NUMBER_METRICS = ("followers", "posts_7d", "customers_month")
PRACTICE_PREFIX = "practice:"
# The engagement chart shows at most this many weeks (the latest).
MAX_WEEKS = 104
TOP_THEMES = 5


# --- the one "< 5" rule -----------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A figure computed over `people` people, or hidden (`value` None, `people` 0)."""

    value: float | None
    people: int

    @property
    def hidden(self) -> bool:
        return self.value is None


HIDDEN = Figure(None, 0)


def figure(value: float | None, people: int) -> Figure:
    """The one privacy rule: a figure over fewer than MIN_PEOPLE people is hidden.

    A hidden figure keeps neither its value nor how many people it covered.
    """
    if people < MIN_PEOPLE or value is None:
        return HIDDEN
    return Figure(float(value), people)


def head_count(n: int) -> str:
    """A number of people as text for staff (/stats): "< 5" when `count(n)` is hidden."""
    return HIDDEN_TEXT if count(n).hidden else str(n)


def count(n: int) -> Figure:
    """A head count (a figure over `n` people)."""
    return figure(n, n)


def share(part: int, whole: int) -> Figure:
    """`part` out of `whole` people, as a share 0.0-1.0 over `whole` people."""
    return figure(part / whole if whole else None, whole)


# --- the report's sections ----------------------------------------------------------------


@dataclass(frozen=True)
class SessionLine:
    number: int
    starts_at: datetime
    theme: str
    present: Figure
    said_yes: Figure


@dataclass(frozen=True)
class WeekLine:
    week_start: date  # the Monday, in the cohort's zone
    answering: Figure  # share of the members enrolled that week


@dataclass(frozen=True)
class ObjectiveFigures:
    set_count: Figure
    reached_count: Figure
    people_with_one: Figure  # merchants who set at least one
    people_reached: Figure  # merchants who reached at least one


@dataclass(frozen=True)
class PracticeLine:
    practice_id: str
    first: Figure  # share adopted at the first answer (paired members)
    latest: Figure  # share adopted now (the same members)


@dataclass(frozen=True)
class NumberLine:
    metric: str
    first: Figure  # median at the first answer (paired members)
    latest: Figure  # median now (the same members)


@dataclass(frozen=True)
class ThemeLine:
    theme: str
    liked: Figure  # 👍 given to the theme's tips (over the people who voted on it)
    liked_share: Figure  # share of its votes that are 👍


@dataclass(frozen=True)
class ChallengeFigures:
    """The challenges of the programme (bot/services/challenges.py)."""

    sent: Figure  # challenges set for the cohort (how many)
    taken: Figure  # members who answered at least one ("not this time" included)
    done: Figure  # members who took one up (a proof or "done")

    @classmethod
    def of(cls, *, sent: int, taken: int, done: int) -> ChallengeFigures:
        # `sent` counts challenges, not people: shown as it is.
        return cls(Figure(float(sent), sent), count(taken), count(done))


@dataclass(frozen=True)
class TrioFigures:
    """Peer trios and the months after the last session (bot/reports/trios.py)."""

    encouraged_this_month: Figure  # share who encouraged or were encouraged this month
    # Months after the last session -> share still answering (1, 3, 6).
    still_answering: Mapping[int, Figure] = field(default_factory=dict)


@dataclass(frozen=True)
class BilanData:
    """Everything the impact report shows. Optional sections: None leaves them out."""

    cohort_name: str
    commune: str
    zone: str
    generated_at: datetime
    started_on: date
    members: Figure  # merchants enrolled now
    members_ever: Figure  # merchants who joined the programme
    sessions: tuple[SessionLine, ...]
    upcoming_sessions: int
    weeks: tuple[WeekLine, ...]
    answering_average: Figure  # share answering in an average week
    objectives: ObjectiveFigures
    # Members who answered the progress check at least once, and at least twice (months).
    followed: Figure
    paired: Figure
    practices: tuple[PracticeLine, ...]
    numbers: tuple[NumberLine, ...]
    themes: tuple[ThemeLine, ...]
    challenges: ChallengeFigures | None = None
    trios: TrioFigures | None = None

    @property
    def has_observations(self) -> bool:
        return not self.followed.hidden


# --- queries ------------------------------------------------------------------------------


def practice_lines(
    observations: Sequence[Answer], practice_ids: Sequence[str]
) -> tuple[list[PracticeLine], set[int]]:
    """Adoption at the first answer and now, over the same (paired) members per practice."""
    pairs = first_and_latest(observations)
    last_period = latest_period(observations)
    lines: list[PracticeLine] = []
    paired_people: set[int] = set()
    for practice_id in practice_ids:
        firsts: list[int] = []
        latests: list[int] = []
        for member_id, (first, latest) in pairs.get(PRACTICE_PREFIX + practice_id, {}).items():
            if last_period[member_id] <= first[3]:
                continue  # no later check answered: nothing to compare
            paired_people.add(member_id)
            firsts.append(1 if first[2] else 0)
            latests.append(1 if latest[2] else 0)
        lines.append(
            PracticeLine(
                practice_id,
                share(sum(firsts), len(firsts)),
                share(sum(latests), len(latests)),
            )
        )
    return lines, paired_people


def number_lines(observations: Sequence[Answer]) -> tuple[list[NumberLine], set[int]]:
    """Medians at the first answer and now, over the members who gave the number twice."""
    pairs = first_and_latest(observations)
    lines: list[NumberLine] = []
    paired_people: set[int] = set()
    for metric in NUMBER_METRICS:
        firsts: list[int] = []
        latests: list[int] = []
        for member_id, (first, latest) in pairs.get(metric, {}).items():
            if latest[3] <= first[3]:
                continue  # given in one month only
            paired_people.add(member_id)
            firsts.append(first[2])
            latests.append(latest[2])
        n = len(firsts)
        lines.append(
            NumberLine(
                metric,
                figure(statistics.median(firsts) if n else None, n),
                figure(statistics.median(latests) if n else None, n),
            )
        )
    return lines, paired_people


def week_start(instant: datetime, zone: ZoneInfo) -> date:
    day = instant.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


async def _answer_hours(tx: AsyncSession, cohort_id: int, now: datetime) -> Sequence[Any]:
    """Distinct (member, hour) of every answer a member of the cohort gave up to `now` (see
    the module's doc). The database truncates to the hour and removes duplicates: a year of a
    large cohort is ~200k answers, and every answer of one hour falls in the same week. The
    hour comes as the driver gives it (SQLite: UTC text "YYYY-MM-DD HH"; PostgreSQL: an aware
    datetime).
    """
    postgresql = tx.get_bind().dialect.name == "postgresql"
    enrolled = select(Enrolment.member_id).where(Enrolment.cohort_id == cohort_id)
    sessions = select(TrainingSession.id).where(TrainingSession.cohort_id == cohort_id)

    def hour(column: Any) -> Any:
        if postgresql:
            return func.date_trunc("hour", column).label("at")
        # SQLite stores UTC instants as text: "2026-11-25 09:00:00.000000".
        return func.substr(type_coerce(column, String), 1, 13).label("at")

    checkins = (
        select(Objective.member_id.label("member_id"), hour(ObjectiveCheckin.answered_at))
        .join(ObjectiveCheckin, ObjectiveCheckin.objective_id == Objective.id)
        .where(Objective.cohort_id == cohort_id, ObjectiveCheckin.answered_at <= now)
    )
    rsvps = select(Rsvp.member_id, hour(Rsvp.updated_at)).where(
        Rsvp.session_id.in_(sessions), Rsvp.member_id.is_not(None), Rsvp.updated_at <= now
    )
    first_rsvps = select(Rsvp.member_id, hour(Rsvp.answered_at)).where(
        Rsvp.session_id.in_(sessions), Rsvp.member_id.is_not(None), Rsvp.answered_at <= now
    )
    votes = select(TipReceipt.member_id, hour(TipReceipt.feedback_at)).where(
        TipReceipt.member_id.in_(enrolled), TipReceipt.feedback_at <= now
    )
    checks = select(Observation.member_id, hour(Observation.observed_at)).where(
        Observation.cohort_id == cohort_id, Observation.observed_at <= now
    )
    asked = select(Question.member_id, hour(Question.asked_at)).where(
        Question.cohort_id == cohort_id, Question.asked_at <= now
    )
    # Typed loosely: SQLAlchemy cannot type a union of differently typed selects.
    every: Any = union(checkins, rsvps, first_rsvps, votes, checks, asked)
    return (await tx.execute(every)).all()


def _hour_instant(raw: str | datetime) -> datetime:
    """An hour as `_answer_hours` reads it, as an aware UTC datetime."""
    if isinstance(raw, datetime):
        return raw.astimezone(UTC) if raw.tzinfo else raw.replace(tzinfo=UTC)
    return datetime.fromisoformat(f"{raw}:00").replace(tzinfo=UTC)


async def weekly_answering(
    tx: AsyncSession, cohort: Cohort, now: datetime
) -> tuple[list[WeekLine], Figure]:
    """Per week since the programme began: the share of enrolled members who answered."""
    zone = ZoneInfo(cohort.timezone)
    enrolments: list[tuple[int, datetime, datetime | None]] = [
        (row.member_id, row.joined_at, row.left_at)
        for row in (
            await tx.execute(
                select(Enrolment.member_id, Enrolment.joined_at, Enrolment.left_at).where(
                    Enrolment.cohort_id == cohort.id
                )
            )
        ).all()
    ]
    if not enrolments:
        return [], HIDDEN
    first_week = week_start(min([cohort.created_at, *(row[1] for row in enrolments)]), zone)
    last_week = week_start(now, zone)
    weeks_count = (last_week - first_week).days // 7 + 1
    if weeks_count > MAX_WEEKS:
        first_week = last_week - timedelta(weeks=MAX_WEEKS - 1)
        weeks_count = MAX_WEEKS
    index_of = {first_week + timedelta(weeks=i): i for i in range(weeks_count)}
    answered: list[set[int]] = [set() for _ in range(weeks_count)]
    week_of_hour: dict[str | datetime, int | None] = {}
    for member_id, raw in await _answer_hours(tx, cohort.id, now):
        if raw is None:
            continue
        if raw in week_of_hour:
            index = week_of_hour[raw]
        else:
            index = week_of_hour[raw] = index_of.get(week_start(_hour_instant(raw), zone))
        if index is not None:
            answered[index].add(member_id)
    lines: list[WeekLine] = []
    shares: list[float] = []
    for i in range(weeks_count):
        monday = first_week + timedelta(weeks=i)
        begins = datetime.combine(monday, datetime.min.time(), zone)
        ends = begins + timedelta(days=7)
        base = {
            member_id
            for member_id, joined_at, left_at in enrolments
            if joined_at < ends and (left_at is None or left_at >= begins)
        }
        week = share(len(answered[i] & base), len(base))
        lines.append(WeekLine(monday, week))
        if week.value is not None:
            shares.append(week.value)
    # The average of the weeks shown: each of them is over MIN_PEOPLE people or more.
    shown = [line.answering.people for line in lines if not line.answering.hidden]
    average = figure(sum(shares) / len(shares), max(shown)) if shares else HIDDEN
    return lines, average


async def objective_figures(tx: AsyncSession, cohort_id: int) -> ObjectiveFigures:
    done = ObjectiveStatus.DONE.value
    rows = (
        await tx.execute(
            select(Objective.member_id, Objective.status).where(Objective.cohort_id == cohort_id)
        )
    ).all()
    reached = [row for row in rows if row.status == done]
    return ObjectiveFigures(
        # Objectives are counted like people: a handful of them could point at someone.
        set_count=count(len(rows)),
        reached_count=count(len(reached)),
        people_with_one=count(len({row.member_id for row in rows})),
        people_reached=count(len({row.member_id for row in reached})),
    )


async def theme_lines(
    tx: AsyncSession, cohort_id: int, theme_of: Mapping[str, str], limit: int = TOP_THEMES
) -> list[ThemeLine]:
    """Tip themes by 👍 among the cohort's members, the most liked first.

    The database groups the votes by theme (tip id -> theme given as a CASE): a year of a
    large cohort is tens of thousands of votes, and only a handful of themes.
    """
    if not theme_of:
        return []
    enrolled = select(Enrolment.member_id).where(Enrolment.cohort_id == cohort_id)
    theme = case(dict(theme_of), value=TipReceipt.tip_id, else_=None).label("theme")
    up = func.sum(case((TipReceipt.feedback == "up", 1), else_=0))
    rows: Sequence[Any] = (
        await tx.execute(
            select(theme, func.count(func.distinct(TipReceipt.member_id)), up, func.count())
            .where(TipReceipt.member_id.in_(enrolled), TipReceipt.feedback.is_not(None))
            .group_by(theme)
        )
    ).all()
    found = [
        (code, int(voters), int(ups or 0), int(votes))
        for code, voters, ups, votes in rows
        if code is not None
    ]
    ranked = sorted(
        (line for line in found if line[1] >= MIN_PEOPLE and line[2]),
        key=lambda line: (-line[2], -line[2] / line[3], line[0]),
    )
    return [
        ThemeLine(code, figure(ups, voters), figure(ups / votes, voters))
        for code, voters, ups, votes in ranked[:limit]
    ]


async def bilan_data(
    tx: AsyncSession,
    cohort: Cohort,
    now: datetime,
    *,
    practice_ids: Sequence[str],
    theme_of: Mapping[str, str],
    programme: Programme | None = None,
) -> BilanData:
    """The impact report of `cohort` at `now`.

    `practice_ids`: the checklist's ids in order (content/practices.yaml); `theme_of`: tip id
    -> theme code (the tips library). Both come from the content the caller loaded.
    """
    held = await cohort_stats(tx, cohort.id, now)
    sessions = tuple(
        SessionLine(s.number, s.starts_at, s.theme, count(s.present), count(s.yes))
        for s in held.sessions
    )
    enrolled_now = await tx.scalar(
        select(func.count(Enrolment.id)).where(
            Enrolment.cohort_id == cohort.id, Enrolment.left_at.is_(None)
        )
    )
    joined = (
        await tx.execute(
            select(func.count(Enrolment.id), func.min(Enrolment.joined_at)).where(
                Enrolment.cohort_id == cohort.id
            )
        )
    ).one()
    first_session = sessions[0].starts_at if sessions else None
    starts = [cohort.created_at, *(at for at in (joined[1], first_session) if at is not None)]
    weeks, average = await weekly_answering(tx, cohort, now)
    observations = await read_observations(tx, cohort.id, now)
    practices, practice_people = practice_lines(observations, practice_ids)
    numbers, number_people = number_lines(observations)
    periods: dict[int, set[str]] = defaultdict(set)
    for member_id, _metric, _value, period in observations:
        periods[member_id].add(period)
    return BilanData(
        cohort_name=cohort.name,
        commune=cohort.commune,
        zone=cohort.timezone,
        generated_at=now,
        started_on=min(starts).astimezone(ZoneInfo(cohort.timezone)).date(),
        members=count(int(enrolled_now or 0)),
        members_ever=count(int(joined[0] or 0)),
        sessions=sessions,
        upcoming_sessions=held.upcoming,
        weeks=tuple(weeks),
        answering_average=average,
        objectives=await objective_figures(tx, cohort.id),
        followed=count(len(periods)),
        paired=count(len(practice_people | number_people)),
        practices=tuple(practices),
        numbers=tuple(numbers),
        themes=tuple(await theme_lines(tx, cohort.id, theme_of)),
        challenges=await challenge_section(tx, cohort.id),
        trios=await trio_section(tx, cohort, now, programme) if programme else None,
    )


async def challenge_section(tx: AsyncSession, cohort_id: int) -> ChallengeFigures | None:
    """Challenges set for the cohort, and how many members answered one / took one up (a
    proof or "done"); None when the cohort never had a challenge (the section is left out)."""
    challenge_ids = list(
        (await tx.scalars(select(Challenge.id).where(Challenge.cohort_id == cohort_id))).all()
    )
    if not challenge_ids:
        return None
    rows = (
        await tx.execute(
            select(ChallengeSubmission.member_id, ChallengeSubmission.answer).where(
                ChallengeSubmission.challenge_id.in_(challenge_ids),
                ChallengeSubmission.current.is_(True),
            )
        )
    ).all()
    done = (ChallengeAnswer.PROOF.value, ChallengeAnswer.DONE.value)
    return ChallengeFigures.of(
        sent=len(challenge_ids),
        taken=len({member_id for member_id, _ in rows}),
        done=len({member_id for member_id, answer in rows if answer in done}),
    )


async def trio_section(
    tx: AsyncSession, cohort: Cohort, now: datetime, programme: Programme
) -> TrioFigures | None:
    """The trios this month and the months after the last session (bot/reports/trios.py), or
    None when the cohort has neither trios nor an end yet (the section is left out)."""
    month = f"{now.astimezone(ZoneInfo(cohort.timezone)):%Y-%m}"
    figures = await trios_report.cohort_trio_figures(tx, cohort.id, month)
    retention = await trios_report.booster_retention(tx, cohort.id, now, programme)
    measured = [point for point in retention if point.answering is not None]
    if not figures.in_trios and not measured:
        return None
    return TrioFigures(
        share(figures.active, figures.in_trios),
        {point.months: share(point.answering or 0, point.merchants) for point in measured},
    )


async def bilan_with_content(
    tx: AsyncSession,
    cohort: Cohort,
    now: datetime,
    content: ContentLibrary,
    booster_months: int | None = None,
) -> BilanData:
    """`bilan_data` with the checklist and the tips' themes of the loaded content
    (`booster_months`: the setting, for the section on the months after the last session)."""
    return await bilan_data(
        tx,
        cohort,
        now,
        practice_ids=[practice.id for practice in content.practices],
        theme_of={tip.id: tip.theme for tip in content.tips},
        programme=(
            Programme(booster_months, programme_of_content(content))
            if booster_months is not None
            else None
        ),
    )
