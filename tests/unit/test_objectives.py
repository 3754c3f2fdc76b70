"""Objectives: starting points, drafts, the 3-active rule, answers, carry-over, streaks, and
what the trainer (/groupe, digest) and the coordinator (/stats) see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import CORE_THEMES, ContentLibrary, Curriculum, Tip
from bot.db import Database
from bot.delivery.outbox import enqueue
from bot.delivery.registry import Planned
from bot.models import (
    AuditEntry,
    CheckinAnswer,
    Delivery,
    DeliveryStatus,
    MeasureKind,
    Objective,
    ObjectiveCheckin,
    ObjectiveStatus,
    Role,
    Sector,
    TipReceipt,
)
from bot.services import objectives as objs
from bot.services import questions
from tests.factories import (
    make_cohort,
    make_member,
    make_objective,
    make_session,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday 25 November, 10:00 in Brussels
TODAY = date(2026, 11, 25)


# -- starting points ------------------------------------------------------------------------


@pytest.mark.parametrize("sector", [sector.value for sector in Sector])
def test_every_sector_is_offered_starting_points_with_known_themes(sector: str) -> None:
    offered = objs.templates_for(sector)
    assert len(offered) >= 4
    if sector != Sector.OTHER.value:
        assert any(sector in template.sectors for template in offered)
    for template in offered:
        assert template.theme in CORE_THEMES
        assert len(template.text) <= 60  # fits a button on a phone
        assert len(f"objset:tpl:{template.code}".encode()) <= 64
        assert (template.measure is MeasureKind.COUNT) == (template.target is not None)


def test_the_lodging_sector_is_offered_answering_every_review_within_48_hours() -> None:
    texts = [template.text for template in objs.templates_for("lodging")]
    assert "Répondre à chaque avis en moins de 48 h" in texts
    assert objs.template_by_code("beauty_booking") is not None
    assert objs.template_by_code("nope") is None


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("Répondre à tous les avis Google", "comments_reviews"),
        ("Avoir 10 avis de plus", "getting_reviews"),
        ("Tourner une vidéo de mon atelier", "short_videos"),
        ("Elke week een foto van de etalage", "photos"),
        ("Get bookings through my page", "appointments_messages"),
        ("Poster le lundi", "posting_rhythm"),
        ("Être plus serein", "objectives"),
    ],
)
def test_a_freely_written_objective_gets_a_theme(text: str, theme: str) -> None:
    assert objs.guess_theme(text) == theme


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("9/12", date(2026, 12, 9)),
        ("09/12/2026", date(2026, 12, 9)),
        ("9.12.26", date(2026, 12, 9)),
        ("2026-12-09", date(2026, 12, 9)),
        ("3/1", date(2027, 1, 3)),  # January: next year
        ("25/11", None),  # today: too soon (and next year is too far)
        ("31/02", None),
        ("1/6/2027", None),  # more than 120 days ahead
        ("demain", None),
        ("", None),
    ],
)
def test_a_typed_due_date_is_read_day_first(typed: str, expected: date | None) -> None:
    assert objs.parse_due(typed, TODAY) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("20261209", date(2026, 12, 9)),
        ("20261125", None),
        ("20261340", None),
        ("2026120", None),
        ("../../..", None),
    ],
)
def test_a_due_date_from_a_button_is_checked(code: str, expected: date | None) -> None:
    assert objs.parse_due_code(code, TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "expected"), [("3", 3), (" 12 ", 12), ("0", None), ("100", None), ("deux", None)]
)
def test_a_weekly_number_is_between_1_and_99(typed: str, expected: int | None) -> None:
    assert objs.parse_count(typed) == expected


# -- due dates ------------------------------------------------------------------------------


async def test_the_default_due_date_is_the_next_session(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        # Tomorrow's session is too close; the one after is the default.
        await make_session(session, cohort, datetime(2026, 11, 26, 18, tzinfo=UTC))
        ts = await make_session(session, cohort, datetime(2026, 12, 9, 18, tzinfo=UTC))
        choices = await objs.due_choices(session, cohort.id, NOW, BRUSSELS)
    assert choices[0] == objs.DueChoice(date(2026, 12, 9), objs.DueKind.SESSION, ts.number)
    assert [choice.day for choice in choices[1:]] == [
        date(2026, 12, 2),
        date(2026, 12, 23),
    ]  # in 1 week and in 4 weeks; "in 2 weeks" is the session's own date


async def test_without_a_session_an_objective_is_due_in_two_weeks(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        choices = await objs.due_choices(session, cohort.id, NOW, BRUSSELS)
    assert choices[0] == objs.DueChoice(date(2026, 12, 9), objs.DueKind.WEEKS, 2)
    assert len({choice.day for choice in choices}) == len(choices)


# -- creation and the 3-active rule -----------------------------------------------------------


async def test_a_fourth_active_objective_asks_to_close_one_first(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        created = [
            await make_objective(session, alice, cohort, text=f"Objectif {i}") for i in range(3)
        ]
        with pytest.raises(objs.TooManyActive) as raised:
            await make_objective(session, alice, cohort, text="Un de trop")
        assert [o.id for o in raised.value.active] == [o.id for o in created]
        assert await objs.close_objective(session, created[0], NOW)
        assert not await objs.close_objective(session, created[0], NOW)  # already closed
        fourth = await make_objective(session, alice, cohort, text="Maintenant oui")
        assert fourth.status == ObjectiveStatus.ACTIVE.value
        assert len(await objs.active_objectives(session, alice.id, cohort.id)) == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 301}, "text"),
        ({"target_per_week": None}, "target"),
        ({"target_per_week": 0}, "target"),
        ({"due_on": TODAY}, "due"),
        ({"due_on": TODAY + timedelta(days=121)}, "due"),
    ],
)
async def test_an_invalid_draft_is_refused(
    db: Database, changes: dict[str, Any], field: str
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        with pytest.raises(objs.InvalidDraft) as raised:
            await make_objective(session, alice, cohort, **changes)
    assert raised.value.field == field


async def test_a_done_or_not_done_objective_keeps_no_number(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        objective = await make_objective(
            session, alice, cohort, measure_kind=MeasureKind.BINARY, target_per_week=5
        )
    assert objective.target_per_week is None
    assert objective.theme == "posting_rhythm"


async def test_someone_elses_objective_is_not_found(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        other_cohort = await make_cohort(session, "Ailleurs")
        alice = await make_member(session, cohort)
        bob = await make_member(session, cohort, "Bob")
        objective = await make_objective(session, alice, cohort)
        assert await objs.owned_objective(session, objective.id, alice.id, cohort.id) is objective
        assert await objs.owned_objective(session, objective.id, bob.id, cohort.id) is None
        assert await objs.owned_objective(session, objective.id, alice.id, other_cohort.id) is None
        assert await objs.owned_objective(session, 999_999, alice.id, cohort.id) is None
        assert await objs.owned_objective(session, objective.id, None, cohort.id) is None


# -- answers ----------------------------------------------------------------------------------


async def ask(session: AsyncSession, objective: Objective, at: datetime) -> ObjectiveCheckin:
    row = ObjectiveCheckin(objective_id=objective.id, asked_at=at)
    session.add(row)
    await session.flush()
    return row


async def test_done_closes_the_objective_and_drops_its_planned_check_ins(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        objective = await make_objective(session, alice, cohort)
        asked = await ask(session, objective, NOW + timedelta(days=6))
        await enqueue(
            session,
            [
                Planned(alice.id, "checkin", f"checkin:{objective.id}:2026-12-08",
                        NOW + timedelta(days=13)),
                Planned(alice.id, "checkin", "checkin:999:2026-12-08", NOW + timedelta(days=13)),
            ],
        )  # fmt: skip
        outcome = await objs.answer_checkin(
            session, objective, CheckinAnswer.DONE, NOW + timedelta(days=7), BRUSSELS
        )
        statuses = dict((await session.execute(select(Delivery.dedup_key, Delivery.status))).all())
    assert outcome.changed
    assert outcome.status is ObjectiveStatus.DONE
    assert outcome.checkin_id == asked.id
    assert outcome.done_count == 1
    assert outcome.streak == 1
    assert not outcome.overdue
    assert statuses == {
        f"checkin:{objective.id}:2026-12-08": DeliveryStatus.SKIPPED.value,
        "checkin:999:2026-12-08": DeliveryStatus.PENDING.value,
    }


async def test_stuck_is_flagged_and_keeps_its_blocker(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        objective = await make_objective(session, alice, cohort)
        await ask(session, objective, NOW + timedelta(days=6))
        outcome = await objs.answer_checkin(
            session, objective, CheckinAnswer.STUCK, NOW + timedelta(days=6, hours=2), BRUSSELS
        )
        assert outcome.checkin_id is not None
        assert await objs.record_blocker(session, objective, outcome.checkin_id, " pas le temps  ")
        row = await session.get(ObjectiveCheckin, outcome.checkin_id)
        assert row is not None
        assert (row.answer, row.flagged, row.blocker) == ("stuck", True, "pas le temps")
        assert objective.status == ObjectiveStatus.ACTIVE.value
        # A blocker for a check-in of another objective changes nothing.
        other = await make_objective(session, alice, cohort, text="Autre chose")
        assert not await objs.record_blocker(session, other, outcome.checkin_id, "non")


async def test_a_second_tap_corrects_the_answer_instead_of_adding_one(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        objective = await make_objective(session, alice, cohort)
        await ask(session, objective, NOW + timedelta(days=6))
        later = NOW + timedelta(days=6, hours=1)
        first = await objs.answer_checkin(session, objective, CheckinAnswer.STUCK, later, BRUSSELS)
        second = await objs.answer_checkin(
            session, objective, CheckinAnswer.DOING, later + timedelta(minutes=5), BRUSSELS
        )
        # Much later, without a new question: a new, spontaneous report.
        third = await objs.answer_checkin(
            session, objective, CheckinAnswer.DOING, later + timedelta(days=2), BRUSSELS
        )
        rows = (await session.scalars(select(ObjectiveCheckin))).all()
    assert first.checkin_id == second.checkin_id != third.checkin_id
    assert [(row.answer, row.flagged) for row in rows] == [("doing", False), ("doing", False)]


async def test_an_answer_after_the_due_date_means_not_reached_and_offers_carry_over(
    db: Database,
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        objective = await make_objective(session, alice, cohort, due_on=TODAY + timedelta(days=7))
        late = NOW + timedelta(days=8)
        outcome = await objs.answer_checkin(session, objective, CheckinAnswer.DOING, late, BRUSSELS)
        assert outcome.overdue
        assert outcome.status is ObjectiveStatus.NOT_REACHED
        again = await objs.answer_checkin(session, objective, CheckinAnswer.DONE, late, BRUSSELS)
        assert not again.changed

        result, carried = await objs.carry_over(session, objective, late, BRUSSELS)
        assert result is objs.CarryResult.CARRIED
        assert carried is not None
        assert carried.carried_from_id == objective.id
        assert (carried.text, carried.target_per_week) == (objective.text, 2)
        assert carried.due_on == date(2026, 12, 17)  # two weeks later, no session planned
        result, same = await objs.carry_over(session, objective, late, BRUSSELS)
        assert (result, same) == (objs.CarryResult.ALREADY, carried)
        result, _ = await objs.carry_over(session, carried, late, BRUSSELS)
        assert result is objs.CarryResult.NOT_ALLOWED


async def test_carry_over_respects_the_three_active_objectives(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        missed = await make_objective(session, alice, cohort, due_on=TODAY + timedelta(days=3))
        missed.status = ObjectiveStatus.NOT_REACHED.value
        for i in range(3):
            await make_objective(session, alice, cohort, text=f"Objectif {i}")
        result, carried = await objs.carry_over(session, missed, NOW, BRUSSELS)
    assert (result, carried) == (objs.CarryResult.TOO_MANY, None)


async def test_a_number_goes_with_the_current_check_in(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        objective = await make_objective(session, alice, cohort)
        asked = await ask(session, objective, NOW + timedelta(days=6))
        outcome = await objs.record_number(
            session, objective, 3, NOW + timedelta(days=6, hours=1), BRUSSELS
        )
        assert (outcome.changed, outcome.checkin_id, outcome.number) == (True, asked.id, 3)
        assert outcome.answer is CheckinAnswer.DOING
        binary = await make_objective(
            session, alice, cohort, measure_kind=MeasureKind.BINARY, text="Fiche Google"
        )
        refused = await objs.record_number(session, binary, 3, NOW, BRUSSELS)
    assert not refused.changed


# -- streaks ----------------------------------------------------------------------------------

MONDAY = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("answered_days_ago", "now_days_after_monday", "streak"),
    [
        ([], 2, 0),
        ([0], 2, 1),  # this week
        ([7], 2, 1),  # last week: the streak still runs this week
        ([14], 2, 0),  # two weeks ago: broken
        ([0, 7, 14], 2, 3),
        ([0, -1, -2, 14], 2, 1),  # several answers in one week count once
        ([7, 14, 28], 2, 2),
        ([0, 7, 14, 21, 28, 35], 6, 6),
    ],
)
def test_the_streak_counts_consecutive_weeks_with_an_answer(
    answered_days_ago: list[int], now_days_after_monday: int, streak: int
) -> None:
    answered = [MONDAY - timedelta(days=days) for days in answered_days_ago]
    now = MONDAY + timedelta(days=now_days_after_monday)
    assert objs.weekly_streak(answered, now, BRUSSELS) == streak


def test_weeks_follow_the_cohorts_zone() -> None:
    sunday_noon = datetime(2026, 11, 29, 12, tzinfo=UTC)
    # Sunday 23:30 in UTC is already Monday 00:30 in Brussels: a new week there.
    past_midnight = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert objs.weekly_streak([sunday_noon, past_midnight], now, BRUSSELS) == 2
    assert objs.weekly_streak([sunday_noon, past_midnight], now, UTC) == 1


# -- the merchant's own view --------------------------------------------------------------------


async def test_my_objectives_lists_active_then_history_with_check_ins(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        first = await make_objective(session, alice, cohort, text="Premier")
        await ask(session, first, NOW + timedelta(days=6))
        await objs.record_number(session, first, 4, NOW + timedelta(days=6, hours=1), BRUSSELS)
        # Two hours later, "done" corrects the same check-in and keeps its number.
        await objs.answer_checkin(
            session, first, CheckinAnswer.DONE, NOW + timedelta(days=6, hours=3), BRUSSELS
        )
        second = await make_objective(
            session, alice, cohort, text="Second", now=NOW + timedelta(days=8)
        )
        alice.checkins_paused = True
        view = await objs.my_objectives(
            session, alice.id, cohort.id, NOW + timedelta(days=9), BRUSSELS
        )
    assert [o.id for o in view.active] == [second.id]
    assert [o.id for o in view.history] == [first.id]
    done = view.history[0]
    assert done.status is ObjectiveStatus.DONE
    assert [(c.answer, c.number) for c in done.checkins] == [(CheckinAnswer.DONE, 4)]
    assert view.done_count == 1
    assert view.streak == 1
    assert view.checkins_paused


async def test_resume_clears_the_silence_pause(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        assert not await objs.resume_checkins(session, alice.id)
        alice.checkins_paused = True
        assert await objs.resume_checkins(session, alice.id)
        assert not alice.checkins_paused


# -- the stuck tip --------------------------------------------------------------------------------


def library(*tips: Tip) -> ContentLibrary:
    return ContentLibrary({tip.id: tip for tip in tips}, Curriculum(sessions=(), theme_names={}))


def tip(tip_id: str, theme: str, sectors: tuple[str, ...] = ("all",), level: int = 1) -> Tip:
    return Tip(tip_id, theme, sectors, level, 1, {"fr": f"Astuce {tip_id}"})


async def test_stuck_gets_the_unseen_tip_of_the_objectives_theme_and_sector(db: Database) -> None:
    lib = library(
        tip("photos-general", "photos"),
        tip("photos-beauty", "photos", ("beauty",)),
        tip("photos-food", "photos", ("food",)),
        tip("video-1", "short_videos"),
        tip("objectives-1", "objectives"),
    )
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        picks = [
            await objs.stuck_tip(
                session, lib, member_id=alice.id, sector="beauty", theme="photos", now=NOW
            )
            for _ in range(3)
        ]
        unknown = await objs.stuck_tip(
            session, lib, member_id=alice.id, sector="beauty", theme="live", now=NOW
        )
        receipts = (await session.execute(select(TipReceipt.tip_id, TipReceipt.via))).all()
    assert [p.id if p else None for p in picks] == [
        "photos-beauty",
        "photos-general",
        "photos-beauty",  # all seen: the best one again
    ]
    assert unknown is not None
    assert unknown.id == "objectives-1"
    assert sorted(receipts) == [
        ("objectives-1", "stuck"),
        ("photos-beauty", "stuck"),
        ("photos-general", "stuck"),
    ]


# -- questions ------------------------------------------------------------------------------------


async def test_a_question_is_answered_once_by_a_trainer_of_its_cohort(db: Database) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        other = await make_cohort(session, "Ailleurs")
        alice = await make_member(session, cohort)
        trainer = await make_member(session, cohort, "Tom", role=Role.TRAINER)
        await make_member(session, cohort, "Coco", role=Role.COORDINATOR)
        question = await questions.ask(
            session, member_id=alice.id, cohort_id=cohort.id, text="  Comment  faire un reel ? ",
            now=NOW,
        )  # fmt: skip
        assert question.text == "Comment faire un reel ?"
        assert [r.first_name for r in await questions.trainers(session, cohort.id)] == ["Tom"]

        outcome, view = await questions.answer(
            session, question_id=question.id, cohort_id=other.id, trainer_id=trainer.id,
            text="Non", now=NOW,
        )  # fmt: skip
        assert (outcome, view) == (questions.AnswerOutcome.NOT_FOUND, None)
        outcome, view = await questions.answer(
            session, question_id=question.id, cohort_id=cohort.id, trainer_id=trainer.id,
            text="Filmez 3 plans de 5 secondes.", now=NOW + timedelta(hours=2),
        )  # fmt: skip
        assert outcome is questions.AnswerOutcome.ANSWERED
        assert view is not None
        assert view.asker is not None
        assert view.asker.chat_id == alice.chat_id
        assert view.answer == "Filmez 3 plans de 5 secondes."
        outcome, _ = await questions.answer(
            session, question_id=question.id, cohort_id=cohort.id, trainer_id=trainer.id,
            text="Encore", now=NOW + timedelta(hours=3),
        )  # fmt: skip
        assert outcome is questions.AnswerOutcome.ALREADY
        audit = (await session.scalars(select(AuditEntry))).all()
    assert [(entry.action, entry.details) for entry in audit] == [
        ("question.answer", {"question_id": question.id})
    ]


@pytest.mark.parametrize("text", ["", "   ", "x" * 1001])
async def test_an_empty_or_too_long_question_is_refused(db: Database, text: str) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        with pytest.raises(ValueError, match="limit"):
            await questions.ask(
                session, member_id=alice.id, cohort_id=cohort.id, text=text, now=NOW
            )
