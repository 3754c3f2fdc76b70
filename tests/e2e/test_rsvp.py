"""RSVP end to end: yes/no until the start, the waiting list, promotion of the first in line,
and callback data that cannot be trusted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.models import Rsvp
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click, plan, room, tap_rsvp

START = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


async def test_waitlisted_member_is_promoted_when_someone_cancels(relais: Harness) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live | 1")
    for person in (r.alice, r.bob, r.carol):
        await person.send("/seances")
    tap = await tap_rsvp(r.alice, "✅ Je serai là")
    assert tap.notice.startswith("✅ C'est noté : vous venez à la séance 1, mercredi 2 décembre")
    assert not tap.alert
    assert tap.message.text.endswith("\n\n✅ Vous avez dit que vous venez. À bientôt !")
    assert tap.message.buttons == [
        ["👉 ✅ Je serai là", "❌ Je ne peux pas venir"],
        ["📆 Ajouter à mon agenda"],
    ]
    tap = await tap_rsvp(r.bob, "✅ Je serai là")
    assert tap.notice.startswith(
        "⏳ La séance 1 est complète. Vous êtes n°1 sur la liste d'attente"
    )
    assert tap.alert  # not what was asked for: the notice waits to be read
    assert tap.message.text.endswith(
        "⏳ Vous êtes n°1 sur la liste d'attente. Je vous préviens si une place se libère."
    )
    assert tap.message.buttons[0] == ["👉 ✅ Je serai là", "❌ Je ne peux pas venir"]
    tap = await tap_rsvp(r.carol, "✅ Je serai là")
    assert "Vous êtes n°2 sur la liste d'attente" in tap.notice
    assert "Vous êtes n°2 sur la liste d'attente" in tap.message.text
    # The same answer again: said again, nothing to redraw, no error.
    tap = await tap_rsvp(r.carol, "✅ Je serai là", edits=False)
    assert "Vous êtes n°2" in tap.notice

    tap = await tap_rsvp(r.alice, "❌ Je ne peux pas venir")
    assert tap.notice.startswith("C'est noté : vous ne venez pas à la séance 1")
    assert tap.message.text.endswith("❌ Vous avez dit que vous ne pouvez pas venir.")
    assert tap.message.buttons[0] == ["✅ Je serai là", "👉 ❌ Je ne peux pas venir"]
    await relais.tick()
    promoted = await r.bob.expect("Une place s'est libérée")
    assert "Votre place est réservée pour la séance 1" in promoted.text
    assert promoted.buttons == [["✅ Je serai là", "❌ Je ne peux pas venir"]]
    await r.carol.expect_nothing()

    # Carol is now first in line: /seances says so.
    await r.carol.send("/seances")
    listed = await r.carol.expect("Séance 1")
    assert "Vous êtes n°1 sur la liste d'attente" in listed.text

    # Alice changes her mind: the session is full again, she goes to the end of the list.
    tap = await tap_rsvp(r.alice, "✅ Je serai là")
    assert "Vous êtes n°2 sur la liste d'attente" in tap.notice
    assert "Vous êtes n°2 sur la liste d'attente" in tap.message.text

    async with relais.session() as session:
        answers = dict(
            (
                await session.execute(
                    select(Rsvp.member_id, Rsvp.answer).where(Rsvp.session_id == ts.id)
                )
            ).all()
        )
    assert sorted(answers.values()) == ["waitlist", "waitlist", "yes"]


async def test_answers_close_when_the_session_starts(relais: Harness) -> None:
    r = await room(relais)
    await plan(relais, r.tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live")
    await r.alice.send("/seances")
    tap = await tap_rsvp(r.alice, "✅ Je serai là")
    assert "vous venez" in tap.notice
    relais.clock.set(START - timedelta(seconds=1))
    tap = await tap_rsvp(r.alice, "❌ Je ne peux pas venir")
    assert "vous ne venez pas" in tap.notice
    relais.clock.set(START)
    tap = await tap_rsvp(r.alice, "✅ Je serai là")
    assert tap.notice == "La séance 1 a commencé : les réponses sont fermées."
    assert tap.alert
    # The answer buttons go (the calendar file stays); the last answer given still shows.
    assert tap.message.buttons == [["📆 Ajouter à mon agenda"]]
    assert tap.message.text.endswith("❌ Vous avez dit que vous ne pouvez pas venir.")
    async with relais.session() as session:
        assert await session.scalar(select(Rsvp.answer)) == "no"


async def test_forged_rsvp_data_changes_nothing(relais: Harness) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live")
    other = await relais.make_cohort("Dottignies 2026", "Dottignies")
    eve = relais.user("Eve")
    await relais.make_member(eve, other)
    await eve.send("/seances")
    message = await eve.expect("Aucune séance")
    for data in (
        f"rsvp:{ts.id}:yes",  # a session of another cohort
        "rsvp:999999:yes",  # no such session
        f"rsvp:{ts.id}:maybe",
        "rsvp:-1:yes",
        "rsvp:1e3:no",
        f"rsvp:{ts.id}:yes:extra",
    ):
        record = await forge_click(relais, eve, message, data)
        assert record.answered, data
    # Staff cannot answer either (they are not enrolled).
    await r.tom.send("/seances")
    card = await r.tom.expect("Séance 1")
    await forge_click(relais, r.tom, card, f"rsvp:{ts.id}:yes")
    async with relais.session() as session:
        assert (await session.scalars(select(Rsvp))).all() == []


async def test_a_double_press_is_answered_twice_and_the_message_edited_once(
    relais: Harness,
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live")
    await r.alice.send("/seances")
    card = await r.alice.expect("Séance 1")
    mark = r.alice.mark()
    refused = relais.sandbox.stats.client_errors
    # Both presses carry the card as it was, asking "Vous venez ?": the second one's redraw
    # changes nothing, and Telegram says so ("message is not modified").
    presses = [relais.sandbox.user_clicks(r.alice.id, card, f"rsvp:{ts.id}:yes") for _ in "12"]
    await relais.sim.settle([pending for pending, _ in presses])
    first, second = (record for _, record in presses)
    assert first.answered
    assert second.answered
    assert (first.text or "").startswith("✅ C'est noté : vous venez")
    assert second.text == "C'est déjà noté : vous venez à la séance 1. À bientôt !"
    changes = relais.sandbox.inbox(r.alice.id)[mark:]
    assert [(event.kind, event.message.message_id) for event in changes] == [
        ("edited", card.message_id)
    ]  # no new message, and no "Oups"
    assert card.buttons[0] == ["👉 ✅ Je serai là", "❌ Je ne peux pas venir"]
    assert relais.sandbox.stats.client_errors - refused == 1  # that refusal, handled


async def test_a_tap_on_a_notice_without_an_answer_line_changes_only_its_buttons(
    relais: Harness,
) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live | 1")
    for person in (r.alice, r.bob, r.carol):
        await person.send("/seances")
    await tap_rsvp(r.alice, "✅ Je serai là")
    await tap_rsvp(r.bob, "✅ Je serai là")
    await tap_rsvp(r.alice, "❌ Je ne peux pas venir")
    await relais.tick()
    promoted = await r.bob.expect("Une place s'est libérée")
    text = promoted.text
    # Bob cannot come after all: he says so on the notice, which frees the seat again.
    tap = await tap_rsvp(r.bob, "❌ Je ne peux pas venir", message=promoted)
    assert tap.notice.startswith("C'est noté : vous ne venez pas à la séance 1")
    assert tap.message.message_id == promoted.message_id
    assert tap.message.text == text
    assert tap.message.buttons == [["✅ Je serai là", "👉 ❌ Je ne peux pas venir"]]
    async with relais.session() as session:
        answers = dict(
            (
                await session.execute(
                    select(Rsvp.member_id, Rsvp.answer).where(Rsvp.session_id == ts.id)
                )
            ).all()
        )
    assert sorted(answers.values()) == ["no", "no"]
