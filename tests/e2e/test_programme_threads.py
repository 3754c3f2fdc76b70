"""The programme's threads tied together (issues 12, 13 and 14): a challenge taken up shows in
the merchant's /progres, in their trio peer's /trio, and in the commune's /bilan."""

from __future__ import annotations

from datetime import timedelta

from bot.models import Trio, TrioMembership
from tests import factories
from tests.e2e.harness import Harness
from tests.e2e.snapshots import member_of
from tests.e2e.test_bilan import pdf_text
from tests.e2e.test_challenges import group, set_library_challenge


async def test_a_challenge_taken_up_shows_in_progres_the_trio_and_the_bilan(
    relais: Harness,
) -> None:
    tom, alice, bob, _carla = await group(relais)
    me, peer = await member_of(relais, alice.id), await member_of(relais, bob.id)
    assert me is not None
    assert peer is not None
    now = relais.clock.now()
    async with relais.session() as tx:
        trio = Trio(cohort_id=me.active_cohort_id, number=1, created_at=now, confirmed_at=now)
        trio.memberships = [
            TrioMembership(member_id=me.id, joined_at=now),
            TrioMembership(member_id=peer.id, joined_at=now),
        ]
        tx.add(trio)
        first = {"followers": 40, "practice:short_video": 0}
        await factories.make_observations(tx, me, f"{now:%Y-%m}", first, source="baseline")

    await set_library_challenge(relais, tom)
    await relais.tick()
    await alice.expect("Défi : 20 secondes de vos mains au travail.")
    await alice.click("✅ C'est fait")
    await alice.expect("Bravo, c'est noté")
    relais.clock.advance(timedelta(minutes=5))

    await alice.send("/progres")
    mine = await alice.expect("Votre point de départ")
    assert "🏅 Défis relevés : 1" in mine.text

    await bob.send("/trio")
    theirs = await bob.expect("Alice")
    assert "🏁 Alice a relevé le défi : 20 secondes de vos mains" in theirs.text

    await tom.send("/bilan")
    report = await tom.expect("Le bilan du groupe", kind="document")
    assert report.document is not None
    text = pdf_text(report.document.data)
    assert "Défis lancés au groupe" in text
    assert "défis lancés 1" in text
    # One merchant of three took it up: a figure over fewer than five people stays hidden.
    assert "commerçants qui en ont relevé un (preuve ou « fait ») < 5" in text
    assert "Alice" not in text
