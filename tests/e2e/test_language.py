"""Languages end to end: /langue switches at once (texts and menu), onboarding follows the
Telegram language, and the command menus exist in fr, nl and en."""

from __future__ import annotations

from bot.models import Role
from tests.e2e.harness import Harness
from tests.e2e.snapshots import member_of


def _labels(user) -> list[str]:  # type: ignore[no-untyped-def]
    keyboard = user.reply_keyboard
    assert keyboard is not None
    return [button.text for row in keyboard for button in row]


async def test_switching_language_changes_texts_and_menu_at_once(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await relais.make_member(alice, cohort)

    await alice.send("/langue")
    await alice.expect("Dans quelle langue")
    await alice.click("🇬🇧 English")
    await alice.expect("Noted: from now on I'll write to you in 🇬🇧 English.")
    assert "🎯 New goal" in _labels(alice)
    member = await member_of(relais, alice.id)
    assert member is not None
    assert member.language == "en"

    await alice.send("/aide")
    await alice.expect("Here is what I can do for you")
    await alice.tap("📋 My goals")  # the menu works in the new language
    await alice.send("/langue")
    await alice.click("🇳🇱 Nederlands")
    await alice.expect("Genoteerd: ik schrijf u voortaan in het 🇳🇱 Nederlands.")
    assert "🎯 Nieuw doel" in _labels(alice)
    await alice.send("blabla")
    await alice.expect("Dat heb ik niet goed begrepen")


async def test_onboarding_speaks_the_telegram_language_then_the_chosen_one(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    jan = relais.user("Jan", language_code="nl-BE")
    await jan.send(f"/start join_{cohort.join_code}")
    await jan.expect("Welkom in de groep Estaimpuis 2026")
    await jan.click("Ja")
    await jan.expect("Wat is de naam van uw zaak?")
    await jan.send("Bakkerij Jan")
    await jan.click("🥖 Voeding")
    await jan.click("📍 Estaimpuis")
    await jan.click("🇬🇧 English")
    await jan.expect("Last step: your data")
    await jan.click("✅ I agree")
    await jan.expect("All set, Jan!")
    assert "📅 Sessions" in _labels(jan)
    member = await member_of(relais, jan.id)
    assert member is not None
    assert member.language == "en"


async def test_a_stranger_may_choose_a_language_before_joining(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    sam = relais.user("Sam", language_code="de")  # unsupported: French by default
    await sam.send("/langue")
    await sam.expect("Dans quelle langue")
    await sam.click("🇳🇱 Nederlands")
    await sam.expect("Genoteerd")
    assert await member_of(relais, sam.id) is None
    await sam.send(f"/start join_{cohort.join_code}")
    await sam.expect("Welkom in de groep")


async def test_command_menus_exist_per_language_and_per_staff_member(relais: Harness) -> None:
    sandbox = relais.sandbox
    assert ("objectif", "Me fixer un objectif") in sandbox.commands("default", "fr")
    assert ("objectif", "Een doel stellen") in sandbox.commands("default", "nl")
    assert ("objectif", "Set myself a goal") in sandbox.commands("default", "en")
    assert sandbox.commands("default") == sandbox.commands("default", "fr")
    assert all(name != "inviter" for name, _ in sandbox.commands("default", "fr"))

    cohort = await relais.make_cohort()
    tom = relais.user("Tom", language_code="en")
    await relais.make_member(tom, cohort, role=Role.TRAINER, language="en")
    await relais.restart()  # staff menus are set at start-up
    assert ("appel", "Take the roll call") in sandbox.commands(f"chat:{tom.id}")
    await tom.send("/langue")
    await tom.click("🇫🇷 Français")
    assert ("appel", "Faire l'appel") in sandbox.commands(f"chat:{tom.id}")
