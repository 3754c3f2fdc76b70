"""The trainer's digest: what happened to the cohort's objectives since the last session.

Sent the day before each session (bot/services/checkins.py renders it): how many objectives
were set, reached, in progress or stuck since the period began, who is stuck and on what,
the questions still waiting for an answer, and this month's progress check (who has not
answered it yet, who moved since their first answer: bot/reports/observations.py).

Read-only: plain data out, no telegram import, nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Cohort, Member, Question, TrainingSession
from bot.reports.group import (
    ACTIVE,
    GroupState,
    cohort_objectives,
    last_answered,
    objective_state,
)
from bot.reports.observations import ProgressSummary
from bot.reports.stats import progress_figures
from bot.reports.trios import TrioFigures, cohort_trio_figures


@dataclass(frozen=True)
class StuckItem:
    first_name: str
    business_name: str | None
    objective_text: str
    blocker: str | None
    since: datetime | None


@dataclass(frozen=True)
class OpenQuestion:
    id: int
    first_name: str
    text: str
    asked_at: datetime


@dataclass(frozen=True)
class DigestData:
    since: datetime
    merchants: int
    set_count: int  # objectives set since `since`
    done_count: int  # reached since `since`
    doing_count: int  # active, last answer "in progress"
    stuck_count: int
    no_news_count: int
    stuck: tuple[StuckItem, ...]
    questions: tuple[OpenQuestion, ...]
    # This month's progress check (None while nobody in the cohort ever answered one).
    progress: ProgressSummary | None = None
    # The trios this month (bot/reports/trios.py); None when the cohort has none.
    trios: TrioFigures | None = None

    @property
    def has_news(self) -> bool:
        """Anything to tell: objectives set, reached or in play, or a question waiting."""
        return bool(
            self.set_count
            or self.done_count
            or self.doing_count
            or self.stuck_count
            or self.no_news_count
            or self.questions
            or (self.progress is not None and bool(self.progress.moved))
        )


async def open_questions(
    tx: AsyncSession, cohort_id: int, *, limit: int = 20
) -> list[OpenQuestion]:
    rows = await tx.execute(
        select(Question.id, Member.first_name, Question.text, Question.asked_at)
        .join(Member, Member.id == Question.member_id)
        .where(Question.cohort_id == cohort_id, Question.answered_at.is_(None))
        .order_by(Question.asked_at, Question.id)
        .limit(limit)
    )
    return [OpenQuestion(*row) for row in rows.all()]


async def trainer_digest(
    tx: AsyncSession,
    cohort_id: int,
    *,
    since: datetime,
    now: datetime | None = None,
    month: str | None = None,
) -> DigestData:
    """What the trainer needs the day before a session: counts, who is stuck, questions, and
    (given `now`) this month's progress check, (`month`, "YYYY-MM") how the trios encouraged
    each other that month."""
    members, by_member = await cohort_objectives(tx, cohort_id)
    enrolled = {member.id: member for member in members}
    set_count = done = doing = stuck_count = no_news = 0
    stuck: list[StuckItem] = []
    for member_id, objectives in by_member.items():
        member = enrolled.get(member_id)
        if member is None:
            continue
        for objective in objectives:
            if objective.created_at >= since:
                set_count += 1
            state = objective_state(objective)
            if state is GroupState.DONE and objective.closed_at and objective.closed_at >= since:
                done += 1
            if objective.status != ACTIVE:
                continue
            if state is GroupState.DOING:
                doing += 1
            elif state is GroupState.NO_NEWS:
                no_news += 1
            elif state is GroupState.STUCK:
                stuck_count += 1
                last = last_answered(objective)
                stuck.append(
                    StuckItem(
                        member.first_name,
                        member.business_name,
                        objective.text,
                        last.blocker if last else None,
                        last.answered_at if last else None,
                    )
                )
    stuck.sort(key=lambda item: (item.first_name.lower(), item.objective_text))
    return DigestData(
        since=since,
        merchants=len(members),
        set_count=set_count,
        done_count=done,
        doing_count=doing,
        stuck_count=stuck_count,
        no_news_count=no_news,
        stuck=tuple(stuck),
        questions=tuple(await open_questions(tx, cohort_id)),
        progress=await progress_figures(tx, cohort_id, now) if now is not None else None,
        trios=await _trio_figures(tx, cohort_id, month),
    )


async def _trio_figures(tx: AsyncSession, cohort_id: int, month: str | None) -> TrioFigures | None:
    if month is None:
        return None
    figures = await cohort_trio_figures(tx, cohort_id, month)
    return figures if figures.in_trios else None


async def digest_since(tx: AsyncSession, cohort_id: int, before: datetime) -> datetime:
    """The start of the period a digest covers: the previous session, else the cohort's start."""
    previous = await tx.scalar(
        select(func.max(TrainingSession.starts_at)).where(
            TrainingSession.cohort_id == cohort_id,
            TrainingSession.cancelled_at.is_(None),
            TrainingSession.starts_at < before,
        )
    )
    if previous is not None:
        return previous
    created = await tx.scalar(select(Cohort.created_at).where(Cohort.id == cohort_id))
    return created or before - timedelta(days=30)
