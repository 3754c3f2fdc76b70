"""Onboarding end to end: the join link, the guided profile with buttons, consent, the menu."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.models import Enrolment, Member
from tests.e2e.harness import BOT_USERNAME, Harness
from tests.e2e.snapshots import member_of, snapshot


def join_link(code: str) -> str:
    return f"https://t.me/{BOT_USERNAME}?start=join_{code}"


async def test_a_merchant_onboards_with_buttons_only(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")

    await alice.follow(join_link(cohort.join_code))
    await alice.expect("Bienvenue dans le groupe Estaimpuis 2026")
    await alice.click("Oui, « Alice »")
    await alice.expect("nom de votre commerce")
    await alice.send("Salon Alice")
    await alice.expect("secteur")
    await alice.click("💇 Coiffure, beauté")
    await alice.expect("commune")
    await alice.click("📍 Estaimpuis")
    await alice.expect("langue")
    await alice.click("🇫🇷 Français")
    await alice.expect("vos données")
    await alice.click("✅ J'accepte")
    await alice.expect("C'est fait, Alice ! Bienvenue dans le groupe Estaimpuis 2026")

    keyboard = alice.reply_keyboard
    assert keyboard is not None
    assert "🎯 Nouvel objectif" in [button.text for row in keyboard for button in row]
    member = await member_of(relais, alice.id)
    assert member is not None
    assert (member.first_name, member.business_name, member.sector, member.commune) == (
        "Alice",
        "Salon Alice",
        "beauty",
        "Estaimpuis",
    )
    assert member.language == "fr"
    assert member.consent_at == relais.clock.now()
    assert member.active_cohort_id == cohort.id
    async with relais.session() as session:
        assert (
            await session.scalar(
                select(Enrolment.cohort_id).where(Enrolment.member_id == member.id)
            )
            == cohort.id
        )


async def test_a_typed_first_name_and_commune_are_kept(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.send("  Alicia  ")
    await alice.expect("Merci Alicia !")
    await alice.send("L'Atelier <b>& Co</b>")
    await alice.click("🔨 Artisanat, construction")
    await alice.send("Néchin")
    await alice.click("🇳🇱 Nederlands")
    await alice.click("✅")
    member = await member_of(relais, alice.id)
    assert member is not None
    assert (member.first_name, member.business_name, member.commune, member.language) == (
        "Alicia",
        "L'Atelier <b>& Co</b>",
        "Néchin",
        "nl",
    )


async def test_nothing_is_stored_before_consent(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    before = await snapshot(relais)
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.click("Oui")
    await alice.send("Salon Alice")
    await alice.click("💇 Coiffure, beauté")
    await alice.click("📍 Estaimpuis")
    await alice.click("🇫🇷 Français")
    await alice.click("Non merci")
    await alice.expect("Sans votre accord, je ne garde rien")
    assert await snapshot(relais) == before

    await alice.click("✅ J'accepte")
    await alice.expect("C'est fait")
    assert await member_of(relais, alice.id) is not None


async def test_annuler_leaves_onboarding_and_keeps_nothing(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    before = await snapshot(relais)
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.click("Oui")
    await alice.send("/annuler")
    await alice.expect("on s'arrête là")
    await alice.send("Salon Alice")
    await alice.expect("Je n'ai pas bien compris")
    assert await snapshot(relais) == before


async def test_start_without_a_code_explains_how_to_get_an_invitation(relais: Harness) -> None:
    before = await snapshot(relais)
    bob = relais.user("Bob")
    await bob.send("/start")
    message = await bob.expect("le lien d'invitation")
    assert "formateur" in message.text
    assert bob.reply_keyboard is None
    assert await snapshot(relais) == before


async def test_an_unknown_join_code_gets_a_kind_message_and_creates_nothing(
    relais: Harness,
) -> None:
    await relais.make_cohort()
    before = await snapshot(relais)
    bob = relais.user("Bob")
    await bob.follow(join_link("NOPE42"))
    await bob.expect("Ce lien d'invitation ne fonctionne pas")
    await bob.send("/start join_")
    await bob.expect("ne fonctionne pas")
    await bob.send("/start join_" + "x" * 58)
    await bob.expect("ne fonctionne pas")
    assert await snapshot(relais) == before


async def test_a_second_start_of_a_registered_member_changes_nothing(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await relais.make_member(alice, cohort)
    before = await snapshot(relais)

    await alice.send("/start")
    await alice.expect("Rebonjour Alice ! Vous faites déjà partie du groupe Estaimpuis 2026")
    assert alice.reply_keyboard is not None
    await alice.follow(join_link(cohort.join_code))
    await alice.expect("Vous faites déjà partie du groupe")
    assert await snapshot(relais) == before


async def test_a_member_of_another_cohort_joins_this_one_too(relais: Harness) -> None:
    first = await relais.make_cohort("Estaimpuis 2026")
    second = await relais.make_cohort("Pecq 2027", commune="Pecq")
    alice = relais.user("Alice")
    await relais.make_member(alice, first)

    await alice.follow(join_link(second.join_code))
    await alice.expect("vous avez rejoint aussi le groupe Pecq 2027")
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        assert member is not None
        cohorts = set(
            (
                await session.scalars(
                    select(Enrolment.cohort_id).where(Enrolment.member_id == member.id)
                )
            ).all()
        )
        assert cohorts == {first.id, second.id}
        assert member.active_cohort_id == second.id


async def test_onboarding_continues_where_it_was_after_a_restart(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.click("Oui")
    await alice.send("Salon Alice")
    await alice.expect("secteur")

    await relais.restart()

    await alice.click("💇 Coiffure, beauté")
    await alice.expect("commune")
    await relais.restart()
    await alice.send("Estaimpuis")
    await alice.click("🇫🇷 Français")
    await alice.click("✅ J'accepte")
    await alice.expect("C'est fait, Alice")
    member = await member_of(relais, alice.id)
    assert member is not None
    assert (member.business_name, member.sector) == ("Salon Alice", "beauty")
    async with relais.session() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 1


async def test_start_in_the_middle_of_onboarding_repeats_the_question(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    alice = relais.user("Alice")
    await alice.send(f"/start join_{cohort.join_code}")
    await alice.click("Oui")
    await alice.send("Salon Alice")
    await alice.send("/start")
    await alice.expect("Reprenons")
    await alice.expect("secteur")
    await alice.send("coiffure")  # typed instead of tapping a button
    await alice.expect("secteur")
    await alice.click("💇 Coiffure, beauté")
    await alice.expect("commune")
