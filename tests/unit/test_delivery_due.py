"""Planning by stored due time (bot/delivery/due.py): the tip and check-in planners read only
the rows whose time has come, move the time on when they plan, and whatever changes a
member's rhythm resets it; a NULL time is worked out at the next tick.

The last test runs weeks of ticks with people changing their settings and answering, and
checks at every tick that the planners plan exactly what they would if they looked at
everyone (as they did before due times were stored).
"""

from __future__ import annotations

import contextlib
import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import load_for_bot
from bot.db import Database
from bot.delivery import due as due_times
from bot.delivery.outbox import enqueue
from bot.delivery.registry import DeliveryRegistry, Planned, PlanWindow, RenderContext, Skip
from bot.i18n import I18n
from bot.models import (
    CheckinAnswer,
    Cohort,
    Delivery,
    DeliveryStatus,
    Enrolment,
    MeasureKind,
    Member,
    Objective,
)
from bot.services import checkins, members, preferences, tips
from bot.services import objectives as objs

BRUSSELS = ZoneInfo("Europe/Brussels")
_ids = itertools.count(90_001)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BRUSSELS).astimezone(UTC)


JOINED = local(2026, 10, 1, 12)


def window(settings: Settings, now: datetime) -> PlanWindow:
    return PlanWindow(now=now, horizon=now + timedelta(seconds=60), settings=settings)


