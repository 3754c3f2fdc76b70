"""Roles end to end: the first coordinator creates a cohort, invites merchants and staff;
staff invitations are single-use and expire; merchants are refused staff commands."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.models import AuditEntry, Cohort, Role, StaffInvitation, StaffRole
from tests.e2e.harness import BOT_USERNAME, Harness
from tests.e2e.snapshots import member_of, snapshot
from tests.factories import add_staff

ADMIN_ID = 10_001  # the harness gives ids from 10001 in creation order: the first user
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LINK = re.compile(rf"https://t\.me/{BOT_USERNAME}\?start=([\w-]+)")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"admin_ids": [ADMIN_ID]})


async def _first_cohort(relais: Harness):  # type: ignore[no-untyped-def]
    """Claire (ADMIN_IDS) creates the first cohort through /inviter; returns her and the caption."""
    claire = relais.user("Claire")
    assert claire.id == ADMIN_ID
    await claire.send("/inviter")
    await claire.expect("pas encore de groupe")
    await claire.click("➕ Créer un groupe")
    await claire.expect("Comment s'appelle ce groupe")
    await claire.send("Estaimpuis printemps")
    await claire.expect("commune")
    await claire.send("Estaimpuis")
    await claire.expect("Le groupe Estaimpuis printemps est créé")
    photo = await claire.expect("Lien d'inscription", kind="photo")
    return claire, photo


async def test_an_admin_creates_the_first_cohort_and_gets_its_link_and_qr_code(
    relais: Harness,
) -> None:
    claire, photo = await _first_cohort(relais)

    assert photo.photo is not None
    assert photo.photo.data.startswith(PNG_SIGNATURE)
    async with relais.session() as session:
        cohort = await session.scalar(select(Cohort))
        assert cohort is not None
        roles = (await session.execute(select(StaffRole.member_id, StaffRole.role))).all()
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert f"https://t.me/{BOT_USERNAME}?start=join_{cohort.join_code}" in photo.text
    claire_member = await member_of(relais, claire.id)
    assert claire_member is not None
    assert roles == [(claire_member.id, Role.COORDINATOR.value)]
    assert "cohort.create" in actions
    keyboard = claire.reply_keyboard
    assert keyboard is not None
    assert "✉️ Inviter" in [b.text for row in keyboard for b in row]
    assert ("inviter", "Inviter des participants et l'équipe") in relais.sandbox.commands(
        f"chat:{claire.id}"
    )

    # The link in the caption works: a merchant follows it and onboards.
    match = LINK.search(photo.text)
    assert match is not None
    bob = relais.user("Bob")
    await bob.follow(match.group(0))
    await bob.expect("Bienvenue dans le groupe Estaimpuis printemps")

    # /inviter again shows the link of the cohort directly.
    await claire.send("/inviter")
    again = await claire.expect("Lien d'inscription", kind="photo")
    assert again.photo is not None
    assert again.photo.data.startswith(PNG_SIGNATURE)


async def test_a_trainer_invitation_works_once_and_not_after_expiry(relais: Harness) -> None:
    claire, _ = await _first_cohort(relais)
    await claire.click("🎓 Inviter un formateur")
    invitation = await claire.expect("Invitation pour un formateur")
    match = LINK.search(invitation.text)
    assert match is not None
    assert match.group(1).startswith("staff_")

    tom = relais.user("Tom")
    await tom.follow(match.group(0))
    welcome = await tom.expect("Bienvenue dans l'équipe du groupe Estaimpuis printemps")
    assert "Votre rôle : formateur ou formatrice" in welcome.text
    tom_member = await member_of(relais, tom.id)
    assert tom_member is not None
    async with relais.session() as session:
        roles = (
            await session.scalars(
                select(StaffRole.role).where(StaffRole.member_id == tom_member.id)
            )
        ).all()
    assert roles == [Role.TRAINER.value]
    assert ("appel", "Faire l'appel") in relais.sandbox.commands(f"chat:{tom.id}")

    # The same link a second time, by someone else: refused, nothing changes.
    before = await snapshot(relais)
    mallory = relais.user("Mallory")
    await mallory.follow(match.group(0))
    await mallory.expect("déjà été utilisée")
    assert await snapshot(relais) == before
    assert await member_of(relais, mallory.id) is None

    # A new invitation, used too late.
    await claire.click("🏛️ Inviter à la coordination")
    second = await claire.expect("Invitation pour la coordination")
    late = LINK.search(second.text)
    assert late is not None
    relais.clock.advance(timedelta(hours=relais.settings.staff_invite_ttl_hours, minutes=1))
    before = await snapshot(relais)
    await mallory.follow(late.group(0))
    await mallory.expect("Cette invitation a expiré")
    assert await snapshot(relais) == before


async def test_an_unknown_staff_token_creates_nothing(relais: Harness) -> None:
    before = await snapshot(relais)
    eve = relais.user("Eve")
    await eve.send("/start staff_doesnotexist")
    await eve.expect("Cette invitation n'existe pas")
    assert await snapshot(relais) == before


@pytest.mark.parametrize(
    "command", ["/inviter", "/nouvelle_seance", "/presences", "/stats", "/diffuser", "/export"]
)
async def test_a_merchant_is_refused_staff_commands(relais: Harness, command: str) -> None:
    cohort = await relais.make_cohort()
    relais.user("Claire")  # the admin, unused here
    alice = relais.user("Alice")
    await relais.make_member(alice, cohort)
    before = await snapshot(relais)
    await alice.send(command)
    await alice.expect("réservée")
    assert await snapshot(relais) == before


async def test_a_trainer_may_not_invite(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    relais.user("Claire")
    tom = relais.user("Tom")
    await relais.make_member(tom, cohort, role=Role.TRAINER)
    await tom.send("/inviter")
    await tom.expect("réservée à la coordination")


async def test_forged_invitation_buttons_are_refused(relais: Harness) -> None:
    """Callback data is untrusted: another cohort's id, a merchant pressing a staff button."""
    await _first_cohort(relais)
    other = await relais.make_cohort("Pecq", commune="Pecq")
    tom = relais.user("Tom")
    await relais.make_member(tom, other, role=Role.COORDINATOR)
    alice = relais.user("Alice")
    await relais.make_member(alice, other)
    async with relais.session() as session:
        mine = await session.scalar(select(Cohort).where(Cohort.name == "Estaimpuis printemps"))
    assert mine is not None
    await tom.send("/inviter")
    await tom.expect("Lien d'inscription", kind="photo")
    before = await snapshot(relais)

    # Tom coordinates Pecq, not Claire's cohort: forging its id is refused.
    record = await _forge(relais, tom, f"inv:staff:{mine.id}:trainer")
    assert record.answered
    assert "réservée" in (record.text or "")
    # Alice is a merchant: the gate refuses the whole area.
    await alice.send("/aide")
    await alice.expect("Voici ce que je peux faire")
    record = await _forge(relais, alice, f"inv:staff:{other.id}:trainer")
    assert "réservée" in (record.text or "")
    # Garbage in a coordinator's own area.
    for data in (
        f"inv:staff:{other.id}:merchant",
        "inv:staff:x:trainer",
        "inv:staff::",
        "cohort:999999",
        "cohort:abc",
    ):
        await _forge(relais, tom, data)
    async with relais.session() as session:
        assert (await session.scalars(select(StaffInvitation))).all() == []
    assert await snapshot(relais) == before


