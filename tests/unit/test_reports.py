"""Read-only views for staff: /groupe, the trainer's digest, /stats (attendance and the
coaching loop) and /export."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import Database
from bot.models import CheckinAnswer, Cohort, Enrolment, Member, Objective, RsvpAnswer
from bot.reports import digest
from bot.reports import group as group_report
from bot.reports import stats as stats_report
from bot.reports.group import GroupState
from bot.reports.stats import Trend
from bot.services import attendance, questions
from bot.services import objectives as objs
from tests.factories import (
    BRUSSELS,
    make_cohort,
    make_member,
    make_objective,
    make_rsvp,
    make_session,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday 25 November, 10:00 in Brussels
START = datetime(2026, 12, 2, 18, tzinfo=UTC)


# -- /groupe and the trainer's digest --------------------------------------------------------


async def make_group(
    session: AsyncSession,
) -> tuple[Cohort, dict[str, Member], dict[str, Objective]]:
    cohort = await make_cohort(session)
    people = {
        name: await make_member(session, cohort, name, business_name=f"Chez {name}")
        for name in ("Alice", "Bruno", "Chloé", "David", "Emma")
    }
    made = {
        "Alice": await make_objective(session, people["Alice"], cohort, text="Vidéo avant/après"),
        "Bruno": await make_objective(session, people["Bruno"], cohort, text="Avis Google"),
        "Chloé": await make_objective(session, people["Chloé"], cohort, text="Fiche Google"),
        "David": await make_objective(session, people["David"], cohort, text="Stories"),
    }
    later = NOW + timedelta(days=6)
    stuck = await objs.answer_checkin(session, made["Bruno"], CheckinAnswer.STUCK, later, BRUSSELS)
    assert stuck.checkin_id is not None
    await objs.record_blocker(session, made["Bruno"], stuck.checkin_id, "Je n'ose pas demander")
    await objs.answer_checkin(session, made["Chloé"], CheckinAnswer.DONE, later, BRUSSELS)
    await objs.answer_checkin(session, made["David"], CheckinAnswer.DOING, later, BRUSSELS)
    return cohort, people, made


async def test_the_group_shows_the_stuck_first_then_no_news_doing_done_none(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort, _, _ = await make_group(session)
        first = await group_report.group_overview(session, cohort.id, page=0, page_size=3)
        second = await group_report.group_overview(session, cohort.id, page=1, page_size=3)
        beyond = await group_report.group_overview(session, cohort.id, page=7, page_size=3)
    assert [(row.first_name, row.state) for row in first.rows + second.rows] == [
        ("Bruno", GroupState.STUCK),
        ("Alice", GroupState.NO_NEWS),
        ("David", GroupState.DOING),
        ("Chloé", GroupState.DONE),
        ("Emma", GroupState.NONE),
    ]
    assert first.rows[0].blocker == "Je n'ose pas demander"
    assert first.rows[0].business_name == "Chez Bruno"
    assert (first.pages, first.total, beyond.page) == (2, 5, 1)
    assert first.counts[GroupState.STUCK] == 1


async def test_the_digest_counts_the_period_and_lists_stuck_and_open_questions(
    db: Database,
) -> None:
    async with db.unit_of_work() as session:
        cohort, people, _ = await make_group(session)
        await questions.ask(
            session, member_id=people["Emma"].id, cohort_id=cohort.id, text="Reels ?", now=NOW
        )
        data = await digest.trainer_digest(session, cohort.id, since=NOW - timedelta(days=1))
        nothing_new = await digest.trainer_digest(session, cohort.id, since=NOW + timedelta(days=7))
    assert (data.set_count, data.done_count, data.doing_count) == (4, 1, 1)
    assert (data.stuck_count, data.no_news_count, data.merchants) == (1, 1, 5)
    assert [(item.first_name, item.blocker) for item in data.stuck] == [
        ("Bruno", "Je n'ose pas demander")
    ]
    assert [(q.first_name, q.text) for q in data.questions] == [("Emma", "Reels ?")]
    assert (nothing_new.set_count, nothing_new.done_count, nothing_new.stuck_count) == (0, 0, 1)


async def test_engagement_summary_for_stats(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort, _people, _ = await make_group(session)
        # Someone who left the cohort does not count.
        leaver = await make_member(session, cohort, "Fanny")
        await make_objective(session, leaver, cohort)
        enrolment = await session.scalar(select(Enrolment).where(Enrolment.member_id == leaver.id))
        assert enrolment is not None
        enrolment.left_at = NOW
        summary = await stats_report.engagement_summary(session, cohort.id, NOW + timedelta(days=7))
        a_month_later = await stats_report.engagement_summary(
            session, cohort.id, NOW + timedelta(days=30)
        )
    assert summary.merchants == 5
    assert summary.answered_last_7_days == 3  # Bruno, Chloé, David
    assert (summary.objectives_set, summary.objectives_done) == (5, 1)
    assert summary.with_active_objective == 3  # Alice, Bruno, David
    assert summary.share_with_active == pytest.approx(0.6)
    assert a_month_later.answered_last_7_days == 0


# -- /stats: attendance across sessions -------------------------------------------------------


async def test_stats_count_present_yes_no_show_and_trend(db: Database, settings: Settings) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        people = [await make_member(session, cohort, f"P{i}") for i in range(5)]
        held = [
            await make_session(session, cohort, START + timedelta(days=7 * i)) for i in range(3)
        ]
        await make_session(session, cohort, START + timedelta(days=30))  # not held yet
        cancelled = await make_session(session, cohort, START + timedelta(days=1))
        cancelled.cancelled_at = START
        # Session 1: 2 yes, 1 came. Session 2: 3 yes, 3 came. Session 3: 4 yes, 4 came + 1 walk-in.
        plan = [(2, 1), (3, 3), (4, 4)]
        for ts, (said_yes, came) in zip(held, plan, strict=True):
            for person in people[:said_yes]:
                await make_rsvp(session, ts, person, RsvpAnswer.YES)
            for person in people[:came]:
                await attendance.toggle(session, ts=ts, member_id=person.id, by_id=None, now=START)
        await attendance.add_by_name(session, ts=held[2], name="Walk-in", by_id=None, now=START)
        stats = await stats_report.cohort_stats(session, cohort.id, START + timedelta(days=20))
    assert [(s.present, s.yes, s.no_show_rate, s.change) for s in stats.sessions] == [
        (1, 2, 0.5, None),
        (3, 3, 0.0, 2),
        (5, 4, 0.0, 2),
    ]
    assert stats.trend is Trend.UP
    assert stats.upcoming == 1


@pytest.mark.parametrize(
    ("counts", "trend"),
    [
        ([], None),
        ([4], None),
        ([4, 8], Trend.UP),
        ([8, 4], Trend.DOWN),
        ([5, 5, 6, 5], Trend.STEADY),
        ([3, 6, 9, 12], Trend.UP),
    ],
)
def test_trend_of_attendance(counts: list[int], trend: Trend | None) -> None:
    assert stats_report.trend_of(counts) == trend


# -- the house rules of bot/reports/ ---------------------------------------------------------------

REPORTS = Path(__file__).resolve().parents[2] / "bot" / "reports"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*.py")), ids=lambda p: p.name)
def test_a_report_neither_imports_telegram_nor_writes(path: Path) -> None:
    assert not any(m == "telegram" or m.startswith("telegram.") for m in _imported_modules(path))
    source = path.read_text(encoding="utf-8")
    for write in ("tx.add(", "tx.delete(", "commit(", "tx.flush("):
        assert write not in source, f"{path.name} writes ({write})"
