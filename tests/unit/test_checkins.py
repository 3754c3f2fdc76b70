"""Check-ins: when they are asked (tip days and time, across DST), the silence pause, the
gentle check and "not reached", what they say, and the trainer's digest.

`Loop` below stands in for the delivery engine (plan, render, after-send) so that months of
coaching run in a fraction of a second; the end-to-end tests run the real engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.db import Database
from bot.delivery.outbox import enqueue
from bot.delivery.registry import (
    DeliveryRegistry,
    Planned,
    PlanWindow,
    RenderContext,
    Skip,
)
from bot.i18n import I18n
from bot.models import (
    CheckinAnswer,
    Cohort,
    Delivery,
    DeliveryStatus,
    MeasureKind,
    Member,
    Objective,
    ObjectiveStatus,
    Role,
)
from bot.services import checkins, questions
from bot.services import objectives as objs
from bot.telegram_html import telegram_length, validate_html, visible_text
from tests.factories import make_cohort, make_member, make_objective, make_session

BRUSSELS = ZoneInfo("Europe/Brussels")
TUE_FRI = frozenset({1, 4})
RHYTHM = checkins.Rhythm(TUE_FRI, time(9, 30), BRUSSELS)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BRUSSELS).astimezone(UTC)


# -- when: pure functions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "first"),
    [
        # Wednesday 10:00 -> not before Saturday -> Tuesday 09:30.
        (local(2026, 11, 25, 10), local(2026, 12, 1, 9, 30)),
        # Monday -> Thursday -> Friday.
        (local(2026, 11, 23, 8), local(2026, 11, 27, 9, 30)),
        # Tuesday 08:00 -> Friday 08:00 -> Friday 09:30 (same day).
        (local(2026, 11, 24, 8), local(2026, 11, 27, 9, 30)),
        # Tuesday 10:00 -> Friday 10:00 -> next Tuesday.
        (local(2026, 11, 24, 10), local(2026, 12, 1, 9, 30)),
        # Across the end of summer time (25 October 2026): 09:30 is 08:30 UTC after it...
        (local(2026, 10, 21, 10), utc(2026, 10, 27, 8, 30)),
        # ... and across its start (29 March 2026): 07:30 UTC after it.
        (local(2026, 3, 25, 10), utc(2026, 3, 31, 7, 30)),
    ],
)
def test_the_first_check_in_is_at_the_first_tip_moment_three_days_on(
    created: datetime, first: datetime
) -> None:
    due_on = date(2027, 1, 31)
    got = checkins.next_weekly(
        created_at=created, due_on=due_on, last_event=None, rhythm=RHYTHM, now=created
    )
    assert got == first


@pytest.mark.parametrize(
    ("last", "due_on", "expected"),
    [
        # Asked on a Tuesday: the next Tuesday.
        (local(2026, 12, 1, 9, 30), date(2026, 12, 31), local(2026, 12, 8, 9, 30)),
        # Answered spontaneously on a Wednesday: the first tip day a week on (Friday).
        (local(2026, 12, 2, 15), date(2026, 12, 31), local(2026, 12, 11, 9, 30)),
        # The next moment would be on or after the due date: nothing before it.
        (local(2026, 12, 1, 9, 30), date(2026, 12, 8), None),
        (local(2026, 12, 1, 9, 30), date(2026, 12, 9), local(2026, 12, 8, 9, 30)),
        # A week that crosses the end of summer time keeps the wall time.
        (local(2026, 10, 20, 9, 30), date(2026, 12, 31), utc(2026, 10, 27, 8, 30)),
    ],
)
def test_then_weekly_until_the_due_date(
    last: datetime, due_on: date, expected: datetime | None
) -> None:
    created = last - timedelta(days=10)
    got = checkins.next_weekly(
        created_at=created, due_on=due_on, last_event=last, rhythm=RHYTHM, now=last
    )
    assert got == expected


def test_a_moment_missed_while_the_bot_was_down_waits_for_the_next_one() -> None:
    last = local(2026, 12, 1, 9, 30)
    # Back on Tuesday 8 December at 15:00: still within the tolerance, ask now.
    soon = checkins.next_weekly(
        created_at=last, due_on=date(2026, 12, 31), last_event=last, rhythm=RHYTHM,
        now=local(2026, 12, 8, 15),
    )  # fmt: skip
    assert soon == local(2026, 12, 8, 9, 30)
    # Back on Thursday: wait for Friday's moment rather than asking at a random time.
    later = checkins.next_weekly(
        created_at=last, due_on=date(2026, 12, 31), last_event=last, rhythm=RHYTHM,
        now=local(2026, 12, 10, 11),
    )  # fmt: skip
    assert later == local(2026, 12, 11, 9, 30)


@pytest.mark.parametrize(
    ("due_on", "now", "expected"),
    [
        # The day after the due date at the tip time, whatever the weekday.
        (date(2026, 12, 9), local(2026, 12, 1), local(2026, 12, 10, 9, 30)),
        (date(2026, 10, 24), local(2026, 10, 20), utc(2026, 10, 25, 8, 30)),
        # Long past (check-ins were paused): today's tip time if it just passed, else the next.
        (date(2026, 11, 1), local(2026, 12, 1, 12), local(2026, 12, 1, 9, 30)),
        (date(2026, 11, 1), local(2026, 12, 1, 22), local(2026, 12, 2, 9, 30)),
    ],
)
def test_the_gentle_check_comes_the_day_after_the_due_date(
    due_on: date, now: datetime, expected: datetime
) -> None:
    assert checkins.due_check_at(due_on, RHYTHM, now) == expected


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("tue,fri", {1, 4}),
        ("MON, Wednesday", {0, 2}),
        ("", {1, 4}),  # the settings' default
        ("nope", {1, 4}),
    ],
)
def test_tip_days_are_read_from_the_member(text: str, days: set[int]) -> None:
    assert checkins.parse_days(text, ["tue", "fri"]) == frozenset(days)


E = checkins.CheckinEvent
T0 = utc(2026, 12, 1, 8, 30)


@pytest.mark.parametrize(
    ("events", "reset", "silent"),
    [
        ([], None, False),
        ([E(1, T0, None), E(2, T0 + timedelta(7), None)], None, False),
        ([E(1, T0, None), E(2, T0 + timedelta(7), None), E(3, T0 + timedelta(14), None)],
         None, True),
        # An answer to the second breaks the run.
        (
            [E(1, T0, None), E(2, T0 + timedelta(7), T0 + timedelta(8)),
             E(3, T0 + timedelta(14), None)],
            None,
            False,
        ),
        # A late answer to an old one (after the latest was asked) counts too.
        (
            [E(1, T0, T0 + timedelta(15)), E(2, T0 + timedelta(7), None),
             E(3, T0 + timedelta(14), None)],
            None,
            False,
        ),
        # A spontaneous report (never asked) counts as an answer.
        (
            [E(1, T0, None), E(2, T0 + timedelta(7), None), E(9, None, T0 + timedelta(10)),
             E(3, T0 + timedelta(14), None)],
            None,
            False,
        ),
        # After a pause (and a resume), the count starts again.
        (
            [E(1, T0, None), E(2, T0 + timedelta(7), None), E(3, T0 + timedelta(14), None),
             E(4, T0 + timedelta(30), None)],
            T0 + timedelta(16),
            False,
        ),
    ],
)  # fmt: skip
def test_three_check_ins_in_a_row_without_answer_is_silence(
    events: list[checkins.CheckinEvent], reset: datetime | None, silent: bool
) -> None:
    assert checkins.is_silent(events, reset) is silent


# -- the loop, with a stand-in for the delivery engine -----------------------------------------


@dataclass
class Sent:
    at: datetime
    member_id: int
    key: str
    text: str
    buttons: list[str]


class Loop:
    """Plans and "sends" check-ins and digests every half hour, like the engine's ticks."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.i18n = I18n()
        self.registry = DeliveryRegistry()
        checkins.register_deliveries(self.registry)
        self.sent: list[Sent] = []
        self.skipped: list[tuple[str, str]] = []

    async def tick(self, now: datetime) -> None:
        window = PlanWindow(now=now, horizon=now + timedelta(minutes=1), settings=self.settings)
        async with self.db.unit_of_work() as session:
            planned: list[Planned] = []
            for planner in self.registry.planners.values():
                planned += await planner(session, window)
            await enqueue(session, planned)
        async with self.db.unit_of_work() as session:
            due = await session.scalars(
                select(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING.value, Delivery.due_at <= now)
                .order_by(Delivery.due_at, Delivery.id)
            )
            for delivery in due.all():
                member = await session.get(Member, delivery.member_id)
                assert member is not None
                ctx = RenderContext(
                    session=session,
                    delivery=delivery,
                    member=member,
                    t=self.i18n(member.language, "Europe/Brussels"),
                    now=now,
                    settings=self.settings,
                    bot_username="relais_test_bot",
                )
                result = await self.registry.renderers[delivery.kind](ctx)
                if isinstance(result, Skip):
                    delivery.status = DeliveryStatus.SKIPPED.value
                    self.skipped.append((delivery.dedup_key, result.reason))
                    continue
                # What Telegram (and the sandbox) would accept.
                assert validate_html(result.text) is None
                assert telegram_length(visible_text(result.text)) <= 4096
                delivery.status = DeliveryStatus.SENT.value
                delivery.sent_at = now
                labels = [
                    f"{button.label}|{button.callback_data}"
                    for row in result.buttons
                    for button in row
                ]
                self.sent.append(Sent(now, member.id, delivery.dedup_key, result.text, labels))
                hook = self.registry.after_send.get(delivery.kind)
                if hook is not None:
                    await hook(session, delivery, now)

    async def run(
        self, start: datetime, end: datetime, step: timedelta = timedelta(hours=6)
    ) -> None:
        """Tick every `step` and at each day's 09:30 (the members' tip time) in between."""
        moments = set()
        moment = start
        while moment <= end:
            moments.add(moment)
            moment += step
        day = start.astimezone(BRUSSELS).date()
        while (tip := local(day.year, day.month, day.day, 9, 30)) <= end:
            if tip >= start:
                moments.add(tip)
            day += timedelta(days=1)
        for moment in sorted(moments):
            await self.tick(moment)

    def keys(self, member_id: int | None = None) -> list[str]:
        return [s.key for s in self.sent if member_id is None or s.member_id == member_id]

    def moments(self, member_id: int | None = None) -> list[datetime]:
        return [s.at for s in self.sent if member_id is None or s.member_id == member_id]


