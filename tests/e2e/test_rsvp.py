"""RSVP end to end: yes/no until the start, the waiting list, promotion of the first in line,
and callback data that cannot be trusted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.models import Rsvp
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click, plan, room

START = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


async def test_waitlisted_member_is_promoted_when_someone_cancels(relais: Harness) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live | 1")
    for person in (r.alice, r.bob, r.carol):
        await person.send("/seances")
    await r.alice.click("✅ Je serai là")
    await r.alice.expect("C'est noté : vous venez à la séance 1")
    await r.bob.click("✅ Je serai là")
    await r.bob.expect("La séance 1 est complète. Vous êtes n°1 sur la liste d'attente")
    await r.carol.click("✅ Je serai là")
    await r.carol.expect("Vous êtes n°2 sur la liste d'attente")
    await r.carol.click("✅ Je serai là")
    await r.carol.expect("Vous êtes n°2")

    await r.alice.click("❌ Je ne peux pas venir")
    await r.alice.expect("vous ne venez pas à la séance 1")
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
    await r.alice.click("✅ Je serai là")
    await r.alice.expect("Vous êtes n°2 sur la liste d'attente")

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
    await r.alice.click("✅ Je serai là")
    await r.alice.expect("vous venez")
    relais.clock.set(START - timedelta(seconds=1))
    await r.alice.click("❌ Je ne peux pas venir")
    await r.alice.expect("vous ne venez pas")
    relais.clock.set(START)
    await r.alice.click("✅ Je serai là")
    await r.alice.expect("La séance 1 a commencé : les réponses sont fermées.")


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