async def add_cohort(session: AsyncSession, zone: str = "Europe/Brussels") -> Cohort:
    row = Cohort(
        name="Estaimpuis", commune="Estaimpuis", timezone=zone, language="fr",
        join_code=f"D{next(_ids)}",
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def add_merchant(
    session: AsyncSession,
    group: Cohort,
    *,
    days: str = "tue,fri",
    at: time = time(9, 30),
    joined: datetime = JOINED,
) -> Member:
    user_id = next(_ids)
    member = Member(
        telegram_user_id=user_id, chat_id=user_id, first_name="Alice",
        business_name="Salon Alice", sector="beauty", language="fr", tip_days=days,
        tip_time=at, onboarded_at=joined, consent_at=joined, active_cohort_id=group.id,
        created_at=joined,
    )  # fmt: skip
    session.add(member)
    await session.flush()
    session.add(Enrolment(cohort_id=group.id, member_id=member.id, joined_at=joined))
    await session.flush()
    return member


async def next_tip_at(db: Database, member_id: int) -> datetime | None:
    async with db.unit_of_work() as session:
        return await session.scalar(select(Member.next_tip_at).where(Member.id == member_id))


async def next_checkin_at(db: Database, objective_id: int) -> datetime | None:
    async with db.unit_of_work() as session:
        return await session.scalar(
            select(Objective.next_checkin_at).where(Objective.id == objective_id)
        )


async def plan_tips(db: Database, settings: Settings, now: datetime) -> list[str]:
    async with db.unit_of_work() as session:
        planned = await tips.plan_tips(session, window(settings, now))
        await enqueue(session, planned)
    return [item.dedup_key for item in planned]


# -- tips -------------------------------------------------------------------------------------


async def test_planning_a_tip_moves_the_due_time_to_the_next_tip_moment(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        alice = await add_merchant(session, await add_cohort(session))
    assert await next_tip_at(db, alice.id) is None  # new: worked out at the next tick

    assert await plan_tips(db, settings, local(2026, 11, 23, 12)) == []  # Monday
    assert await next_tip_at(db, alice.id) == local(2026, 11, 24, 9, 30)

    assert await plan_tips(db, settings, local(2026, 11, 24, 9, 29)) == ["tip:2026-11-24"]
    assert await next_tip_at(db, alice.id) == local(2026, 11, 27, 9, 30)  # Friday
    # Until then the member is not even read.
    assert await plan_tips(db, settings, local(2026, 11, 24, 9, 30)) == []
    assert await plan_tips(db, settings, local(2026, 11, 27, 9, 30)) == ["tip:2026-11-27"]
    assert await next_tip_at(db, alice.id) == local(2026, 12, 1, 9, 30)


async def test_changing_tip_days_or_time_recomputes_the_due_time(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        alice = await add_merchant(session, await add_cohort(session))
    await plan_tips(db, settings, local(2026, 11, 24, 9, 29))
    assert await next_tip_at(db, alice.id) == local(2026, 11, 27, 9, 30)

    # Wednesday added on Tuesday at noon: in the same unit of work the stored time is
    # forgotten, and the next tick finds Wednesday.
    async with db.unit_of_work() as session:
        await preferences.toggle_day(session, alice.id, "wed")
        assert (await session.get(Member, alice.id)).next_tip_at is None  # type: ignore[union-attr]
    assert await next_tip_at(db, alice.id) is None
    assert await plan_tips(db, settings, local(2026, 11, 24, 12)) == []
    assert await next_tip_at(db, alice.id) == local(2026, 11, 25, 9, 30)

    # Earlier on that Wednesday: 08:00, and it is planned at 08:00.
    async with db.unit_of_work() as session:
        await preferences.set_time(session, alice.id, time(8, 0), None)
    assert await plan_tips(db, settings, local(2026, 11, 24, 12)) == []
    assert await next_tip_at(db, alice.id) == local(2026, 11, 25, 8, 0)
    assert await plan_tips(db, settings, local(2026, 11, 25, 7, 59)) == ["tip:2026-11-25"]


async def test_a_member_who_resumes_gets_the_tip_of_the_morning_as_before(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        alice = await add_merchant(session, await add_cohort(session))
        await preferences.set_paused(session, alice.id, True)
    # Paused at the tip moment: nothing, and the time moves on all the same.
    assert await plan_tips(db, settings, local(2026, 11, 24, 9, 30)) == []
    assert await next_tip_at(db, alice.id) == local(2026, 11, 27, 9, 30)
    async with db.unit_of_work() as session:
        await preferences.set_paused(session, alice.id, False)
    # Back at 11:00: the 09:30 tip is still within the tolerance, as it always was.
    assert await plan_tips(db, settings, local(2026, 11, 24, 11)) == ["tip:2026-11-24"]


async def test_joining_another_cohort_follows_its_zone(db: Database, settings: Settings) -> None:
    async with db.unit_of_work() as session:
        alice = await add_merchant(session, await add_cohort(session))
        montreal = await add_cohort(session, "America/Montreal")
    await plan_tips(db, settings, local(2026, 11, 24, 9, 29))
    assert await next_tip_at(db, alice.id) == local(2026, 11, 27, 9, 30)
    async with db.unit_of_work() as session:
        outcome = await members.join_cohort(session, alice.id, montreal.id, local(2026, 11, 25))
        assert outcome is members.JoinOutcome.JOINED
    assert await next_tip_at(db, alice.id) is None
    await plan_tips(db, settings, local(2026, 11, 25, 1))
    montreal_friday = datetime(2026, 11, 27, 9, 30, tzinfo=ZoneInfo("America/Montreal"))
    assert await next_tip_at(db, alice.id) == montreal_friday.astimezone(UTC)


@pytest.mark.parametrize(
    ("first_day", "offsets"),
    [
        # The week summer time ends (Sunday 25 October 2026): 09:30 is 07:30 UTC, then 08:30.
        (date(2026, 10, 22), [2] * 3 + [1] * 4),
        # The week it starts (Sunday 28 March 2027): 08:30 UTC, then 07:30.
        (date(2027, 3, 25), [1] * 3 + [2] * 4),
    ],
)
async def test_a_daylight_saving_week_keeps_the_wall_time(
    db: Database, settings: Settings, first_day: date, offsets: list[int]
) -> None:
    every_day = "mon,tue,wed,thu,fri,sat,sun"
    async with db.unit_of_work() as session:
        alice = await add_merchant(session, await add_cohort(session), days=every_day)
    day = first_day
    previous = datetime.combine(first_day - timedelta(days=1), time(12), BRUSSELS)
    await plan_tips(db, settings, previous.astimezone(UTC))
    for offset in offsets:
        moment = datetime.combine(day, time(9, 30), UTC) - timedelta(hours=offset)
        assert await next_tip_at(db, alice.id) == moment
        assert await plan_tips(db, settings, moment - timedelta(seconds=30)) == [
            f"tip:{day.isoformat()}"
        ]
        day += timedelta(days=1)


async def test_null_due_times_are_caught_up_in_batches(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.unit_of_work() as session:
        group = await add_cohort(session)
        people = [await add_merchant(session, group) for _ in range(5)]
    await plan_tips(db, settings, local(2026, 11, 23, 12))
    # As after the migration (or a change that forgot nothing but the time): NULL again.
    async with db.unit_of_work() as session:
        await session.execute(update(Member).values(next_tip_at=None))
    monkeypatch.setattr(due_times, "BATCH", 2)
    assert await plan_tips(db, settings, local(2026, 11, 24, 9, 29)) == ["tip:2026-11-24"] * 5
    for person in people:
        assert await next_tip_at(db, person.id) == local(2026, 11, 27, 9, 30)


async def test_the_catch_up_is_bounded_per_tick(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After the migration every row is NULL: a tick works out a bounded number of them.
    async with db.unit_of_work() as session:
        group = await add_cohort(session)
        people = [await add_merchant(session, group) for _ in range(5)]
    monkeypatch.setattr(due_times, "BATCH", 2)
    monkeypatch.setattr(due_times, "CATCH_UP", 3)
    await plan_tips(db, settings, local(2026, 11, 23, 12))
    known = [await next_tip_at(db, person.id) for person in people]
    assert sum(value is not None for value in known) == 4  # two batches of two
    await plan_tips(db, settings, local(2026, 11, 23, 12, 1))
    assert all([await next_tip_at(db, person.id) for person in people])


async def test_a_member_without_tip_days_is_looked_at_again_only_weekly(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        ghost = await add_merchant(session, await add_cohort(session), days="")
    now = local(2026, 11, 24, 9, 29)
    assert await plan_tips(db, settings, now) == []
    assert await next_tip_at(db, ghost.id) == now + timedelta(seconds=60) + due_times.IDLE_RECHECK


# -- check-ins --------------------------------------------------------------------------------


async def new_objective(db: Database, member: Member, cohort_id: int, now: datetime) -> Objective:
    async with db.unit_of_work() as session:
        return await objs.create_objective(
            session,
            member_id=member.id,
            cohort_id=cohort_id,
            draft=objs.Draft("Publier une vidéo", MeasureKind.BINARY, date(2027, 1, 31)),
            now=now,
            zone=BRUSSELS,
        )


async def plan_checkins(db: Database, settings: Settings, now: datetime) -> list[str]:
    async with db.unit_of_work() as session:
        planned = await checkins.plan_checkins(session, window(settings, now))
        await enqueue(session, planned)
    return [item.dedup_key for item in planned]


async def test_a_check_in_moves_on_when_planned_and_starts_again_when_asked_or_answered(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        group = await add_cohort(session)
        alice = await add_merchant(session, group)
    objective = await new_objective(db, alice, group.id, local(2026, 11, 25, 10))
    assert await next_checkin_at(db, objective.id) is None
    # Set on Wednesday: the first check-in is on Tuesday (three days on, a tip day).
    assert await plan_checkins(db, settings, local(2026, 11, 25, 10)) == []
    assert await next_checkin_at(db, objective.id) == local(2026, 12, 1, 9, 30)

    key = f"checkin:{objective.id}:2026-12-01"
    assert await plan_checkins(db, settings, local(2026, 12, 1, 9, 29)) == [key]
    # Planned: not read again until that moment is past (the next tip moment, Friday).
    assert await next_checkin_at(db, objective.id) == local(2026, 12, 4, 9, 30)
    assert await plan_checkins(db, settings, local(2026, 12, 1, 9, 30)) == []

    # Asked (the after-send hook): worked out again at the next tick, a week on.
    async with db.unit_of_work() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.dedup_key == key))
        assert delivery is not None
        await checkins.checkin_sent(session, delivery, local(2026, 12, 1, 9, 30))
    assert await next_checkin_at(db, objective.id) is None
    await plan_checkins(db, settings, local(2026, 12, 1, 10))
    assert await next_checkin_at(db, objective.id) == local(2026, 12, 8, 9, 30)

    # Answered on Thursday: reset again; the answer belongs to Tuesday's question, so the
    # next one is still a week after it.
    async with db.unit_of_work() as session:
        found = await session.get(Objective, objective.id)
        assert found is not None
        await objs.answer_checkin(
            session, found, CheckinAnswer.DOING, local(2026, 12, 3, 12), BRUSSELS
        )
    assert await next_checkin_at(db, objective.id) is None
    await plan_checkins(db, settings, local(2026, 12, 3, 12, 1))
    assert await next_checkin_at(db, objective.id) == local(2026, 12, 8, 9, 30)


async def test_a_change_of_tip_time_resets_the_check_ins_too(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        group = await add_cohort(session)
        alice = await add_merchant(session, group)
    objective = await new_objective(db, alice, group.id, local(2026, 11, 25, 10))
    await plan_checkins(db, settings, local(2026, 11, 25, 10))
    assert await next_checkin_at(db, objective.id) == local(2026, 12, 1, 9, 30)
    async with db.unit_of_work() as session:
        await preferences.set_time(session, alice.id, time(8, 0), None)
    assert await next_checkin_at(db, objective.id) is None
    assert await plan_checkins(db, settings, local(2026, 11, 30, 12)) == []
    assert await next_checkin_at(db, objective.id) == local(2026, 12, 1, 8, 0)


# -- the whole: planning by due time plans what looking at everyone would -------------------


class Simulation:
    """People with random rhythms, changing them and answering at random, ticked for weeks."""

    def __init__(self, db: Database, settings: Settings, seed: int) -> None:
        self.db = db
        self.settings = settings
        self.random = random.Random(seed)
        self.registry = DeliveryRegistry()
        checkins.register_deliveries(self.registry)
        tips.register_deliveries(self.registry, load_for_bot())
        self.i18n = I18n()
        self.people: list[int] = []
        self.cohort_id = 0
        self.planned = 0
        self.actions = 0

    async def populate(self, count: int, start: datetime) -> None:
        async with self.db.unit_of_work() as session:
            group = await add_cohort(session)
            self.cohort_id = group.id
            for _ in range(count):
                days = self.random.sample(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], 2)
                at = self.random.choice(preferences.TIME_CHOICES)
                member = await add_merchant(
                    session, group, days=",".join(days), at=at, joined=start - timedelta(days=2)
                )
                self.people.append(member.id)
                due = start + timedelta(days=self.random.randint(5, 30))
                await objs.create_objective(
                    session, member_id=member.id, cohort_id=group.id,
                    draft=objs.Draft("Publier", MeasureKind.COUNT, due.date(), 2),
                    now=start - timedelta(days=self.random.randint(0, 6)), zone=BRUSSELS,
                )  # fmt: skip

    async def everyone(self, session: AsyncSession, now: datetime) -> set[tuple[int, str]]:
        """What the planners plan when they look at everyone (every stored time forgotten)."""
        nested = await session.begin_nested()
        await session.execute(update(Member).values(next_tip_at=None))
        await session.execute(update(Objective).values(next_checkin_at=None))
        planned: list[Planned] = []
        for planner in self.registry.planners.values():
            planned += await planner(session, window(self.settings, now))
        await nested.rollback()
        return await self.new(session, planned)

    async def new(self, session: AsyncSession, planned: list[Planned]) -> set[tuple[int, str]]:
        existing = set(
            (await session.execute(select(Delivery.member_id, Delivery.dedup_key))).all()
        )
        return {(item.member_id, item.dedup_key) for item in planned} - existing

    async def tick(self, now: datetime) -> None:
        async with self.db.unit_of_work() as session:
            expected = await self.everyone(session, now)
            planned: list[Planned] = []
            for planner in self.registry.planners.values():
                planned += await planner(session, window(self.settings, now))
            assert await self.new(session, planned) == expected, now
            self.planned += await enqueue(session, planned)
        await self.send(now)

    async def send(self, now: datetime) -> None:
        async with self.db.unit_of_work() as session:
            due = await session.scalars(
                select(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING.value, Delivery.due_at <= now)
                .order_by(Delivery.due_at, Delivery.id)
            )
            for delivery in due.all():
                member = await session.get(Member, delivery.member_id)
                assert member is not None
                if member.paused:
                    delivery.status = DeliveryStatus.SKIPPED.value
                    continue
                ctx = RenderContext(
                    session=session, delivery=delivery, member=member,
                    t=self.i18n(member.language, "Europe/Brussels"), now=now,
                    settings=self.settings, bot_username="relais_test_bot",
                )  # fmt: skip
                result = await self.registry.renderers[delivery.kind](ctx)
                if isinstance(result, Skip):
                    delivery.status = DeliveryStatus.SKIPPED.value
                    continue
                delivery.status = DeliveryStatus.SENT.value
                delivery.sent_at = now
                hook = self.registry.after_send.get(delivery.kind)
                if hook is not None:
                    await hook(session, delivery, now)

    async def someone_acts(self, now: datetime) -> None:
        self.actions += 1
        member_id = self.random.choice(self.people)
        action = self.random.choice(["day", "time", "pause", "answer", "answer", "resume", "new"])
        async with self.db.unit_of_work() as session:
            if action == "day":
                day = self.random.choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
                await preferences.toggle_day(session, member_id, day)
            elif action == "time":
                at = self.random.choice(preferences.TIME_CHOICES)
                await preferences.set_time(session, member_id, at, None)
            elif action == "pause":
                member = await session.get(Member, member_id)
                assert member is not None
                await preferences.set_paused(session, member_id, not member.paused)
            elif action == "resume":
                await objs.resume_checkins(session, member_id)
            else:
                active = await objs.active_objectives(session, member_id, self.cohort_id)
                if action == "new" or not active:
                    draft = objs.Draft(
                        "Une fiche Google", MeasureKind.BINARY, (now + timedelta(days=12)).date()
                    )
                    with contextlib.suppress(objs.TooManyActive):
                        await objs.create_objective(
                            session, member_id=member_id, cohort_id=self.cohort_id,
                            draft=draft, now=now, zone=BRUSSELS,
                        )  # fmt: skip
                    return
                answer = self.random.choice(
                    [
                        CheckinAnswer.DOING,
                        CheckinAnswer.DOING,
                        CheckinAnswer.STUCK,
                        CheckinAnswer.DONE,
                    ]
                )
                await objs.answer_checkin(session, active[0], answer, now, BRUSSELS)


async def test_planning_by_due_time_plans_what_looking_at_everyone_would(
    db: Database, settings: Settings
) -> None:
    # Two weeks across the end of summer time (25 October), a tick every 30 minutes of the
    # day and a few at night, someone changing something or answering now and then.
    start = local(2026, 10, 19, 7)
    simulation = Simulation(db, settings, seed=7)
    await simulation.populate(16, start)
    moment = start
    while moment < start + timedelta(days=14):
        await simulation.tick(moment)
        if simulation.random.random() < 0.25:
            await simulation.someone_acts(moment + timedelta(minutes=1))
        moment += timedelta(minutes=30)
        if not time(7) <= moment.astimezone(BRUSSELS).time() <= time(19):
            moment += timedelta(hours=3)
    # The comparison was not about nothing: tips and check-ins went out, people acted.
    async with db.unit_of_work() as session:
        kinds = set((await session.scalars(select(Delivery.kind))).all())
    assert kinds == {"tip", "checkin"}
    assert simulation.planned > 40
    assert simulation.actions > 30
