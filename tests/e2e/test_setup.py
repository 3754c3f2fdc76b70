"""The first-run setup code end to end: the deep link or `/setup <code>` makes its first
sender coordinator of the first cohort, once; wrong, used and expired codes change nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.models import AuditEntry, Role, SetupCode, StaffRole
from bot.services import setup as setup_codes
from tests.e2e.harness import BOT_USERNAME, Harness
from tests.e2e.snapshots import member_of, snapshot


async def issue(relais: Harness) -> str:
    async with relais.session() as session:
        return await setup_codes.issue_code(session, relais.clock.now())


async def test_the_setup_link_makes_its_first_user_coordinator_once(relais: Harness) -> None:
    cohort = await relais.make_cohort("Estaimpuis 2026")
    await relais.make_cohort("Un autre groupe")
    code = await issue(relais)

    claire = relais.user("Claire")
    await claire.follow(f"https://t.me/{BOT_USERNAME}?start=setup_{code}")
    welcome = await claire.expect("vous coordonnez le groupe Estaimpuis 2026")
    assert "/inviter" in welcome.text
    keyboard = claire.reply_keyboard
    assert keyboard is not None
    assert "✉️ Inviter" in [b.text for row in keyboard for b in row]
    assert ("inviter", "Inviter des participants et l'équipe") in relais.sandbox.commands(
        f"chat:{claire.id}"
    )
    member = await member_of(relais, claire.id)
    assert member is not None
    async with relais.session() as session:
        roles = (await session.execute(select(StaffRole.member_id, StaffRole.cohort_id))).all()
        used = await session.scalar(select(SetupCode.used_at).where(SetupCode.code == code))
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert [tuple(row) for row in roles] == [(member.id, cohort.id)]
    assert used == relais.clock.now()
    assert "setup.use" in actions

    # She coordinates at once: /inviter shows the cohort's link.
    await claire.send("/inviter")
    await claire.expect("Lien d'inscription", kind="photo")

    # The code works once: the next person is told so, and nothing changes.
    before = await snapshot(relais)
    bob = relais.user("Bob")
    await bob.send(f"/setup {code}")
    await bob.expect("Ce code de démarrage a déjà servi")
    after = await snapshot(relais)
    assert after["staff_roles"] == before["staff_roles"]
    await bob.send("/inviter")
    await bob.expect("réservée à la coordination")


async def test_a_typed_code_ignores_case_and_spaces_and_retires_the_others(
    relais: Harness,
) -> None:
    await relais.make_cohort()
    async with relais.session() as session:
        session.add(SetupCode(code="OLDCODE234", created_at=relais.clock.now()))
    relais.clock.advance(minutes=1)
    code = await issue(relais)  # the current unused one is printed again...
    assert code == "OLDCODE234"
    async with relais.session() as session:
        session.add(SetupCode(code="NEWCODE567", created_at=relais.clock.now()))

    claire = relais.user("Claire")
    await claire.send("/setup newc ode567")
    await claire.expect("vous coordonnez le groupe")
    # ...but once someone coordinates, every other code is retired.
    bob = relais.user("Bob")
    await bob.send("/setup OLDCODE234")
    await bob.expect("déjà servi")
    async with relais.session() as session:
        assert await setup_codes.current_code(session, relais.clock.now()) is None
        assert await setup_codes.has_coordinator(session)


async def test_wrong_and_expired_codes_change_nothing(relais: Harness) -> None:
    await relais.make_cohort()
    code = await issue(relais)
    zoe = relais.user("Zoé")
    await zoe.send("/setup")
    await zoe.expect("Envoyez le code de démarrage")
    before = await snapshot(relais)
    await zoe.send("/setup PASLEBONCODE")
    await zoe.expect("n'est pas valable")
    await zoe.follow(f"https://t.me/{BOT_USERNAME}?start=setup_x")
    await zoe.expect("n'est pas valable")

    relais.clock.advance(setup_codes.SETUP_CODE_TTL + timedelta(minutes=1))
    await zoe.send(f"/setup {code}")
    await zoe.expect("n'est pas valable, ou il a expiré")
    after = await snapshot(relais)
    assert after["staff_roles"] == before["staff_roles"] == []
    async with relais.session() as session:
        assert (await session.scalars(select(StaffRole.role))).all() == []
        # An expired code is never printed again: a fresh one is issued.
        assert await setup_codes.issue_code(session, relais.clock.now()) != code


async def test_a_valid_code_without_any_cohort_is_kept_for_later(relais: Harness) -> None:
    code = await issue(relais)
    claire = relais.user("Claire")
    await claire.send(f"/setup {code}")
    await claire.expect("il n'y a pas encore de groupe")
    await relais.make_cohort("Estaimpuis 2026")
    await claire.send(f"/setup {code}")
    await claire.expect("vous coordonnez le groupe Estaimpuis 2026")
    async with relais.session() as session:
        role = await session.scalar(select(StaffRole.role))
    assert role == Role.COORDINATOR.value


async def test_relais_run_prints_the_code_only_while_nobody_coordinates(relais: Harness) -> None:
    from bot.cli.init import setup_code_notice

    settings = relais.settings
    hint = await asyncio.to_thread(setup_code_notice, settings, clock=relais.clock)
    assert hint is not None
    assert "run `relais init`" in hint  # no cohort yet: nothing to coordinate
    await relais.make_cohort()
    notice = await asyncio.to_thread(setup_code_notice, settings, clock=relais.clock)
    assert notice is not None
    code = await issue(relais)
    assert f"/setup {code}" in notice  # the same code as `relais init` printed
    with_admins = settings.model_copy(update={"admin_ids": [42]})
    assert await asyncio.to_thread(setup_code_notice, with_admins, clock=relais.clock) is None
    claire = relais.user("Claire")
    await claire.send(f"/setup {code}")
    await claire.expect("vous coordonnez")
    assert await asyncio.to_thread(setup_code_notice, settings, clock=relais.clock) is None
