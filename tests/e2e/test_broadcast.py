"""Trainer broadcasts end to end: the exact preview and the audience counts, sending now and the
delivery report (a recipient who blocked the bot is reported as not delivered), progress,
scheduling with a button or a typed time, cancelling, a photo with its caption, a caption too
long, a library tip pushed to the cohort, and who may not broadcast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

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
from bot.sandbox.simulator import SimUser, tiny_png
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click
from tests.factories import make_session

BRUSSELS = ZoneInfo("Europe/Brussels")


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


@dataclass
class Group:
    cohort: Cohort
    tom: SimUser  # trainer
    alice: SimUser  # beauty
    bob: SimUser  # food
    carol: SimUser  # beauty


async def group(relais: Harness) -> Group:
    cohort = await relais.make_cohort()
    tom = relais.user("Tom")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    alice, bob, carol = relais.user("Alice"), relais.user("Bob"), relais.user("Carol")
    await relais.make_member(alice, cohort, business_name="Salon Alice", sector="beauty")
    await relais.make_member(bob, cohort, business_name="Chez Bob", sector="food")
    await relais.make_member(carol, cohort, business_name="Carol Coiffure", sector="beauty")
    return Group(cohort, tom, alice, bob, carol)


async def write(tom: SimUser, text: str) -> None:
    await tom.send("/diffuser")
    await tom.expect("Un message pour le groupe")
    await tom.send(text)
    await tom.expect("À qui l'envoyer ?")


async def broadcast_rows(relais: Harness) -> list[Broadcast]:
    async with relais.session() as session:
        return list((await session.scalars(select(Broadcast).order_by(Broadcast.id))).all())


async def test_preview_is_exact_then_send_now_and_the_report_names_who_blocked_the_bot(
    relais: Harness,
) -> None:
    g = await group(relais)
    text = "Bonjour à tous ! <Demain> on parle des avis & des photos. À bientôt"
    await write(g.tom, text)
    audiences = g.tom.last
    assert audiences is not None
    assert audiences.buttons == [
        ["👥 Tout le groupe (3)"],
        ["💇 Coiffure, beauté (2)"],
        ["🥖 Alimentation (1)"],
        ["❌ Annuler"],
    ]
    await g.tom.click("👥 Tout le groupe (3)")
    await g.tom.expect("voici exactement ce que recevront 3 personnes")
    preview = await g.tom.expect(text)
    question = await g.tom.expect("Envoyer à « 👥 Tout le groupe » : 3 personnes ?")
    assert question.buttons == [["✅ Envoyer maintenant", "🕒 Programmer"], ["❌ Annuler"]]

    g.carol.block()  # Carol blocked the bot: the bot learns it when sending
    await g.tom.click("✅ Envoyer maintenant")
    answered = await g.tom.expect("Envoyer à")  # the question loses its buttons
    assert answered.buttons == []
    started = await g.tom.expect("C'est parti, vers 3 personnes")
    await g.tom.click("📊 Voir la progression", message=started)
    running = await g.tom.expect("Envoi en cours : 0 reçus sur 3, 3 en attente.")
    assert running.buttons == [["🔄 Actualiser"]]
    await relais.tick()
    got = await g.alice.expect(text)
    assert got.html == preview.html
    assert got.buttons == []
    await g.bob.expect(text)
    assert not [m for m in g.carol.messages if text in m.text]

    # Once every delivery is final, the trainer gets the report.
    await relais.tick()
    report = await g.tom.expect("Bilan de votre envoi")
    assert "Reçu par 2 personnes" in report.text
    assert "1 non remis : la personne a bloqué le bot" in report.text
    assert report.buttons == [["📚 Envoyer une astuce de la bibliothèque"]]
    await relais.tick()
    await g.tom.expect_nothing()  # one report only

    await g.tom.click("🔄 Actualiser", message=started)
    progress = await g.tom.expect("Bilan de votre envoi")
    assert progress.message_id == started.message_id

    (row,) = await broadcast_rows(relais)
    assert (row.status, row.recipients, row.audience) == ("done", 3, "all")
    async with relais.session() as session:
        keys = set(
            (
                await session.scalars(
                    select(Delivery.dedup_key).where(Delivery.broadcast_id == row.id)
                )
            ).all()
        )
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert keys == {f"broadcast:{row.id}"}
    assert "broadcast.send" in actions


async def test_audiences_of_the_last_session_and_of_a_sector_count_exactly(
    relais: Harness,
) -> None:
    g = await group(relais)
    async with relais.session() as session:
        # Everyone joined before the session...
        for enrolment in await session.scalars(select(Enrolment)):
            enrolment.joined_at = local(11, 1)
        ts = await make_session(
            session,
            g.cohort,
            local(11, 24, 19),
            number=1,
            place="Salle",
            theme="Photos",
            theme_code="photos",
        )
        alice_id = await session.scalar(
            select(Member.id).where(Member.telegram_user_id == g.alice.id)
        )
        session.add(Attendance(session_id=ts.id, member_id=alice_id, method=AttendanceMethod.QR))
        bob = await session.scalar(select(Member).where(Member.telegram_user_id == g.bob.id))
        assert bob is not None
        bob.paused = True  # in the audience, but out of reach
    # ... but Dave, who joined after it: he did not miss it.
    dave = relais.user("Dave")
    await relais.make_member(dave, g.cohort, business_name="Dave & fils", sector="crafts")
    await write(g.tom, "Merci d'être venus !")
    audiences = g.tom.last
    assert audiences is not None
    assert audiences.buttons == [
        ["👥 Tout le groupe (3)"],
        ["✅ Présents à la dernière séance (1)"],
        ["🕳 Absents à la dernière séance (1)"],
        ["💇 Coiffure, beauté (2)"],
        ["🥖 Alimentation (0)"],
        ["🔨 Artisanat, construction (1)"],
        ["❌ Annuler"],
    ]
    record = await g.tom.click("🥖 Alimentation (0)")
    assert record is not None
    assert "Personne ne le recevrait" in (record.text or "")
    await g.tom.click("🕳 Absents à la dernière séance (1)")
    await g.tom.expect("ce que recevra 1 personne")
    question = await g.tom.expect("Envoyer à « 🕳 Absents à la dernière séance » : 1 personne ?")
    assert "1 autre personne de ce public ne le recevra pas" in question.text
    await g.tom.click("✅ Envoyer maintenant")
    await relais.tick()
    await g.carol.expect("Merci d'être venus !")
    for person in (g.alice, g.bob, dave):  # (Alice has the sessions' own thank-you)
        assert not [m for m in person.messages if "Merci d'être venus" in m.text]


async def test_a_scheduled_broadcast_leaves_at_its_time_and_another_is_cancelled(
    relais: Harness,
) -> None:
    g = await group(relais)
    # Wednesday 10:00: the first suggestion is today at 12:00.
    await write(g.tom, "Rappel : apportez vos photos demain.")
    await g.tom.click("👥 Tout le groupe (3)")
    await g.tom.expect("Envoyer à")
    await g.tom.click("🕒 Programmer")
    when = await g.tom.expect("Quand l'envoyer ?")
    assert when.buttons[:2] == [["Aujourd'hui à 12 h 00"], ["Aujourd'hui à 18 h 00"]]
    await g.tom.click("Aujourd'hui à 18 h 00")
    scheduled = await g.tom.expect("C'est programmé pour le mercredi 25 novembre à 18 h 00")
    assert "vers 3 personnes" in scheduled.text
    await g.tom.click("📊 Voir la progression", message=scheduled)
    shown = await g.tom.expect("Programmé pour le mercredi 25 novembre à 18 h 00")
    assert shown.buttons == [["❌ Annuler cet envoi"], ["🔄 Actualiser"]]

    # A second one, typed, then cancelled before its time.
    await write(g.tom, "Celui-ci sera annulé.")
    await g.tom.click("👥 Tout le groupe (3)")
    await g.tom.expect("Envoyer à")
    await g.tom.click("🕒 Programmer")
    await g.tom.expect("Quand l'envoyer ?")
    await g.tom.send("25/11 22:30")
    await g.tom.expect("c'est l'heure calme")
    await g.tom.send("31/02 10:00")
    await g.tom.expect("n'existe pas dans le calendrier")
    await g.tom.send("demain")
    await g.tom.expect("Je n'ai pas compris")
    await g.tom.send("26/11 9h30")
    second = await g.tom.expect("C'est programmé pour le jeudi 26 novembre à 9 h 30")

    await relais.advance_to(local(11, 25, 17, 59), step=timedelta(hours=2))
    await g.alice.expect_nothing()
    relais.clock.set(local(11, 25, 18, 0))
    await relais.tick()
    first = await g.alice.expect("Rappel : apportez vos photos demain.")
    assert first.buttons == []
    await g.bob.expect("Rappel : apportez vos photos demain.")

    await g.tom.click("❌ Annuler cet envoi", message=second)
    await g.tom.expect("Envoi annulé : personne ne le recevra.")
    await relais.advance_to(local(11, 26, 12, 0), step=timedelta(hours=3))
    assert not [m for m in g.alice.messages if "annulé" in m.text]
    rows = await broadcast_rows(relais)
    assert [(b.status, b.scheduled_at) for b in rows] == [
        ("done", local(11, 25, 18, 0)),
        ("cancelled", local(11, 26, 9, 30)),
    ]
    # Too late to cancel the first one.
    record = await g.tom.click("❌ Annuler cet envoi", message=shown)
    assert record is not None
    assert "déjà terminé" in (record.text or "")


async def test_a_photo_broadcast_reaches_everyone_with_its_caption(relais: Harness) -> None:
    g = await group(relais)
    image = tiny_png(rgb=(10, 200, 30))
    await g.tom.send("/diffuser")
    await g.tom.expect("Un message pour le groupe")
    await g.tom.send_photo(image, caption="Notre vitrine de Noël 🎄")
    await g.tom.expect("À qui l'envoyer ?")
    await g.tom.click("💇 Coiffure, beauté (2)")
    preview = await g.tom.expect("Notre vitrine de Noël", kind="photo")
    assert preview.photo_bytes == image
    await g.tom.click("✅ Envoyer maintenant")
    await relais.tick()
    for person in (g.alice, g.carol):
        got = await person.expect("Notre vitrine de Noël 🎄", kind="photo")
        assert got.photo_bytes == image
        assert got.caption == preview.caption
    await g.bob.expect_nothing()


async def test_a_caption_too_long_for_telegram_is_refused_kindly(relais: Harness) -> None:
    g = await group(relais)
    await g.tom.send("/diffuser")
    await g.tom.expect("Un message pour le groupe")
    await g.tom.send_photo(caption="x" * 1100)
    refused = await g.tom.expect("Cette légende fait 1100 caractères")
    assert "1024" in refused.text
    # Still writing: a shorter caption is taken.
    await g.tom.send_photo(caption="Plus court.")
    await g.tom.expect("À qui l'envoyer ?")
    assert len(await broadcast_rows(relais)) == 1


async def test_a_trainer_pushes_one_library_tip_to_those_who_do_not_have_it(
    relais: Harness,
) -> None:
    g = await group(relais)
    tip_id = "photos-01-pres-de-la-fenetre"
    async with relais.session() as session:
        bob_id = await session.scalar(select(Member.id).where(Member.telegram_user_id == g.bob.id))
        assert bob_id is not None
        session.add(TipReceipt(member_id=bob_id, tip_id=tip_id, via="astuce"))
    await g.tom.send("📣 Diffuser")  # the staff menu button
    await g.tom.click("📚 Ou choisir une astuce de la bibliothèque")
    library = await g.tom.expect("La bibliothèque d'astuces")
    assert "Pas encore d'avis 👍 / 👎" in library.text
    await g.tom.click("Les photos (6)")
    themes = await g.tom.expect("Choisissez une astuce")
    button = next(
        b for row in themes.inline_keyboard for b in row if b.callback_data == f"bc:tip:{tip_id}"
    )
    assert button.text == "Photographier près de la fenêtre"  # the tip's title
    await g.tom.click(button.text)
    card = await g.tom.expect("niveau 1")
    assert ["📣 Envoyer cette astuce à tout le groupe"] in card.buttons
    await g.tom.click("📣 Envoyer cette astuce à tout le groupe")
    await g.tom.expect("Envoyer cette astuce aux 2 personnes qui ne l'ont pas encore reçue ?")
    await g.tom.click("✅ Envoyer")
    await g.tom.expect("C'est parti, vers 2 personnes")
    await relais.tick()
    got = await g.alice.expect("💡 Astuce · Les photos")
    assert got.inline_keyboard[0][0].callback_data == f"tip:{tip_id}:up"
    await g.carol.expect("💡 Astuce · Les photos")
    await g.bob.expect_nothing()
    async with relais.session() as session:
        vias = (
            (
                await session.execute(
                    select(TipReceipt.via)
                    .where(TipReceipt.tip_id == tip_id)
                    .order_by(TipReceipt.id)
                )
            )
            .scalars()
            .all()
        )
    assert list(vias) == ["astuce", "broadcast", "broadcast"]
    # Everyone has it now: a second push is refused.
    await g.tom.click("📣 Envoyer cette astuce à tout le groupe", message=card)
    record = g.tom.last_callback
    assert record is not None
    assert "déjà reçu" in (record.text or "")


async def test_merchants_and_other_cohorts_cannot_broadcast(relais: Harness) -> None:
    g = await group(relais)
    await g.alice.send("/diffuser")
    await g.alice.expect("réservée au formateur")
    await g.alice.send("📣 Diffuser")
    refusal = await g.alice.expect("réservée au formateur")

    await write(g.tom, "Un message.")
    audiences = g.tom.last
    assert audiences is not None
    data = audiences.inline_keyboard[0][0].callback_data
    assert data is not None
    # A merchant replaying the trainer's button (on a message of her own chat).
    forged = await forge_click(relais, g.alice, refusal, data)
    assert forged.show_alert
    assert "réservée" in (forged.text or "")

    # The trainer of another cohort cannot touch this draft.
    other = await relais.make_cohort("Pecq", commune="Pecq")
    zoe = relais.user("Zoé")
    await relais.make_member(zoe, other, role=Role.TRAINER, business_name=None)
    draft_id = (await broadcast_rows(relais))[0].id
    await zoe.send("/diffuser")
    prompt = await zoe.expect("Un message pour le groupe")
    for data in (f"bc:{draft_id}:a:all", f"bc:{draft_id}:progress", f"bc:{draft_id}:cancel"):
        record = await forge_click(relais, zoe, prompt, data)
        assert "plus valable" in (record.text or ""), data
    (row,) = await broadcast_rows(relais)
    assert (row.status, row.audience) == ("draft", "all")


async def test_a_draft_survives_a_restart_of_the_bot(relais: Harness) -> None:
    g = await group(relais)
    await write(g.tom, "Écrit avant le redémarrage.")
    await relais.restart()
    await g.tom.click("👥 Tout le groupe (3)")
    await g.tom.expect("voici exactement ce que recevront 3 personnes")
    await g.tom.expect("Écrit avant le redémarrage.")
    await g.tom.expect("Envoyer à")
    await g.tom.click("🕒 Programmer")
    await g.tom.expect("Quand l'envoyer ?")
    await relais.restart()
    await g.tom.send("27/11 12:00")  # typed: the conversation's state was kept
    await g.tom.expect("C'est programmé pour le vendredi 27 novembre à 12 h 00")