async def _forge(relais: Harness, user, data: str):  # type: ignore[no-untyped-def]
    """Press a button that was never shown, with `data` (as a tampered client could)."""
    message = user.last
    assert message is not None
    pending, record = relais.sandbox.user_clicks(user.id, message, data)
    await relais.sim.settle([pending])
    return record


async def test_help_is_adapted_to_the_role(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    claire = relais.user("Claire")
    tom = relais.user("Tom")
    alice = relais.user("Alice")
    stranger = relais.user("Sam")
    await relais.make_member(tom, cohort, role=Role.TRAINER)
    await relais.make_member(alice, cohort)

    await alice.send("/aide")
    merchant = await alice.expect("Voici ce que je peux faire pour vous")
    assert "/objectif" in merchant.text
    assert "/inviter" not in merchant.text
    await tom.send("/help")
    trainer = await tom.expect("animer la formation")
    assert "/appel" in trainer.text
    assert "/inviter" not in trainer.text
    await claire.send("/aide")
    coordinator = await claire.expect("pour la coordination")
    assert "/inviter" in coordinator.text
    await stranger.send("/aide")
    await stranger.expect("le lien d'invitation")


async def test_a_coordinator_in_several_cohorts_picks_the_one_to_act_on(relais: Harness) -> None:
    first = await relais.make_cohort("Estaimpuis", commune="Estaimpuis")
    second = await relais.make_cohort("Pecq", commune="Pecq")
    relais.user("Claire")
    tom = relais.user("Tom")
    member = await relais.make_member(tom, first, role=Role.COORDINATOR)
    async with relais.session() as session:
        await add_staff(session, second, member, Role.COORDINATOR)

    await tom.send("/cohorte")
    await tom.expect("Sur quel groupe")
    await tom.click("Pecq")
    await tom.expect("vous agissez maintenant sur le groupe Pecq")
    await tom.send("/inviter")
    photo = await tom.expect("Groupe « Pecq »", kind="photo")
    assert f"join_{second.join_code}" in photo.text