SET_AT = local(2026, 11, 25, 10)  # Wednesday 25 November
DUE = date(2026, 12, 16)  # Wednesday three weeks later


async def setup(
    db: Database, *, due_on: date = DUE, tip_days: str = "tue,fri", tip_time: time = time(9, 30)
) -> tuple[Cohort, Member, Objective]:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        alice.tip_days = tip_days
        alice.tip_time = tip_time
        objective = await make_objective(
            session,
            alice,
            cohort,
            "Publier une vidéo avant/après",
            due_on=due_on,
            target_per_week=2,
            theme="short_videos",
            now=SET_AT,
        )
    return cohort, alice, objective


async def answer(
    db: Database, objective_id: int, value: CheckinAnswer, now: datetime
) -> objs.CheckinOutcome:
    async with db.unit_of_work() as session:
        objective = await session.get(Objective, objective_id)
        assert objective is not None
        return await objs.answer_checkin(session, objective, value, now, BRUSSELS)


async def status_of(db: Database, objective_id: int) -> str:
    async with db.unit_of_work() as session:
        objective = await session.get(Objective, objective_id)
        assert objective is not None
        return objective.status


async def test_three_unanswered_check_ins_pause_them_until_the_member_resumes(
    db: Database, settings: Settings
) -> None:
    _, alice, objective = await setup(db)
    loop = Loop(db, settings)
    await loop.run(SET_AT, local(2026, 12, 17, 12))
    assert loop.moments() == [
        local(2026, 12, 1, 9, 30),
        local(2026, 12, 8, 9, 30),
        local(2026, 12, 15, 9, 30),
        # Three unanswered in a row: the gentle check is replaced by the pause notice.
        local(2026, 12, 17, 9, 30),
    ]
    assert loop.keys() == [
        f"checkin:{objective.id}:2026-12-01",
        f"checkin:{objective.id}:2026-12-08",
        f"checkin:{objective.id}:2026-12-15",
        f"checkin-pause:{alice.id}:3",
    ]
    first = loop.sent[0]
    assert "Publier une vidéo avant/après" in first.text
    assert "2 fois par semaine" in first.text
    assert [label.split("|")[1] for label in first.buttons] == [
        f"obj:{objective.id}:done",
        f"obj:{objective.id}:doing",
        f"obj:{objective.id}:stuck",
        f"obj:{objective.id}:num",
    ]
    pause = loop.sent[-1]
    assert "pause" in pause.text
    assert pause.buttons == ["🔔 Reprendre les relances|objset:resume"]
    async with db.unit_of_work() as session:
        member = await session.get(Member, alice.id)
        assert member is not None
        assert member.checkins_paused
    # Paused: nothing more, ever, until they resume.
    await loop.run(local(2026, 12, 17, 12), local(2027, 1, 10), step=timedelta(hours=6))
    assert len(loop.sent) == 4

    async with db.unit_of_work() as session:
        assert await objs.resume_checkins(session, alice.id)
    # Resumed at noon: the gentle check goes at once (its moment, 09:30, just passed), then
    # "not reached" at the first tip time three days later.
    await loop.run(local(2027, 1, 10, 12), local(2027, 1, 20))
    assert loop.keys()[4:] == [f"checkin:{objective.id}:due", f"checkin:{objective.id}:missed"]
    assert loop.moments()[4:] == [local(2027, 1, 10, 12), local(2027, 1, 14, 9, 30)]
    assert "n'est pas marqué comme atteint" in loop.sent[-1].text
    assert f"obj:{objective.id}:carry" in loop.sent[-1].buttons[0]
    assert await status_of(db, objective.id) == ObjectiveStatus.NOT_REACHED.value


