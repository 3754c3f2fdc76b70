"""`/question` end to end: the merchant asks with buttons, the cohort's trainer gets it with a
reply button, the answer comes back to the merchant saying it is from the trainer; only a
trainer of the question's cohort can answer, once."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import AuditEntry, Cohort, Question, Role
from bot.sandbox.simulator import SimUser
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click


async def group_of(relais: Harness) -> tuple[Cohort, SimUser, SimUser, SimUser]:
    cohort = await relais.make_cohort()
    tom, claire, alice = relais.user("Tom"), relais.user("Claire"), relais.user("Alice")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)
    await relais.make_member(alice, cohort, business_name="Salon Alice")
    return cohort, tom, claire, alice


async def test_a_question_reaches_the_trainer_and_the_answer_comes_back(relais: Harness) -> None:
    _, tom, claire, alice = await group_of(relais)
    await alice.send("❓ Poser une question")  # the main-menu button
    await alice.expect("Quelle est votre question pour votre formateur ?")
    await alice.send("Comment répondre à un avis <négatif> & injuste ?")
    await alice.expect("Je l'envoie à votre formateur ?")
    await alice.click("✅ Envoyer")
    await alice.expect("Question envoyée à votre formateur. Sa réponse arrivera ici.")

    asked = await tom.expect("Question de Alice (Salon Alice)")
    assert "« Comment répondre à un avis <négatif> & injuste ? »" in asked.text
    assert asked.buttons == [["✍️ Répondre à Alice"]]
    await claire.expect_nothing()  # trainers only

    await tom.click("✍️ Répondre à Alice")
    await tom.expect("Votre réponse à Alice")
    await tom.send("Remerciez, reconnaissez le souci, proposez d'en parler en privé.")
    await tom.expect("Je l'envoie ?")
    await alice.expect_nothing(within=0)  # not before the trainer confirms
    await tom.click("✅ Envoyer")
    await tom.expect("Réponse envoyée à Alice.")
    answer = await alice.expect("Réponse de votre formateur, Tom")
    assert "Votre question : « Comment répondre à un avis <négatif> & injuste ? »" in answer.text
    assert answer.text.endswith("Remerciez, reconnaissez le souci, proposez d'en parler en privé.")

    async with relais.session() as session:
        question = await session.scalar(select(Question))
        entry = await session.scalar(select(AuditEntry))
    assert question is not None
    assert question.answered_at == relais.clock.now()
    assert question.answer is not None
    assert entry is not None
    assert (entry.action, entry.details) == ("question.answer", {"question_id": question.id})

    # A second tap on the same button: already answered, nothing is sent twice.
    await tom.click("✍️ Répondre à Alice", message=asked)
    await tom.expect("Cette question a déjà reçu une réponse")
    await alice.expect_nothing()


async def test_only_the_staff_of_the_cohort_can_answer(relais: Harness) -> None:
    _, tom, claire, alice = await group_of(relais)
    await alice.send("/question Faut-il être sur Instagram ?")  # all in one line
    await alice.click("✅ Envoyer")
    await tom.expect("Question de Alice")
    async with relais.session() as session:
        question = await session.scalar(select(Question))
    assert question is not None

    # The coordinator may answer too (she may do everything a trainer may).
    await claire.send("/groupe")
    own = await claire.expect("les objectifs")
    opened = await forge_click(relais, claire, own, f"qa:{question.id}")
    assert opened.answered
    assert not opened.show_alert
    await claire.expect("Votre réponse à Alice")
    await claire.send("/annuler")
    await claire.expect("pas de réponse pour l'instant")
    # A trainer of another cohort: not their group's question.
    other = await relais.make_cohort("Ailleurs", "Dottignies")
    vera = relais.user("Vera")
    await relais.make_member(vera, other, role=Role.TRAINER, business_name=None)
    await vera.send("/groupe")
    mine = await vera.expect("les objectifs")
    record = await forge_click(relais, vera, mine, f"qa:{question.id}")
    assert record.answered
    assert record.text == "Cette question n'est pas (ou plus) dans votre groupe."
    # Garbage.
    for data in ("qa:abc", "qa:", "qa:1:2", f"qa:{question.id}:send", "q:send"):
        assert (await forge_click(relais, vera, mine, data)).answered
    await vera.expect_nothing()
    await claire.expect_nothing()
    async with relais.session() as session:
        fresh = await session.get(Question, question.id)
    assert fresh is not None
    assert fresh.answered_at is None


async def test_a_question_can_be_rewritten_or_cancelled(relais: Harness) -> None:
    _, tom, _, alice = await group_of(relais)
    await alice.send("/question")
    await alice.send("x" * 1001)
    await alice.expect("C'est un peu long")
    await alice.send("Premier jet")
    await alice.click("✏️ Réécrire")
    await alice.expect("écrivez votre question à nouveau")
    await alice.send("Et si je n'ai pas le temps ?")
    await alice.expect("« Et si je n'ai pas le temps ? »")
    await alice.click("✖ Annuler")
    await alice.expect("pas de question pour l'instant")
    await tom.expect_nothing()
    async with relais.session() as session:
        assert (await session.scalars(select(Question))).all() == []


async def test_without_a_reachable_trainer_the_question_waits(relais: Harness) -> None:
    _, tom, _, alice = await group_of(relais)
    tom.block()
    await alice.send("/question Où trouver la présentation ?")
    await alice.click("✅ Envoyer")
    await alice.expect("Question enregistrée")
    async with relais.session() as session:
        assert len((await session.scalars(select(Question))).all()) == 1


async def test_a_trainer_can_rewrite_or_cancel_an_answer(relais: Harness) -> None:
    _, tom, _, alice = await group_of(relais)
    await alice.send("/question Combien de posts par semaine ?")
    await alice.click("✅ Envoyer")
    await alice.expect("Question envoyée")
    await tom.click("✍️ Répondre à Alice")
    await tom.send("Cinq !")
    await tom.click("✏️ Réécrire")
    await tom.expect("écrivez votre réponse à nouveau")
    await tom.send("Deux, mais réguliers.")
    await tom.expect("« Deux, mais réguliers. »")
    await tom.click("✖ Annuler")
    await tom.expect("pas de réponse pour l'instant")
    await alice.expect_nothing(within=0)
    # Text typed afterwards is not an answer any more.
    await tom.send("Bonjour à tous")
    await alice.expect_nothing(within=0)
    async with relais.session() as session:
        question = await session.scalar(select(Question))
    assert question is not None
    assert question.answered_at is None
