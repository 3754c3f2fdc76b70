"""Trios and the booster phase end to end, with a moving clock: a cohort of 7 gets its trios
(preview, reshuffle, move one person, confirm), each member is told who is in their trio,
encouragements are relayed once a day, the weekly digest shows only what peers chose to share
and forgets who blocked the bot; across the last session the group goes on by message (a tip a
week, a monthly digest, DST crossed) and after 6 months a farewell whose opt-out holds."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.models import Delivery, DeliveryStatus, Encouragement, Member, Role
from bot.sandbox.simulator import SimUser
from bot.services import trios
from tests import factories
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click
from tests.e2e.test_bilan import pdf_text

BRUSSELS = ZoneInfo("Europe/Brussels")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


PEOPLE = [
    ("Alice", "beauty"),
    ("Bruno", "crafts"),
    ("Chloe", "books"),
    ("Dimitri", "food"),
    ("Emma", "beauty"),
    ("Fabien", "crafts"),
    ("Gina", "photo"),
]


async def member_id(relais: Harness, user: SimUser) -> int:
    async with relais.session() as session:
        found = await session.scalar(select(Member.id).where(Member.telegram_user_id == user.id))
    assert found is not None
    return found


async def sent(relais: Harness, prefix: str, user: SimUser | None = None) -> list[Delivery]:
    async with relais.session() as session:
        query = select(Delivery).where(
            Delivery.dedup_key.startswith(prefix), Delivery.status == DeliveryStatus.SENT.value
        )
        if user is not None:
            query = query.join(Member, Member.id == Delivery.member_id).where(
                Member.telegram_user_id == user.id
            )
        return list((await session.scalars(query.order_by(Delivery.id))).all())


async def at(relais: Harness, instant: datetime) -> None:
    relais.clock.set(instant)
    await relais.tick()


async def test_a_cohort_of_seven_through_trios_and_six_months_of_booster(relais: Harness) -> None:
    cohort = await relais.make_cohort()
    tom, claire = relais.user("Tom"), relais.user("Claire")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)
    users: dict[str, SimUser] = {}
    for name, sector in PEOPLE:
        users[name] = relais.user(name)
        await relais.make_member(users[name], cohort, business_name=f"Chez {name}", sector=sector)
    ids = {name: await member_id(relais, user) for name, user in users.items()}
    names = {member: name for name, member in ids.items()}
    # The programme's last session (the 6th of curriculum.yaml): Tuesday 8 December 2026,
    # 19:00-21:00; the 5th is past already.
    async with relais.session() as session:
        await factories.make_session(
            session, cohort, local(2026, 11, 17, 19), ends_at=local(2026, 11, 17, 21), number=5
        )
        await factories.make_session(
            session, cohort, local(2026, 12, 8, 19), ends_at=local(2026, 12, 8, 21), number=6
        )

    # -- forming: preview, reshuffle, move, confirm --------------------------------------------
    await tom.send("/trios")
    draft = await tom.expect("Proposition de trios (7 participants)")
    assert "Trio 3" in draft.text
    assert "Trio 4" not in draft.text
    assert "Tom" not in draft.text  # staff are not in a trio
    await users["Alice"].expect_nothing(within=0)  # nobody is told before confirming
    await tom.click("🔀 Mélanger")
    await tom.expect("Proposition de trios (7 participants)")
    async with relais.session() as session:
        shuffled = await trios.trios_of(session, cohort.id, confirmed=False)
    for view in shuffled:  # mixed sectors first (two hairdressers, two carpenters: apart)
        sectors = [peer.sector for peer in view.peers]
        assert len(set(sectors)) == len(sectors)
    pair = next(view for view in shuffled if len(view.peers) == 2)
    mover = names[next(view for view in shuffled if len(view.peers) == 3).peers[0].member_id]
    await tom.click("↔️ Déplacer quelqu'un")
    await tom.expect("Qui voulez-vous déplacer ?")
    await tom.click(mover)
    await tom.expect(f"Dans quel trio mettre {mover} ?")
    await tom.click(f"Trio {pair.number}")
    moved = await tom.expect("Proposition de trios")
    section = moved.text.split(f"Trio {pair.number}", 1)[1].split("Trio ", 1)[0]
    assert mover in section
    # Moving someone out of a pair would leave a trio of one: refused.
    async with relais.session() as session:
        after_move = await trios.trios_of(session, cohort.id, confirmed=False)
    assert sorted(len(view.peers) for view in after_move) == [2, 2, 3]
    loner = names[next(view for view in after_move if len(view.peers) == 2).peers[0].member_id]
    await tom.click("↔️ Déplacer quelqu'un")
    await tom.click(loner)
    where = await tom.expect(f"Dans quel trio mettre {loner} ?")
    record = await tom.click(where.buttons[0][0])
    assert record is not None
    assert record.text is not None
    assert "resterait seul" in record.text
    # A merchant cannot confirm (forged staff button); nothing is formed.
    await users["Bruno"].send("/trio")
    not_yet = await users["Bruno"].expect("Vous n'êtes pas (encore) dans un trio")
    record = await forge_click(relais, users["Bruno"], not_yet, "trio:ok")
    assert record.answered
    async with relais.session() as session:
        assert await trios.trios_of(session, cohort.id) == []
    await tom.send("/trios")
    await tom.click("✅ Confirmer")
    await tom.expect("C'est confirmé")

    async with relais.session() as session:
        formed = await trios.trios_of(session, cohort.id)
    assert sorted(len(view.peers) for view in formed) == [2, 2, 3]
    trio_of = {peer.member_id: view for view in formed for peer in view.peers}
    alice_peers = [
        names[p.member_id] for p in trio_of[ids["Alice"]].peers if p.member_id != ids["Alice"]
    ]

    await relais.tick()
    for name, user in users.items():
        told = await user.expect("Voici votre trio")
        for peer in trio_of[ids[name]].peers:
            if peer.member_id != ids[name]:
                assert f"Chez {names[peer.member_id]}" in told.text

    # -- encouragements: relayed once a day, only to peers ------------------------------------
    alice, friend = users["Alice"], users[alice_peers[0]]
    await alice.click(f"👏 {alice_peers[0]}")
    await relais.tick()
    word = await friend.expect("Un mot de Alice, de votre trio")
    assert "Bravo" in word.text
    await alice.click(f"💪 {alice_peers[0]}")  # the same day: the cap holds
    await relais.tick()
    await friend.expect_nothing(within=0.1)
    stranger = next(name for name in ids if name != "Alice" and name not in alice_peers)
    told = alice.messages[-1]
    record = await forge_click(relais, alice, told, f"trio:enc:{ids[stranger]}:bravo")
    assert record.text == "Cette personne n'est pas (ou plus) dans votre trio."
    async with relais.session() as session:
        assert len((await session.scalars(select(Encouragement))).all()) == 1
    await claire.send("/stats")
    stats = await claire.expect("Trios et suite du programme")
    # One of seven encouraged someone, one of seven was encouraged, one word in all.
    assert "Trios ce mois-ci : 14 % ont encouragé quelqu'un, 14 % ont été encouragés (1 mot)" in (
        stats.text
    )
    assert "Répondent encore" not in stats.text  # the sessions are not over

    # -- the weekly digest: only shared facts; who blocked the bot disappears -----------------
    sharer, private = alice_peers[0], alice_peers[-1]
    async with relais.session() as session:
        await factories.make_objective(
            session, ids[sharer], cohort, "Trois stories par semaine", now=relais.clock.now()
        )
        if private != sharer:
            member = await session.get(Member, ids[private])
            assert member is not None
            member.share_with_trio = False
            await factories.make_objective(
                session, ids[private], cohort, "Secret de fabrication", now=relais.clock.now()
            )
    # Tuesday 1 December, 09:30: the first digest, with the explanation of sharing.
    await at(relais, local(2026, 12, 1, 9, 31))
    digest = await alice.expect("Votre trio cette semaine")
    assert "Trois stories par semaine" in digest.text
    assert "Secret de fabrication" not in digest.text
    assert "ℹ️ Votre trio voit aussi vos nouvelles" in digest.text

    # Someone blocks the bot: the next delivery marks them unreachable, and the digests of
    # their trio no longer show them.
    blocker = next(n for n in ids if n != "Alice" and n not in alice_peers)
    users[blocker].block()
    blocker_peers = [
        names[p.member_id] for p in trio_of[ids[blocker]].peers if p.member_id != ids[blocker]
    ]
    await at(relais, local(2026, 12, 4, 9, 31))  # a tip day: the tip to them fails
    async with relais.session() as session:
        gone = await session.get(Member, ids[blocker])
        assert gone is not None
        assert not gone.reachable
    witness = users[blocker_peers[0]]
    first = await witness.expect("Votre trio cette semaine")  # 1 December
    assert f"👏 {blocker}" in [label for row in first.buttons for label in row]
    await at(relais, local(2026, 12, 8, 9, 31))
    second = await witness.expect("Votre trio cette semaine")
    assert blocker not in second.text
    assert all(blocker not in label for row in second.buttons for label in row)
    assert "ℹ️" not in second.text  # explained at the first digest only

    # -- the booster phase: the group goes on -------------------------------------------------
    await at(relais, local(2026, 12, 8, 21, 5))  # quiet hours: the news waits for the morning
    await at(relais, local(2026, 12, 9, 8, 1))
    start = await alice.expect("Les séances sont terminées, le groupe continue")
    assert "8 juin 2027" in start.text
    # A tip a week only: not on Friday, on Tuesday.
    await at(relais, local(2026, 12, 11, 9, 31))
    await at(relais, local(2026, 12, 15, 9, 31))
    tips = await sent(relais, "tip:", alice)
    days = [d.dedup_key for d in tips if d.dedup_key >= "tip:2026-12-09"]
    assert days == ["tip:2026-12-15"]
    assert await sent(relais, "trio:w:2026-12-15") == []  # no weekly digest any more
    await alice.click(f"👏 {alice_peers[0]}")  # she still answers a week after the end
    # The monthly digest on the first tip day of the month, at the tip time (DST crossed).
    await at(relais, local(2027, 1, 5, 9, 31))
    await alice.expect("Votre trio ce mois-ci")
    await at(relais, local(2027, 4, 6, 9, 31))
    april = await sent(relais, "trio:m:2027-04", alice)
    assert len(april) == 1
    assert april[0].due_at == local(2027, 4, 6, 9, 30)
    assert april[0].due_at.hour == 7  # 09:30 in Brussels, summer time

    # -- the farewell, and the opt-out ---------------------------------------------------------
    # Her progress checks (issue 12): the farewell sums them up, first month -> latest.
    async with relais.session() as session:
        member = await session.get(Member, ids["Alice"])
        assert member is not None
        first = {"customers_month": 2, "practice:weekly_post": 1, "practice:short_video": 0}
        await factories.make_observations(session, member, "2026-12", first, source="baseline")
        latest = {"customers_month": 9, "practice:short_video": 1}
        await factories.make_observations(session, member, "2027-04", latest)
    await at(relais, local(2027, 6, 8, 22, 5))
    await at(relais, local(2027, 6, 9, 8, 1))
    farewell = await alice.expect("Merci, Alice")
    assert "1 séance suivie" not in farewell.text  # she never checked in
    assert "0 séance suivie" in farewell.text
    assert "Bonnes pratiques adoptées : 1 → 2" in farewell.text
    assert "Clients venus grâce à la page, par mois : 2 → 9" in farewell.text
    await alice.click("🛑 Tout arrêter", message=farewell)
    async with relais.session() as session:
        member = await session.get(Member, ids["Alice"])
        assert member is not None
        assert member.paused
        assert member.after_booster == "stop"
    # Nothing scheduled any more: no tip, no digest.
    await at(relais, local(2027, 6, 15, 9, 31))
    await at(relais, local(2027, 7, 6, 9, 31))
    assert [d for d in await sent(relais, "tip:") if d.dedup_key >= "tip:2027-06-09"] == []
    assert await sent(relais, "trio:m:2027-07") == []
    assert await sent(relais, "progress:2027-07", alice) == []  # "stop everything" holds
    # The fade, for the coordinator: who still answers 1, 3 and 6 months after the last session.
    await claire.send("/stats")
    stats = await claire.expect("Répondent encore après la dernière séance")
    assert "1 mois : 14 %" in stats.text  # Alice, of seven
    assert "3 mois : 0 %" in stats.text
    assert "6 mois : 0 %" in stats.text
    # The same fade in the commune's report (/bilan): aggregates over the seven merchants.
    await claire.send("/bilan")
    report = await claire.expect("Le bilan du groupe", kind="document")
    assert report.document is not None
    text = pdf_text(report.document.data)
    assert "Trios et suivi après les séances" in text
    assert "répondent encore 1 mois après la dernière séance 14 %" in text
    assert "répondent encore 6 mois après la dernière séance 0 %" in text

    # Re-balanced at the next reshuffle: without who blocked the bot nor who stopped everything.
    await tom.send("/trios")
    await tom.expect("Les trios du groupe (7 participants)")
    await tom.click("🔀 Refaire les trios")
    again = await tom.expect("Proposition de trios (5 participants)")
    assert blocker not in again.text
    assert "Alice" not in again.text
    assert "Trio 3" not in again.text  # 5 → 3 + 2


async def test_sharing_is_a_setting_and_forged_trio_buttons_change_nothing(
    relais: Harness,
) -> None:
    cohort = await relais.make_cohort()
    tom = relais.user("Tom")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)
    people = {name: relais.user(name) for name, _ in PEOPLE[:4]}
    for (name, sector), user in zip(PEOPLE[:4], people.values(), strict=True):
        await relais.make_member(user, cohort, business_name=f"Chez {name}", sector=sector)
    ids = {name: await member_id(relais, user) for name, user in people.items()}
    # Four people: two pairs, never a trio of one.
    await tom.send("/trios")
    draft = await tom.expect("Proposition de trios (4 participants)")
    assert "Trio 2" in draft.text
    assert "Trio 3" not in draft.text
    await tom.click("✅ Confirmer")
    await tom.expect("C'est confirmé")

    # Another cohort's trainer and trio: forged moves and encouragements are refused.
    other = await relais.make_cohort("Ailleurs", "Dottignies")
    vera, zoe, yann = relais.user("Vera"), relais.user("Zoé"), relais.user("Yann")
    await relais.make_member(vera, other, role=Role.TRAINER, business_name=None)
    await relais.make_member(zoe, other, business_name="Chez Zoé", sector="food")
    await relais.make_member(yann, other, business_name="Chez Yann", sector="books")
    await vera.send("/trios")
    await vera.click("✅ Confirmer")
    own = await vera.expect("C'est confirmé")
    async with relais.session() as session:
        ours = await trios.trios_of(session, cohort.id)
    record = await forge_click(relais, vera, own, f"trio:mvt:{ids['Alice']}:{ours[1].trio_id}")
    assert record.text == "Cette personne n'est pas dans les trios du groupe."
    for data in ("trio:mvt:0:1", "trio:enc:abc:bravo", "trio:enc:1:kiss", "trio:shuf:-1", "trio:"):
        assert (await forge_click(relais, vera, own, data)).answered
    async with relais.session() as session:
        assert await trios.trios_of(session, cohort.id) == ours
    zoe_id = await member_id(relais, zoe)
    alice = people["Alice"]
    await alice.send("/trio")
    mine = await alice.expect("Votre trio cette semaine")
    record = await forge_click(relais, alice, mine, f"trio:enc:{zoe_id}:bravo")
    assert record.text == "Cette personne n'est pas (ou plus) dans votre trio."
    await relais.tick()
    await zoe.expect("Voici votre trio")  # from her own trainer's ✅, nothing else
    await zoe.expect_nothing(within=0.1)

    # /reglages: stop sharing, then share again.
    await alice.send("/reglages")
    await alice.expect("👥 Vos nouvelles sont partagées avec votre trio.")
    await alice.click("👥 Ne plus partager avec mon trio")
    await alice.expect("👥 Vos nouvelles ne sont pas partagées avec votre trio.")
    async with relais.session() as session:
        member = await session.get(Member, ids["Alice"])
        assert member is not None
        assert not member.share_with_trio
    assert "Après le programme" not in alice.messages[-1].text  # only after the sessions
    await alice.click("👥 Partager avec mon trio")
    await alice.expect("👥 Vos nouvelles sont partagées avec votre trio.")

    # Leaving the trio: asked first, then done; /trio says so.
    await alice.send("/trio")
    await alice.click("🚪 Quitter mon trio")
    await alice.expect("Quitter votre trio ?")
    await alice.click("🚪 Oui, quitter")
    await alice.expect("vous avez quitté votre trio")
    await alice.send("/trio")
    await alice.expect("Vous n'êtes pas (encore) dans un trio")
