"""Reminders end to end: at the right moved-clock instants (DST included), with RSVP buttons,
never to those who said no, surviving a restart; and the day-after follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import Harness
from tests.e2e.session_helpers import deliveries, nothing_but_tips, plan, room, tap_rsvp

START = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)  # Wednesday 2 December, 19:00 in Brussels
LINE = "02/12/2026 19:00 | Salle du Conseil | Vidéo et live"


async def test_reminders_arrive_on_time_with_rsvp_buttons_and_skip_those_who_said_no(
    relais: Harness,
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    await r.bob.send("/seances")
    await tap_rsvp(r.bob, "❌ Je ne peux pas venir")
    await r.carol.send("/seances")
    await tap_rsvp(r.carol, "✅ Je serai là")

    await relais.advance_to(START - timedelta(hours=24, minutes=1))
    await nothing_but_tips(r.alice)
    await relais.advance(minutes=1)
    reminder = await r.alice.expect("Rappel : séance 1")
    assert "mercredi 2 décembre à 19 h 00" in reminder.text
    assert "Salle du Conseil" in reminder.text
    assert "Vidéo et live" in reminder.text
    assert reminder.buttons == [["✅ Je serai là", "❌ Je ne peux pas venir"]]
    assert reminder.inline_keyboard[0][0].callback_data == f"rsvp:{ts.id}:yes"
    carol_reminder = await r.carol.expect("Rappel : séance 1")
    assert "Vous avez dit que vous venez" in carol_reminder.text
    assert carol_reminder.buttons == [["👉 ✅ Je serai là", "❌ Je ne peux pas venir"]]
    await nothing_but_tips(r.bob)
    await r.tom.expect_nothing()  # staff are not reminded

    # Answered on the reminder itself: its last line and buttons say the answer.
    tap = await tap_rsvp(r.alice, "✅ Je serai là", message=reminder)
    assert tap.notice.startswith("✅ C'est noté : vous venez à la séance 1")
    assert "Rappel : séance 1" in tap.message.text
    assert tap.message.text.endswith("✅ Vous avez dit que vous venez. À bientôt !")
    assert tap.message.buttons == [["👉 ✅ Je serai là", "❌ Je ne peux pas venir"]]

    await relais.advance_to(START - timedelta(hours=2))
    last = await r.alice.expect("Rappel : séance 1")
    assert "Vous avez dit que vous venez" in last.text
    await r.carol.expect("Rappel : séance 1")
    await nothing_but_tips(r.bob)

    sent = await deliveries(relais, f"reminder:session:{ts.id}:")
    assert sorted((d.dedup_key.rsplit(":", 1)[1], d.urgent) for d in sent) == [
        ("120", True),
        ("120", True),
        ("1440", False),
        ("1440", False),
    ]
    assert {d.status for d in sent} == {"sent"}
    assert {d.sent_at for d in sent if d.dedup_key.endswith(":1440")} == {
        START - timedelta(hours=24)
    }


@pytest.mark.parametrize(
    ("line", "reminder_24h", "reminder_2h", "spoken"),
    [
        # The evening of the spring change (28 March 2027): 19:00 CEST is 17:00 UTC.
        (
            "28/03/2027 19:00 | Salle | Live",
            datetime(2027, 3, 27, 17, 0, tzinfo=UTC),
            datetime(2027, 3, 28, 15, 0, tzinfo=UTC),
            "dimanche 28 mars à 19 h 00",
        ),
        # The evening after the autumn change (31 October 2027): 19:00 CET is 18:00 UTC.
        (
            "01/11/2027 19:00 | Salle | Live",
            datetime(2027, 10, 31, 18, 0, tzinfo=UTC),
            datetime(2027, 11, 1, 16, 0, tzinfo=UTC),
            "lundi 1 novembre à 19 h 00",
        ),
    ],
)
async def test_reminders_keep_to_the_hour_across_daylight_saving_changes(
    relais: Harness, line: str, reminder_24h: datetime, reminder_2h: datetime, spoken: str
) -> None:
    r = await room(relais)
    await plan(relais, r.tom, line)
    for due in (reminder_24h, reminder_2h):
        relais.clock.set(due - timedelta(minutes=5))
        await relais.tick()
        await nothing_but_tips(r.alice)
        relais.clock.set(due)
        await relais.tick()
        reminder = await r.alice.expect("Rappel : séance 1")
        assert spoken in reminder.text
    sent = await deliveries(relais, "reminder:")
    assert sorted({d.sent_at for d in sent if d.status == "sent"}) == [reminder_24h, reminder_2h]


async def test_a_restart_between_planning_and_sending_loses_and_repeats_nothing(
    relais: Harness,
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    relais.clock.set(START - timedelta(hours=24, seconds=30))
    await relais.tick()
    planned = await deliveries(relais, f"reminder:session:{ts.id}:")
    assert len(planned) == 3
    assert {d.status for d in planned} == {"pending"}

    await relais.restart()

    await relais.advance(minutes=1)
    await r.alice.expect("Rappel : séance 1")
    await r.bob.expect("Rappel : séance 1")
    await relais.advance(minutes=1)
    await relais.restart()
    await relais.advance(minutes=1)
    await nothing_but_tips(r.alice)
    again = await deliveries(relais, f"reminder:session:{ts.id}:")
    assert [d.id for d in again] == [d.id for d in planned]
    assert {d.status for d in again} == {"sent"}


async def test_the_day_after_thanks_those_present_and_tells_the_absent_the_summary(
    relais: Harness,
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    await plan(relais, r.tom, "09/12/2026 19:00 | Salle B | Photos")
    for person in (r.alice, r.bob):
        await person.send("/seances")
        first = await person.expect("Séance 1")
        tap = await tap_rsvp(person, "✅ Je serai là", message=first)
        assert "vous venez à la séance 1" in tap.notice
    relais.clock.set(START + timedelta(minutes=10))
    await r.tom.send("/appel")
    await r.tom.click("⬜ Alice (Chez Alice) 👍")
    await r.tom.expect("1 présents sur 3")

    # The session ends at 21:00: the trainer is asked for a one-line summary.
    relais.clock.set(ts.ends_at)
    await relais.tick()
    question = await r.tom.expect("Séance 1 terminée (1 personne présente)")
    await r.tom.click("✍️ Écrire le résumé", message=question)
    await r.tom.expect("Le résumé de la séance 1")
    await r.tom.send("On a tourné un reel de 30 secondes avec le téléphone.")
    await r.tom.expect("Merci ! Je l'enverrai")

    # Thursday 3 December at 10:00 in Brussels.
    await relais.advance_to(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    thanks = await r.alice.expect("Merci pour votre présence à la séance 1 « Vidéo et live »")
    assert "Prochaine séance : mercredi 9 décembre à 19 h 00, Salle B." in thanks.text
    missed = await r.bob.expect("Vous nous avez manqué à la séance 1")
    assert "On a tourné un reel de 30 secondes avec le téléphone." in missed.text
    assert missed.buttons == [["✅ Je serai là", "❌ Je ne peux pas venir"]]
    await nothing_but_tips(r.carol)  # no answer, not present: nothing to say
