"""Broadcasts: audiences and their exact counts, the text checks, typed times, scheduling rules,
sending through the outbox, cancelling until the start, progress and the report, a pushed tip."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import ContentLibrary
from bot.db import Database
from bot.delivery.registry import PlanWindow, RenderContext, Rendered, Skip
from bot.i18n import I18n
from bot.models import (
    Attendance,
    AttendanceMethod,
    AuditEntry,
    Broadcast,
    Cohort,
    Delivery,
    Enrolment,
    Member,
    Role,
    TipReceipt,
)
from bot.services import broadcasts, tips
from bot.services.broadcasts import (
    ALL,
    ATTENDED,
    MISSED,
    CancelOutcome,
    ScheduleProblem,
    TextProblem,
    WhenProblem,
)
from tests.factories import make_cohort, make_member, make_session, next_id

BRUSSELS = ZoneInfo("Europe/Brussels")
QUIET = (time(21, 0), time(8, 0))
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday, 10:00 in Brussels


def local(m: int, d: int, hh: int = 0, mm: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=BRUSSELS).astimezone(UTC)


EARLY = local(11, 1)


def window(settings: Settings, now: datetime) -> PlanWindow:
    return PlanWindow(now=now, horizon=now + timedelta(seconds=60), settings=settings)


# -- pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "photo", "expected"),
    [
        ("Bonjour <b>à tous</b>", False, None),
        ("x" * 4096, False, None),
        ("x" * 4097, False, (TextProblem.TOO_LONG, 4096)),
        ("&lt;b&gt;" * 1000, False, None),  # 3000 visible characters
        ("x" * 1024, True, None),
        ("é" * 1025, True, (TextProblem.TOO_LONG, 1024)),
        ("🎄" * 600, True, (TextProblem.TOO_LONG, 1024)),  # two UTF-16 units each
        (None, True, None),  # a photo alone
        ("", False, (TextProblem.EMPTY, 4096)),
        ("<b>pas fermé", False, (TextProblem.INVALID, 4096)),
    ],
)
def test_check_text_applies_telegrams_limits(
    text: str | None, photo: bool, expected: tuple[TextProblem, int] | None
) -> None:
    assert broadcasts.check_text(text, photo=photo) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("27/11 18:00", local(11, 27, 18)),
        ("1/12 9h30", local(12, 1, 9, 30)),
        ("03/01 10:00", local(1, 3, 10, y=2027)),  # past this year: next year
        ("25/11/2026 19:00", local(11, 25, 19)),
        ("28/03/2027 02:30", WhenProblem.NONEXISTENT),  # the spring change
        ("31/02 10:00", WhenProblem.IMPOSSIBLE),
        ("demain", WhenProblem.FORMAT),
        ("27/11", WhenProblem.FORMAT),
        ("27/11 25:00", WhenProblem.FORMAT),
    ],
)
def test_parse_when(typed: str, expected: datetime | WhenProblem) -> None:
    assert broadcasts.parse_when(typed, "Europe/Brussels", NOW) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (NOW + timedelta(minutes=5), ScheduleProblem.TOO_SOON),
        (NOW + timedelta(minutes=10), None),
        (local(11, 25, 21, 0), ScheduleProblem.QUIET),
        (local(11, 26, 7, 59), ScheduleProblem.QUIET),
        (local(11, 26, 8, 0), None),
        (NOW + timedelta(days=61), ScheduleProblem.TOO_FAR),
    ],
)
def test_schedule_problems(at: datetime, expected: ScheduleProblem | None) -> None:
    assert broadcasts.schedule_problem(at, NOW, BRUSSELS, QUIET) == expected


def test_suggested_times_are_ahead_and_never_in_quiet_hours() -> None:
    late = local(11, 25, 19, 0)
    assert broadcasts.suggested_times(late, BRUSSELS, QUIET) == [
        local(11, 26, 9, 30),
        local(11, 26, 12),
        local(11, 26, 18),
        local(11, 27, 9, 30),
    ]
    assert broadcasts.suggested_times(NOW, BRUSSELS, QUIET)[0] == local(11, 25, 12)


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("all", True),
        ("attended", True),
        ("missed", True),
        ("sector:food", True),
        ("sector:pirates", False),
        ("everyone", False),
        ("", False),
    ],
)
def test_audience_codes_from_buttons_are_checked(code: str, valid: bool) -> None:
    assert (broadcasts.parse_audience(code) is not None) == valid


# -- the database side --------------------------------------------------------------------


async def cohort(session: AsyncSession) -> Cohort:
    return await make_cohort(session, "Estaimpuis")


async def person(
    session: AsyncSession,
    group: Cohort,
    *,
    sector: str | None = "beauty",
    role: Role = Role.MERCHANT,
    joined: datetime = EARLY,
    paused: bool = False,
    language: str = "fr",
) -> Member:
    user_id = next_id()
    return await make_member(
        session,
        group,
        f"P{user_id}",
        role=role,
        joined_at=joined,
        onboarded_at=joined,
        user_id=user_id,
        business_name="Commerce",
        sector=sector,
        language=language,
        paused=paused,
    )


async def past_session(session: AsyncSession, group: Cohort, present: list[Member]) -> None:
    ts = await make_session(
        session,
        group,
        local(11, 24, 19),
        number=1,
        place="Salle",
        theme="Photos",
        theme_code="photos",
    )
    for member in present:
        session.add(Attendance(session_id=ts.id, member_id=member.id, method=AttendanceMethod.QR))
    await session.flush()


async def test_audience_counts_are_exact_and_say_who_is_out_of_reach(db: Database) -> None:
    async with db.unit_of_work() as session:
        group = await cohort(session)
        other = await cohort(session)
        came = await person(session, group)
        came_paused = await person(session, group, paused=True)
        missed = await person(session, group, sector="food")
        blocked = await person(session, group, sector="food")
        blocked.reachable = False
        await person(session, group, sector="food", joined=local(11, 25, 9))  # joined after
        await person(session, group, role=Role.TRAINER, sector=None)
        await person(session, other)
        await past_session(session, group, [came, came_paused])
        choices = await broadcasts.audience_choices(session, group.id, NOW)
        recipients = await broadcasts.recipient_ids(session, group.id, MISSED, NOW)
    assert [(c.audience, c.recipients, c.unreachable) for c in choices] == [
        (ALL, 3, 2),
        (ATTENDED, 1, 1),
        (MISSED, 1, 1),
        ("sector:beauty", 1, 1),
        ("sector:food", 2, 1),
    ]
    assert recipients == [missed.id]


async def test_no_session_yet_offers_neither_present_nor_absent(db: Database) -> None:
    async with db.unit_of_work() as session:
        group = await cohort(session)
        await person(session, group, sector=None)
        choices = await broadcasts.audience_choices(session, group.id, NOW)
        attended = await broadcasts.count_audience(session, group.id, ATTENDED, NOW)
    assert [c.audience for c in choices] == [ALL]
    assert attended.recipients == 0


async def test_sending_now_queues_one_delivery_each_and_the_report_comes_when_all_are_final(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        group = await cohort(session)
        trainer = await person(session, group, role=Role.TRAINER, sector=None)
        people = [await person(session, group) for _ in range(4)]
        draft = await broadcasts.create_draft(
            session,
            cohort_id=group.id,
            author_id=trainer.id,
            text="Bonjour !",
            photo_file_id=None,
            now=NOW,
        )
        # A second draft replaces the first.
        draft = await broadcasts.create_draft(
            session,
            cohort_id=group.id,
            author_id=trainer.id,
            text="Bonjour à tous !",
            photo_file_id=None,
            now=NOW,
        )
        assert await broadcasts.start(session, draft, actor_id=trainer.id, now=NOW) == 4
        deliveries = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
        assert [(d.member_id, d.dedup_key, d.broadcast_id, d.due_at) for d in deliveries] == [
            (p.id, f"broadcast:{draft.id}", draft.id, NOW) for p in people
        ]
        assert await broadcasts.plan_reports(session, window(settings, NOW)) == []
        # Outcomes: sent, blocked (403), skipped (paused since), failed (bad request).
        for delivery, (status, error) in zip(
            deliveries,
            [
                ("sent", None),
                ("failed", "forbidden: bot was blocked by the user"),
                ("skipped", "member paused the bot"),
                ("failed", "bad request: something"),
            ],
            strict=True,
        ):
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery.id)
                .values(status=status, last_error=error)
            )
        row = await session.get(Broadcast, draft.id)
        assert row is not None
        counts = await broadcasts.progress(session, row)
        reports = await broadcasts.plan_reports(session, window(settings, NOW))
        again = await broadcasts.plan_reports(session, window(settings, NOW))
        drafts = (await session.scalars(select(Broadcast))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert (counts.sent, counts.blocked, counts.skipped, counts.failed, counts.pending) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert [(r.member_id, r.kind, r.dedup_key) for r in reports] == [
        (trainer.id, "broadcast_report", f"broadcast-report:{draft.id}")
    ]
    assert again == []
    assert [(b.id, b.status) for b in drafts] == [(draft.id, "done")]
    assert actions == ["broadcast.send"]

    t = I18n()("fr", BRUSSELS)
    report = broadcasts.report_text(t, row, counts, None)
    assert "Reçu par 1 personne" in report
    assert "1 non remis : la personne a bloqué le bot" in report
    assert "1 non envoyé : en pause ou plus inscrit" in report
    assert "1 échec d'envoi" in report


async def test_a_scheduled_broadcast_starts_at_its_time_and_can_be_cancelled_until_then(
    db: Database, settings: Settings
) -> None:
    at = local(11, 25, 18)
    async with db.unit_of_work() as session:
        group = await cohort(session)
        trainer = await person(session, group, role=Role.TRAINER, sector=None)
        people = [await person(session, group) for _ in range(2)]
        kept = await broadcasts.create_draft(
            session, cohort_id=group.id, author_id=trainer.id, text="A", photo_file_id=None, now=NOW
        )
        scheduled = await broadcasts.schedule(
            session, kept, at, actor_id=trainer.id, now=NOW, zone=BRUSSELS, quiet=QUIET
        )
        assert scheduled == 2
        assert (
            await broadcasts.plan_scheduled(session, window(settings, at - timedelta(minutes=2)))
            == []
        )
        assert (await session.scalars(select(Delivery))).all() == []
        # Within the planner's lookahead: queued, due at the scheduled time.
        await broadcasts.plan_scheduled(session, window(settings, at - timedelta(seconds=30)))
        queued = (await session.scalars(select(Delivery))).all()
        assert {(d.member_id, d.due_at, d.status) for d in queued} == {
            (p.id, at, "pending") for p in people
        }
        # Nothing has left yet: it can still be cancelled; its deliveries are skipped.
        assert (
            await broadcasts.cancel(session, kept, actor_id=trainer.id, now=at)
            is CancelOutcome.CANCELLED
        )
        await session.refresh(queued[0])
        assert queued[0].status == "skipped"
        assert (
            await broadcasts.cancel(session, kept, actor_id=trainer.id, now=at)
            is CancelOutcome.OVER
        )

        started = await broadcasts.create_draft(
            session, cohort_id=group.id, author_id=trainer.id, text="B", photo_file_id=None, now=NOW
        )
        await broadcasts.start(session, started, actor_id=trainer.id, now=NOW)
        await session.execute(
            update(Delivery).where(Delivery.broadcast_id == started.id).values(status="sent")
        )
        late = await broadcasts.cancel(session, started, actor_id=trainer.id, now=NOW)
    assert late is CancelOutcome.STARTED


async def test_broadcast_rendering_is_the_preview_and_skips_when_cancelled_or_left(
    db: Database, settings: Settings
) -> None:
    library = ContentLibrary.load()
    async with db.unit_of_work() as session:
        group = await cohort(session)
        trainer = await person(session, group, role=Role.TRAINER, sector=None)
        alice = await person(session, group)
        photo = await broadcasts.create_draft(
            session,
            cohort_id=group.id,
            author_id=trainer.id,
            text="<b>Vitrine</b> de Noël",
            photo_file_id="AgADphoto",
            now=NOW,
        )
        await broadcasts.start(session, photo, actor_id=trainer.id, now=NOW)
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None
        ctx = RenderContext(
            session=session,
            delivery=delivery,
            member=alice,
            t=I18n()("fr", BRUSSELS),
            now=NOW,
            settings=settings,
            bot_username="relais_test_bot",
        )
        rendered = await broadcasts.render_broadcast(ctx, library)
        assert rendered == broadcasts.broadcast_message(photo)
        assert rendered == Rendered(text="<b>Vitrine</b> de Noël", photo="AgADphoto")
        photo.status = broadcasts.CANCELLED
        assert isinstance(await broadcasts.render_broadcast(ctx, library), Skip)
        photo.status = broadcasts.SENDING
        enrolment = await session.scalar(select(Enrolment).where(Enrolment.member_id == alice.id))
        assert enrolment is not None
        enrolment.left_at = NOW
        await session.flush()
        assert isinstance(await broadcasts.render_broadcast(ctx, library), Skip)


async def test_a_pushed_tip_skips_who_has_it_and_counts_as_seen_in_each_language(
    db: Database, settings: Settings
) -> None:
    library = ContentLibrary.load()
    tip_id = "photos-01-pres-de-la-fenetre"
    async with db.unit_of_work() as session:
        group = await cohort(session)
        trainer = await person(session, group, role=Role.TRAINER, sector=None)
        has_it = await person(session, group)
        dutch = await person(session, group, language="nl")
        await tips.record_receipt(session, has_it.id, tip_id, tips.Via.ASTUCE, NOW)
        pushed, count = await broadcasts.push_tip(
            session, cohort_id=group.id, author_id=trainer.id, tip_id=tip_id, now=NOW
        )
        assert pushed is not None
        assert count == 1
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None
        assert delivery.member_id == dutch.id
        ctx = RenderContext(
            session=session,
            delivery=delivery,
            member=dutch,
            t=I18n()("nl", BRUSSELS),
            now=NOW,
            settings=settings,
            bot_username="relais_test_bot",
        )
        rendered = await broadcasts.render_broadcast(ctx, library)
        assert isinstance(rendered, Rendered)
        assert library.render(tip_id, "nl", first_name=dutch.first_name)[:40] in rendered.text
        assert rendered.buttons[0][0].callback_data == f"tip:{tip_id}:up"
        await broadcasts.broadcast_sent(session, delivery, NOW)
        vias = (
            await session.execute(
                select(TipReceipt.member_id, TipReceipt.via).order_by(TipReceipt.id)
            )
        ).all()
        # Everyone has it now: nothing to push.
        assert await broadcasts.push_tip(
            session, cohort_id=group.id, author_id=trainer.id, tip_id=tip_id, now=NOW
        ) == (None, 0)
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert vias == [(has_it.id, "astuce"), (dutch.id, "broadcast")]
    assert actions == ["broadcast.tip"]
