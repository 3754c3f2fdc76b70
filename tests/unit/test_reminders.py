"""Reminders, follow-ups and the summary question: who, when (DST included), and what."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.content import load as load_content
from bot.db import Database
from bot.delivery.outbox import enqueue
from bot.delivery.registry import DeliveryRegistry, Planned, RenderContext, Rendered, Skip
from bot.i18n import I18n
from bot.models import Delivery, Member, Role, RsvpAnswer, TrainingSession
from bot.services import attendance, reminders, sessions
from bot.services import rsvp as rsvp_service
from tests.factories import make_cohort, make_member, make_rsvp, make_session, plan_window

START = datetime(2026, 12, 2, 18, tzinfo=UTC)  # Wednesday 2 December, 19:00 in Brussels


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return I18n()


async def plan_all(session: AsyncSession, settings: Settings, now: datetime) -> list[Planned]:
    registry = DeliveryRegistry()
    reminders.register_deliveries(registry)
    planned: list[Planned] = []
    for planner in registry.planners.values():
        planned += await planner(session, plan_window(settings, now))
    await enqueue(session, planned)
    return planned


async def render(
    session: AsyncSession, i18n: I18n, settings: Settings, delivery: Delivery, now: datetime
) -> Rendered | Skip:
    registry = DeliveryRegistry()
    reminders.register_deliveries(registry)
    member = await session.get(Member, delivery.member_id)
    assert member is not None
    ctx = RenderContext(
        session=session,
        delivery=delivery,
        member=member,
        t=i18n(member.language),
        now=now,
        settings=settings,
        bot_username="relais_test_bot",
    )
    return await registry.renderers[delivery.kind](ctx)


@pytest.mark.parametrize(
    ("local_start", "utc_start", "reminder_24h", "reminder_2h"),
    [
        # The evening of each daylight-saving change, and the evening after it.
        ("29/03/2026 19:00", "2026-03-29 17:00", "2026-03-28 17:00", "2026-03-29 15:00"),
        ("30/03/2026 19:00", "2026-03-30 17:00", "2026-03-29 17:00", "2026-03-30 15:00"),
        ("25/10/2026 19:00", "2026-10-25 18:00", "2026-10-24 18:00", "2026-10-25 16:00"),
        ("26/10/2026 19:00", "2026-10-26 18:00", "2026-10-25 18:00", "2026-10-26 16:00"),
    ],
)
async def test_reminders_fall_at_the_right_instants_across_daylight_saving(
    db: Database,
    settings: Settings,
    local_start: str,
    utc_start: str,
    reminder_24h: str,
    reminder_2h: str,
) -> None:
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    created = utc(utc_start) - timedelta(days=10)
    draft = sessions.parse_line(f"{local_start} | Salle | Live", "Europe/Brussels", created)
    assert isinstance(draft, sessions.SessionDraft)
    assert draft.starts_at == utc(utc_start)
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        await make_member(session, cohort)
        ts = await sessions.plan_session(
            session, cohort_id=cohort.id, draft=draft, created_by_id=None, now=created
        )
        # Nothing a minute before each reminder, exactly one at its instant.
        seen: list[tuple[datetime, int, bool]] = []
        for instant in (utc(reminder_24h), utc(reminder_2h)):
            assert await plan_all(session, settings, instant - timedelta(minutes=2)) == []
            for item in await plan_all(session, settings, instant):
                seen.append((item.due_at, item.payload["offset"], item.urgent))
                assert item.dedup_key == f"reminder:session:{ts.id}:1:{item.payload['offset']}"
    assert seen == [(utc(reminder_24h), 1440, False), (utc(reminder_2h), 120, True)]


async def test_no_reminder_to_those_who_said_no(db: Database, settings: Settings) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        ts = await make_session(session, cohort, START)
        yes, no, silent, waiting = [
            await make_member(session, cohort, n) for n in ("Yan", "Noa", "Sam", "Wim")
        ]
        trainer = await make_member(session, cohort, "Tom", role=Role.TRAINER)
        paused = await make_member(session, cohort, "Pat")
        paused.paused = True
        await make_rsvp(session, ts, yes, RsvpAnswer.YES)
        await make_rsvp(session, ts, no, RsvpAnswer.NO)
        await make_rsvp(session, ts, waiting, RsvpAnswer.WAITLIST)
        first = await plan_all(session, settings, START - timedelta(hours=24))
        again = await plan_all(session, settings, START - timedelta(hours=23))
        last = await plan_all(session, settings, START - timedelta(hours=2))
    expected = {yes.id, silent.id, waiting.id}
    assert {p.member_id for p in first} == expected
    assert again == []  # planning again is free: nothing new
    assert {p.member_id for p in last} == expected
    assert trainer.id not in {p.member_id for p in first + last}
    assert all(p.urgent for p in last)
    assert not any(p.urgent for p in first)


async def test_a_reminder_planned_late_is_sent_until_the_next_one_takes_over(
    db: Database, settings: Settings
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        await make_member(session, cohort)
        ts = await make_session(session, cohort, START)
        late = await plan_all(session, settings, START - timedelta(hours=10))
        assert [p.payload["offset"] for p in late] == [1440]
        # The bot was down until 1 h before: only the last reminder is still worth sending.
        ts2 = await make_session(session, cohort, START + timedelta(days=7))
        planned = await plan_all(session, settings, ts2.starts_at - timedelta(hours=1))
        assert [(p.payload["session_id"], p.payload["offset"]) for p in planned] == [(ts2.id, 120)]
        assert ts.id not in {p.payload["session_id"] for p in planned}


async def test_reminder_reads_like_people_speak_and_offers_rsvp_buttons(
    db: Database, settings: Settings, i18n: I18n
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        noor = await make_member(session, cohort, "Noor", language="nl")
        ts = await make_session(session, cohort, START, place="Salle du Conseil", theme="Live")
        await make_rsvp(session, ts, alice, RsvpAnswer.YES)
        now = START - timedelta(hours=24)
        await plan_all(session, settings, now)
        rows = (await session.scalars(select(Delivery).order_by(Delivery.member_id))).all()
        fr = await render(session, i18n, settings, rows[0], now)
        nl = await render(session, i18n, settings, rows[1], now)
    assert isinstance(fr, Rendered)
    assert isinstance(nl, Rendered)
    assert "mercredi 2 décembre à 19 h 00" in fr.text
    assert "Salle du Conseil" in fr.text
    assert "Live" in fr.text
    assert "Vous avez dit que vous venez" in fr.text
    assert [b.callback_data for row in fr.buttons for b in row] == [
        f"rsvp:{ts.id}:yes",
        f"rsvp:{ts.id}:no",
    ]
    assert "woensdag 2 december" in nl.text
    assert rows[1].member_id == noor.id


async def _one_reminder(
    session: AsyncSession, settings: Settings
) -> tuple[TrainingSession, Member, Delivery]:
    cohort = await make_cohort(session)
    alice = await make_member(session, cohort)
    ts = await make_session(session, cohort, START)
    await plan_all(session, settings, START - timedelta(hours=24))
    delivery = await session.scalar(select(Delivery))
    assert delivery is not None
    return ts, alice, delivery


async def test_reminders_of_a_cancelled_session_are_skipped(
    db: Database, settings: Settings, i18n: I18n
) -> None:
    now = START - timedelta(hours=24)
    async with db.unit_of_work() as session:
        ts, _alice, delivery = await _one_reminder(session, settings)
        ts.cancelled_at = now
        assert await render(session, i18n, settings, delivery, now) == Skip("session cancelled")


async def test_reminders_of_a_moved_session_are_skipped_and_planned_anew(
    db: Database, settings: Settings, i18n: I18n
) -> None:
    now = START - timedelta(hours=24)
    async with db.unit_of_work() as session:
        ts, alice, delivery = await _one_reminder(session, settings)
        new_start = START + timedelta(days=1)
        await sessions.move_session(session, ts, starts_at=new_start, actor_id=None, now=now)
        assert await render(session, i18n, settings, delivery, now) == Skip("session moved")
        planned = await plan_all(session, settings, new_start - timedelta(hours=24))
    assert [p.dedup_key for p in planned] == [f"reminder:session:{ts.id}:2:1440"]
    assert planned[0].member_id == alice.id


async def test_a_reminder_to_someone_who_then_said_no_is_skipped(
    db: Database, settings: Settings, i18n: I18n
) -> None:
    now = START - timedelta(hours=24)
    async with db.unit_of_work() as session:
        ts, alice, delivery = await _one_reminder(session, settings)
        await make_rsvp(session, ts, alice, RsvpAnswer.NO)
        assert await render(session, i18n, settings, delivery, now) == Skip("member said no")
        late = await render(session, i18n, settings, delivery, START - timedelta(hours=1))
        assert isinstance(late, Skip)


async def test_the_day_after_thanks_those_present_and_misses_the_others(
    db: Database, settings: Settings, i18n: I18n
) -> None:
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        came, missed, declined = [
            await make_member(session, cohort, n) for n in ("Cam", "Mis", "Dec")
        ]
        trainer = await make_member(session, cohort, "Tom", role=Role.TRAINER)
        ts = await make_session(session, cohort, START, theme="Les vidéos courtes")
        nxt = await make_session(session, cohort, START + timedelta(days=7), place="Salle B")
        for person, value in (
            (came, RsvpAnswer.YES),
            (missed, RsvpAnswer.YES),
            (declined, RsvpAnswer.NO),
        ):
            await make_rsvp(session, ts, person, value)
        await attendance.toggle(session, ts=ts, member_id=came.id, by_id=trainer.id, now=START)

        # The session ends at 21:00 local: the trainer is asked for the summary then.
        assert await plan_all(session, settings, ts.ends_at - timedelta(minutes=2)) == []
        asked = await plan_all(session, settings, ts.ends_at)
        assert [(p.member_id, p.payload["type"], p.urgent) for p in asked] == [
            (trainer.id, "summary", True)
        ]
        question = await session.scalar(select(Delivery).where(Delivery.member_id == trainer.id))
        assert question is not None
        text = await render(session, i18n, settings, question, ts.ends_at)
        assert isinstance(text, Rendered)
        assert "1 personne présente" in text.text
        assert text.buttons[0][0].callback_data == f"sess:{ts.id}:summary"
        await sessions.set_summary(
            session, ts, text="On a filmé un reel de 30 s.", actor_id=trainer.id, now=ts.ends_at
        )

        # Thursday 3 December, 10:00 in Brussels = 09:00 UTC.
        due = datetime(2026, 12, 3, 9, tzinfo=UTC)
        assert reminders.followup_due(ts, "Europe/Brussels") == due
        assert await plan_all(session, settings, due - timedelta(minutes=2)) == []
        planned = await plan_all(session, settings, due)
        assert sorted((p.member_id, p.payload["type"]) for p in planned) == sorted(
            [(came.id, "thanks"), (missed.id, "missed")]
        )
        rows = {
            d.payload["type"]: d
            for d in (
                await session.scalars(select(Delivery).where(Delivery.kind == "followup"))
            ).all()
        }
        thanks = await render(session, i18n, settings, rows["thanks"], due)
        missing = await render(session, i18n, settings, rows["missed"], due)
    assert isinstance(thanks, Rendered)
    assert isinstance(missing, Rendered)
    assert "Merci" in thanks.text
    assert "Les vidéos courtes" in thanks.text
    assert "Vous nous avez manqué" in missing.text
    assert "On a filmé un reel de 30 s." in missing.text
    assert "Salle B" in missing.text
    assert missing.buttons[0][0].callback_data == f"rsvp:{nxt.id}:yes"


async def test_notices_render_each_change(db: Database, settings: Settings, i18n: I18n) -> None:
    now = START - timedelta(days=3)
    async with db.unit_of_work() as session:
        cohort = await make_cohort(session)
        alice = await make_member(session, cohort)
        ts = await make_session(session, cohort, START)
        await make_rsvp(session, ts, alice, RsvpAnswer.YES)
        await sessions.change_place(session, ts, place="Salle B", actor_id=None, now=now)
        await sessions.move_session(
            session, ts, starts_at=START + timedelta(hours=1), actor_id=None, now=now
        )
        await sessions.cancel_session(session, ts, actor_id=None, now=now)
        notices = (await session.scalars(select(Delivery).order_by(Delivery.id))).all()
        texts = [await render(session, i18n, settings, n, now) for n in notices]
    place, moved, cancelled = texts
    # Place and time changed again since: only the cancellation still stands.
    assert isinstance(place, Skip)
    assert isinstance(moved, Skip)
    assert isinstance(cancelled, Rendered)
    assert "annulée" in cancelled.text
    assert "mercredi 2 décembre à 20 h 00" in cancelled.text


def test_a_curriculum_theme_is_named_in_the_readers_language_from_the_runtime_library() -> None:
    library = load_content()
    first = library.sessions[0]
    assert first.main_theme is not None
    ts = TrainingSession(theme=first.title("fr"), theme_code=first.main_theme)
    assert reminders.theme_of(ts, "nl", library) == first.title("nl")
    assert reminders.theme_of(ts, "en", library) == first.title("en")
    # Without a library (or for a free-text theme) the stored text is shown as typed.
    assert reminders.theme_of(ts, "nl", None) == first.title("fr")
    free = TrainingSession(theme="Atelier libre", theme_code=None)
    assert reminders.theme_of(free, "nl", library) == "Atelier libre"


@pytest.mark.parametrize("lang", ["fr", "nl", "en"])
def test_an_rsvp_tap_restates_the_answer_line_of_a_session_message_only(
    i18n: I18n, lang: str
) -> None:
    t = i18n(lang)
    yes = rsvp_service.RsvpState(RsvpAnswer.YES)
    no = rsvp_service.RsvpState(RsvpAnswer.NO)
    waiting = rsvp_service.RsvpState(RsvpAnswer.WAITLIST, 3)
    head_html, head_plain = (
        "<b>Séance 1</b>\n🗓 …\n📍 Fleurs &amp; Cie",
        "Séance 1\n🗓 …\n📍 Fleurs & Cie",
    )

    def restate(last: rsvp_service.RsvpState | str, state: rsvp_service.RsvpState) -> str | None:
        line = last if isinstance(last, str) else reminders.rsvp_line(t, last)
        plain = html.unescape(line)
        # As PTB gives it back (Message.text_html escapes quotes too).
        return reminders.restate_rsvp_line(
            t, f"{head_plain}\n\n{plain}", f"{head_html}\n\n{html.escape(plain)}", state
        )

    asked = reminders.rsvp_line(t, rsvp_service.RsvpState(None))
    assert restate(asked, yes) == f"{head_html}\n\n{reminders.rsvp_line(t, yes)}"
    assert restate(yes, no) == f"{head_html}\n\n{reminders.rsvp_line(t, no)}"
    assert restate(waiting, no) == f"{head_html}\n\n{reminders.rsvp_line(t, no)}"
    assert restate(t("Vous venez toujours ?"), waiting) is not None  # the moved notice
    assert restate(yes, yes) is None  # already says it: only the buttons may change
    assert restate(t("Prochaine séance : {when}, {place}.", when="lundi", place="ici"), yes) is None
    assert reminders.restate_rsvp_line(t, asked, asked, yes) is None  # no paragraph before
    other = i18n("fr" if lang != "fr" else "en")
    assert restate(reminders.rsvp_line(other, no), yes) is None  # sent in another language
