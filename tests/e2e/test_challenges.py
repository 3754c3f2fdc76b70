"""Challenges end to end (issue 13): the trainer sets one from the library with `/defi`, it
reaches the members through the outbox, they answer with a photo, a link, "done" or "not this
time", consent to the showcase or not; the trainer follows the submissions, congratulates (in
the member's language) and stars; the reminder the day before the deadline skips those who
answered; the showcase goes out as one album; bad input changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.models import (
    AuditEntry,
    Challenge,
    ChallengeSubmission,
    Delivery,
    DeliveryStatus,
    Member,
    Role,
)
from bot.sandbox.simulator import SimUser
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click, plan


async def group(relais: Harness) -> tuple[SimUser, SimUser, SimUser, SimUser]:
    cohort = await relais.make_cohort()
    tom = relais.user("Tom")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    alice, bob = relais.user("Alice"), relais.user("Bob")
    await relais.make_member(alice, cohort, business_name="Salon Alice")
    await relais.make_member(bob, cohort, business_name="Chez Bob", sector="food")
    carla = relais.user("Carla", language_code="nl")
    await relais.make_member(carla, cohort, business_name="Bakkerij Carla", language="nl")
    return tom, alice, bob, carla


async def set_library_challenge(
    relais: Harness, tom: SimUser, timing: str = "🚀 Maintenant"
) -> Challenge:
    await tom.send("/defi")
    await tom.expect("Aucun défi pour l'instant")
    await tom.click("➕ Nouveau défi")
    await tom.expect("choisissez un thème")
    await tom.click("Les vidéos courtes")
    await tom.expect("Choisissez un défi")
    await tom.click("20 secondes de vos mains")
    preview = await tom.expect("À qui l'envoyer ?")
    assert "Filmez" not in preview.text  # the text as the library has it
    assert "20 secondes de vos mains au travail" in preview.text
    await tom.click("👥 Tout le groupe (3)")
    await tom.expect("Quand l'envoyer ?")
    await tom.click(timing)
    async with relais.session() as tx:
        challenge = (await tx.scalars(select(Challenge).order_by(Challenge.id.desc()))).first()
    assert challenge is not None
    return challenge


# A tick on the evening before the deadline (20:30 in Brussels, before the quiet hours).
DAY_BEFORE = timedelta(hours=23, minutes=30)


def reminded(person: SimUser) -> bool:
    return any(
        "Petit rappel : le défi" in m.text or "Kleine herinnering" in m.text
        for m in person.messages
    )


async def current_submissions(relais: Harness) -> list[ChallengeSubmission]:
    async with relais.session() as tx:
        rows = await tx.scalars(
            select(ChallengeSubmission)
            .where(ChallengeSubmission.current.is_(True))
            .order_by(ChallengeSubmission.id)
        )
        return list(rows.all())


async def test_a_library_challenge_reaches_members_and_a_photo_is_its_proof(
    relais: Harness,
) -> None:
    tom, alice, _bob, carla = await group(relais)
    challenge = await set_library_challenge(relais, tom)
    await tom.expect("Défi « 20 secondes de vos mains » envoyé à 3 participants.")
    await alice.expect_nothing(within=0)  # through the outbox: nothing before the tick
    await relais.tick()
    received = await alice.expect("Défi : 20 secondes de vos mains au travail.")
    assert received.buttons == [["📷 Envoyer ma preuve"], ["✅ C'est fait", "⏭ Pas cette fois"]]
    assert "À faire avant le mercredi 2 décembre" in received.text
    dutch = await carla.expect("Uitdaging: 20 seconden van uw handen aan het werk.")
    assert "Bewijs" in dutch.text

    await alice.click("📷 Envoyer ma preuve")
    await alice.expect("Envoyez ici votre photo")
    await alice.send_photo(caption="Mes mains")
    asked = await alice.expect("Preuve reçue pour « 20 secondes de vos mains »")
    assert "Puis-je la montrer au groupe ?" in asked.text
    assert asked.buttons == [["👍 Oui", "🙈 Non"]]
    await alice.click("👍 Oui")
    await alice.expect("Elle pourra être montrée au groupe")

    [submission] = await current_submissions(relais)
    assert (submission.challenge_id, submission.answer, submission.proof_kind) == (
        challenge.id,
        "proof",
        "photo",
    )
    assert submission.file_id
    assert submission.file_id.startswith("AgAC")
    assert submission.consent is True

    # A second photo, sent without pressing anything: asked whether it is for the challenge;
    # the last one counts and the first is kept as history (consent carried over).
    await alice.send_photo()
    await alice.expect("Est-ce pour le défi « 20 secondes de vos mains » ?")
    await alice.click("🎯 20 secondes de vos mains")
    await alice.expect("Elle remplace la précédente")
    async with relais.session() as tx:
        rows = (
            await tx.scalars(select(ChallengeSubmission).order_by(ChallengeSubmission.id))
        ).all()
    assert [row.current for row in rows] == [False, True]
    assert rows[0].file_id != rows[1].file_id
    assert rows[1].consent is True


async def test_done_not_this_time_a_link_and_the_reminder_the_day_before(relais: Harness) -> None:
    tom, alice, bob, carla = await group(relais)
    challenge = await set_library_challenge(relais, tom)
    await relais.tick()
    await alice.expect("Défi : 20 secondes")
    await bob.expect("Défi : 20 secondes")
    await carla.expect("Uitdaging")

    await alice.click("✅ C'est fait")
    await alice.expect("Bravo, c'est noté pour « 20 secondes de vos mains » !")
    await alice.click("🙈 Non")
    await alice.expect("elle ne sera pas montrée au groupe")

    await bob.click("⏭ Pas cette fois")
    await bob.expect("pas cette fois pour « 20 secondes de vos mains »")

    # A link that is not http(s), then one over 1,000 characters: kind answers, nothing kept.
    await carla.send("ftp://example.com/video")
    await carla.expect("https://")
    await carla.send("https://www.facebook.com/" + "x" * 1000)
    await carla.expect("te lang")
    assert len(await current_submissions(relais)) == 2
    # Then a real link: the ambiguity question, then taken.
    await carla.send("https://www.facebook.com/bakkerijcarla/videos/123")
    await carla.expect("Is dit voor de uitdaging")
    await carla.click("🎯 20 seconden van uw handen")
    await carla.expect("Bewijs ontvangen")
    subs = await current_submissions(relais)
    assert [(s.answer, s.proof_kind) for s in subs] == [
        ("done", None),
        ("skip", None),
        ("proof", "link"),
    ]
    assert subs[2].link == "https://www.facebook.com/bakkerijcarla/videos/123"

    # Dan, who joined late, never got it; Alice, Bob, Carla all answered: no reminder at all.
    await relais.advance_to(challenge.deadline_at - DAY_BEFORE, timedelta(hours=12))
    for person in (alice, bob, carla):
        assert not reminded(person)
    async with relais.session() as tx:
        reminders = (
            await tx.scalars(select(Delivery).where(Delivery.kind == "chal_reminder"))
        ).all()
    assert len(reminders) == 3
    assert {r.status for r in reminders} == {DeliveryStatus.SKIPPED.value}


async def test_the_reminder_reaches_only_those_who_have_not_answered(relais: Harness) -> None:
    tom, alice, bob, carla = await group(relais)
    challenge = await set_library_challenge(relais, tom)
    await relais.tick()
    await alice.click("⏭ Pas cette fois")
    await alice.expect("pas cette fois")
    # The deadline is Wednesday 2 December 20:00 (Brussels); the reminder a day before.
    await relais.advance_to(challenge.deadline_at - DAY_BEFORE, timedelta(hours=12))
    reminder = await bob.expect(
        "Petit rappel : le défi « 20 secondes de vos mains » se termine demain."
    )
    assert reminder.buttons == [["📷 Envoyer ma preuve"], ["✅ C'est fait", "⏭ Pas cette fois"]]
    await carla.expect("Kleine herinnering")
    assert not reminded(alice)  # "not this time" is an answer: no reminder

    # After the deadline, the buttons say it is closed (and nothing is recorded).
    await relais.advance(timedelta(days=2))
    await bob.click("✅ C'est fait", message=reminder)
    await bob.expect("Ce défi est terminé")
    assert [s.answer for s in await current_submissions(relais)] == ["skip"]


async def test_the_trainer_follows_congratulates_in_the_members_language_and_stars(
    relais: Harness,
) -> None:
    tom, alice, bob, carla = await group(relais)
    challenge = await set_library_challenge(relais, tom)
    await relais.tick()
    await alice.click("📷 Envoyer ma preuve")
    await alice.send_photo()
    await alice.click("🙈 Non")
    await alice.expect("elle ne sera pas montrée")
    await carla.click("📷 Mijn bewijs sturen")
    await carla.send_photo()
    await carla.click("👍 Ja")
    await carla.expect("Bedankt")

    await tom.send("/defi")
    listing = await tom.expect("Défis du groupe")
    assert "envoyé à 3, réponses 2, relevé par 2" in listing.text
    await tom.click("📋 20 secondes de vos mains")
    await tom.expect("relevé par 2")
    await tom.click("📥 Les réponses (2)")
    from_carla = await tom.expect("Carla (Bakkerij Carla) — 📷 photo", kind="photo")
    from_alice = await tom.expect("Alice (Salon Alice) — 📷 photo", kind="photo")
    # Re-sent by file_id, never downloaded: the same file Telegram already has.
    async with relais.session() as tx:
        ids = set((await tx.scalars(select(ChallengeSubmission.file_id))).all())
    assert from_alice.photo is not None
    assert from_alice.photo.file_id in ids
    assert from_alice.buttons == [["👏 Bravo"]]  # no ⭐ without consent
    assert from_carla.buttons == [["👏 Bravo", "⭐ Montrer au groupe"]]

    await tom.click("👏 Bravo", message=from_carla)
    bravo = await carla.expect(
        "Bravo van uw trainer, Tom, voor de uitdaging « 20 seconden van uw handen »"
    )
    assert bravo.kind == "text"
    # Once only.
    await tom.click("👏 Bravo", message=from_carla)
    await carla.expect_nothing()
    await tom.click("⭐ Montrer au groupe", message=from_carla)
    # A forged ⭐ on Alice's (no consent), a forged sub: id, forged chal: data: nothing changes.
    async with relais.session() as tx:
        subs = {s.member_id: s for s in (await tx.scalars(select(ChallengeSubmission))).all()}
        rows = (await tx.execute(select(Member.first_name, Member.id))).all()
    ids_by_name = {row[0]: row[1] for row in rows}
    alice_id, carla_id = ids_by_name["Alice"], ids_by_name["Carla"]
    assert subs[carla_id].starred_at is not None
    assert subs[carla_id].bravo_at is not None
    record = await forge_click(relais, tom, from_alice, f"sub:{subs[alice_id].id}:star")
    assert record.text
    assert "pas accepté" in record.text
    record = await forge_click(relais, tom, from_alice, "sub:99999:bravo")
    assert record.text == "Ce bouton n'est plus valable."
    # A merchant may not press a trainer's button: refused, no second bravo for Carla.
    record = await forge_click(relais, alice, alice.messages[-1], f"sub:{subs[carla_id].id}:bravo")
    await carla.expect_nothing()
    record = await forge_click(relais, bob, bob.messages[-1], f"chal:{challenge.id}:show:yes")
    assert record.text == "Ce bouton n'est plus valable."
    record = await forge_click(relais, alice, alice.messages[-1], f"chal:{challenge.id + 7}:done")
    assert record.text == "Ce bouton n'est plus valable."
    async with relais.session() as tx:
        alices = await tx.get(ChallengeSubmission, subs[alice_id].id)
        assert alices is not None
        assert alices.starred_at is None
        assert await tx.scalar(select(func.count()).select_from(ChallengeSubmission)) == 2
        assert (
            await tx.scalar(select(func.count()).where(AuditEntry.action == "challenge.bravo")) == 1
        )


async def test_the_trainers_digest_lists_who_submitted_and_who_has_not_answered(
    relais: Harness,
) -> None:
    tom, alice, _bob, carla = await group(relais)
    await plan(relais, tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live")
    challenge = await set_library_challenge(relais, tom)
    # Without a later session the deadline is the day before this one, at 20:00.
    assert challenge.deadline_at == datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    await relais.tick()
    await alice.click("✅ C'est fait")
    await alice.expect("c'est noté")
    await carla.click("⏭ Niet deze keer")
    # The digest, the day before the session at the trainer's tip time (09:30 Brussels).
    await relais.advance_to(datetime(2026, 12, 1, 8, 31, tzinfo=UTC), timedelta(hours=12))
    digest = await tom.expect("Avant la séance 1 de demain")
    assert "Défi « 20 secondes de vos mains » (jusqu'au mardi 1 décembre)" in digest.text
    assert "Relevé par 1 : Alice" in digest.text
    assert "Pas encore de réponse (1) : Bob" in digest.text
    assert "Pas cette fois : 1" in digest.text


async def test_the_trainer_may_pick_another_deadline_but_not_a_forged_one(
    relais: Harness,
) -> None:
    tom, alice, _bob, _carla = await group(relais)
    await tom.send("/defi")
    await tom.click("➕ Nouveau défi")
    await tom.click("Les photos")
    await tom.click("Un produit, trois angles")
    await tom.click("👥 Tout le groupe (3)")
    when = await tom.expect("Quand l'envoyer ?")
    # No session planned: a week by default (Wednesday 2 December), or 3 days, or 2 weeks.
    assert when.buttons[2] == ["sam. 28/11", "✅ mer. 2/12", "mer. 9/12"]
    forged = await forge_click(relais, tom, when, "chal:dl:20300101")
    assert forged.text == "Ce bouton n'est plus valable."
    await tom.click("sam. 28/11")
    await tom.expect("À faire avant le samedi 28 novembre à 20 h 00.")
    await tom.click("🚀 Maintenant")
    await tom.expect("envoyé à 3 participants")
    async with relais.session() as tx:
        challenge = await tx.scalar(select(Challenge))
    assert challenge is not None
    assert challenge.deadline_at == datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
    await relais.tick()
    await alice.expect("À faire avant le samedi 28 novembre à 20 h 00.")
