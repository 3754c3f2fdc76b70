"""The tip drip end to end, with a moving clock: tips on the member's days at their time (the
welcome tip on the first tip day after joining, never a backlog), never in quiet hours, never
twice, the theme of the last session first, pause and resume, `/astuce`, 👍 / 👎 and what the
coordinator sees in /stats, and `/reglages` with buttons only."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.models import (
    Attendance,
    AttendanceMethod,
    Cohort,
    Delivery,
    Member,
    Role,
    TipReceipt,
)
from bot.sandbox.simulator import SimUser
from tests.e2e.harness import Harness
from tests.e2e.session_helpers import forge_click
from tests.factories import build_session

BRUSSELS = ZoneInfo("Europe/Brussels")


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BRUSSELS).astimezone(UTC)


# The clock starts on Wednesday 25 November 2026, 10:00 in Brussels; tip days are tue,fri 09:30.
FRIDAY_TIP = local(11, 27, 9, 30)
TUESDAY_TIP = local(12, 1, 9, 30)


async def merchant(
    relais: Harness, name: str = "Alice", **kwargs: object
) -> tuple[SimUser, Cohort]:
    cohort = await relais.make_cohort()
    user = relais.user(name)
    await relais.make_member(user, cohort, **kwargs)  # type: ignore[arg-type]
    return user, cohort


async def receipts(relais: Harness, user: SimUser) -> list[TipReceipt]:
    async with relais.session() as session:
        rows = await session.scalars(
            select(TipReceipt)
            .join(Member, Member.id == TipReceipt.member_id)
            .where(Member.telegram_user_id == user.id)
            .order_by(TipReceipt.id)
        )
        return list(rows.all())


async def tip_deliveries(relais: Harness) -> list[Delivery]:
    async with relais.session() as session:
        rows = await session.scalars(
            select(Delivery).where(Delivery.kind == "tip").order_by(Delivery.id)
        )
        return list(rows.all())


async def test_tips_come_on_tip_days_at_tip_time_welcome_first_and_never_twice(
    relais: Harness,
) -> None:
    alice, cohort = await merchant(relais)
    tom = relais.user("Tom")
    await relais.make_member(tom, cohort, role=Role.TRAINER, business_name=None)

    # Wednesday (the day she joined) and Thursday are not tip days.
    await relais.advance_to(FRIDAY_TIP - timedelta(minutes=1), step=timedelta(hours=6))
    await alice.expect_nothing()

    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    first = await alice.expect("Voici votre première astuce")
    assert "chaque mardi et vendredi à 9 h 30" in first.text
    assert "💡 Astuce ·" in first.text
    assert first.buttons[0] == ["👍 Utile", "👎 Pas pour moi"]
    first_id = first.inline_keyboard[0][0].callback_data
    assert first_id is not None
    assert first_id.startswith("tip:")
    assert first_id.endswith(":up")
    assert len(first_id.encode()) <= 64
    await tom.expect_nothing()  # staff get no tips

    # Planning again the same day sends nothing more.
    await relais.advance(hours=3)
    await alice.expect_nothing()

    relais.clock.set(TUESDAY_TIP)
    await relais.tick()
    second = await alice.expect("💡 Astuce ·")
    assert "première astuce" not in second.text
    assert second.inline_keyboard[0][0].callback_data != first_id

    got = await receipts(relais, alice)
    assert [r.via for r in got] == ["drip", "drip"]
    assert len({r.tip_id for r in got}) == 2
    assert [d.dedup_key for d in await tip_deliveries(relais)] == [
        "tip:2026-11-27",
        "tip:2026-12-01",
    ]
    assert {d.sent_at for d in await tip_deliveries(relais)} == {FRIDAY_TIP, TUESDAY_TIP}


async def test_a_merchant_who_joins_on_a_tip_day_gets_the_welcome_tip_the_next_tip_day(
    relais: Harness,
) -> None:
    relais.clock.set(local(11, 27, 8, 0))  # Friday, before the tip time
    alice, _ = await merchant(relais)
    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    await alice.expect_nothing()
    relais.clock.set(TUESDAY_TIP)
    await relais.tick()
    await alice.expect("Voici votre première astuce")


async def test_a_tip_due_in_the_quiet_hours_waits_for_their_end(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        assert member is not None
        member.tip_time = time(7, 0)  # e.g. an old default; no button offers it
    relais.clock.set(local(11, 27, 7, 0))
    await relais.tick()
    await alice.expect_nothing()
    relais.clock.set(local(11, 27, 7, 59))
    await relais.tick()
    await alice.expect_nothing()
    relais.clock.set(local(11, 27, 8, 0))
    await relais.tick()
    await alice.expect("Voici votre première astuce")
    (delivery,) = await tip_deliveries(relais)
    assert delivery.sent_at == local(11, 27, 8, 0)


async def test_pause_stops_the_tips_and_resume_brings_them_back(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    await alice.send("/reglages")
    await alice.expect("Vous recevez une astuce chaque mardi et vendredi à 9 h 30")
    await alice.click("⏸ Mettre en pause")
    paused = await alice.expect("En pause")
    assert ["▶️ Reprendre"] in paused.buttons

    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    await alice.expect_nothing()
    assert await tip_deliveries(relais) == []

    await alice.click("▶️ Reprendre")
    await alice.expect("Vous recevez une astuce chaque mardi et vendredi")
    relais.clock.set(TUESDAY_TIP)
    await relais.tick()
    await alice.expect("Voici votre première astuce")


async def test_after_a_session_tips_follow_its_theme(relais: Harness) -> None:
    alice, cohort = await merchant(relais)
    bob = relais.user("Bob")
    await relais.make_member(bob, cohort, business_name="Chez Bob", sector="food")
    async with relais.session() as session:
        earlier = build_session(
            cohort, local(11, 18, 19), number=1, place="Salle", theme="Vidéos",
            theme_code="short_videos",
        )  # fmt: skip
        latest = build_session(
            cohort, local(11, 24, 19), number=2, place="Salle", theme="Photos",
            theme_code="photos",
        )  # fmt: skip
        session.add_all([earlier, latest])
        await session.flush()
        alice_id = await session.scalar(
            select(Member.id).where(Member.telegram_user_id == alice.id)
        )
        # Alice came to the first session only; Bob came to none.
        session.add(
            Attendance(session_id=earlier.id, member_id=alice_id, method=AttendanceMethod.MANUAL)
        )
    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    alice_tip = await alice.expect("💡 Astuce · Les vidéos courtes")
    assert "première astuce" in alice_tip.text
    # Bob attended nothing: the cohort's last session decides.
    await bob.expect("💡 Astuce · Les photos")


async def test_feedback_buttons_are_stored_shown_and_summarised_in_stats(
    relais: Harness,
) -> None:
    alice, cohort = await merchant(relais)
    claire = relais.user("Claire")
    await relais.make_member(claire, cohort, role=Role.COORDINATOR, business_name=None)
    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    tip = await alice.expect("💡 Astuce ·")

    record = await alice.click("👍 Utile")
    assert record is not None
    assert record.answered
    assert "Merci" in (record.text or "")
    # The same message, its buttons now showing the choice.
    edited = await alice.expect("💡 Astuce ·")
    assert edited.message_id == tip.message_id
    assert edited.buttons[0] == ["✅ 👍 Utile", "👎 Pas pour moi"]
    assert (await receipts(relais, alice))[0].feedback == "up"

    # A second tap changes the answer.
    await alice.click("👎 Pas pour moi", message=tip)
    assert (await receipts(relais, alice))[0].feedback == "down"
    await alice.click("👍 Utile", message=tip)

    # A forged button for a tip she never received changes nothing.
    forged = await forge_click(relais, alice, tip, "tip:photos-02-essuyer-l-objectif:down")
    assert "plus valable" in (forged.text or "")
    assert [(r.tip_id, r.feedback) for r in await receipts(relais, alice)] == [
        ((await receipts(relais, alice))[0].tip_id, "up")
    ]
    garbage = await forge_click(relais, alice, tip, "tip:../../etc:sideways")
    assert "plus valable" in (garbage.text or "")

    await claire.send("/stats")
    stats = await claire.expect("Astuces")
    assert "1 👍 · 0 👎" in stats.text
    assert "Les plus utiles" in stats.text


async def test_astuce_gives_a_tip_now_that_counts_as_seen(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    await alice.send("💡 Une astuce")  # the main-menu button
    now_tip = await alice.expect("Voici votre première astuce")
    now_id = now_tip.inline_keyboard[0][0].callback_data
    (receipt,) = await receipts(relais, alice)
    assert receipt.via == "astuce"
    assert now_id == f"tip:{receipt.tip_id}:up"

    await alice.send("/astuce")
    again = await alice.expect("💡 Astuce ·")
    assert "première astuce" not in again.text
    assert again.inline_keyboard[0][0].callback_data != now_id

    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    drip = await alice.expect("💡 Astuce ·")
    seen = await receipts(relais, alice)
    assert [r.via for r in seen] == ["astuce", "astuce", "drip"]
    assert len({r.tip_id for r in seen}) == 3
    assert drip.inline_keyboard[0][0].callback_data == f"tip:{seen[2].tip_id}:up"


async def test_reglages_changes_days_and_time_with_buttons_only(relais: Harness) -> None:
    alice, _ = await merchant(relais)
    await alice.send("⚙️ Réglages")  # the main-menu button
    card = await alice.expect("Vos réglages")
    labels = [label for row in card.buttons for label in row]
    assert "✅ mar." in labels
    assert "✅ ven." in labels
    assert "lun." in labels
    # Times inside the quiet hours (21:00-08:00) are never offered.
    assert [label for label in labels if " h " in label] == [
        "8 h 00",
        "✅ 9 h 30",
        "12 h 00",
        "14 h 00",
        "18 h 00",
    ]

    await alice.click("✅ mar.")
    await alice.click("lun.")
    await alice.click("18 h 00")
    shown = await alice.expect("chaque lundi et vendredi à 18 h 00")
    assert shown.message_id == card.message_id  # redrawn in place

    async with relais.session() as session:
        member = await session.scalar(select(Member).where(Member.telegram_user_id == alice.id))
        assert member is not None
        assert (member.tip_days, member.tip_time) == ("mon,fri", time(18, 0))

    # The last day cannot be switched off (the pause is for that).
    await alice.click("✅ lun.")
    record = await alice.click("✅ ven.")
    assert record is not None
    assert "au moins un jour" in (record.text or "")
    # A forged time outside the offered ones is refused.
    forged = await forge_click(relais, alice, card, "set:time:2330")
    assert "plus valable" in (forged.text or "")

    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    await alice.expect_nothing()
    relais.clock.set(local(11, 27, 18, 0))
    await relais.tick()
    welcome = await alice.expect("Voici votre première astuce")
    assert "chaque vendredi à 18 h 00" in welcome.text


async def test_a_dutch_speaking_merchant_gets_the_drip_in_dutch(relais: Harness) -> None:
    anke, _ = await merchant(relais, "Anke", language="nl", business_name="Bakkerij Anke")
    relais.clock.set(FRIDAY_TIP)
    await relais.tick()
    first = await anke.expect("Hier is uw eerste tip")
    assert "elke dinsdag en vrijdag om 09:30" in first.text
    assert "💡 Tip ·" in first.text
    assert first.buttons[0] == ["👍 Nuttig", "👎 Niet voor mij"]