async def test_answers_keep_check_ins_going_and_done_stops_them(
    db: Database, settings: Settings
) -> None:
    _, _, objective = await setup(db)
    loop = Loop(db, settings)
    await loop.run(SET_AT, local(2026, 12, 1, 10))
    await answer(db, objective.id, CheckinAnswer.DOING, local(2026, 12, 1, 12))
    await loop.run(local(2026, 12, 1, 10, 30), local(2026, 12, 8, 10))
    await answer(db, objective.id, CheckinAnswer.STUCK, local(2026, 12, 8, 20))
    await loop.run(local(2026, 12, 8, 20, 30), local(2026, 12, 15, 10))
    await answer(db, objective.id, CheckinAnswer.DOING, local(2026, 12, 15, 11))
    await loop.run(local(2026, 12, 15, 11, 30), local(2026, 12, 17, 10))
    assert loop.keys() == [
        f"checkin:{objective.id}:2026-12-01",
        f"checkin:{objective.id}:2026-12-08",
        f"checkin:{objective.id}:2026-12-15",
        f"checkin:{objective.id}:due",
    ]
    assert "arrivait à échéance" in loop.sent[-1].text
    outcome = await answer(db, objective.id, CheckinAnswer.DONE, local(2026, 12, 17, 10))
    assert outcome.status is ObjectiveStatus.DONE
    await loop.run(local(2026, 12, 17, 10, 30), local(2027, 2, 1))
    assert len(loop.sent) == 4  # nothing after done
    assert not loop.skipped


