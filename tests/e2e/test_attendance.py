"""Attendance end to end: the check-in QR code inside and outside its window, twice, by a
stranger; the roll call with a name-only person; `/presences` for staff, refused to merchants."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.models import Attendance, AuditEntry, Member
from tests.e2e.harness import BOT_USERNAME, Harness
from tests.e2e.session_helpers import forge_click, plan, room, tap_rsvp
from tests.e2e.snapshots import member_of

START = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
LINE = "02/12/2026 19:00 | Salle du Conseil | Vidéo et live"
LINK = re.compile(rf"https://t\.me/{BOT_USERNAME}\?start=checkin_[A-Za-z0-9_-]+")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_qr_checkin_records_once_within_its_window_only(relais: Harness) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    await r.tom.send("/qr")
    photo = await r.tom.expect("Présence à la séance 1", kind="photo")
    assert photo.photo is not None
    assert photo.photo.data.startswith(PNG_SIGNATURE)
    assert "Il fonctionne de 18 h 00 à 21 h 00" in photo.text
    match = LINK.search(photo.text)
    assert match is not None
    link = match.group(0)
    assert link.endswith(ts.checkin_token)

    # A week early: too soon, kindly.
    await r.alice.follow(link)
    early = await r.alice.expect("C'est un peu tôt")
    assert "la séance 1 commence mercredi 2 décembre à 19 h 00" in early.text
    assert "L'enregistrement ouvre à 18 h 00" in early.text

    relais.clock.set(START - timedelta(minutes=30))
    await r.alice.follow(link)
    await r.alice.expect("Présence enregistrée pour la séance 1 « Vidéo et live »")
    await r.alice.follow(link)
    await r.alice.expect("Votre présence à la séance 1 est déjà enregistrée")
    await r.tom.follow(link)
    await r.tom.expect("Le lien fonctionne")

    relais.clock.set(START + timedelta(hours=2, minutes=1))
    await r.bob.follow(link)
    await r.bob.expect("L'enregistrement de la séance 1 est fermé depuis 21 h 00")

    # Someone who never joined is shown the way in.
    stranger = relais.user("Zoé")
    relais.sandbox.mark_started(stranger.id)
    await stranger.follow(link)
    reply = await stranger.expect("rejoignez d'abord le groupe")
    assert reply.inline_keyboard[0][0].url == (
        f"https://t.me/{BOT_USERNAME}?start=join_{r.cohort.join_code}"
    )
    await stranger.follow(f"https://t.me/{BOT_USERNAME}?start=checkin_nope")
    await stranger.expect("Ce code de présence n'est pas valable")

    async with relais.session() as session:
        rows = (await session.execute(select(Attendance.member_id, Attendance.method))).all()
    assert len(rows) == 1
    assert rows[0][1] == "qr"


async def test_roll_call_ticks_people_and_adds_someone_by_name(relais: Harness) -> None:
    r = await room(relais)
    ts = await plan(relais, r.tom, LINE)
    await r.bob.send("/seances")
    await tap_rsvp(r.bob, "✅ Je serai là")
    relais.clock.set(START + timedelta(minutes=5))

    await r.tom.send("/appel")
    roll = await r.tom.expect("Appel — séance 1")
    assert "0 présents sur 3" in roll.text
    assert roll.buttons[:3] == [
        ["⬜ Bob (Chez Bob) 👍"],
        ["⬜ Alice (Chez Alice)"],
        ["⬜ Carol (Chez Carol)"],
    ]
    await r.tom.click("⬜ Bob (Chez Bob) 👍")
    edited = await r.tom.expect("1 présents sur 3")
    assert edited.buttons[0] == ["✅ Bob (Chez Bob) 👍"]
    await r.tom.click("⬜ Alice (Chez Alice)")
    await r.tom.click("✅ Alice (Chez Alice)")  # a mistake, undone
    await r.tom.expect("1 présents sur 3")

    await r.tom.click("➕ Ajouter un nom")
    await r.tom.expect("Le nom de la personne présente")
    await r.tom.send("Jeanne Dupont")
    await r.tom.expect("Jeanne Dupont : présence enregistrée")
    again = await r.tom.expect("2 présents sur 4")
    assert ["✅ Jeanne Dupont"] in again.buttons

    # A merchant cannot tick anyone, even with a forged button.
    await r.alice.send("/seances")
    own = await r.alice.expect("Séance 1")
    alice_id = (await member_of(relais, r.alice.id)).id  # type: ignore[union-attr]
    await forge_click(relais, r.alice, own, f"roll:{ts.id}:{alice_id}")
    await r.alice.send("/appel")
    await r.alice.expect("réservée au formateur")

    async with relais.session() as session:
        present = (
            await session.execute(
                select(Member.first_name, Attendance.method)
                .join(Attendance, Attendance.member_id == Member.id)
                .order_by(Member.first_name)
            )
        ).all()
        jeanne = await session.scalar(select(Member).where(Member.first_name == "Jeanne Dupont"))
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert [tuple(row) for row in present] == [("Bob", "roll_call"), ("Jeanne Dupont", "manual")]
    assert jeanne is not None
    assert jeanne.telegram_user_id is None
    assert actions.count("attendance.tick") == 2
    assert "attendance.add_name" in actions


async def test_presences_sorts_everyone_and_is_refused_to_merchants(relais: Harness) -> None:
    r = await room(relais)
    dora = relais.user("Dora")
    await relais.make_member(dora, r.cohort, business_name="Fleurs & <Cie>")
    await plan(relais, r.tom, LINE)
    await r.alice.send("/seances")
    await r.alice.click("✅ Je serai là")
    await r.bob.send("/seances")
    await r.bob.click("✅ Je serai là")
    await r.carol.send("/seances")
    await r.carol.click("❌ Je ne peux pas venir")

    await r.claire.send("/presences")
    await r.claire.expect("Aucune séance n'a encore eu lieu.")

    relais.clock.set(START)
    await r.tom.send("/qr")
    photo = await r.tom.expect("Présence", kind="photo")
    match = LINK.search(photo.text)
    assert match is not None
    await r.alice.follow(match.group(0))
    await r.alice.expect("Présence enregistrée")

    await r.alice.send("/presences")
    await r.alice.expect("réservée à l'équipe")

    relais.clock.set(START + timedelta(days=1))
    await r.claire.send("/presences")
    report = await r.claire.expect("Présences — séance 1")
    text = report.text
    assert "Présents (1)\nAlice (Chez Alice) (QR)" in text
    assert "Ont dit oui mais absents (1)\nBob (Chez Bob)" in text
    assert "Ont dit non (1)\nCarol (Chez Carol)" in text
    assert "Sans réponse (1)\nDora (Fleurs & <Cie>)" in text  # typed names cannot break HTML
    await r.claire.send("/presences 1")
    await r.claire.expect("Présences — séance 1")
    await r.claire.send("/presences 7")
    await r.claire.expect("Il n'y a pas de séance 7 dans ce groupe.")
    await r.claire.send("/presences un")
    await r.claire.expect("Donnez le numéro de la séance")
