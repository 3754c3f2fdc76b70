"""Bad input end to end: each gets a short, kind answer in the person's language, and the
database does not change."""

from __future__ import annotations

import random
import string

import pytest

from bot.models import Role
from tests.e2e.harness import Harness
from tests.e2e.snapshots import member_of, snapshot

KIND_MEDIA_ANSWER = "Je ne sais lire que le texte et les boutons"


async def _forge(relais: Harness, user, data: str):  # type: ignore[no-untyped-def]
    """Press a button that was never shown, with `data` (as a tampered client could)."""
    message = user.last
    assert message is not None
    pending, record = relais.sandbox.user_clicks(user.id, message, data)
    await relais.sim.settle([pending])
    return record


@pytest.mark.parametrize("media", ["sticker", "photo", "voice", "document", "location"])
async def test_media_get_a_kind_answer_and_change_nothing(relais: Harness, media: str) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await relais.make_member(alice, cohort)
    stranger = relais.user("Sam")
    before = await snapshot(relais)

    for user in (alice, stranger):
        await getattr(user, f"send_{media}")()
        if user is alice and media in ("photo", "voice"):
            # Outside a question or a challenge: the two things a photo or a voice note is
            # for (issue 13), not "I only read text".
            answer = await user.expect("Je n'en fais rien toute seule")
            assert "/question" in answer.text
            assert "/defi" in answer.text
            continue
        answer = await user.expect(KIND_MEDIA_ANSWER)
        assert len(answer.text) < 600
        # A member is pointed to the menu (shown again); a stranger to the invitation.
        assert ("/aide" if user is alice else "lien d'invitation") in answer.text
    assert alice.reply_keyboard is not None
    assert await snapshot(relais) == before


async def test_media_answer_in_the_members_language(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    jan = relais.user("Jan")
    await relais.make_member(jan, cohort, language="nl")
    await jan.send_sticker()
    await jan.expect("Ik kan alleen tekst en knoppen lezen")


async def test_an_edited_message_is_not_replayed(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await relais.make_member(alice, cohort)
    await alice.send("bonjour")
    await alice.expect("Je n'ai pas bien compris")
    before = await snapshot(relais)
    await alice.edit_last(f"/start join_{cohort.join_code}")
    await alice.expect("vous avez modifié un message")
    await alice.expect_nothing()
    assert await snapshot(relais) == before


async def test_an_edited_answer_during_onboarding_changes_nothing(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.click("Oui")
    await alice.send("Salon Alice")
    await alice.expect("secteur")
    await alice.edit_last("Salon Alicia")
    await alice.expect("vous avez modifié un message")
    await alice.click("💇 Coiffure, beauté")  # still on the sector question
    await alice.expect("commune")
    await alice.click("📍 Estaimpuis")
    await alice.click("🇫🇷 Français")
    await alice.click("✅ J'accepte")
    await alice.expect("C'est fait")
    member = await member_of(relais, alice.id)
    assert member is not None
    assert member.business_name == "Salon Alice"


async def test_a_4000_character_business_name_is_refused_kindly(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    before = await snapshot(relais)
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.click("Oui")
    await alice.expect("nom de votre commerce")
    await alice.send("Boutique " * 444)  # 3,996 characters
    answer = await alice.expect("C'est un peu long")
    assert "80 caractères" in answer.text
    await alice.send("   ")
    await alice.expect("Je n'ai rien reçu")
    assert await snapshot(relais) == before
    await alice.send("Boutique Alice")
    await alice.expect("secteur")


async def test_group_chats_are_pointed_to_the_private_chat(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await relais.make_member(alice, cohort)
    bob = relais.user("Bob")
    group = relais.sim.group(-100_555, "Commerçants d'Estaimpuis", [alice, bob])
    before = await snapshot(relais)

    await group.send(bob, f"/start join_{cohort.join_code}")
    await group.expect("Je fonctionne en conversation privée")
    await group.send(alice, "/inviter")
    await group.expect("conversation privée")
    await group.send(alice, "Bonjour à tous")  # privacy mode: the bot does not even see it
    await group.expect_nothing()
    assert await snapshot(relais) == before
    assert await member_of(relais, bob.id) is None


def _noise(seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits + ":_-") for _ in range(64))


FORGED = [
    "lang:xx",
    "lang:fr:extra",
    "onb:sector:beauty",  # a real button, but no onboarding in progress
    "onb:consent:yes",
    "cohort:999999",
    "cohort:-1",
    "cohort:1:inv:more",
    "inv:new",  # a merchant may not create cohorts
    "menu:" + "x" * 59,
    "nosucharea:1",
    ":",
    _noise(1),
    _noise(2),
    "lang:" + "é" * 29,  # 63 bytes of UTF-8
]


async def test_forged_and_stale_callbacks_change_nothing(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    other = await relais.make_cohort("Pecq", commune="Pecq")
    alice = relais.user("Alice")
    await relais.make_member(alice, cohort)
    await alice.send("/aide")
    await alice.expect("Voici")
    before = await snapshot(relais)

    for data in [*FORGED, f"cohort:{other.id}"]:
        assert len(data.encode()) <= 64
        record = await _forge(relais, alice, data)
        assert record.answered, f"{data!r} left a spinner"
        assert len(record.text or "") < 200
    await alice.expect_nothing()
    assert await snapshot(relais) == before
    member = await member_of(relais, alice.id)
    assert member is not None
    assert (member.language, member.active_cohort_id) == ("fr", cohort.id)


async def test_a_stale_onboarding_button_is_answered_and_ignored(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.click("Oui")
    await alice.send("Salon Alice")
    first_question = alice.last
    await alice.click("💇 Coiffure, beauté")
    await alice.expect("commune")
    assert first_question is not None
    # The sector buttons were removed; a client showing an old copy could still send them.
    record = await _forge(relais, alice, "onb:sector:food")
    assert record.answered
    assert record.text == "Ce bouton n'est plus valable."
    await alice.click("📍 Estaimpuis")
    await alice.click("🇫🇷 Français")
    await alice.click("✅ J'accepte")
    member = await member_of(relais, alice.id)
    assert member is not None
    assert member.sector == "beauty"


async def test_unknown_text_and_commands_get_a_pointer_to_the_menu(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    tom = relais.user("Tom")
    await relais.make_member(tom, cohort, role=Role.TRAINER)
    before = await snapshot(relais)
    await tom.send("Quand est la prochaine séance ?")
    await tom.expect("Je n'ai pas bien compris")
    await tom.send("/nimportequoi")
    await tom.expect("Je ne connais pas cette commande")
    await tom.send("/annuler")
    await tom.expect("Il n'y a rien à annuler")
    await tom.send("/start garbage_payload")
    await tom.expect("Ce lien n'est pas (ou plus) valable")
    assert await snapshot(relais) == before