async def test_no_news_after_the_gentle_check_means_not_reached(
    db: Database, settings: Settings
) -> None:
    _, _, objective = await setup(db, due_on=date(2026, 12, 4))
    loop = Loop(db, settings)
    await loop.run(SET_AT, local(2026, 12, 1, 10))
    await answer(db, objective.id, CheckinAnswer.DOING, local(2026, 12, 1, 12))
    await loop.run(local(2026, 12, 1, 12, 30), local(2026, 12, 20))
    assert loop.keys() == [
        f"checkin:{objective.id}:2026-12-01",
        f"checkin:{objective.id}:due",
        f"checkin:{objective.id}:missed",
    ]
    assert loop.moments() == [
        local(2026, 12, 1, 9, 30),
        local(2026, 12, 5, 9, 30),  # Saturday: the day after the due date
        local(2026, 12, 8, 9, 30),
    ]
    assert await status_of(db, objective.id) == ObjectiveStatus.NOT_REACHED.value


async def test_the_silence_rule_counts_across_objectives(db: Database, settings: Settings) -> None:
    cohort, alice, first = await setup(db)
    async with db.unit_of_work() as session:
        second = await make_objective(
            session, alice, cohort, "Fiche Google", measure_kind=MeasureKind.BINARY, due_on=DUE,
            now=SET_AT + timedelta(days=3),
        )  # fmt: skip
    loop = Loop(db, settings)
    await loop.run(SET_AT, local(2026, 12, 12))
    assert loop.keys() == [
        f"checkin:{first.id}:2026-12-01",
        f"checkin:{second.id}:2026-12-04",  # set on Saturday: Tuesday is too soon
        f"checkin:{first.id}:2026-12-08",
        f"checkin-pause:{alice.id}:3",  # instead of the second objective's next check-in
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("paused", "check-ins paused"),
        ("unreachable", None),
        ("left", None),
        ("closed", None),
    ],
)
async def test_nothing_is_asked_of_someone_paused_gone_or_done(
    db: Database, settings: Settings, change: str, reason: str | None
) -> None:
    _, alice, objective = await setup(db)
    loop = Loop(db, settings)
    # Planned a little ahead, then the reason disappears before it is sent.
    await loop.tick(local(2026, 12, 1, 9, 29))
    async with db.unit_of_work() as session:
        member = await session.get(Member, alice.id)
        found = await session.get(Objective, objective.id)
        assert member is not None
        assert found is not None
        if change == "paused":
            member.paused = True
        elif change == "unreachable":
            member.reachable = False
        elif change == "left":
            from bot.models import Enrolment

            enrolment = await session.scalar(
                select(Enrolment).where(Enrolment.member_id == alice.id)
            )
            assert enrolment is not None
            enrolment.left_at = local(2026, 11, 30)
        else:
            await objs.close_objective(session, found, local(2026, 11, 30))
    await loop.run(local(2026, 11, 30), local(2026, 12, 20))
    assert loop.sent == []


