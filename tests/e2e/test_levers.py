"""🌱 After the sessions: the coordinator extends and ends a cohort's booster phase from
/inviter, and starts a new cohort with the alumni invited; forged lever buttons change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.content import load_for_bot
from bot.models import AuditEntry, Cohort, Role
from bot.sandbox.simulator import SimUser
from bot.services import booster
from tests import factories
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click

BRUSSELS = ZoneInfo("Europe/Brussels")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


END = local(2026, 12, 8, 21)  # the programme's last session (the 6th of curriculum.yaml)


async def times_of(relais: Harness, cohort_id: int) -> booster.CohortTimes:
    programme = booster.programme_of(relais.settings, load_for_bot())
    async with relais.session() as session:
        times = await booster.cohort_times(session, cohort_id, relais.clock.now(), programme)
    assert times is not None
    return times


async def actions(relais: Harness) -> list[str]:
    async with relais.session() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.startswith("booster."))
            .order_by(AuditEntry.id)
        )
        return list(rows.all())


async def setup(relais: Harness) -> tuple[Cohort, SimUser, SimUser, SimUser]:
    relais.clock.set(local(2026, 12, 10, 10))  # two days after the last session
    cohort = await relais.make_cohort()
    claire, alice, bruno = relais.user("Claire"), relais.user("Alice"), relais.user("Bruno")
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)
    await relais.make_member(alice, cohort, business_name="Chez Alice", sector="beauty")
    await relais.make_member(bruno, cohort, business_name="Chez Bruno", sector="crafts")
    async with relais.session() as session:
        await factories.make_session(
            session, cohort, local(2026, 11, 17, 19), ends_at=local(2026, 11, 17, 21), number=5
        )
        await factories.make_session(session, cohort, local(2026, 12, 8, 19), ends_at=END, number=6)
    return cohort, claire, alice, bruno


async def test_the_coordinator_extends_and_ends_the_booster_phase(relais: Harness) -> None:
    cohort, claire, alice, _ = await setup(relais)
    assert (await times_of(relais, cohort.id)).booster_end == booster.add_months(END, 6)
    await claire.send("/inviter")
    await claire.expect("Lien d'inscription", kind="photo")
    await claire.click("🌱 Après les séances")
    status = await claire.expect("Après les séances")
    assert "le groupe continue par message" in status.text
    assert "se termine le 8 juin 2027" in status.text

    # A merchant's forged lever, and another cohort's coordinator's: refused, nothing changes.
    await alice.send("/inviter")
    refused = await alice.expect("réservée à la coordination")
    for action in ("m1", "m3", "endok"):
        record = await forge_click(relais, alice, refused, f"inv:boost:{cohort.id}:{action}")
        assert record.text == "Cette commande est réservée à la coordination (la commune)."
    other = await relais.make_cohort("Ailleurs", "Dottignies")
    vera = relais.user("Vera")
    await relais.make_member(vera, other, role=Role.COORDINATOR, business_name=None)
    await vera.send("/inviter")
    own = await vera.expect("Lien d'inscription", kind="photo")
    for data in (f"inv:boost:{cohort.id}:m3", f"inv:boost:{cohort.id}:endok", "inv:boost:0:m1"):
        record = await forge_click(relais, vera, own, data)
        assert record.answered
        if not data.endswith(":0:m1"):
            assert record.text == "Cette commande est réservée à la coordination (la commune)."
    assert (await times_of(relais, cohort.id)).booster_end == booster.add_months(END, 6)
    assert await actions(relais) == []

    # ➕ 1 mois: the end moves by a month, on screen and in the database.
    await claire.click("➕ 1 mois", message=status)
    extended = await claire.expect("se termine le 8 juillet 2027")
    times = await times_of(relais, cohort.id)
    assert times.booster_end == booster.add_months(END, 7)
    assert times.phase is booster.Phase.BOOSTER
    assert await actions(relais) == ["booster.extend"]

    # ⏹ Terminer maintenant: asked first; "Non" changes nothing, "Oui" ends it.
    await claire.click("⏹ Terminer maintenant", message=extended)
    ask = await claire.expect("Terminer maintenant la suite par message")
    await claire.click("↩️ Non", message=ask)
    back = await claire.expect("se termine le 8 juillet 2027")
    assert (await times_of(relais, cohort.id)).phase is booster.Phase.BOOSTER
    await claire.click("⏹ Terminer maintenant", message=back)
    ask = await claire.expect("Terminer maintenant la suite par message")
    await claire.click("✅ Oui, terminer", message=ask)
    done = await claire.expect("La suite par message est terminée")
    assert "C'est fait" in done.text
    assert "⏹ Terminer maintenant" not in [label for row in done.buttons for label in row]
    times = await times_of(relais, cohort.id)
    assert times.phase is booster.Phase.AFTER
    assert times.booster_end == relais.clock.now()
    assert await actions(relais) == ["booster.extend", "booster.end"]
    # The same confirmation pressed again (a stale button): nothing more happens.
    await forge_click(relais, claire, done, f"inv:boost:{cohort.id}:endok")
    assert await actions(relais) == ["booster.extend", "booster.end"]


async def test_a_new_cohort_with_the_alumni(relais: Harness) -> None:
    _, claire, alice, bruno = await setup(relais)
    await claire.send("/inviter")
    await claire.expect("Lien d'inscription", kind="photo")
    await claire.click("🌱 Après les séances")
    await claire.expect("Après les séances")
    await claire.click("🎓 Nouveau groupe avec les anciens")
    await claire.expect("Comment s'appelle le nouveau groupe")
    await claire.send("   ")
    await claire.expect("caractères au maximum")
    await claire.send("Estaimpuis 2027")
    created = await claire.expect("Le groupe Estaimpuis 2027 est créé")
    assert "2 anciens du groupe « Estaimpuis 2026 » sont invités" in created.text  # not Claire
    async with relais.session() as session:
        new = await session.scalar(select(Cohort).where(Cohort.name == "Estaimpuis 2027"))
    assert new is not None
    assert new.commune == "Estaimpuis"  # the old one's commune
    assert await actions(relais) == ["booster.alumni"]
    await relais.tick()
    for merchant in (alice, bruno):
        invitation = await merchant.expect("Un nouveau groupe commence : Estaimpuis 2027")
        assert f"start=join_{new.join_code}" in str(invitation.reply_markup)
