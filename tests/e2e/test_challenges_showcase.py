"""The showcase end to end (issue 13): the consented proofs of a challenge go to the cohort
through the outbox as one album (sendMediaGroup, strict flood limits), starred first, with
first names and business names only; a consent withdrawn after planning, a photo Telegram no
longer has and an erased member are all respected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.models import Challenge, ChallengeSubmission, Delivery, DeliveryStatus, Role
from bot.sandbox.records import SentMessage
from bot.sandbox.simulator import SimUser
from tests.e2e.harness import Harness


@pytest.fixture
def sandbox_options() -> dict[str, object]:
    return {"flood_limits": True}


async def setup(relais: Harness) -> tuple[SimUser, list[SimUser]]:
    cohort = await relais.make_cohort()
    tom = relais.user("Tom")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    people = [relais.user(name) for name in ("Alice", "Bob", "Carla", "Dan", "Eve")]
    for person in people:
        await relais.make_member(person, cohort, business_name=f"Chez {person.first_name}")
    await tom.send("/defi")
    await tom.click("➕ Nouveau défi")
    await tom.click("Les photos")
    await tom.click("Votre vitrine en pleine lumière")
    await tom.click("👥 Tout le groupe (5)")
    await tom.click("🚀 Maintenant")
    await tom.expect("envoyé à 5 participants")
    await relais.tick()
    return tom, people


async def prove(person: SimUser, *, photo: bool = True, show: bool = True) -> None:
    await person.expect("Défi : photographiez votre vitrine")
    if photo:
        await person.click("📷 Envoyer ma preuve")
        await person.send_photo()
        await person.expect("Preuve reçue")
    else:
        await person.click("✅ C'est fait")
        await person.expect("c'est noté")
    await person.click("👍 Oui" if show else "🙈 Non")
    await person.expect("Merci" if show else "C'est noté")


def album_of(relais: Harness, person: SimUser) -> list[SentMessage]:
    return [m for m in relais.sandbox.messages_to(person.id) if m.method == "sendMediaGroup"]


async def test_the_showcase_is_one_album_through_the_outbox_and_respects_consent(
    relais: Harness,
) -> None:
    tom, (alice, bob, carla, dan, eve) = await setup(relais)
    for person in (alice, bob, dan, eve):
        await prove(person)
    await prove(carla, photo=False)  # "done": named, no photo
    async with relais.session() as tx:
        files = {
            s.member_id: s.file_id for s in (await tx.scalars(select(ChallengeSubmission))).all()
        }
    # The trainer stars Eve's photo (shown first) and asks for the showcase now.
    await tom.send("/defi")
    await tom.click("📋 Votre vitrine en pleine lumière")
    await tom.click("📥 Les réponses (5)")
    eve_card = await tom.expect("Eve (Chez Eve) — 📷 photo", kind="photo")
    await tom.click("⭐ Montrer au groupe", message=eve_card)
    await tom.send("/defi")
    await tom.click("📋 Votre vitrine en pleine lumière")
    await tom.click("📣 Montrer au groupe maintenant")
    await tom.expect("La vitrine part vers 5 participants.")

    # After planning: Alice withdraws her consent; Telegram lost Bob's photo.
    await alice.send("/defi")
    await alice.click("🙈 Ne plus la montrer")
    await alice.expect("ne sera pas montrée")
    bob_file = [f for f in files.values() if f][1]
    relais.sandbox.forget_file(bob_file)

    await relais.advance(timedelta(seconds=5))
    await relais.advance(timedelta(seconds=5))
    for person in (alice, bob, carla, dan, eve):
        album = album_of(relais, person)
        assert len(album) == 2, person  # Dan's and Eve's photos; Alice's withdrawn, Bob's gone
        assert len({m.media_group_id for m in album}) == 1
        caption = album[0].text
        assert "Défi « Votre vitrine en pleine lumière »" in caption
        assert "5 sur 5 ont relevé le défi 👏" in caption
        assert "Eve (Chez Eve)" in caption
        assert "Carla (Chez Carla)" in caption
        assert "Alice" not in caption
        assert album[1].text == ""
        assert album[0].photo is not None
        assert album[1].photo is not None
        # Starred first.
        assert caption.index("Eve") < caption.index("Dan")
        assert bob_file not in (album[0].photo.file_id, album[1].photo.file_id)
    async with relais.session() as tx:
        showcases = (await tx.scalars(select(Delivery).where(Delivery.kind == "showcase"))).all()
    assert {d.status for d in showcases} == {DeliveryStatus.SENT.value}
    assert (
        relais.sandbox.stats.rejected_429 == 0
        if hasattr(relais.sandbox.stats, "rejected_429")
        else True
    )


async def test_erasure_removes_submissions_and_the_next_showcase_never_shows_them(
    relais: Harness,
) -> None:
    _tom, (alice, _bob, _carla, dan, eve) = await setup(relais)
    await prove(dan)
    await prove(eve)
    await dan.send("/oublier")
    await dan.click("🗑 Oui, tout effacer")
    await dan.expect("C'est fait : j'ai effacé vos données")
    async with relais.session() as tx:
        left = (await tx.scalars(select(ChallengeSubmission))).all()
    assert len(left) == 1  # Eve's: Dan's submission and its file id are gone

    # At the deadline the showcase goes out by itself, without Dan.
    async with relais.session() as tx:
        challenge = (await tx.scalars(select(Challenge))).one()
    await relais.advance_to(challenge.deadline_at + timedelta(minutes=1), timedelta(hours=12))
    await relais.advance_to(challenge.deadline_at + timedelta(hours=13), timedelta(hours=12))
    shown = [m for m in relais.sandbox.messages_to(alice.id) if "relevé le défi" in m.text]
    assert len(shown) == 1
    assert shown[0].method == "sendPhoto"  # one photo: sent alone, not as an album
    assert "Eve (Chez Eve)" in shown[0].text
    assert "Dan" not in shown[0].text
    async with relais.session() as tx:
        assert (
            await tx.scalar(select(func.count()).where(Delivery.kind == "showcase"))
        ) == 4  # Alice, Bob, Carla, Eve
