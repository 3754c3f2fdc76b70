"""The trainer's side end to end: `/groupe` (stuck first, paged) and the digest the day before
each session (counts, the stuck ones, open questions), delivered once, to trainers only."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.models import CheckinAnswer, Cohort, Delivery, MeasureKind, Member, Role
from bot.sandbox.simulator import SimUser
from bot.services import objectives as objs
from bot.services import questions
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click, plan
from tests.factories import make_objective

BRUSSELS = ZoneInfo("Europe/Brussels")
NAMES = ("Alice", "Bruno", "Chloé", "David", "Emma", "Fanny", "Gilles", "Hugo", "Inès", "Jules")


@pytest.fixture(autouse=True)
def no_chat_pacing(relais: Harness) -> None:
    """A tip and a check-in often share a moment: the engine's 1-second pacing per chat (proved
    by its own tests) would make these tests wait for real between the two."""
    dispatcher = relais.engine.dispatcher
    dispatcher.limits = replace(dispatcher.limits, chat_interval=0.0)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS)


async def cohort_with_objectives(
    relais: Harness,
) -> tuple[Cohort, SimUser, SimUser, dict[str, SimUser]]:
    """Ten merchants: Bruno stuck (with a blocker), Chloé done, David in progress, Emma and
    the others without news... and Jules without any objective."""
    cohort = await relais.make_cohort()
    tom, claire = relais.user("Tom"), relais.user("Claire")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)
    people = {name: relais.user(name) for name in NAMES}
    members: dict[str, Member] = {}
    for name, user in people.items():
        members[name] = await relais.make_member(user, cohort, business_name=f"Chez {name}")
    now = relais.clock.now()
    async with relais.session() as session:
        made = {}
        for name in NAMES[:-1]:
            made[name] = await make_objective(
                session,
                members[name],
                cohort,
                f"Objectif de {name}",
                measure_kind=MeasureKind.BINARY,
                due_on=date(2026, 12, 20),
                now=now,
            )
        stuck = await objs.answer_checkin(
            session, made["Bruno"], CheckinAnswer.STUCK, now, BRUSSELS
        )
        assert stuck.checkin_id is not None
        await objs.record_blocker(session, made["Bruno"], stuck.checkin_id, "Je n'ose pas filmer")
        await objs.answer_checkin(session, made["Chloé"], CheckinAnswer.DONE, now, BRUSSELS)
        await objs.answer_checkin(session, made["David"], CheckinAnswer.DOING, now, BRUSSELS)
    return cohort, tom, claire, people


async def test_the_group_shows_who_is_stuck_first_and_pages(relais: Harness) -> None:
    _, tom, claire, people = await cohort_with_objectives(relais)
    await tom.send("👥 Le groupe")  # the staff menu button
    first = await tom.expect("Estaimpuis 2026 — les objectifs")
    lines = first.text.splitlines()
    assert lines[1] == (
        "😕 bloqués : 1 · 💤 sans nouvelles : 6 · 🚧 en cours : 1 · ✅ atteints : 1 "
        "· ➖ sans objectif : 1"
    )
    assert lines[3].startswith("😕 Bruno (Chez Bruno)")
    assert "« Objectif de Bruno »" in lines[4]
    assert lines[5] == "   Blocage : « Je n'ose pas filmer »"
    assert lines[7].startswith("💤 Alice (Chez Alice)")
    assert first.text.index("💤 Inès") < first.text.index("🚧 David (Chez David)")
    assert "Page 1 sur 2" in first.text
    assert first.buttons == [["Suivant ▶"]]

    await tom.click("Suivant ▶")
    second = await tom.expect("Page 2 sur 2")
    assert second.message_id == first.message_id  # the same message, edited
    assert "✅ Chloé (Chez Chloé)" in second.text
    assert "➖ Jules (Chez Jules) — pas encore d'objectif" in second.text
    assert second.buttons == [["◀ Précédent"]]
    await tom.click("◀ Précédent")
    await tom.expect("Page 1 sur 2")

    # The coordinator sees it too; a merchant does not.
    await claire.send("/groupe")
    await claire.expect("les objectifs")
    alice = people["Alice"]
    await alice.send("/groupe")
    await alice.expect("réservée à l'équipe de la formation")
    # Page numbers are untrusted: garbage is refused kindly, a page too far shows the last.
    for data in ("grp:page:abc", "grp:page:", "grp:nope"):
        record = await forge_click(relais, tom, first, data)
        assert record.text == "Ce bouton n'est plus valable."
    await forge_click(relais, tom, first, "grp:page:999")
    await tom.expect("Page 2 sur 2")


async def test_the_trainer_gets_a_digest_the_day_before_the_session(relais: Harness) -> None:
    cohort, tom, claire, people = await cohort_with_objectives(relais)
    async with relais.session() as session:
        emma = await session.scalar(select(Member).where(Member.first_name == "Emma"))
        assert emma is not None
        await questions.ask(
            session,
            member_id=emma.id,
            cohort_id=cohort.id,
            text="Comment faire une story ?",
            now=relais.clock.now(),
        )
    ts = await plan(relais, tom, "02/12/2026 19:00 | Salle du Conseil | Vidéo et live")

    # The day before (Tuesday 1 December), at the trainer's tip time (09:30).
    await relais.advance_to(local(2026, 12, 1, 9, 29), step=timedelta(hours=12))
    await tom.expect_nothing()
    await relais.advance(minutes=1)
    digest = await tom.expect("Avant la séance 1 de demain (mercredi 2 décembre à 19 h 00)")
    assert "Depuis la dernière séance, 9 objectifs fixés." in digest.text
    counts = "✅ atteints : 1 · 🚧 en cours : 1 · 😕 bloqués : 1 · 💤 sans nouvelles : 6"
    assert counts in digest.text
    assert "• Bruno (Chez Bruno) — « Objectif de Bruno » : Je n'ose pas filmer" in digest.text
    assert "• Emma : « Comment faire une story ? »" in digest.text
    assert digest.buttons == [["✍️ Répondre à Emma"], ["👥 Voir le groupe"]]
    await claire.expect_nothing()  # trainers only

    # Never twice, whatever the ticks.
    await relais.advance(hours=1)
    await relais.advance_to(local(2026, 12, 2, 20), step=timedelta(hours=3))
    await tom.expect_nothing()
    async with relais.session() as session:
        sent = (
            await session.scalars(select(Delivery).where(Delivery.dedup_key.startswith("digest:")))
        ).all()
    assert [(d.dedup_key, d.status) for d in sent] == [(f"digest:{ts.id}:r1", "sent")]

    # From the digest: the group, and an answer to the question.
    await tom.click("👥 Voir le groupe", message=digest)
    await tom.expect("les objectifs")
    await tom.click("✍️ Répondre à Emma", message=digest)
    await tom.expect("Votre réponse à Emma")
    await tom.send("Trois plans de cinq secondes, et c'est parti !")
    await tom.click("✅ Envoyer")
    await tom.expect("Réponse envoyée à Emma.")
    await people["Emma"].expect("Réponse de votre formateur, Tom")


async def test_an_archived_cohort_shows_no_objectives(relais: Harness) -> None:
    cohort, tom, _, _ = await cohort_with_objectives(relais)
    async with relais.session() as session:
        stored = await session.get(Cohort, cohort.id)
        assert stored is not None
        stored.archived_at = relais.clock.now()

    await tom.send("/groupe")
    reply = await tom.expect("Vous ne faites partie d'aucun groupe pour le moment.")
    assert "Bruno" not in reply.text
    await tom.expect_nothing()
    assert not any("les objectifs" in (m.text or "") for m in tom.messages)
