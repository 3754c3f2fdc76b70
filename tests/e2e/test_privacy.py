"""Privacy rights end to end: the notice in three languages, a copy of my data, erasure that
leaves no trace anywhere in the database, and retention with its warning."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.models import Attendance, Enrolment, Member, Role, Rsvp
from bot.sandbox.simulator import SimUser
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click, plan, tap_rsvp
from tests.e2e.snapshots import member_of
from tests.factories import build_session
from tests.privacy_scan import snapshot_all, traces

START = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
NAMES = ("Zéphyrine", "Quincampoix", "zeph_qx", "Atelier Zéphyr")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "Vos données et vos droits"),
        ("nl", "Uw gegevens en uw rechten"),
        ("en", "Your data and your rights"),
    ],
)
async def test_the_privacy_notice_names_who_runs_the_bot_in_three_languages(
    relais: Harness, language: str, expected: str
) -> None:
    stranger = relais.user("Sam", language_code=language)
    await stranger.send("/privacy")
    notice = await stranger.expect(expected)
    settings = relais.settings
    assert settings.organisation_name in notice.text
    assert settings.organisation_contact in notice.text
    assert str(settings.retention_days) in notice.text
    for command in ("/mesdonnees", "/oublier"):
        assert command in notice.text
    assert len(notice.text) < 4096


async def _zephyrine_joins(relais: Harness) -> tuple[SimUser, SimUser, SimUser]:
    """Tom trains the cohort; Zéphyrine joins by the link and answers with buttons."""
    cohort = await relais.make_cohort()
    tom, bob = relais.user("Tom"), relais.user("Bob")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    await relais.make_member(bob, cohort, business_name="Boulangerie Bob")
    zeph = relais.user("Zéphyrine", last_name="Quincampoix", username="zeph_qx")
    await zeph.send(f"/start join_{cohort.join_code}")
    await zeph.click("Oui")
    await zeph.send("Atelier Zéphyr")
    await zeph.click("🔨 Artisanat, construction")
    await zeph.click("📍 Estaimpuis")
    await zeph.click("🇫🇷 Français")
    await zeph.click("✅ J'accepte")
    await zeph.expect("C'est fait, Zéphyrine")
    return zeph, tom, bob


async def test_my_data_is_a_summary_and_a_json_file(relais: Harness) -> None:
    zeph, _, _ = await _zephyrine_joins(relais)
    await zeph.send("/mesdonnees")
    summary = await zeph.expect("Vos données")
    assert "Zéphyrine, Atelier Zéphyr, Estaimpuis" in summary.text
    assert "Groupes : 1" in summary.text
    document = await zeph.expect(kind="document")
    assert document.document is not None
    assert document.document.filename == "relais-mes-donnees.json"
    data = json.loads(document.document.data)
    assert data["profile"]["business_name"] == "Atelier Zéphyr"
    assert data["profile"]["telegram_user_id"] == zeph.id
    assert data["profile"]["username"] is None  # not needed, not kept
    assert data["controller"]["name"] == relais.settings.organisation_name
    assert "Bob" not in json.dumps(data, ensure_ascii=False)


async def test_a_stranger_has_no_data_and_nothing_to_erase(relais: Harness) -> None:
    stranger = relais.user("Sam")
    before = await snapshot_all(relais.db)
    await stranger.send("/mesdonnees")
    await stranger.expect("Je n'ai aucune donnée à votre nom")
    await stranger.send("/oublier")
    await stranger.expect("il n'y a rien à effacer")
    await stranger.expect_nothing()
    assert await snapshot_all(relais.db) == before


async def test_forgetting_after_a_full_journey_leaves_no_trace(relais: Harness) -> None:
    """Zéphyrine joins, answers, checks in, asks, is mid-way through a new objective, then
    asks to be forgotten: no row of any table mentions her afterwards, and the counts of the
    session she attended stay true."""
    zeph, tom, bob = await _zephyrine_joins(relais)
    ts = await plan(relais, tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live")
    await zeph.send("/seances")
    tap = await tap_rsvp(zeph, "✅ Je serai là")
    assert "C'est noté" in tap.notice
    await bob.send("/seances")
    await bob.click("✅ Je serai là")
    relais.clock.set(START - timedelta(minutes=30))
    await zeph.send(f"/start checkin_{ts.checkin_token}")
    await zeph.expect("Présence enregistrée")
    relais.clock.set(START + timedelta(days=1))
    await relais.tick()  # follow-ups, digests... whatever the outbox does with her
    await zeph.send("/question Comment filmer l'Atelier Zéphyr ?")
    await zeph.click("✅ Envoyer")
    await tom.expect("Question de Zéphyrine")
    await tom.click("✍️ Répondre à Zéphyrine")
    await tom.send("Zéphyrine, essayez la lumière du jour.")
    await tom.click("✅ Envoyer")  # the trainer confirms the answer
    await zeph.expect("Réponse de votre formateur")
    await zeph.send("/objectif")  # a conversation left half-way: a PTB state keyed by her id
    await relais.restart()  # everything persisted, as in production
    assert len(await traces(relais.db, zeph.id, NAMES)) > 5

    await zeph.send("/oublier")
    await zeph.expect("Tout effacer ?")
    await zeph.click("🗑 Oui, tout effacer")
    goodbye = await zeph.expect("C'est fait : j'ai effacé vos données")
    assert goodbye.reply_markup == {"remove_keyboard": True}
    await relais.restart()  # PTB flushes its persistence: nothing of her may come back

    left = await traces(relais.db, zeph.id, NAMES)
    assert left == [], "\n".join(left)
    async with relais.session() as session:
        answers = (await session.scalars(select(Rsvp).where(Rsvp.session_id == ts.id))).all()
        present = (
            await session.scalars(select(Attendance).where(Attendance.session_id == ts.id))
        ).all()
    assert sorted(r.member_id is None for r in answers) == [False, True]
    assert [a.member_id for a in present] == [None]

    # Later, the same Telegram user: a stranger, kindly told there is nothing left.
    await zeph.send("/oublier")
    await zeph.expect("il n'y a rien à effacer")
    await zeph.send("/mesdonnees")
    await zeph.expect("Je n'ai aucune donnée à votre nom")
    await relais.restart()
    assert await traces(relais.db, zeph.id, NAMES) == []


async def test_cancelling_the_erasure_keeps_everything(relais: Harness) -> None:
    zeph, _, _ = await _zephyrine_joins(relais)
    await zeph.send("/oublier")
    await zeph.click("Non, je garde tout")
    await zeph.expect("je ne touche à rien")
    assert await member_of(relais, zeph.id) is not None


async def test_a_forged_or_stale_confirmation_erases_nothing(relais: Harness) -> None:
    zeph, _, _ = await _zephyrine_joins(relais)
    await zeph.send("/aide")
    help_message = await zeph.expect("Voici")
    # Never asked: a tampered client sends the confirmation under another message.
    record = await forge_click(relais, zeph, help_message, "priv:forget:confirm")
    assert record.text == "Ce bouton n'est plus valable."
    await zeph.send("/oublier")
    prompt = await zeph.expect("Tout effacer ?")
    await zeph.click("Non, je garde tout")
    # The cancelled prompt's confirmation, replayed: stale.
    record = await forge_click(relais, zeph, prompt, "priv:forget:confirm")
    assert record.text == "Ce bouton n'est plus valable."
    for data in ("priv:", "priv:forget", "priv:forget:confirm:1", "priv:keep:x"):
        assert (await forge_click(relais, zeph, prompt, data)).answered
    assert await member_of(relais, zeph.id) is not None


async def test_a_stranger_half_way_through_onboarding_can_erase_the_draft(
    relais: Harness,
) -> None:
    cohort = await relais.make_cohort()
    zeph = relais.user("Zéphyrine", last_name="Quincampoix")
    await zeph.send(f"/start join_{cohort.join_code}")
    await zeph.click("Oui")
    await zeph.send("Atelier Zéphyr")
    await zeph.expect("secteur")
    await zeph.send("/mesdonnees")
    draft = await zeph.expect(kind="document")
    assert "Atelier Zéphyr" in draft.document.data.decode() if draft.document else False
    await zeph.send("/oublier")
    await zeph.click("🗑 Oui, tout effacer")
    await zeph.expect("C'est fait")
    await relais.restart()
    assert await traces(relais.db, zeph.id, NAMES) == []
    # The onboarding does not resume with the erased answers.
    await zeph.click("🔨 Artisanat, construction")
    assert await member_of(relais, zeph.id) is None


# --- retention --------------------------------------------------------------------------------


async def _long_gone(relais: Harness, user: SimUser, days: int) -> int:
    """A merchant of a cohort whose last session and last activity are `days` old."""
    cohort = await relais.make_cohort("Ancienne cohorte")
    member = await relais.make_member(user, cohort, business_name=f"Chez {user.first_name}")
    then = relais.clock.now() - timedelta(days=days)
    async with relais.session() as session:
        row = await session.get(Member, member.id)
        assert row is not None
        row.created_at = row.onboarded_at = row.last_seen_at = then
        enrolment = await session.scalar(select(Enrolment).where(Enrolment.member_id == member.id))
        assert enrolment is not None
        enrolment.joined_at = then
        session.add(
            build_session(
                cohort,
                then,
                number=1,
                place="Salle",
                theme="Bilan",
                checkin_token=f"old{member.id}",
            )
        )
    return member.id


async def test_an_inactive_member_is_warned_then_erased_unless_they_come_back(
    relais: Harness,
) -> None:
    days = relais.settings.retention_days
    yvette, xavier = relais.user("Yvette"), relais.user("Xavier")
    yvette_id = await _long_gone(relais, yvette, days - 3)
    xavier_id = await _long_gone(relais, xavier, days - 3)

    await relais.tick()
    warning = await yvette.expect("Vous n'avez plus utilisé Relais depuis longtemps")
    assert "je les effacerai le" in warning.text
    assert warning.buttons == [["✋ Je veux continuer"]]
    await xavier.expect("Vous n'avez plus utilisé Relais")
    await relais.tick()
    await yvette.expect_nothing()  # one warning, not one per tick

    relais.clock.advance(hours=2)
    await yvette.click("✋ Je veux continuer")
    await yvette.expect("Je garde vos données")

    await relais.advance(days=6)
    assert await member_of(relais, xavier.id) is not None  # a full week of notice
    await relais.advance(days=1)
    assert await member_of(relais, xavier.id) is None
    assert await member_of(relais, yvette.id) is not None
    assert await traces(relais.db, xavier.id, ("Xavier", "Chez Xavier")) == []
    async with relais.session() as session:
        assert await session.get(Member, yvette_id) is not None
        assert await session.get(Member, xavier_id) is None
        assert await session.scalar(select(func.count()).select_from(Member)) == 1


async def test_no_message_text_nor_name_reaches_the_logs(
    relais: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """What people type and who they are stays out of the logs (INFO and above)."""
    caplog.set_level(logging.INFO)
    zeph, tom, _ = await _zephyrine_joins(relais)
    await zeph.send("/question Mon secret : le loyer de l'Atelier Zéphyr")
    await zeph.click("✅ Envoyer")
    await tom.expect("Question de Zéphyrine")
    await zeph.send("Un message que personne ne doit lire")
    await zeph.send("/stats")  # refused: logged with the Telegram id only
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert caplog.records, "nothing was logged at all: the check would prove nothing"
    for secret in ("secret", "loyer", "personne ne doit lire", *NAMES):
        assert secret not in logged, secret
