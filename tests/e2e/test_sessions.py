"""Planning sessions end to end: guided with buttons (across a restart), in one line with
precise errors, the session card (move, place, cancel), `/seances` and the .ics file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.models import AuditEntry, Role, TrainingSession
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import deliveries, forge_click, plan, room, tap_rsvp

LINE = "02/12/2026 19:00 | Salle du Conseil | Vidéo et live"
START = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)  # 19:00 in Brussels


async def test_trainer_plans_a_session_with_buttons_even_across_a_restart(
    relais: Harness,
) -> None:
    r = await room(relais)
    await r.tom.send("/nouvelle_seance")
    await r.tom.expect("Quel jour")
    await r.tom.click("mer. 2 déc.")
    await r.tom.expect("À quelle heure, le mercredi 2 décembre")
    await r.tom.click("19 h 00")
    await r.tom.expect("Où ?")
    await r.tom.send("Salle du Conseil, rue de l'Église 1")
    await r.tom.expect("Quel thème")

    await relais.restart()  # the conversation and its draft survive

    await r.tom.click("⭐ 1. Vos objectifs et votre page")
    await r.tom.expect("Combien de places")
    await r.tom.send("beaucoup")
    await r.tom.expect("« beaucoup » ne convient pas comme nombre de places")
    await r.tom.click("20")
    summary = await r.tom.expect("On planifie cette séance ?")
    assert "mercredi 2 décembre à 19 h 00" in summary.text
    assert "20 places" in summary.text
    await r.tom.click("✅ Planifier")
    await r.tom.expect("Séance planifiée")
    card = await r.tom.expect("Séance 1")
    assert "Vos objectifs et votre page" in card.text
    assert "Salle du Conseil, rue de l'Église 1" in card.text

    async with relais.session() as session:
        ts = await session.scalar(select(TrainingSession))
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert ts is not None
    assert (ts.number, ts.starts_at, ts.capacity, ts.theme_code) == (1, START, 20, "objectives")
    assert "session.plan" in actions

    # The next planning offers the place just used and suggests the next theme.
    await r.tom.send("/nouvelle_seance")
    await r.tom.click("jeu. 3 déc.")
    await r.tom.click("19 h 00")
    await r.tom.click("Salle du Conseil, rue de l'Église 1")
    themes = await r.tom.expect("Quel thème")
    assert "⭐ 2. Photos et rythme de publication" in [b for row in themes.buttons for b in row]
    await r.tom.send("/annuler")
    await r.tom.expect("je n'ai rien planifié")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("31/02/2027 19:00 | Salle | Live", "La date « 31/02/2027 » n'existe pas"),
        ("20/11/2026 19:00 | Salle | Live", "« 20/11/2026 19:00 » est déjà passé"),
        ("02/12/2026 19:00 | Salle", "Il manque le thème"),
        ("02/12/2026 | Salle | Live", "Il manque l'heure"),
        ("02/12/2026 19:00", "Il manque le lieu"),
        ("demain 19:00 | Salle | Live", "Je ne reconnais pas la date « demain »"),
        ("02/12/2026 25:00 | Salle | Live", "Je ne reconnais pas l'heure « 25:00 »"),
    ],
)
async def test_a_bad_one_line_session_says_precisely_what_to_fix(
    relais: Harness, line: str, message: str
) -> None:
    r = await room(relais)
    await r.tom.send(f"/nouvelle_seance {line}")
    reply = await r.tom.expect(message)
    assert "Exemple" in reply.text
    async with relais.session() as session:
        assert await session.scalar(select(TrainingSession)) is None


async def test_one_line_planning_in_both_date_forms_numbers_sessions(relais: Harness) -> None:
    r = await room(relais)
    first = await plan(relais, r.tom, LINE)
    second = await plan(relais, r.claire, "2026-12-09 19:30 | Salle B | Photos | 12")
    assert (first.number, first.starts_at) == (1, START)
    assert (second.number, second.capacity) == (2, 12)
    assert second.starts_at == datetime(2026, 12, 9, 18, 30, tzinfo=UTC)


async def test_a_merchant_cannot_plan_a_session(relais: Harness) -> None:
    r = await room(relais)
    await r.alice.send(f"/nouvelle_seance {LINE}")
    await r.alice.expect("réservée à l'équipe")
    async with relais.session() as session:
        assert await session.scalar(select(TrainingSession)) is None


async def test_moving_and_changing_place_tell_those_who_said_yes(relais: Harness) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    await r.alice.send("/seances")
    tap = await tap_rsvp(r.alice, "✅ Je serai là")
    assert tap.notice.startswith("✅ C'est noté : vous venez à la séance 1")
    await r.bob.send("/seances")
    tap = await tap_rsvp(r.bob, "❌ Je ne peux pas venir")
    assert tap.notice.startswith("C'est noté : vous ne venez pas à la séance 1")

    await r.tom.send("/seances")
    await r.tom.expect("Séance 1")
    await r.tom.click("🕒 Déplacer")
    await r.tom.expect("Nouvelle date et heure")
    await r.tom.send("01/12/2026 19:00")
    moved = await r.tom.expect("Séance 1 déplacée")
    assert "mardi 1 décembre à 19 h 00" in moved.text
    assert "1 personne qui avait dit oui est prévenue" in moved.text
    await relais.tick()
    notice = await r.alice.expect("Séance 1 déplacée")
    assert "mardi 1 décembre à 19 h 00" in notice.text
    assert "mercredi 2 décembre à 19 h 00" in notice.text  # what it was
    await r.bob.expect_nothing()

    await r.tom.click("📍 Changer le lieu")
    await r.tom.send("Maison du village")
    await r.tom.expect("Nouveau lieu de la séance 1 : Maison du village")
    await relais.tick()
    place = await r.alice.expect("Nouveau lieu pour la séance 1")
    assert "Maison du village" in place.text

    async with relais.session() as session:
        fresh = await session.get(TrainingSession, ts.id)
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert fresh is not None
    assert (fresh.revision, fresh.place) == (2, "Maison du village")
    assert {"session.move", "session.place"} <= set(actions)


async def test_cancelling_from_the_card_asks_first_then_tells_and_skips_reminders(
    relais: Harness,
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    await r.alice.send("/seances")
    await r.alice.click("✅ Je serai là")

    # Reminders are planned half a minute before they fall due...
    relais.clock.set(START - timedelta(hours=24, seconds=30))
    await relais.tick()
    pending = await deliveries(relais, f"reminder:session:{ts.id}:")
    assert {d.status for d in pending} == {"pending"}
    assert len(pending) == 3

    # ... and the trainer cancels the session just then.
    await r.tom.send("/seances")
    await r.tom.click("❌ Annuler la séance")
    confirm = await r.tom.expect("Annuler la séance 1 du mercredi 2 décembre")
    assert "1 personne inscrite sera prévenue" in confirm.text
    await r.tom.click("Non, garder")
    await r.tom.expect("Séance 1")
    await r.tom.click("❌ Annuler la séance")
    await r.tom.click("Oui, annuler")
    await r.tom.expect("Séance 1 annulée")

    await relais.advance(minutes=5)
    await r.alice.expect("Séance 1 annulée")
    await r.bob.expect_nothing()
    skipped = await deliveries(relais, f"reminder:session:{ts.id}:")
    assert [(d.status, d.last_error) for d in skipped] == [("skipped", "session cancelled")] * 3
    await relais.advance(hours=23)
    await r.carol.expect_nothing()

    # A stale or forged card button changes nothing.
    card = r.tom.messages[-1]
    await forge_click(relais, r.tom, card, f"sess:{ts.id}:cancelok")
    await forge_click(relais, r.tom, card, "sess:999999:cancel")
    await forge_click(relais, r.tom, card, "sess:abc:move")
    async with relais.session() as session:
        assert (await session.scalars(select(AuditEntry.action))).all().count("session.cancel") == 1


async def test_staff_of_another_cohort_cannot_touch_a_session(relais: Harness) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    other = await relais.make_cohort("Dottignies 2026", "Dottignies")
    eve = relais.user("Eve")
    await relais.make_member(eve, other, role=Role.TRAINER)
    await eve.send("/seances")
    message = await eve.expect("Aucune séance")
    for data in (f"sess:{ts.id}:cancel", f"sess:{ts.id}:move", f"ics:{ts.id}", f"pres:{ts.id}"):
        record = await forge_click(relais, eve, message, data)
        assert record.answered
    await eve.send("15/12/2026 19:00")  # no edit conversation was started
    async with relais.session() as session:
        fresh = await session.get(TrainingSession, ts.id)
    assert fresh is not None
    assert (fresh.cancelled_at, fresh.revision) == (None, 1)
    assert len(await deliveries(relais)) == 0


async def test_seances_lists_upcoming_sessions_with_rsvp_state_and_an_ics_file(
    relais: Harness,
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    await plan(relais, r.tom, "09/12/2026 19:00 | Salle B | Photos")
    await r.alice.send("/seances")
    # The heading opens the first card (one message less per /seances).
    first = await r.alice.expect("Les 2 prochaines séances")
    assert "Séance 1" in first.text
    assert "Vous venez ?" in first.text
    second = await r.alice.expect("Séance 2")
    assert "prochaines séances" not in second.text
    tap = await tap_rsvp(r.alice, "✅ Je serai là", message=first)
    assert "Vous avez dit que vous venez" in tap.message.text
    await r.alice.send("/seances")
    again = await r.alice.expect("Séance 1")
    assert "Vous avez dit que vous venez" in again.text
    assert again.buttons[0] == ["👉 ✅ Je serai là", "❌ Je ne peux pas venir"]

    await r.alice.click("📆 Ajouter à mon agenda", message=again)
    document = await r.alice.expect("ajouter la séance 1 à votre agenda", kind="document")
    assert document.document is not None
    assert document.document.filename == "seance-1.ics"
    calendar = Calendar.from_ical(document.document.data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == START
    assert event.decoded("dtend") == START + timedelta(hours=2)
    assert str(event["location"]) == "Salle du Conseil"
    assert str(event["summary"]) == "Séance 1 : Vidéo et live"
    assert str(event["uid"]).startswith(f"relais-session-{ts.id}@")
