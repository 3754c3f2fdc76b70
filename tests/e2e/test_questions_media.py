"""`/question` with a photo or a voice note (issue 13): relayed to the trainer by file_id
(never downloaded), and the trainer may answer with a voice note."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import Question, Role
from tests.e2e.harness import Harness


async def test_a_photo_question_and_a_voice_answer(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    tom, alice = relais.user("Tom"), relais.user("Alice")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    await relais.make_member(alice, cohort, business_name="Salon Alice")

    await alice.send("/question")
    await alice.expect("Quelle est votre question")
    sent = await alice.send_photo(caption="Cette photo de vitrine, trop sombre ?")
    await alice.expect("Votre question : 📷 une photo")
    await alice.click("✅ Envoyer")
    await alice.expect("Question envoyée à votre formateur")
    asked = await tom.expect("Question de Alice (Salon Alice)")
    assert "📷 avec une photo (ci-dessous)" in asked.text
    assert "« Cette photo de vitrine, trop sombre ? »" in asked.text
    photo = await tom.expect(kind="photo")
    # The very file Alice sent: re-sent by file_id, never downloaded.
    assert photo.photo is not None
    assert photo.photo.file_id == sent["photo"][-1]["file_id"]
    assert relais.sandbox.stats.requests["getFile"] == 0

    await tom.click("✍️ Répondre à Alice")
    await tom.expect("Votre réponse à Alice")
    await tom.send_voice(duration=12)
    await tom.expect("Votre réponse : 🎤 un message vocal.")
    await tom.click("✅ Envoyer")
    await tom.expect("Réponse envoyée à Alice.")
    answer = await alice.expect("Réponse de votre formateur, Tom")
    assert "Sa réponse en message vocal, ci-dessous." in answer.text
    voice = await alice.expect(kind="voice")
    assert voice.method == "sendVoice"
    async with relais.session() as tx:
        question = await tx.scalar(select(Question))
    assert question is not None
    assert (question.media_kind, question.text) == (
        "photo",
        "Cette photo de vitrine, trop sombre ?",
    )
    assert question.answer_file_id is not None
    assert voice.content is not None
    assert voice.content["voice"]["file_id"] == question.answer_file_id


async def test_a_voice_question_without_caption(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    tom, bob = relais.user("Tom"), relais.user("Bob")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    await relais.make_member(bob, cohort, business_name=None)
    await bob.send("❓ Poser une question")
    await bob.send_voice()
    await bob.click("✅ Envoyer")
    asked = await tom.expect("Question de Bob")
    assert "🎤 en message vocal (ci-dessous)" in asked.text
    assert "«" not in asked.text
    await tom.expect(kind="voice")