async def test_a_change_of_tip_days_moves_the_next_check_in(
    db: Database, settings: Settings
) -> None:
    _, alice, objective = await setup(db)
    loop = Loop(db, settings)
    await loop.run(SET_AT, local(2026, 12, 1, 12))
    async with db.unit_of_work() as session:
        member = await session.get(Member, alice.id)
        assert member is not None
        member.tip_days = "wed"
    await loop.run(local(2026, 12, 1, 12), local(2026, 12, 18))
    assert loop.keys() == [
        f"checkin:{objective.id}:2026-12-01",
        f"checkin:{objective.id}:2026-12-09",  # a week on, the new day
        f"checkin:{objective.id}:due",  # 16 December is the due date itself
    ]


async def test_two_check_ins_on_one_objective_are_never_sent_days_apart(
    db: Database, settings: Settings
) -> None:
    # As when a held delivery and a newly planned one meet (tip days changed meanwhile).
    _, alice, objective = await setup(db)
    weekly = {"type": "weekly", "objective_id": objective.id}
    async with db.unit_of_work() as session:
        await enqueue(
            session,
            [
                Planned(alice.id, "checkin", f"checkin:{objective.id}:2026-12-01",
                        local(2026, 12, 1, 9, 30), weekly),
                Planned(alice.id, "checkin", f"checkin:{objective.id}:2026-12-03",
                        local(2026, 12, 3, 9, 30), weekly),
            ],
        )  # fmt: skip
    loop = Loop(db, settings)
    await loop.run(local(2026, 12, 1, 9), local(2026, 12, 4))
    assert loop.keys() == [f"checkin:{objective.id}:2026-12-01"]
    assert loop.skipped == [(f"checkin:{objective.id}:2026-12-03", "asked recently")]


async def test_planning_twice_adds_nothing(db: Database, settings: Settings) -> None:
    await setup(db)
    registry = DeliveryRegistry()
    checkins.register_deliveries(registry)
    now = local(2026, 12, 1, 9, 29)
    window = PlanWindow(now=now, horizon=now + timedelta(minutes=5), settings=settings)
    async with db.unit_of_work() as session:
        first = await registry.planners["checkins"](session, window)
        assert len(first) == 1
        assert await enqueue(session, first) == 1
        assert await enqueue(session, await registry.planners["checkins"](session, window)) == 0


# -- the digest -------------------------------------------------------------------------------


