"""The progress check's rules without Telegram: typed numbers, ranges, which questions, the
monthly moments (DST, month lengths), milestones, and the planner reading only who is due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database
from bot.delivery.planner import plan_window
from bot.models import Member
from bot.services import progress as pg
from tests import factories

BRUSSELS = ZoneInfo("Europe/Brussels")
TUE_FRI = frozenset({1, 4})


@pytest.mark.parametrize(
    ("text", "metric", "value", "problem"),
    [
        ("environ 200", "followers", 200, None),
        ("200 abonnés", "followers", 200, None),
        ("1.200", "followers", 1200, None),
        ("1 200", "followers", 1200, None),
        ("1,200", "followers", 1200, None),
        ("2k", "followers", 2000, None),
        ("1,5k", "followers", 1500, None),
        ("0", "posts_7d", 0, None),
        ("ongeveer 15", "customers_month", 15, None),
        ("-5", "posts_7d", None, pg.NumberProblem.NEGATIVE),
        ("9999999999", "followers", None, pg.NumberProblem.TOO_BIG),
        ("99999999999999999999", "followers", None, pg.NumberProblem.TOO_BIG),
        ("500", "posts_7d", None, pg.NumberProblem.TOO_BIG),
        ("beaucoup", "followers", None, pg.NumberProblem.NONE),
        ("", "followers", None, pg.NumberProblem.NONE),
    ],
)
def test_a_typed_number_is_understood_when_there_is_one(
    text: str, metric: str, value: int | None, problem: pg.NumberProblem | None
) -> None:
    assert pg.parse_number(text, metric) == pg.ParsedNumber(value, problem)


def test_a_range_stores_its_midpoint_and_the_open_range_its_lower_bound() -> None:
    assert [item.value for item in pg.RANGES["customers_month"]] == [0, 3, 13, 35, 75, 101]
    assert pg.range_value("posts_7d", 4) == 8
    assert pg.range_value("posts_7d", 9) is None
    for metric, ranges in pg.RANGES.items():
        for index, item in enumerate(ranges):
            assert pg.range_index(metric, item.value) == index
            assert item.value <= pg.BOUNDS[metric]


def test_the_check_asks_the_numbers_then_only_practices_not_adopted() -> None:
    library = factories.content_library()
    answers = pg.MemberAnswers(
        answered={
            "followers": frozenset({"2026-11"}),
            "practice:weekly_post": frozenset({"2026-11"}),
        },
        adopted=frozenset({"weekly_post"}),
        adopted_before=frozenset({"weekly_post"}),
        has_earlier_periods=True,
    )
    question = pg.next_question(library, answers, "2026-12")
    assert question == pg.Question("followers", "2026-12", 1, 3 + len(library.practices) - 1)
    metrics = pg.check_metrics(library, answers)
    assert "practice:weekly_post" not in metrics
    assert metrics[:3] == ["followers", "posts_7d", "customers_month"]


@pytest.mark.parametrize(
    ("year", "month", "day", "expected"),
    [
        (2026, 12, 1, datetime(2026, 12, 1, 9, 30)),  # the 1st is a Tuesday
        (2027, 1, 1, datetime(2027, 1, 1, 9, 30)),  # a Friday
        (2027, 4, 1, datetime(2027, 4, 2, 9, 30)),  # Thursday: the Friday after
        (2027, 2, 28, datetime(2027, 3, 2, 9, 30)),  # the 28th (a Sunday) -> Tuesday
    ],
)
def test_the_check_is_the_first_tip_day_on_or_after_the_day_at_the_tip_time(
    year: int, month: int, day: int, expected: datetime
) -> None:
    moment = pg.check_moment(year, month, day, TUE_FRI, time(9, 30), BRUSSELS)
    assert moment == expected.replace(tzinfo=BRUSSELS).astimezone(UTC)
    assert moment.astimezone(BRUSSELS).time() == time(9, 30)


def test_the_reminder_is_the_first_tip_moment_three_days_later() -> None:
    check = pg.check_moment(2026, 12, 1, TUE_FRI, time(9, 30), BRUSSELS)
    assert pg.reminder_moment(check, TUE_FRI, time(9, 30), BRUSSELS) == check + timedelta(days=3)
    only_tuesday = frozenset({1})
    assert pg.reminder_moment(check, only_tuesday, time(9, 30), BRUSSELS) == check + timedelta(
        days=7
    )


def test_milestones_come_once_when_they_happen() -> None:
    baseline = "baseline"
    monthly = "monthly"
    before = [
        ("followers", 90, baseline),
        ("practice:weekly_post", 1, baseline),
        ("practice:short_video", 0, baseline),
    ]
    assert pg.milestones_reached(before, ("followers", 120)) == (pg.Milestone.FOLLOWERS_100,)
    assert pg.milestones_reached(before, ("followers", 99)) == ()
    assert pg.milestones_reached(before, ("practice:short_video", 1)) == (
        pg.Milestone.FIRST_VIDEO,
        pg.Milestone.PRACTICES_DOUBLED,  # 1 at the baseline, 2 now
    )
    later = [*before, ("practice:short_video", 1, monthly), ("followers", 150, monthly)]
    assert pg.milestones_reached(later, ("followers", 130)) == ()  # 100 was crossed already
    assert pg.milestones_reached(later, ("practice:gone_live", 1)) == (pg.Milestone.FIRST_LIVE,)


async def test_the_planner_reads_only_who_is_due_and_stores_their_next_moment(
    db: Database, settings: Settings
) -> None:
    clock = ManualClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    async with db.unit_of_work() as tx:
        cohort = await factories.make_cohort(tx)
        members = [
            await factories.make_member(
                tx, cohort, f"M{i}", joined_at=clock.now(), onboarded_at=clock.now()
            )
            for i in range(3)
        ]
    window = plan_window(settings, datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    async with db.unit_of_work() as tx:
        assert await pg.plan_progress_checks(tx, window) == []
        stored = (await tx.scalars(select(Member.next_progress_at))).all()
    december = datetime(2026, 12, 1, 9, 30, tzinfo=BRUSSELS).astimezone(UTC)
    assert stored == [december] * 3

    # The next tick before December reads nobody; at the moment, everyone's check.
    async with db.unit_of_work() as tx:
        assert (
            await pg.plan_progress_checks(tx, plan_window(settings, december - timedelta(hours=1)))
            == []
        )
        planned = await pg.plan_progress_checks(tx, plan_window(settings, december))
    assert [(p.member_id, p.dedup_key, p.due_at) for p in planned] == [
        (m.id, "progress:2026-12", december) for m in members
    ]
    async with db.unit_of_work() as tx:
        stored = (await tx.scalars(select(Member.next_progress_at))).all()
    assert stored == [december + timedelta(days=3)] * 3  # the reminder, Friday

    # New tip days reset the stored time (bot/services/due_times.py), like the tips'.
    async with db.unit_of_work() as tx:
        await tx.execute(update(Member).values(next_progress_at=None))
    async with db.unit_of_work() as tx:
        planned = await pg.plan_progress_checks(tx, plan_window(settings, december))
    assert len(planned) == 3  # planning again is idempotent in the outbox (dedup keys)