async def test_the_trainer_gets_a_digest_the_day_before_each_session(
    db: Database, settings: Settings
) -> None:
    session_start = local(2026, 12, 9, 19)
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        cohort.created_at = SET_AT - timedelta(days=30)
        trainer = await make_member(session, cohort, "Tom", role=Role.TRAINER)
        await make_member(session, cohort, "Coco", role=Role.COORDINATOR)
        people = [
            await make_member(session, cohort, f"M{i}", business_name=f"Shop {i}")
            for i in range(14)
        ]
        ts = await make_session(session, cohort, session_start)
        cancelled = await make_session(session, cohort, local(2026, 12, 16, 19))
        cancelled.cancelled_at = SET_AT
        for index, member in enumerate(people):
            objective = await make_objective(
                session, member, cohort, f"Objectif <{index}> & co " + "x" * 250,
                measure_kind=MeasureKind.BINARY, due_on=DUE, now=SET_AT,
            )  # fmt: skip
            outcome = await objs.answer_checkin(
                session, objective, CheckinAnswer.STUCK, SET_AT + timedelta(days=2), BRUSSELS
            )
            assert outcome.checkin_id is not None
            await objs.record_blocker(session, objective, outcome.checkin_id, "<b>" * 100)
        question = await questions.ask(
            session, member_id=people[0].id, cohort_id=cohort.id, text="Et les <reels> ?",
            now=SET_AT,
        )  # fmt: skip
    loop = Loop(db, settings)
    await loop.run(SET_AT, local(2026, 12, 20))
    digests = [s for s in loop.sent if s.key.startswith("digest:")]
    assert [(d.member_id, d.key, d.at) for d in digests] == [
        (trainer.id, f"digest:{ts.id}:r1", local(2026, 12, 8, 9, 30))
    ]
    text = digests[0].text
    assert "Avant la séance" in text
    assert "14 objectifs fixés" in text
    assert "bloqués : 14" in text
    assert "Objectif &lt;0&gt; &amp; co" in text  # the merchant's text is escaped
    assert "… et 6 autres." in text
    assert "Et les &lt;reels&gt; ?" in text
    assert digests[0].buttons[0] == f"✍️ Répondre à M0|qa:{question.id}"
    assert digests[0].buttons[-1].endswith("|grp:open")


async def test_a_moved_session_gets_a_new_digest_only_when_the_first_is_stale(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        await make_member(session, cohort, "Tom", role=Role.TRAINER)
        alice = await make_member(session, cohort)
        await questions.ask(session, member_id=alice.id, cohort_id=cohort.id, text="?", now=SET_AT)
        ts = await make_session(session, cohort, local(2026, 12, 9, 19))
    loop = Loop(db, settings)
    await loop.run(local(2026, 12, 8, 9), local(2026, 12, 8, 11))
    # Moved by an hour the same evening: no second digest.
    async with db.unit_of_work() as session:
        moved = await session.get(type(ts), ts.id)
        assert moved is not None
        moved.starts_at += timedelta(hours=1)
        moved.revision = 2
    await loop.run(local(2026, 12, 8, 11, 30), local(2026, 12, 8, 13))
    assert [s.key for s in loop.sent] == [f"digest:{ts.id}:r1"]
    assert loop.skipped == [
        (f"digest:{ts.id}:r2", "a digest for this session was sent a moment ago")
    ]
    # Moved a week later: a fresh digest the day before the new date.
    async with db.unit_of_work() as session:
        moved = await session.get(type(ts), ts.id)
        assert moved is not None
        moved.starts_at += timedelta(days=7)
        moved.revision = 3
    await loop.run(local(2026, 12, 8, 13), local(2026, 12, 16, 12))
    assert [s.key for s in loop.sent] == [f"digest:{ts.id}:r1", f"digest:{ts.id}:r3"]


async def test_no_digest_when_there_is_nothing_to_report(db: Database, settings: Settings) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        await make_member(session, cohort, "Tom", role=Role.TRAINER)
        await make_member(session, cohort)
        ts = await make_session(session, cohort, local(2026, 12, 9, 19))
    loop = Loop(db, settings)
    await loop.run(local(2026, 12, 8, 9), local(2026, 12, 8, 11))
    assert loop.sent == []
    assert loop.skipped == [(f"digest:{ts.id}:r1", "nothing to report")]


def test_a_long_text_loses_whole_lines_from_the_end() -> None:
    text = "<b>Titre</b>\n" + "\n".join(f"• ligne {i} " + "x" * 200 for i in range(40))
    fitted = checkins.fit(text, limit=1000)
    assert validate_html(fitted) is None
    assert telegram_length(visible_text(fitted)) <= 1000
    assert fitted.startswith("<b>Titre</b>\n• ligne 0 ")
    assert fitted.endswith("\n…")
    assert checkins.fit("court") == "court"
